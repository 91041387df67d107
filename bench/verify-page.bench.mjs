// The browser verifier on many small files (issue 13, item 5), side by side in one run:
//   the pack's own verify.html in Chromium (Debian /usr/bin/chromium via playwright-core, the
//   folder given to <input webkitdirectory> as a user would)
//   vs the CLI `omega-pr proofpack verify` (a fresh Node process, as a user runs it)
// on the same pack of 5,000 small files (OMEGA_BENCH_PAGE_FILES to change; ≈ 200 B each, the
// shape of per-run records). Two page figures: the page's own count (the `change` event hands it
// the files → verdict on screen; `window.__omegaTiming`), and the wall time as playwright sees it
// from handing over the folder, which adds the browser building the FileList of 5,000 Files
// before the page gets them (≈ 0.4 ms per file here, the same when a user picks a folder; out of
// the page's reach). The CLI time is a whole `node bin/omega-pr.js proofpack verify` process.
// Median of 3 after a warm run. Goal: the page < 1.5 s on this machine.
// Needs `npm run build:wasm` and `npm run build:ts`. Standalone: `node bench/verify-page.bench.mjs`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..');
const require = createRequire(import.meta.url);
const FILES = Number(process.env.OMEGA_BENCH_PAGE_FILES ?? 5000);
const RUNS = 3;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A pack of `n` small files in 50 folders (what a long stress run's per-run records look like). */
export function buildManyFilePack(root, n) {
  const { buildProofpack } = require(join(ROOT, 'dist', 'proofpack.js'));
  const src = join(root, 'src');
  for (let i = 0; i < n; i += 1) {
    const dir = join(src, 'runs', `part-${String(i % 50).padStart(2, '0')}`);
    if (i < 50) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `run-${String(i).padStart(5, '0')}.json`), `${JSON.stringify({ run_index: i, hard_score: (i % 17) / 17, soft_score: (i % 5) / 5, hard_pass: i % 3 !== 0, note: 'x'.repeat(120) })}\n`);
  }
  const pack = join(root, 'pack');
  buildProofpack({ source: src, output: pack, type: 'bench', verdict: 'PASS', sourceDateEpoch: 1_700_000_000 });
  rmSync(src, { recursive: true, force: true });
  return pack;
}

/** One verification in a fresh page: wall ms (setInputFiles → verdict) and the page's own ms. */
async function pageOnce(browser, pack) {
  const page = await browser.newPage();
  try {
    await page.goto(`file://${join(pack, 'verify.html')}`);
    await page.waitForFunction(() => window.__omegaReady === true);
    const t0 = performance.now();
    await page.setInputFiles('#folder', pack);
    await page.waitForSelector('#verdict[data-verdict]', { timeout: 120_000 });
    const wall = performance.now() - t0;
    const verdict = await page.getAttribute('#verdict', 'data-verdict');
    if (verdict !== 'PASS') throw new Error(`verify.html said ${verdict} on the ${FILES}-file pack`);
    const timing = await page.evaluate(() => window.__omegaTiming ?? null);
    return { wall, inPage: timing?.total_ms ?? null, timing };
  } finally {
    await page.close();
  }
}

function cliOnce(pack) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'omega-pr.js'), 'proofpack', 'verify', pack], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`omega-pr proofpack verify exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function run() {
  if (!existsSync(join(ROOT, 'npm', 'wasm', 'pkg', 'verify.html'))) throw new Error('npm/wasm/pkg/verify.html missing: run `npm run build:wasm`');
  const root = mkdtempSync(join(os.tmpdir(), 'omega-pr-bench-page-'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const pack = buildManyFilePack(root, FILES);
    cliOnce(pack); // warm: page cache
    await pageOnce(browser, pack);
    const page = [];
    const cli = [];
    for (let i = 0; i < RUNS; i += 1) {
      page.push(await pageOnce(browser, pack));
      cli.push(cliOnce(pack));
    }
    const wall = median(page.map((p) => p.wall));
    const inPage = page.every((p) => p.inPage !== null) ? median(page.map((p) => p.inPage)) : null;
    const cliMs = median(cli);
    if (process.env.OMEGA_BENCH_DEBUG) console.log(JSON.stringify(page.map((p) => p.timing)));
    const n = FILES.toLocaleString('en');
    return [
      {
        name: `verify.html, ${n} files: in the page (files → verdict) vs proofpack verify`,
        ours: inPage ?? wall,
        peer: cliMs,
        peerName: 'omega-pr CLI',
        unit: 'ms',
        ratio: cliMs / (inPage ?? wall),
        goal: '< 1500 ms',
      },
      {
        name: `verify.html, ${n} files: wall, incl. the browser listing the folder`,
        ours: wall,
        peer: cliMs,
        peerName: 'omega-pr CLI',
        unit: 'ms',
        ratio: cliMs / wall,
        goal: 'info',
      },
    ];
  } finally {
    await browser.close();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  for (const r of rows) console.log(`${r.name}: ${r.ours.toFixed(0)} ${r.unit} vs ${r.peer.toFixed(0)} ${r.unit} (${r.peerName}), ratio ${r.ratio.toFixed(2)}×, goal ${r.goal}`);
}
