/**
 * The examples, each from its own packed install (never the repository's sources):
 * examples/scribe-engine — N = 20 scenes through Retry(Chaos(medium)) with a budget, an AtomicCache
 * (hits on the repeated run: no provider calls), analyzeVariance, run-cost.json + PR_REPORT.json, a
 * proofpack that verifies; a tiny budget fails closed. examples/browser-verify — built by Vite,
 * loaded in Debian Chromium, verifies the scribe run's proofpack (and rejects a tampered copy).
 * The README's TypeScript example is the scribe-engine's src/quickstart.ts, compiled here.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, installOnce, packOnce, project, run, sh, type Packed } from './packed';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let packed: Packed;
let scribe: string;

interface Summary {
  verdict: string;
  budget_verdict: string;
  scenes_run: number;
  cache_hits: number;
  provider_calls: number;
  total_cost_usd: number;
  proofpack: { verdict: string; files: number };
  seconds: number;
}

function scribeRun(args: string[]): { status: number | null; stderr: string; summary: Summary } {
  const r = run('node', ['dist/main.js', ...args], scribe, { SOURCE_DATE_EPOCH: '1767225600' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('SUMMARY '));
  if (!line) throw new Error(`no SUMMARY line (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  console.log(r.stdout.split('\n')[0]);
  return { status: r.status, stderr: r.stderr, summary: JSON.parse(line.slice(8)) as Summary };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(scribe, file), 'utf8')) as Record<string, unknown>;
}

beforeAll(() => {
  packed = packOnce();
  scribe = project('scribe-engine', 'examples/scribe-engine', ['package.json', 'tsconfig.json', 'src']);
  installOnce(scribe, []);
  sh('node', [path.join(scribe, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], scribe);
  for (const d of ['out', 'out-tiny']) fs.rmSync(path.join(scribe, d), { recursive: true, force: true });
}, 240_000);

describe('examples/scribe-engine (packed install)', () => {
  it('README shows src/quickstart.ts verbatim (compiled by the build above)', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const quick = fs.readFileSync(path.join(REPO, 'examples', 'scribe-engine', 'src', 'quickstart.ts'), 'utf8');
    const body = quick.replace(/\n*if \(require\.main === module\)[^\n]*\n?$/, '\n');
    expect(readme).toContain(body.trim());
    expect(fs.existsSync(path.join(scribe, 'dist', 'quickstart.js'))).toBe(true);
  });

  it('runs 20 scenes through Retry(Chaos(medium)) inside its budget; the proofpack verifies', () => {
    const { status, summary } = scribeRun(['--scenes', '20', '--profile', 'medium', '--budget-usd', '2', '--out', 'out']);
    expect(status).toBe(0);
    expect(summary).toMatchObject({ verdict: 'PASS', budget_verdict: 'PASS', scenes_run: 20, cache_hits: 0 });
    expect(summary.provider_calls).toBeGreaterThanOrEqual(20);
    expect(summary.proofpack.verdict).toBe('PASS');
    const cost = readJson('out/run/run-cost.json');
    expect(cost.budget_verdict).toBe('PASS');
    expect(cost.total_cost_usd as number).toBeGreaterThan(0);
    expect(cost.total_cost_usd as number).toBeLessThanOrEqual(2);
    expect(cost.open_reservations).toBe(0);
    const report = readJson('out/run/PR_REPORT.json');
    expect(report).toMatchObject({ total_runs: 20, scenes_run: 20, budget_verdict: 'PASS', chaos_profile: 'medium' });
    expect(report.attempts as number).toBeGreaterThan(20); // medium chaos injected faults, retried
    // the package's own verifier agrees, and the pack lists the reports
    const o = require(path.join(scribe, 'node_modules', 'omega-pr')) as typeof import('../../src/index');
    const v = o.verifyProofpack(path.join(scribe, 'out', 'proofpack'));
    expect(v.verdict).toBe('PASS');
    expect(v.files.map((f) => f.path)).toEqual(expect.arrayContaining(['PR_REPORT.json', 'run-cost.json', 'chaos-log.json']));
    // a pack built from the installed package verifies itself in a browser too
    expect(fs.existsSync(path.join(scribe, 'out', 'proofpack', 'verify.html'))).toBe(true);
  });

  it('a repeated run is served by the AtomicCache: no provider calls', () => {
    const { status, summary } = scribeRun(['--scenes', '20', '--out', 'out']);
    expect(status).toBe(0);
    expect(summary).toMatchObject({ verdict: 'PASS', cache_hits: 20, provider_calls: 0, total_cost_usd: 0 });
    expect(summary.proofpack.verdict).toBe('PASS');
  });

  it('a tiny budget fails closed: ERR_OMEGA_BUDGET_EXCEEDED, budget_verdict FAIL, non-zero exit', () => {
    const { status, stderr, summary } = scribeRun(['--scenes', '20', '--budget-usd', '0.1', '--no-cache', '--out', 'out-tiny']);
    expect(status).toBe(2);
    expect(stderr).toContain('ERR_OMEGA_BUDGET_EXCEEDED');
    expect(summary.budget_verdict).toBe('FAIL');
    expect(summary.scenes_run).toBeLessThan(20);
    const cost = readJson('out-tiny/run/run-cost.json');
    expect(cost.budget_verdict).toBe('FAIL');
    expect(cost.refused_calls).toBe(1);
    expect(cost.total_cost_usd as number).toBeLessThanOrEqual(0.1);
    const report = readJson('out-tiny/run/PR_REPORT.json');
    expect(report).toMatchObject({ budget_verdict: 'FAIL', budget_error: 'ERR_OMEGA_BUDGET_EXCEEDED', verdict: 'FAIL' });
  });
});

describe('examples/browser-verify (Vite build of the packed omega-pr-wasm, Debian Chromium)', () => {
  let browser: Browser;
  let server: http.Server;
  let origin: string;
  const foreign: string[] = [];

  beforeAll(async () => {
    const dir = project('browser-verify', 'examples/browser-verify', ['package.json', 'tsconfig.json', 'vite.config.js', 'index.html', 'src']);
    installOnce(dir, []);
    sh('node', [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
    fs.rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
    sh('node', [path.join(dir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], dir);
    const dist = path.join(dir, 'dist');
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
    server = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
      const file = path.join(dist, rel);
      if (!file.startsWith(dist) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  async function verify(dir: string): Promise<{ verdict: string; text: string }> {
    const page = await browser.newPage();
    page.on('request', (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
    });
    try {
      await page.goto(`${origin}/index.html`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      await page.setInputFiles('#folder', dir);
      await page.waitForSelector('#verdict[data-verdict]', { timeout: 30_000 });
      return { verdict: (await page.getAttribute('#verdict', 'data-verdict')) ?? '', text: await page.innerText('body') };
    } finally {
      await page.close();
    }
  }

  it("verifies the scribe run's proofpack: PASS; one changed byte: FAIL naming the file", async () => {
    const pack = path.join(scribe, 'out', 'proofpack');
    expect(fs.existsSync(path.join(pack, 'SHA256SUMS.txt'))).toBe(true);
    const good = await verify(pack);
    expect(good.verdict, good.text).toBe('PASS');
    const bad = path.join(packed.dir, 'tampered-pack');
    fs.rmSync(bad, { recursive: true, force: true });
    fs.cpSync(pack, bad, { recursive: true });
    const f = path.join(bad, 'PR_REPORT.json');
    const bytes = fs.readFileSync(f);
    bytes[10] = bytes[10] === 0x41 ? 0x42 : 0x41;
    fs.writeFileSync(f, bytes);
    const tampered = await verify(bad);
    expect(tampered.verdict).toBe('FAIL');
    expect(tampered.text).toMatch(/mismatch: PR_REPORT\.json/);
    expect(foreign).toEqual([]);
  }, 120_000);
});
