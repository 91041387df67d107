// Builds the self-contained verifier page: web/verify.html with the wasm-bindgen glue and the
// wasm module (deflate-raw compressed, base64; the page inflates it with DecompressionStream) inlined, so the page works from file:// and offline, and each proofpack
// can carry it as verify.html. Usage: node web/build-page.mjs <pkg dir>  → <pkg dir>/verify.html
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = process.argv[2] ?? join(here, '..', 'npm', 'wasm', 'pkg');
const template = readFileSync(join(here, 'verify.html'), 'utf8');
const glue = readFileSync(join(pkg, 'omega_pr_wasm.js'), 'utf8');
const wasm = readFileSync(join(pkg, 'omega_pr_wasm_bg.wasm'));
// Level 9, no header: the same wasm gives the same page bytes.
const deflated = deflateRawSync(wasm, { level: constants.Z_BEST_COMPRESSION });
if (!template.includes('/*__OMEGA_WASM_GLUE__*/') || !template.includes('__OMEGA_WASM_BASE64__')) {
  throw new Error('web/verify.html: placeholders missing');
}
const html = template
  .replace('/*__OMEGA_WASM_GLUE__*/', () => glue.replace(/^\/\/# sourceMappingURL=.*$/m, ''))
  .replace('__OMEGA_WASM_BASE64__', () => deflated.toString('base64'));
writeFileSync(join(pkg, 'verify.html'), html);
console.log(`build-page: ${join(pkg, 'verify.html')} (${html.length} bytes, wasm ${wasm.length} bytes, ${deflated.length} deflated)`);
