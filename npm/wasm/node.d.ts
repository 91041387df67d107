// Types of the Node entry (CommonJS, instantiated at require time: no init call).
export * from './common';
