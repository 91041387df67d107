/**
 * The package as users get it: `npm pack` → install the tarball into a fresh project outside the
 * repository → `require`, `import`, strict `tsc` of a consumer, `npx omega-pr --help`; the tarball
 * holds exactly what ships. Needs `npm run build`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, installOnce, packOnce, project, run, sh, type Packed } from './packed';

let packed: Packed;
let consumer: string;

/** What the root tarball may contain (every file must match one). */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^index\.mjs$/,
  /^index\.d\.mts$/,
  /^native\.js$/,
  /^native\.d\.ts$/,
  /^report-types\.d\.ts$/,
  /^report-types\.generated\.d\.ts$/,
  /^omega-pr\.linux-x64-gnu\.node$/,
  /^bin\/omega-pr\.js$/,
  /^budgets\/calibration\.json$/,
  /^schemas\/[\w.-]+\.schema\.json$/,
  // The example documents `sprint` writes as metrics/pr/schemas/*.schema.example.json (issue 16).
  /^schemas\/examples\/[\w.-]+\.example\.json$/,
  /^dist\/[\w/.-]+\.(js|d\.ts)$/,
  // The self-contained browser verifier (wasm inlined) that every proofpack carries.
  /^npm\/wasm\/pkg\/verify\.html$/,
];
/** What it must contain. */
const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'index.mjs', 'index.d.mts', 'native.js', 'native.d.ts', 'report-types.d.ts', 'report-types.generated.d.ts',
  'omega-pr.linux-x64-gnu.node', 'bin/omega-pr.js', 'budgets/calibration.json', 'schemas/calibration.schema.json',
  'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js', 'dist/providers/retry.d.ts', 'npm/wasm/pkg/verify.html',
];

beforeAll(() => {
  packed = packOnce();
  consumer = project('consumer');
  fs.writeFileSync(path.join(consumer, 'package.json'), '{ "name": "consumer", "private": true, "version": "0.0.0" }\n');
  installOnce(consumer, [packed.root.tarball, packed.wasm.tarball, 'typescript@~5.9', '@types/node@^20.19.43']);
  for (const f of ['consumer.ts', 'consumer.mts', 'tsconfig.node16.json', 'tsconfig.node10.json']) {
    fs.copyFileSync(path.join(__dirname, 'fixtures', f), path.join(consumer, f));
  }
}, 240_000);

