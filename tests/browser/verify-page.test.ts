/**
 * The browser verifier, in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * the pack's own self-contained verify.html checks the pack. Good pack → PASS; one byte changed,
 * a file removed, an extra file → FAIL naming the file; a pack of 5,000 small files verifies
 * (its speed is measured in bench/verify-page.bench.mjs, not here). A packed stress run (from the
 * real CLI) with its calibration.json → "verdict reproduced", the same line as `proofpack verify`;
 * a forger who edits the run scores and recomputes SHA256SUMS/MANIFEST → integrity passes but
 * "verdict differs". No request may leave for another host.
 * Needs `npm run build:wasm` (npm/wasm/pkg/verify.html), `npm run build:native` and `build:ts`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { buildProofpack, VERIFY_HTML_PATH } from '../../src/proofpack';
import { minisignKeygen, signProofpack } from '../../src/index';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = path.join(__dirname, '..', '..');
const SHOTS = path.join(ROOT, 'test-results');
const BIN = path.join(ROOT, 'bin', 'omega-pr.js');

let root: string;
let pack: string;
let server: http.Server;
let origin: string;
let browser: Browser;
const requests: string[] = [];

function copyPack(name: string): string {
  const dst = path.join(root, name);
  fs.cpSync(pack, dst, { recursive: true });
  return dst;
}

async function verifyInPage(
  dir: string,
  shot?: string,
  query = '',
): Promise<{ verdict: string; text: string; recorded: string; signature: string; headline: string; integrity: string; rederived: string }> {
  const page: Page = await browser.newPage();
  page.on('request', (r) => requests.push(r.url()));
  try {
    await page.goto(`${origin}/verify.html${query}`);
    await page.waitForFunction(() => (window as unknown as { __omegaReady?: boolean }).__omegaReady === true);
    await page.setInputFiles('#folder', dir);
    await page.waitForSelector('#verdict[data-verdict]', { timeout: 30_000 });
    const verdict = (await page.getAttribute('#verdict', 'data-verdict')) ?? '';
    const recorded = (await page.getAttribute('#verdict', 'data-recorded')) ?? '';
    const signature = (await page.getAttribute('#verdict', 'data-signature')) ?? '';
    const integrity = (await page.getAttribute('#verdict', 'data-integrity')) ?? '';
    const rederived = (await page.getAttribute('#verdict', 'data-rederived')) ?? '';
    const text = await page.innerText('body');
    const headline = await page.innerText('#verdict');
    if (shot) {
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
    }
    return { verdict, text, recorded, signature, headline, integrity, rederived };
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  if (!fs.existsSync(VERIFY_HTML_PATH)) throw new Error('npm/wasm/pkg/verify.html missing: run `npm run build:wasm` first');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-pp-browser-'));
  const source = path.join(root, 'stress100_20260212_143000');
  fs.mkdirSync(path.join(source, 'runs'), { recursive: true });
  fs.writeFileSync(path.join(source, 'PR_REPORT.json'), '{"total_runs": 100, "verdict": "PASS"}\n');
  for (let i = 0; i < 5; i += 1) fs.writeFileSync(path.join(source, 'runs', `run-${i}.json`), `{"i": ${i}}\n`);
  // A file bigger than the page's WebCrypto threshold, so the chunked wasm streamer runs too.
  fs.writeFileSync(path.join(source, 'runs', 'trace.bin'), Buffer.alloc(9 * 1024 * 1024 + 123, 7));
  pack = path.join(root, 'pack');
  const r = buildProofpack({ source, output: pack, type: 'stress100', verdict: 'PASS', sourceDateEpoch: 1_707_748_200 });
  expect(r.generated).toContain('verify.html');

  // Serve the pack's own verify.html (the page verifies the pack it came with).
  server = http.createServer((req, res) => {
    if (req.url?.split('?')[0] === '/verify.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(fs.readFileSync(path.join(pack, 'verify.html')));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('verify.html in Chromium', () => {
  it('a good pack → PASS (screenshot saved)', async () => {
    const r = await verifyInPage(pack, 'proofpack-verify-pass.png');
    expect(r.verdict).toBe('PASS');
    expect(r.text).toContain('PR_REPORT.json');
    expect(r.text).toContain('runs/trace.bin');
    // A PR_REPORT.json without per-run scores (an old report) cannot be re-derived: said, not failed.
    expect(r.rederived).toBe('not_rederivable');
    expect(r.text).toContain('not re-derivable: PR_REPORT.json has no per-run scores');
  });

  it('a pack of 5,000 small files verifies (PASS, every file listed)', async () => {
    const src = path.join(root, 'many');
    for (let i = 0; i < 5000; i += 1) {
      const dir = path.join(src, 'runs', `part-${i % 50}`);
      if (i < 50) fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `run-${i}.json`), `{"run_index": ${i}}\n`);
    }
    const many = path.join(root, 'many-pack');
    buildProofpack({ source: src, output: many, type: 'bench', verdict: 'PASS', sourceDateEpoch: 1_707_748_200 });
    const r = await verifyInPage(many);
    expect(r.verdict).toBe('PASS');
    expect(r.integrity).toBe('PASS');
    expect(r.text).toMatch(/Integrity: 500\d listed file\(s\) match SHA256SUMS\.txt/);
    expect(r.text).toContain('runs/part-49/run-4999.json');
    expect(r.rederived).toBe('none');
  }, 180_000);

  it('a packed stress run: "verdict reproduced" (= proofpack verify); a forger who edits run scores → "verdict differs" while integrity passes', async () => {
    const cwd = path.join(root, 'stress-cwd');
    fs.mkdirSync(cwd);
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1707748200', NO_COLOR: '1' };
    const s = spawnSync(process.execPath, [BIN, 'stress', '--count', '20'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
    expect(s.status, s.stdout + s.stderr).toBe(0);
    const runs = path.join(cwd, 'metrics', 'pr', 'PR_RUNS');
    const run = path.join(runs, fs.readdirSync(runs).filter((n) => /^stress20_\d{8}_\d{6}$/.test(n))[0] ?? 'missing');
    // The calibration document the run used, beside PR_REPORT.json (the CLI adds it on branch `replay`).
    if (!fs.existsSync(path.join(run, 'calibration.json'))) {
      fs.writeFileSync(path.join(run, 'calibration.json'), `${JSON.stringify(JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8')), null, 2)}\n`);
    }
    const stressPack = path.join(root, 'stress-pack');
    buildProofpack({ source: run, output: stressPack, type: 'stress20', verdict: 'PASS', sourceDateEpoch: 1_707_748_200 });

    const good = await verifyInPage(stressPack, 'proofpack-verify-reproduced.png');
    expect(good.verdict).toBe('PASS');
    expect(good.rederived).toBe('reproduced');
    const line = 'verdict reproduced: PASS re-derived from the 20 recorded run(s)';
    expect(good.text).toContain(`Verdict (PR-G4, PR_REPORT.json): ${line}`);
    const cli = spawnSync(process.execPath, [BIN, 'proofpack', 'verify', stressPack], { cwd, env, encoding: 'utf8' });
    expect(cli.status, cli.stdout).toBe(0);
    expect(cli.stdout).toContain(line);

    // The forger: 12 of 20 runs edited to fail, SHA256SUMS.txt and MANIFEST.json recomputed.
    const forged = path.join(root, 'stress-forged');
    fs.cpSync(stressPack, forged, { recursive: true });
    const reportFile = path.join(forged, 'PR_REPORT.json');
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { verdict: string; runs: Array<Record<string, unknown>> };
    for (const r of report.runs.slice(0, 12)) Object.assign(r, { hard_pass: false, hard_score: 0.1 });
    const text = `${JSON.stringify(report, null, 2)}\n`;
    fs.writeFileSync(reportFile, text);
    const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
    const sumsFile = path.join(forged, 'SHA256SUMS.txt');
    const sums = fs.readFileSync(sumsFile, 'utf8').replace(/^[0-9a-f]{64}(  PR_REPORT\.json)$/m, `${sha(text)}$1`);
    fs.writeFileSync(sumsFile, sums);
    const mf = path.join(forged, 'MANIFEST.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8')) as {
      files: Array<{ path: string; bytes: number; sha256: string }>;
      totals: { files: number; bytes: number; oxum: string };
      sha256sums_sha256: string;
      manifest_sha256: string;
    };
    const entry = m.files.find((f) => f.path === 'PR_REPORT.json');
    if (entry === undefined) throw new Error('PR_REPORT.json not in the manifest');
    Object.assign(entry, { sha256: sha(text), bytes: Buffer.byteLength(text) });
    const total = m.files.reduce((a, f) => a + f.bytes, 0);
    m.totals = { files: m.files.length, bytes: total, oxum: `${total}.${m.files.length}` };
    m.sha256sums_sha256 = sha(sums);
    m.manifest_sha256 = '0'.repeat(64);
    m.manifest_sha256 = sha(`${JSON.stringify(m, null, 2)}\n`);
    fs.writeFileSync(mf, `${JSON.stringify(m, null, 2)}\n`);

    const r = await verifyInPage(forged, 'proofpack-verify-verdict-differs.png');
    expect(r.integrity).toBe('PASS');
    expect(r.signature).toBe('unsigned');
    expect(r.recorded).toBe('PASS');
    expect(r.rederived).toBe('differs');
    expect(r.verdict).toBe('FAIL');
    expect(r.text).toContain('verdict differs: recorded PASS, derived FAIL');
    expect(r.headline).toContain('does not follow from the recorded runs');
    const cliForged = spawnSync(process.execPath, [BIN, 'proofpack', 'verify', forged], { cwd, env, encoding: 'utf8' });
    expect(cliForged.status).toBe(1);
    expect(cliForged.stdout).toContain('verdict differs: recorded PASS, derived FAIL');

    // Without calibration.json the page says so.
    const bare = path.join(root, 'stress-bare-src');
    fs.cpSync(run, bare, { recursive: true });
    fs.rmSync(path.join(bare, 'calibration.json'));
    const barePack = path.join(root, 'stress-bare');
    buildProofpack({ source: bare, output: barePack, type: 'stress20', verdict: 'PASS', sourceDateEpoch: 1_707_748_200 });
    const b = await verifyInPage(barePack);
    expect(b.verdict).toBe('PASS');
    expect(b.rederived).toBe('not_rederivable');
    expect(b.text).toContain('not re-derivable: no calibration.json');
  }, 180_000);

  it('one byte changed → FAIL naming the file', async () => {
    const dir = copyPack('one-byte');
    const f = path.join(dir, 'runs', 'trace.bin');
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.from([8]), 0, 1, 5 * 1024 * 1024);
    fs.closeSync(fd);
    const r = await verifyInPage(dir, 'proofpack-verify-fail.png');
    expect(r.verdict).toBe('FAIL');
    expect(r.text).toMatch(/mismatch: runs\/trace\.bin/);
  });

  it('a file removed → FAIL naming the file', async () => {
    const dir = copyPack('removed');
    fs.rmSync(path.join(dir, 'runs', 'run-2.json'));
    const r = await verifyInPage(dir);
    expect(r.verdict).toBe('FAIL');
    expect(r.text).toMatch(/missing: runs\/run-2\.json/);
  });

  it('an extra file → FAIL naming the file', async () => {
    const dir = copyPack('extra');
    fs.writeFileSync(path.join(dir, 'runs', 'injected.json'), '{}\n');
    const r = await verifyInPage(dir);
    expect(r.verdict).toBe('FAIL');
    expect(r.text).toMatch(/extra: runs\/injected\.json/);
  });

  it('the pack verifies itself from file:// too (no server)', async () => {
    const page: Page = await browser.newPage();
    page.on('request', (r) => requests.push(r.url()));
    try {
      await page.goto(`file://${path.join(pack, 'verify.html')}`);
      await page.setInputFiles('#folder', pack);
      await page.waitForSelector('#verdict[data-verdict]', { timeout: 30_000 });
      expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('PASS');
    } finally {
      await page.close();
    }
  });

  it('a FAIL pack is shown red as "FAIL recorded", never PASS; cold, the page already says what the pack is', async () => {
    const src = path.join(root, 'stress100_fail');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'PR_REPORT.json'), '{"verdict": "FAIL"}\n');
    const failPack = path.join(root, 'fail-pack');
    buildProofpack({ source: src, output: failPack, type: 'stress100', verdict: 'FAIL', sourceDateEpoch: 1_707_748_200 });
    const page: Page = await browser.newPage();
    try {
      await page.goto(`file://${path.join(failPack, 'verify.html')}`);
      await page.waitForSelector('#cold:not([hidden])', { timeout: 30_000 });
      const cold = await page.innerText('#cold');
      expect(cold).toContain('stress100-1707748200000');
      expect(cold).toContain('FAIL recorded');
      expect(cold).toMatch(/\d+ files/);
    } finally {
      await page.close();
    }
    const r = await verifyInPage(failPack, 'proofpack-verify-fail-recorded.png');
    expect(r.verdict).toBe('FAIL');
    expect(r.recorded).toBe('FAIL');
    expect(r.headline).toContain('FAIL recorded');
    expect(r.headline).not.toContain('PASS');
    expect(r.text).toContain('UNSIGNED — integrity only');
  });

  it('signed pack + pinned key (?pubkey=) → PASS signed; the forgery (verdict flipped, digests recomputed) → NOT VERIFIED', async () => {
    const k = minisignKeygen({ unencrypted: true });
    const keyFile = path.join(root, 'page.key');
    fs.writeFileSync(keyFile, k.secretKey, { mode: 0o600 });
    const src = path.join(root, 'stress100_signed');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'PR_REPORT.json'), '{"verdict": "FAIL"}\n');
    const signedFail = path.join(root, 'signed-fail');
    buildProofpack({ source: src, output: signedFail, type: 'stress100', verdict: 'FAIL', sourceDateEpoch: 1_707_748_200 });
    signProofpack(signedFail, { secretKey: k.secretKey, keyFile: 'page.key' });
    const q = `?pubkey=${encodeURIComponent(k.publicKeyString)}`;
    const ok = await verifyInPage(signedFail, undefined, q);
    expect(ok.signature).toBe('verified');
    expect(ok.recorded).toBe('FAIL');
    expect(ok.verdict).toBe('FAIL');
    expect(ok.headline).toContain('FAIL recorded');
    // The same pack with '+' left raw in the URL (decoded as spaces) still works.
    expect((await verifyInPage(signedFail, undefined, `?pubkey=${k.publicKeyString}`)).signature).toBe('verified');

    const forged = path.join(root, 'forged');
    fs.cpSync(signedFail, forged, { recursive: true });
    const mf = path.join(forged, 'MANIFEST.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8')) as Record<string, unknown>;
    m.verdict = 'PASS';
    m.manifest_sha256 = '0'.repeat(64);
    m.manifest_sha256 = createHash('sha256').update(JSON.stringify(m, null, 2) + '\n').digest('hex');
    fs.writeFileSync(mf, JSON.stringify(m, null, 2) + '\n');
    // Without the pinned key the forgery looks like a PASS (integrity only) — with it, it fails.
    const naive = await verifyInPage(forged);
    expect(naive.recorded).toBe('PASS');
    expect(naive.signature).toBe('not_checked');
    const r = await verifyInPage(forged, 'proofpack-verify-forged.png', q);
    expect(r.verdict).toBe('FAIL');
    expect(r.signature).toBe('invalid');
    expect(r.headline).toContain('NOT VERIFIED');
    expect(r.text).toContain('ERR_OMEGA_SIGNATURE');
    expect(r.headline).not.toContain('PASS');
  });

  it('no request left the page except for its own asset', () => {
    expect(requests.length).toBeGreaterThan(0);
    const own = [`${origin}/`, `file://${pack}/`, 'data:', 'blob:'];
    const foreign = requests.filter((u) => !own.some((o) => u.startsWith(o)));
    expect(foreign).toEqual([]);
  });
});
