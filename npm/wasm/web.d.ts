// Types of the browser entry (`import init, { verifyPack } from 'omega-pr-wasm'` with a bundler):
// call `await init()` once before anything else (it fetches `omega_pr_wasm_bg.wasm`, which the
// bundler emits as an asset), or `initSync({ module })` with bytes you loaded yourself.
export * from './common';

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Instantiates the module synchronously from its bytes or a compiled module. */
export declare function initSync(module: { module: BufferSource | WebAssembly.Module } | BufferSource | WebAssembly.Module): unknown;

/** Loads and instantiates the module (default: the `.wasm` next to the JS glue). */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<unknown>;
