// SHA-256 in Chromium (Debian /usr/bin/chromium via playwright-core), side by side in one page:
//   omega-pr wasm streaming `Sha256` (8 MiB updates; sha2 crate, wasm SIMD128 backend)
//   vs hash-wasm `createSHA256()` (same chunks)
//   vs WebCrypto `subtle.digest` (whole buffer only: it cannot stream).
// 256 MiB generated in the page; median of 3 after a warm run. MB = 10^6 bytes.
// Needs `npm run build:wasm`. Runnable standalone: `node bench/proofpack-browser.bench.mjs`.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PKG = join(here, '..', 'npm', 'wasm', 'pkg');
const HASH_WASM = join(here, '..', 'node_modules', 'hash-wasm', 'dist', 'sha256.umd.min.js');
const MIB = Number(process.env.OMEGA_BENCH_BROWSER_MIB ?? 256);
const BIG_MIB = Number(process.env.OMEGA_BENCH_BROWSER_BIG_MIB ?? 2048);
const require = createRequire(import.meta.url);

/** Sum of VmRSS (bytes) of every process whose command line contains `marker` (Linux /proc). */
function rssOf(marker) {
  let sum = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]) * 1024;
    } catch {
      // process gone
    }
  }
  return sum;
}

/**
 * The pack's own verify.html verifying a pack holding one BIG_MIB file (sparse source), via
 * <input webkitdirectory>: time, and the peak growth of the RSS of all Chromium processes.
 */
async function bigPackMemory(browser) {
  const { buildProofpack } = require(join(here, '..', 'dist', 'proofpack.js'));
  const root = mkdtempSync(join(os.tmpdir(), 'omega-pr-bench-browser-'));
  try {
    const src = join(root, 'src');
    mkdirSync(src);
    const fd = openSync(join(src, 'big.bin'), 'w');
    writeSync(fd, Buffer.from('omega'));
    ftruncateSync(fd, BIG_MIB * 1024 * 1024);
    closeSync(fd);
    const pack = join(root, 'pack');
    buildProofpack({ source: src, output: pack, type: 'bench', verdict: 'PASS', sourceDateEpoch: 1_700_000_000 });
    rmSync(src, { recursive: true, force: true });
    const page = await browser.newPage();
    await page.goto(`file://${join(pack, 'verify.html')}`);
    await page.waitForFunction(() => window.__omegaReady === true);
    const marker = 'playwright';
    await new Promise((r) => setTimeout(r, 500));
    const base = rssOf(marker);
    const baseR = rssOf('--type=renderer');
    let peak = base;
    let peakR = baseR;
    const timer = setInterval(() => { peak = Math.max(peak, rssOf(marker)); peakR = Math.max(peakR, rssOf('--type=renderer')); }, 50);
    const t0 = performance.now();
    await page.setInputFiles('#folder', pack);
    await page.waitForSelector('#verdict[data-verdict]', { timeout: 600_000 });
    const secs = (performance.now() - t0) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, rssOf(marker));
    const verdict = await page.getAttribute('#verdict', 'data-verdict');
    if (process.env.OMEGA_BENCH_DEBUG) console.log({ allMiB: (peak - base) / 2 ** 20, rendererMiB: (peakR - baseR) / 2 ** 20, secs });
    await page.close();
    if (verdict !== 'PASS') throw new Error(`verify.html said ${verdict} on the big pack`);
    return { secs, growthMiB: (peak - base) / 2 ** 20, mbps: (BIG_MIB * 2 ** 20) / 1e6 / secs };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

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
    await page.close();
    const mbps = (s) => r.bytes / 1e6 / s;
    const big = BIG_MIB > 0 && existsSync(join(here, '..', 'dist', 'proofpack.js')) ? await bigPackMemory(browser) : null;
    return [
      ...(big
        ? [
            { name: `verify.html: pack with one ${BIG_MIB} MiB file, peak Chromium RSS growth`, ours: big.growthMiB, peer: 64, peerName: 'budget', unit: 'MiB', ratio: 64 / big.growthMiB, goal: '< 64 MiB' },
            { name: `verify.html: pack with one ${BIG_MIB} MiB file, throughput`, ours: big.mbps, peer: null, unit: 'MB/s', ratio: null, goal: 'info' },
          ]
        : []),
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
  console.table(rows.map((r) => ({ ...r, ours: r.ours.toFixed(0), peer: r.peer?.toFixed(0), ratio: r.ratio ? `${r.ratio.toFixed(2)}×` : '—' })));
}
