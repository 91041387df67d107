// SHA-256 in Chromium (Debian /usr/bin/chromium via playwright-core), side by side in one page:
//   omega-pr wasm streaming `Sha256` (8 MiB updates; sha2 crate, wasm SIMD128 backend)
//   vs hash-wasm `createSHA256()` (same chunks)
//   vs WebCrypto `subtle.digest` (whole buffer only: it cannot stream).
// 256 MiB generated in the page; median of 3 after a warm run. MB = 10^6 bytes.
// Needs `npm run build:wasm`. Runnable standalone: `node bench/proofpack-browser.bench.mjs`.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PKG = join(here, '..', 'npm', 'wasm', 'pkg');
const HASH_WASM = join(here, '..', 'node_modules', 'hash-wasm', 'dist', 'sha256.umd.min.js');
const MIB = Number(process.env.OMEGA_BENCH_BROWSER_MIB ?? 256);

const PAGE = `<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
<script src="/hash-wasm.js"></script>
<script type="module">
import init, { Sha256 } from '/pkg/omega_pr_wasm.js';
await init({ module_or_path: '/pkg/omega_pr_wasm_bg.wasm' });
const N = ${MIB} * 1024 * 1024, CHUNK = 8 * 1024 * 1024;
const data = new Uint8Array(N);
for (let i = 0; i < N; i += 4096) data[i] = (i / 4096) & 255;
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(fn) { await fn(); const t = []; for (let i = 0; i < 3; i++) { const t0 = performance.now(); await fn(); t.push((performance.now() - t0) / 1000); } return median(t); }
const hw = await hashwasm.createSHA256();
const digests = {};
const ours = await time(async () => { const h = new Sha256(); for (let o = 0; o < N; o += CHUNK) h.update(data.subarray(o, o + CHUNK)); digests.ours = h.digestHex(); h.free(); });
const peer = await time(async () => { hw.init(); for (let o = 0; o < N; o += CHUNK) hw.update(data.subarray(o, o + CHUNK)); digests.peer = hw.digest('hex'); });
const wc = await time(async () => { const d = await crypto.subtle.digest('SHA-256', data); digests.wc = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join(''); });
window.__result = { ours, peer, wc, bytes: N, same: digests.ours === digests.peer && digests.ours === digests.wc };
</script></body></html>`;

export async function run() {
  if (!existsSync(join(PKG, 'omega_pr_wasm.js'))) throw new Error('npm/wasm/pkg missing: run `npm run build:wasm`');
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (url === '/hash-wasm.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(HASH_WASM));
    const m = /^\/pkg\/(omega_pr_wasm\.js|omega_pr_wasm_bg\.wasm)$/.exec(url);
    if (m) {
      const type = m[1].endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      return res.writeHead(200, { 'content-type': type }).end(readFileSync(join(PKG, m[1])));
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(origin);
    await page.waitForFunction(() => window.__result, null, { timeout: 300_000 });
    const r = await page.evaluate(() => window.__result);
    if (!r.same) throw new Error('digests differ between implementations');
    const mbps = (s) => r.bytes / 1e6 / s;
    return [
      { name: `Chromium SHA-256 ${MIB} MiB, streaming 8 MiB chunks`, ours: mbps(r.ours), peer: mbps(r.peer), peerName: 'hash-wasm', unit: 'MB/s', ratio: r.peer / r.ours, goal: '≥ 1.0× hash-wasm' },
      { name: `Chromium SHA-256 ${MIB} MiB (WebCrypto: whole buffer)`, ours: mbps(r.ours), peer: mbps(r.wc), peerName: 'WebCrypto', unit: 'MB/s', ratio: r.wc / r.ours, goal: 'info' },
    ];
  } finally {
    await browser.close();
    server.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  console.table(rows.map((r) => ({ ...r, ours: r.ours.toFixed(0), peer: r.peer.toFixed(0), ratio: `${r.ratio.toFixed(2)}×` })));
}
