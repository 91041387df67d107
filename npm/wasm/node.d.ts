/// <reference lib="esnext.disposable" />
// Types of the Node entry (CommonJS, instantiated at require time: no init call): the .d.ts
// wasm-bindgen generates (pkg/node/), typed with the report types generated from the core's
// schemas. (The lib reference: wasm-bindgen's classes declare `[Symbol.dispose]`.)
export * from './pkg/node/omega_pr_wasm';
