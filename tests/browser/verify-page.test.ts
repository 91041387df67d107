/**
 * The browser verifier, in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * the pack's own self-contained verify.html checks the pack. Good pack → PASS; one byte changed,
 * a file removed, an extra file → FAIL naming the file. No request may leave for another host.
 * Needs `npm run build:wasm` (npm/wasm/pkg/verify.html) and `npm run build:native`.
 */
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
const SHOTS = path.join(__dirname, '..', '..', 'test-results');

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

async function verifyInPage(dir: string, shot?: string, query = ''): Promise<{ verdict: string; text: string; recorded: string; signature: string; headline: string }> {
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
    const text = await page.innerText('body');
    const headline = await page.innerText('#verdict');
    if (shot) {
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
    }
    return { verdict, text, recorded, signature, headline };
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
  });

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