describe('tarball contents', () => {
  it('ships exactly the runtime, types, binary, CLI, schemas and calibration', () => {
    const files = packed.root.files.map((f) => f.path).sort();
    const stray = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
    expect(stray).toEqual([]);
    for (const f of REQUIRED) expect(files, f).toContain(f);
    // Nothing large but the addon; no sources, tests, Rust or build trees.
    for (const f of packed.root.files) {
      const limit = f.path === 'omega-pr.linux-x64-gnu.node' ? Infinity : f.path.endsWith('verify.html') ? 1024 * 1024 : 256 * 1024;
      expect(f.size, f.path).toBeLessThan(limit);
      expect(f.path).not.toMatch(/(^|\/)(src|tests|target|core|bindings-node|bindings-wasm|node_modules)\/|\.rs$|\.tgz$/);
    }
    expect(packed.root.size).toBeLessThan(4 * 1024 * 1024);
    console.log(
      `omega-pr tarball: ${packed.root.size} bytes packed (${(packed.root.size / 1024).toFixed(0)} KiB), ` +
        `${packed.root.unpackedSize} unpacked, ${packed.root.entryCount} files`,
    );
  });

  it('every path the package.json points at is shipped', () => {
    const pj = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const files = new Set(packed.root.files.map((f) => f.path));
    const targets: string[] = [pj.main, pj.types, ...Object.values(pj.bin as Record<string, string>)];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        if (!v.includes('*')) targets.push(v);
      } else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(pj.exports);
    for (const t of targets) expect(files, t).toContain(t.replace(/^\.\//, ''));
  });

  it('the per-platform packages are declared for every napi target; only linux-x64-gnu has a binary', () => {
    const pj = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const dirs = fs.readdirSync(path.join(REPO, 'npm')).filter((d) => d !== 'wasm').sort();
    expect(dirs.length).toBe(pj.napi.targets.length);
    for (const d of dirs) {
      const sub = JSON.parse(fs.readFileSync(path.join(REPO, 'npm', d, 'package.json'), 'utf8'));
      expect(sub.name).toBe(`omega-pr-${d}`);
      expect(sub.version).toBe(pj.version);
      expect(sub.main).toBe(`omega-pr.${d}.node`);
      expect(sub.os?.length ?? 0).toBeGreaterThan(0);
      // What is tested (Node 20, 22, 24: scripts/test-all.sh) is what every package declares.
      expect(sub.engines?.node, d).toBe(pj.engines.node);
    }
    expect(pj.engines.node).toBe('>=20');
    expect(JSON.parse(fs.readFileSync(path.join(REPO, 'npm', 'wasm', 'package.json'), 'utf8')).engines?.node).toBe(pj.engines.node);
    expect(packed.platform.files.map((f) => f.path).sort()).toEqual(['README.md', 'omega-pr.linux-x64-gnu.node', 'package.json']);
    const tracked = sh('git', ['ls-files', 'npm'], REPO);
    expect(tracked).not.toMatch(/\.node$|\.wasm$|\.tgz$/m);
  });

  it('the wasm package ships the web and node builds with their types', () => {
    const files = packed.wasm.files.map((f) => f.path).sort();
    for (const f of ['pkg/omega_pr_wasm.js', 'pkg/omega_pr_wasm_bg.wasm', 'pkg/node/omega_pr_wasm.js', 'web.d.ts', 'node.d.ts', 'pkg/omega_pr_wasm.d.ts', 'pkg/node/omega_pr_wasm.d.ts', 'pkg/report-types.d.ts', 'pkg/node/report-types.d.ts']) {
      expect(files, f).toContain(f);
    }
    console.log(`omega-pr-wasm tarball: ${packed.wasm.size} bytes packed, ${packed.wasm.entryCount} files`);
  });

  it('the ESM entry is generated from the current CJS build', () => {
    const r = run('node', [path.join(REPO, 'scripts', 'gen-esm.mjs'), '--check'], REPO);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('installed in a fresh project', () => {
  it('lives outside the repository and resolves omega-pr from its own node_modules', () => {
    expect(path.relative(REPO, consumer).startsWith('..')).toBe(true);
    const out = sh('node', ['-p', "require.resolve('omega-pr')"], consumer).trim();
    expect(out).toBe(fs.realpathSync(path.join(consumer, 'node_modules', 'omega-pr', 'dist', 'index.js')));
  });

  it("require('omega-pr') loads the addon and the shipped calibration", () => {
    const code = `
      const o = require('omega-pr');
      const cal = o.loadCalibration();
      const t = new o.BudgetTracker(cal);
      const r = t.reserve({ callId: 'c', model: 'simulated-scribe', inputTokens: 10 });
      t.settle(r.id, { inputTokens: 10, outputTokens: 5 });
      console.log(JSON.stringify({ hex: o.sha256Hex(Buffer.from('abc')), verdict: t.finalize().budget_verdict,
        target: o.__napiBindingTarget, cal: require('omega-pr/calibration.json').schema_version }));`;
    const out = JSON.parse(sh('node', ['-e', code], consumer));
    expect(out).toEqual({
      hex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      verdict: 'PASS',
      target: 'native',
      cal: 'OMEGA-CALIBRATION-1.0',
    });
  });

  it("import('omega-pr') gives every CJS name as a named export", () => {
    const code = `
      import * as esm from 'omega-pr';
      import def, { AtomicCache, sha256Hex } from 'omega-pr';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('omega-pr');
      const names = Object.keys(cjs).sort();
      const missing = names.filter((n) => esm[n] !== cjs[n]);
      console.log(JSON.stringify({ n: names.length, missing, def: def === cjs, cache: typeof AtomicCache.open, hex: sha256Hex(new Uint8Array()) }));`;
    const out = JSON.parse(sh('node', ['--input-type=module', '-e', code], consumer));
    expect(out.missing).toEqual([]);
    expect(out.n).toBeGreaterThan(30);
    expect(out.def).toBe(true);
    expect(out.cache).toBe('function');
    expect(out.hex).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // and dynamic import from CommonJS
    const dyn = sh('node', ['-e', "import('omega-pr').then((m) => console.log(typeof m.BudgetTracker, typeof m.default.BudgetTracker))"], consumer);
    expect(dyn.trim()).toBe('function function');
  });

  it('omega-pr-wasm works in Node and agrees with the addon', () => {
    const code = "const w = require('omega-pr-wasm'); const o = require('omega-pr'); const b = Buffer.from('omega'); console.log(w.sha256Hex(b) === o.sha256Hex(b))";
    expect(sh('node', ['-e', code], consumer).trim()).toBe('true');
  });

  it('a strict consumer type-checks (node16 CJS + ESM, and classic node resolution), skipLibCheck off', () => {
    const tsc = path.join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const cfg of ['tsconfig.node16.json', 'tsconfig.node10.json']) {
      const r = run('node', [tsc, '-p', cfg], consumer);
      expect(`${r.stdout}${r.stderr}`, cfg).toBe('');
      expect(r.status, cfg).toBe(0);
    }
  });

  it('npx omega-pr --help works (the bin is linked by the install)', () => {
    const r = run('npx', ['--no-install', 'omega-pr', '--help'], consumer);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: omega-pr/);
    expect(r.stdout).toMatch(/proofpack/);
    const v = run('npx', ['--no-install', 'omega-pr', '--version'], consumer);
    expect(v.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);
  });
});
