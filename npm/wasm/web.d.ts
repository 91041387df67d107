/// <reference lib="esnext.disposable" />
// Types of the browser entry (`import init, { verifyPack } from 'omega-pr-wasm'` with a bundler):
// the .d.ts wasm-bindgen generates (pkg/), typed with the report types generated from the core's
// schemas. Call `await init()` once before anything else (it fetches `omega_pr_wasm_bg.wasm`,
// which the bundler emits as an asset), or `initSync({ module })` with bytes you loaded yourself.
export * from './pkg/omega_pr_wasm';
export { default } from './pkg/omega_pr_wasm';
