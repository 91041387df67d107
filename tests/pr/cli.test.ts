/**
 * The `omega-pr` CLI end to end: the REAL bin (`node bin/omega-pr.js …`) in fresh temp dirs.
 * Exit codes (0 PASS, 1 gate FAIL, 2 usage/input error), the runbook's output lines, the report
 * files (validated against `schemas/*.schema.json` with ajv), determinism with
 * `SOURCE_DATE_EPOCH`, shard merges byte for byte, bad input (calibration with a null, unknown
 * profile, `--count 0`, provider modules that throw / answer empty / hang, an unusable output
 * folder) and a full small `sprint`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTestSummary } from '../../src/cli/commands/preflight';
import { FIX, ROOT, binEnv, runBin, type Run as BinRun } from './helpers/bin';
import { readJson, runDirs, walk } from './helpers/files';
import { tempDirs } from './helpers/tmp';

/** `runStamp()` of `SOURCE_DATE_EPOCH` 1700000000 (the bin's, `./helpers/bin`): 2023-11-14T22:13:20Z. */
const STAMP = '20231114_221320';
/** Exit codes of the seeded runs below (0 PASS, 1 FAIL): pinned, so a crash or a wrong verdict shows. */
const CODE = {
  stressSeed7: 0,
  // Each shard is judged on its own runs: shards 2 and 4 pass 4 of 6 (variance FAIL); the merged 24 pass.
  stress24Shard: [0, 1, 0, 1],
  hellfireShard: [1, 0, 0], // shard 1: 6 of 10 pass (variance FAIL)
  hellfire: 0,
  stress8Shard: 0,
  // `chaos` with no successful call cannot pass PR-G3 (issue 14, item 12): 20 failed calls, exit 1.
  chaosEmptyProvider: 1,
} as const;
const SHIPPED_CALIBRATION = path.join(ROOT, 'budgets', 'calibration.json');

interface Run extends BinRun {
  ms: number;
}

/** Runs the bin in `cwd`; `SOURCE_DATE_EPOCH` fixed unless `env` says otherwise. */
function omega(cwd: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Run {
  const started = Date.now();
  const run = { ...runBin(cwd, args, binEnv(env), timeoutMs), ms: Date.now() - started };
  // Every run ends by exiting: a crash, an abort or a kill (status null) fails the test here.
  expect(run.signal, `omega-pr ${args.join(' ')} ended by ${String(run.signal)}:\n${run.stderr}`).toBeNull();
  expect(run.code, `omega-pr ${args.join(' ')}: no exit status`).not.toBeNull();
  return run;
}

/** Asserts the exact exit code of a run (and, through `omega`, that no signal ended it). */
function expectExit(r: Run, code: 0 | 1 | 2): Run {
  expect(r.code, r.stderr).toBe(code);
  return r;
}

/** A fresh temp dir (its real path, so absolute-path scans see what the CLI sees). */
const tmp = tempDirs('omega-cli-');

/** A copy of the shipped calibration, changed by `edit`, written to `<dir>/<name>`. */
function calibration(dir: string, name: string, edit: (c: any) => void): string {
  const c = readJson(SHIPPED_CALIBRATION);
  delete c.$schema;
  edit(c);
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

// ---- schemas ---------------------------------------------------------------------------------

const SCHEMA_FILES = [
  'pr-preflight',
  'concurrency-report',
  'chaos-log',
  'chaos-summary',
  'run-cost',
  'pr-report',
  'manifest',
  'toolchain',
  'calibration',
  'modules',
] as const;
type SchemaName = (typeof SCHEMA_FILES)[number] | 'answers-cache' | 'concurrency-cache' | 'cases';

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
const validators = new Map<SchemaName, ValidateFunction>();
for (const name of SCHEMA_FILES) {
  validators.set(name, ajv.compile(readJson(path.join(ROOT, 'schemas', `${name}.schema.json`))));
}
// The atomic caches a run leaves as evidence: plain JSON objects of known values.
validators.set(
  'answers-cache',
  ajv.compile({
    type: 'object',
    propertyNames: { pattern: '^run-[0-9]+/SCN-[0-9]{2}$' },
    additionalProperties: {
      type: 'object',
      additionalProperties: false,
      required: ['call_index', 'text'],
      properties: { call_index: { type: 'integer', minimum: 0 }, text: { type: 'string', minLength: 1 } },
    },
  }),
);
// A run folder's `cases.json` is the user's cases file, copied (strict; union types are the schema's own).
validators.set('cases', addFormats(new Ajv2020({ strict: true, allowUnionTypes: true })).compile(readJson(path.join(ROOT, 'schemas', 'cases.schema.json'))));
validators.set(
  'concurrency-cache',
  ajv.compile({
    type: 'object',
    propertyNames: { pattern: '^w[0-9]+-[0-9]+$' },
    additionalProperties: {
      type: 'object',
      additionalProperties: false,
      required: ['i', 'w'],
      properties: { i: { type: 'integer', minimum: 0 }, w: { type: 'integer', minimum: 0 } },
    },
  }),
);

/** Which schema a JSON file the CLI writes is checked against (null: none known → test fails). */
function schemaFor(file: string): SchemaName | null {
  const b = path.basename(file);
  if (b === 'PR_PREFLIGHT.json') return 'pr-preflight';
  if (/^concurrency\d+-report\.json$/.test(b)) return 'concurrency-report';
  if (b === 'chaos-log.json') return 'chaos-log';
  if (b === 'chaos-summary.json') return 'chaos-summary';
  if (b === 'run-cost.json') return 'run-cost';
  if (b === 'PR_REPORT.json') return 'pr-report';
  if (b === 'MANIFEST.json') return 'manifest';
  if (b === 'toolchain.json') return 'toolchain';
  if (b === 'answers-cache.json') return 'answers-cache';
  if (b === 'cache.json') return 'concurrency-cache';
  // The evidence of a stress run folder (proofpack replay).
  if (b === 'calibration.json') return 'calibration';
  if (b === 'cases.json') return 'cases';
  if (b === 'modules.json') return 'modules';
  return null;
}

/** Validates `file` against its schema; fails the test with ajv's errors. */
function expectValid(file: string, name: SchemaName | null = schemaFor(file)): void {
  expect(name, `no schema for ${file}`).not.toBeNull();
  const v = validators.get(name as SchemaName) as ValidateFunction;
  const ok = v(readJson(file));
  expect(ok, `${file} vs ${name}.schema.json: ${ajv.errorsText(v.errors)}`).toBe(true);
}

/** No file under `dir` mentions `dir` itself (no absolute paths in any output). */
function expectNoAbsolutePaths(dir: string): void {
  const needles = [...new Set([dir, fs.realpathSync(dir)])];
  for (const f of walk(dir)) {
    // A PR_RUNS/<x>_latest link: relative, to a sibling run folder (whose files are walked too).
    if (fs.lstatSync(path.join(dir, f)).isSymbolicLink()) {
      expect(fs.readlinkSync(path.join(dir, f)), `${f} links to a sibling run folder`).toMatch(/^[^/\\]+$/);
      continue;
    }
    const text = fs.readFileSync(path.join(dir, f), 'latin1');
    for (const n of needles) expect(text.includes(n), `${f} contains the absolute path ${n}`).toBe(false);
  }
}

// ---- setup -----------------------------------------------------------------------------------

beforeAll(() => {
  // dist/ is built once by the global setup (tests/global-setup.ts).
  expect(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'index.js'))).toBe(true);
});


// ---- schemas themselves ----------------------------------------------------------------------

describe('schemas', () => {
  it('every report schema is valid 2020-12 and closed where the shape is fixed', () => {
    for (const name of SCHEMA_FILES) {
      const doc = readJson(path.join(ROOT, 'schemas', `${name}.schema.json`));
      expect(doc.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(ajv.validateSchema(doc), `${name}: ${ajv.errorsText(ajv.errors)}`).toBe(true);
      expect(doc.type).toBe('object');
      expect(doc.additionalProperties).toBe(false);
    }
    // The runbook's fields are required.
    const req = (n: string) => readJson(path.join(ROOT, 'schemas', `${n}.schema.json`)).required as string[];
    expect(req('pr-preflight')).toEqual(
      expect.arrayContaining(['schema_version', 'branch', 'head', 'vitest_pass', 'vitest_total', 'vitest_failed', 'verdict']),
    );
    expect(req('concurrency-report')).toEqual(
      expect.arrayContaining(['workers', 'successes', 'failures', 'residual_locks', 'residual_tmps', 'cache_valid', 'verdict']),
    );
    expect(req('pr-report')).toEqual(
      expect.arrayContaining(['total_runs', 'hard_pass_rate', 'variance_verdict', 'variance_violations', 'downgrade_flag', 'cache_corruption', 'provider']),
    );
    expect(req('run-cost')).toEqual(expect.arrayContaining(['total_cost_usd', 'budget_verdict', 'violations']));
    expect(req('chaos-log')).toEqual(expect.arrayContaining(['entries']));
  });

  it('the shipped calibration validates against calibration.schema.json', () => {
    expectValid(SHIPPED_CALIBRATION, 'calibration');
  });
});

// ---- 1. preflight ----------------------------------------------------------------------------

describe('preflight (PR-G0)', () => {
  it('happy path: a passing test command → exit 0, PR_PREFLIGHT.json PASS', () => {
    const dir = tmp();
    const r = omega(dir, ['preflight', '--test-cmd', "echo '5 passed, 0 failed'"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Tests: 5/5 passed');
    expect(r.stdout).toContain('Report: metrics/pr/PR_PREFLIGHT.json');
    expect(r.stdout).toMatch(/^VERDICT: PASS$/m);
    const file = path.join(dir, 'metrics', 'pr', 'PR_PREFLIGHT.json');
    expectValid(file);
    expect(readJson(file)).toMatchObject({
      schema_version: 'PR-PREFLIGHT-1.0',
      vitest_pass: true,
      vitest_total: 5,
      vitest_failed: 0,
      verdict: 'PASS',
      test_command: "echo '5 passed, 0 failed'",
      expected_total: null,
    });
  });

  it('a failing test command → exit 1, verdict FAIL; a wrong total with --expect-total → FAIL', () => {
    const dir = tmp();
    const r = omega(dir, ['preflight', '--quiet', '--test-cmd', "echo '4 passed, 1 failed'; exit 1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^VERDICT: FAIL$/m);
    const file = path.join(dir, 'metrics', 'pr', 'PR_PREFLIGHT.json');
    expectValid(file);
    expect(readJson(file)).toMatchObject({ vitest_pass: false, vitest_total: 5, vitest_failed: 1, verdict: 'FAIL' });

    const r2 = omega(dir, ['preflight', '--quiet', '--test-cmd', "echo '5 passed, 0 failed'", '--expect-total', '232']);
    expect(r2.code).toBe(1);
    expect(readJson(file)).toMatchObject({ vitest_pass: false, vitest_total: 5, expected_total: 232, verdict: 'FAIL' });

    // Exit 0 but no test summary at all: not a pass.
    const r3 = omega(dir, ['preflight', '--quiet', '--test-cmd', 'echo hello']);
    expect(r3.code).toBe(1);
    expect(readJson(file)).toMatchObject({ vitest_total: 0, verdict: 'FAIL' });

    const r4 = omega(dir, ['preflight', '--expect-total', '0']);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toContain('--expect-total');
  });

  it('parseTestSummary reads cargo, vitest and plain summaries', () => {
    const cargo = [
      'running 12 tests',
      'test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s',
      'running 3 tests',
      'test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s',
    ].join('\n');
    expect(parseTestSummary(cargo)).toEqual({ total: 15, failed: 1 });
    expect(parseTestSummary(' Test Files  26 passed (26)\n      Tests  232 passed (232)\n   Start at  10:00:00')).toEqual({ total: 232, failed: 0 });
    expect(parseTestSummary('      Tests  2 failed | 230 passed (232)')).toEqual({ total: 232, failed: 2 });
    expect(parseTestSummary('      Tests  1 failed | 10 passed | 2 skipped (13)')).toEqual({ total: 13, failed: 1 });
    // ANSI colours as vitest prints them on a terminal.
    expect(parseTestSummary('\u001b[2m      Tests \u001b[22m \u001b[1m\u001b[32m7 passed\u001b[39m\u001b[22m\u001b[90m (7)\u001b[39m')).toEqual({
      total: 7,
      failed: 0,
    });
    expect(parseTestSummary('3 passed, 0 failed')).toEqual({ total: 3, failed: 0 });
    expect(parseTestSummary('unit: 8 passed, 2 failed')).toEqual({ total: 10, failed: 2 });
    expect(parseTestSummary('all good')).toBeNull();
    expect(parseTestSummary('')).toBeNull();
  });
});

// ---- 2. chaos --------------------------------------------------------------------------------

describe('chaos (PR-G3)', () => {
  it('--profile medium --calls 300 → exit 0, chaos-log.json + run-cost.json + chaos-summary.json valid', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--profile', 'medium', '--calls', '300']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Call 300/300...');
    expect(r.stdout).toMatch(/^Injected: \d+\/\d+ = [\d.]+% \(expected 15\.0% ± [\d.]+ pp\) ✓$/m);
    expect(r.stdout).toContain('Silent successes: 0  Empty successes: 0');
    expect(r.stdout).toContain(`chaos-log.json: metrics/pr/PR_RUNS/chaos_${STAMP}/chaos-log.json (valid JSON)`);
    expect(r.stdout).toMatch(/^VERDICT: PASS$/m);
    const [run] = runDirs(dir, /^chaos_/);
    expect(path.basename(run)).toBe(`chaos_${STAMP}`);
    expect(walk(run)).toEqual(['chaos-log.json', 'chaos-summary.json', 'run-cost.json']);
    for (const f of walk(run)) expectValid(path.join(run, f));
    const log = readJson(path.join(run, 'chaos-log.json'));
    const summary = readJson(path.join(run, 'chaos-summary.json'));
    const cost = readJson(path.join(run, 'run-cost.json'));
    expect(log.profile).toBe('medium');
    expect(log.injected_count).toBeGreaterThan(0);
    expect(log.entries.length).toBe(log.total_calls);
    expect(log.entries.filter((e: any) => e.injected).length).toBe(log.injected_count);
    // Every injected fault (but latency) surfaced as a coded error, never a silent success.
    for (const e of log.entries.filter((x: any) => x.injected && x.failure_type !== 'latency')) {
      expect(e.outcome).toBe('surfaced');
      expect(e.error_code).toMatch(/^ERR_OMEGA_/);
    }
    expect(summary).toMatchObject({ provider: 'simulated', profile: 'medium', calls: 300, silent_successes: 0, empty_successes: 0, rate_ok: true, json_valid: true, verdict: 'PASS' });
    expect(summary.attempts).toBe(log.total_calls);
    expect(summary.calls_succeeded + summary.calls_failed).toBe(300);
    expect(cost.budget_verdict).toBe('PASS');
    expect(cost.call_count).toBeGreaterThanOrEqual(300);
    expectNoAbsolutePaths(dir);
  });

  it('unknown profile → exit 2 naming it; --calls 0 → exit 2; nothing written', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--profile', 'tornado', '--calls', '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_UNKNOWN_PROFILE');
    expect(r.stderr).toContain('"tornado"');
    expect(r.stderr).toContain('medium');
    const r2 = omega(dir, ['chaos', '--calls', '0']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--calls');
    expect(walk(dir)).toEqual([]);
  });
});

// ---- 3. stress -------------------------------------------------------------------------------

describe('stress (PR-G4)', () => {
  it('--count 20 → exit 0, PR_REPORT.json with the runbook fields, run-cost.json, stress-report.html with an <svg>', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '20']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Run 1/20...');
    expect(r.stdout).toContain('Run 20/20...');
    expect(r.stdout).toContain('=== ANALYSIS ===');
    expect(r.stdout).toMatch(/^Hard Pass Rate: \d+\.\d%$/m);
    expect(r.stdout).toMatch(/^Soft Pass Rate: \d+\.\d%$/m);
    expect(r.stdout).toMatch(/^Mean Hard Score: \d\.\d{3} ± \d\.\d{3}$/m);
    expect(r.stdout).toMatch(/^VERDICT: PASS$/m);
    expect(r.stdout).toContain(`Report: metrics/pr/PR_RUNS/stress20_${STAMP}/PR_REPORT.json`);
    const [run] = runDirs(dir, /^stress20_/);
    expect(walk(run)).toEqual(['PR_REPORT.json', 'answers-cache.json', 'calibration.json', 'journal.jsonl', 'modules.json', 'run-cost.json', 'stress-report.html']);
    for (const f of walk(run).filter((x) => x.endsWith('.json'))) expectValid(path.join(run, f));
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    // The runbook's fields, in the runbook's order right after the gate.
    expect(Object.keys(report).slice(2, 7)).toEqual(['total_runs', 'hard_pass_rate', 'variance_verdict', 'variance_violations', 'downgrade_flag']);
    expect(report).toMatchObject({ total_runs: 20, cache_corruption: 0, provider: 'simulated', scorer: 'simulated', seed: 42, chaos_profile: null, shard: null });
    expect(report.hard_pass_rate).toBeGreaterThanOrEqual(0.75);
    expect(report.variance_verdict).toBe('PASS');
    expect(report.runs).toHaveLength(20);
    expect(report.runs.map((x: any) => x.run_index)).toEqual([...Array(20).keys()]);
    expect(report.calls).toMatchObject({ total: 60, failed: 0, by_error: {} });
    expect(report.analysis.hard_pass_ci95.low).toBeLessThanOrEqual(report.hard_pass_rate);
    expect(Object.keys(report.analysis.pass_k)).toEqual(['1', '2', '4', '8']);
    const html = fs.readFileSync(path.join(run, 'stress-report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script/i);
    // Nothing staged is left behind.
    expect(walk(path.join(dir, 'metrics')).filter((f) => /partial|\.cache|\.tmp|\.lock/.test(f))).toEqual([]);
    expectNoAbsolutePaths(dir);
  });

  it('--count 0 → exit 2; --chaos nope → exit 2 naming the profile; bad --shard → exit 2', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--count must be a whole number ≥ 1, got "0"');
    const r2 = omega(dir, ['stress', '--count', '3', '--chaos', 'nope']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('ERR_OMEGA_UNKNOWN_PROFILE');
    expect(r2.stderr).toContain('"nope"');
    const r3 = omega(dir, ['stress', '--count', '3', '--shard', '5/4']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('--shard');
    expect(walk(dir)).toEqual([]);
  });
});

// ---- 4. determinism --------------------------------------------------------------------------

describe('determinism (same seed + SOURCE_DATE_EPOCH → same bytes)', () => {
  it('two stress --count 20 --chaos medium runs → byte-identical PR_REPORT.json, run-cost.json, chaos-log.json, stress-report.html', () => {
    const dir = tmp();
    for (let i = 0; i < 2; i++) expect(omega(dir, ['stress', '--count', '20', '--chaos', 'medium']).code).toBe(0);
    const dirs = runDirs(dir, /^stress20_/);
    expect(dirs.map((d) => path.basename(d))).toEqual([`stress20_${STAMP}`, `stress20_${STAMP}-2`]);
    for (const f of ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json', 'stress-report.html']) {
      const a = fs.readFileSync(path.join(dirs[0], f));
      const b = fs.readFileSync(path.join(dirs[1], f));
      expect(a.equals(b), `${f} differs between two runs`).toBe(true);
    }
    const log = readJson(path.join(dirs[0], 'chaos-log.json'));
    expect(log.injected_count).toBeGreaterThan(0);
    expect(readJson(path.join(dirs[0], 'PR_REPORT.json')).calls.retries).toBeGreaterThan(0);
    // A run with another seed differs (the seed is really used).
    expectExit(omega(dir, ['stress', '--count', '20', '--chaos', 'medium', '--seed', '7']), CODE.stressSeed7);
    const third = runDirs(dir, /^stress20_/)[2];
    expect(fs.readFileSync(path.join(third, 'chaos-log.json')).equals(fs.readFileSync(path.join(dirs[0], 'chaos-log.json')))).toBe(false);
  });

  it('two chaos runs → byte-identical chaos-log.json, run-cost.json, chaos-summary.json', () => {
    const dir = tmp();
    for (let i = 0; i < 2; i++) expect(omega(dir, ['chaos', '--profile', 'heavy', '--calls', '200']).code).toBe(0);
    const dirs = runDirs(dir, /^chaos_/);
    expect(dirs.map((d) => path.basename(d))).toEqual([`chaos_${STAMP}`, `chaos_${STAMP}-2`]);
    for (const f of ['chaos-log.json', 'run-cost.json', 'chaos-summary.json']) {
      expect(fs.readFileSync(path.join(dirs[0], f)).equals(fs.readFileSync(path.join(dirs[1], f))), `${f} differs`).toBe(true);
    }
  });
});

// ---- 5. shards -------------------------------------------------------------------------------

describe('stress --shard i/n + stress merge', () => {
  it('4 shards merged == one machine, byte for byte (PR_REPORT.json, run-cost.json, chaos-log.json)', () => {
    const dir = tmp();
    for (let i = 1; i <= 4; i++) {
      const r = omega(dir, ['stress', '--count', '24', '--chaos', 'medium', '--shard', `${i}/4`]);
      expectExit(r, CODE.stress24Shard[i - 1]);
      expect(r.stdout).toContain(`stress24_${STAMP}_shard${i}of4/PR_REPORT.json`);
    }
    const shards = runDirs(dir, /_shard\dof4$/);
    expect(shards).toHaveLength(4);
    for (const s of shards) {
      const rep = readJson(path.join(s, 'PR_REPORT.json'));
      expect(rep.total_runs).toBe(6);
      expect(rep.shard.total).toBe(4);
      expectValid(path.join(s, 'PR_REPORT.json'));
      // Per-shard budget = run budget / n.
      expect(readJson(path.join(s, 'run-cost.json')).max_per_run_usd).toBeCloseTo(20 / 4, 9);
    }
    const m = omega(dir, ['stress', 'merge', ...shards.map((s) => path.relative(dir, s))]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('Merged 4 shards: 24 runs');
    const single = omega(dir, ['stress', '--count', '24', '--chaos', 'medium']);
    expect(single.code, single.stderr).toBe(0);
    const [merged, one] = runDirs(dir, /^stress24_\d{8}_\d{6}(-\d+)?$/);
    expect(path.basename(merged)).toBe(`stress24_${STAMP}`);
    expect(path.basename(one)).toBe(`stress24_${STAMP}-2`);
    for (const f of ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json']) {
      expectValid(path.join(merged, f));
      const a = fs.readFileSync(path.join(merged, f), 'utf8');
      const b = fs.readFileSync(path.join(one, f), 'utf8');
      expect(a, `${f}: merged shards differ from the single run`).toBe(b);
    }
    expect(readJson(path.join(merged, 'PR_REPORT.json')).runs).toHaveLength(24);
  });

  it('3 shards of a hellfire run (failed calls, a cap 3 does not divide) merged == one machine', () => {
    const dir = tmp();
    for (let i = 1; i <= 3; i++) expectExit(omega(dir, ['stress', '--count', '30', '--chaos', 'hellfire', '--shard', `${i}/3`]), CODE.hellfireShard[i - 1]);
    const shards = runDirs(dir, /_shard\dof3$/).map((s) => path.relative(dir, s));
    expectExit(omega(dir, ['stress', 'merge', ...shards]), CODE.hellfire);
    const single = expectExit(omega(dir, ['stress', '--count', '30', '--chaos', 'hellfire']), CODE.hellfire);
    expect(single.stdout).toMatch(/^Failed calls: [1-9]\d* of 90 /m);
    const [merged, one] = runDirs(dir, /^stress30_\d{8}_\d{6}(-\d+)?$/);
    for (const f of ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json', 'stress-report.html']) {
      expect(fs.readFileSync(path.join(merged, f), 'utf8'), `${f}: merged shards differ from the single run`).toBe(fs.readFileSync(path.join(one, f), 'utf8'));
    }
    expect(readJson(path.join(merged, 'run-cost.json')).max_per_run_usd).toBe(20);
  });

  it('shards of different runs (another seed) → exit 2 ERR_OMEGA_MERGE; missing shard → exit 2', () => {
    const dir = tmp();
    for (let i = 1; i <= 2; i++) {
      const seed = i === 2 ? ['--seed', '7'] : [];
      expectExit(omega(dir, ['stress', '--count', '8', '--shard', `${i}/2`, ...seed]), CODE.stress8Shard);
    }
    const shards = runDirs(dir, /_shard\dof2$/).map((s) => path.relative(dir, s));
    const r = omega(dir, ['stress', 'merge', ...shards]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_MERGE');
    expect(r.stderr).toContain('seed');
    const r2 = omega(dir, ['stress', 'merge', shards[0]]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('ERR_OMEGA_MERGE');
    const r3 = omega(dir, ['stress', 'merge', 'no-such-dir']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('ERR_OMEGA_MERGE');
    // No merged folder was written.
    expect(runDirs(dir, /^stress8_\d{8}_\d{6}$/)).toEqual([]);
  });
});

// ---- 6. failing gate: tiny budget ------------------------------------------------------------

describe('failing gate: tiny budget (PR-G2)', () => {
  it('stress with a $0.05 budget → budget_verdict FAIL, calls refused (not made), exit 1', () => {
    const dir = tmp();
    calibration(dir, 'tiny.json', (c) => {
      c.budget.max_per_run_usd = 0.05;
      c.budget.max_per_call_usd = 0.05;
    });
    const r = omega(dir, ['stress', '--count', '10', '--calibration', 'tiny.json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Cost: \$0\.0000 \(budget FAIL, \d+ violation\(s\): over budget is FAIL\)$/m);
    expect(r.stdout).toMatch(/^Failed calls: 30 of 30 \(ERR_OMEGA_BUDGET_EXCEEDED × 30\)$/m);
    const [run] = runDirs(dir, /^stress10_/);
    const cost = readJson(path.join(run, 'run-cost.json'));
    expectValid(path.join(run, 'run-cost.json'));
    expect(cost.budget_verdict).toBe('FAIL');
    expect(cost.refused_calls).toBe(30);
    expect(cost.call_count).toBe(0);
    expect(cost.violations.length).toBeGreaterThan(0);
    expect(cost.violations[0]).toMatchObject({ kind: 'per_call', phase: 'reserve', limit_usd: 0.05 });
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    expect(report.cost).toMatchObject({ budget_verdict: 'FAIL', total_cost_usd: 0 });
    expect(report.hard_pass_rate).toBe(0);
    expect(report.calls.by_error).toEqual({ ERR_OMEGA_BUDGET_EXCEEDED: 30 });
  });

  it('sprint with the tiny budget → exit 1, gate table, NCR naming PR-G2 under nexus/proof/', () => {
    const dir = tmp();
    calibration(dir, 'tiny.json', (c) => {
      c.budget.max_per_run_usd = 0.05;
      c.budget.max_per_call_usd = 0.05;
    });
    const r = omega(dir, [
      'sprint',
      '--test-cmd',
      "echo '3 passed, 0 failed'",
      '--count',
      '10',
      '--chaos-calls',
      '100',
      '--workers',
      '3',
      '--updates',
      '10',
      '--calibration',
      'tiny.json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('=== SPRINT GATES ===');
    // The gate table (cli-table3): a row per gate, its verdict in the third column.
    expect(r.stdout).toMatch(/│ PR-G2 +│[^│\n]*│ FAIL \(SIMULATED\) +│/);
    expect(r.stdout).toMatch(/│ PR-G0 +│[^│\n]*│ PASS +│/);
    expect(r.stdout).toMatch(/│ PR-G5 +│[^│\n]*│ SKIPPED +│/);
    expect(r.stdout).toMatch(/^SPRINT VERDICT: FAIL$/m);
    const ncrs = fs.readdirSync(path.join(dir, 'nexus', 'proof'));
    const g2 = ncrs.find((n) => /^NCR_PR_G2_\d{8}_\d{6}\.md$/.test(n));
    expect(g2, ncrs.join(', ')).toBeDefined();
    expect(r.stdout).toContain(`NCR written: nexus/proof/${g2}`);
    const text = fs.readFileSync(path.join(dir, 'nexus', 'proof', g2 as string), 'utf8');
    expect(text).toContain('| gate | PR-G2');
    expect(text).toContain('budget_verdict FAIL');
    expect(text).toContain('--calibration tiny.json');
    expect(text).toMatch(/- `metrics\/pr\/PR_RUNS\/chaos_\d{8}_\d{6}\/run-cost\.json`/);
    expectNoAbsolutePaths(dir);
  });
});

// ---- 7. calibration with a null --------------------------------------------------------------

describe('calibration with a null', () => {
  it('every command taking --calibration exits 2 and prints the JSON path and the file name (no absolute path)', () => {
    const dir = tmp();
    const bad = calibration(dir, 'bad.json', (c) => {
      c.SEED = null;
    });
    const cases: string[][] = [
      ['stress', '--count', '3', '--calibration', bad],
      ['chaos', '--calls', '10', '--calibration', bad],
      ['stress', 'merge', 'x', '--calibration', bad],
      ['sprint', '--test-cmd', "echo '1 passed, 0 failed'", '--calibration', bad],
    ];
    for (const args of cases) {
      const r = omega(dir, args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('ERR_OMEGA_CALIBRATION');
      expect(r.stderr).toContain('$.SEED');
      expect(r.stderr).toContain('bad.json');
      expect(r.stderr).not.toContain(dir);
    }
    // proofpack build validates it too (its message does not name the file yet).
    const p = omega(dir, ['proofpack', 'build', '--source', '.', '--output', 'pack', '--type', 'x', '--verdict', 'PASS', '--calibration', bad]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('$.SEED');
    expect(p.stderr).not.toContain(dir);
    // The sprint stopped before any phase: nothing written.
    expect(walk(dir)).toEqual(['bad.json']);
  });
});

// ---- 8. provider and scorer modules ----------------------------------------------------------

describe('--provider / --scorer modules', () => {
  it('a provider that always throws a coded non-retryable error → runs fail, exit 1, no retry', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '3', '--provider', path.join(FIX, 'cli-throwing-provider.js'), '--scorer', path.join(FIX, 'cli-scorer.js')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^VERDICT: FAIL$/m);
    expect(r.stdout).toContain('Failed calls: 9 of 9 (ERR_FIXTURE_AUTH × 9)');
    const [run] = runDirs(dir, /^stress3_/);
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    expectValid(path.join(run, 'PR_REPORT.json'));
    expect(report.provider).toBe('cli-throwing-provider.js');
    expect(report.runs.every((x: any) => x.hard_pass === false && x.failed_scenes === 3 && x.attempts === 3)).toBe(true);
    expect(report.calls).toMatchObject({ total: 9, failed: 9, retries: 0, by_error: { ERR_FIXTURE_AUTH: 9 } });
    // The provider's own words are kept, one sample per code.
    expect(Object.keys(report.calls.error_samples)).toEqual(['ERR_FIXTURE_AUTH']);
    expect(report.calls.error_samples.ERR_FIXTURE_AUTH).toMatch(/^fixture: authentication failed \(call \d\)$/);
    expect(report.hard_pass_rate).toBe(0);
  });

  it('a provider answering empty text → ERR_OMEGA_EMPTY_RESPONSE counted (retried, then failed), never a success', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '3', '--provider', path.join(FIX, 'cli-empty-provider.js'), '--scorer', path.join(FIX, 'cli-scorer.js'), '--time-scale', '0.01']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Failed calls: 9 of 9 (ERR_OMEGA_EMPTY_RESPONSE × 9)');
    const [run] = runDirs(dir, /^stress3_/);
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    expect(report.calls.by_error).toEqual({ ERR_OMEGA_EMPTY_RESPONSE: 9 });
    expect(report.calls.retries).toBe(9 * 4); // max_attempts 5
    expect(report.runs.every((x: any) => !x.hard_pass && x.attempts === 15)).toBe(true);
    // The empty answers were billed: the budget saw every attempt.
    expect(readJson(path.join(run, 'run-cost.json')).call_count).toBe(45);
    // No answer reached the cache (it was never created).
    expect(fs.existsSync(path.join(run, 'answers-cache.json'))).toBe(false);

    // chaos through the same provider: every call failed, none "succeeded" empty.
    const c = omega(dir, ['chaos', '--calls', '20', '--profile', 'light', '--provider', path.join(FIX, 'cli-empty-provider.js'), '--time-scale', '0.01']);
    expectExit(c, CODE.chaosEmptyProvider);
    const [cr] = runDirs(dir, /^chaos_/);
    const summary = readJson(path.join(cr, 'chaos-summary.json'));
    expect(summary).toMatchObject({ calls_succeeded: 0, calls_failed: 20, empty_successes: 0, silent_successes: 0 });
    const log = readJson(path.join(cr, 'chaos-log.json'));
    expect(log.entries.filter((e: any) => !e.injected).every((e: any) => e.outcome === 'failed' && e.error_code === 'ERR_OMEGA_EMPTY_RESPONSE')).toBe(true);
  });

  it('a hanging provider with --call-timeout-ms 50 → ERR_OMEGA_PROVIDER_TIMEOUT, exit 1, quickly', () => {
    const dir = tmp();
    calibration(dir, 'fast-retry.json', (c) => {
      c.retry.max_attempts = 2;
      c.retry.deadline_ms = 500;
    });
    const r = omega(dir, [
      'stress',
      '--count',
      '3',
      '--provider',
      path.join(FIX, 'cli-hanging-provider.js'),
      '--scorer',
      path.join(FIX, 'cli-scorer.js'),
      '--call-timeout-ms',
      '50',
      '--calibration',
      'fast-retry.json',
    ], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stdout).toContain('Failed calls: 9 of 9 (ERR_OMEGA_PROVIDER_TIMEOUT × 9)');
    const [run] = runDirs(dir, /^stress3_/);
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    expect(report.runs.every((x: any) => !x.hard_pass && x.failed_scenes === 3 && x.attempts === 6)).toBe(true);
  });

  it('a module without generate → exit 2 ERR_OMEGA_MODULE naming the file', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '3', '--provider', path.join(FIX, 'cli-no-generate.js')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_MODULE');
    expect(r.stderr).toContain('cli-no-generate.js');
    expect(r.stderr).toContain('generate');
    const r2 = omega(dir, ['stress', '--count', '3', '--provider', 'missing-provider.js']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('ERR_OMEGA_MODULE');
    expect(runDirs(dir, /./)).toEqual([]);
  });

  it('a user (ESM) provider and scorer → their names in PR_REPORT, exit 0', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '5', '--provider', path.join(FIX, 'cli-echo-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [run] = runDirs(dir, /^stress5_/);
    expectValid(path.join(run, 'PR_REPORT.json'));
    const report = readJson(path.join(run, 'PR_REPORT.json'));
    expect(report).toMatchObject({ provider: 'cli-echo-provider.mjs', scorer: 'fixture-scorer', hard_pass_score: 0.5, hard_pass_rate: 1, model: 'claude-sonnet-5-5' });
    expect(report.runs[2].metrics.words).toBe(12);
    expect(report.analysis.metrics.words.n).toBe(5);
    expect(readJson(path.join(run, 'answers-cache.json'))['run-1/SCN-02']).toEqual({ call_index: 4, text: 'echo SCN-02 #4 seed 42' });
  });
});

// ---- 9. unusable output folder ---------------------------------------------------------------

describe('unusable output folder', () => {
  it('--out under a FILE → exit 2 with a clear message, nothing half-written', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'somefile'), 'not a folder\n');
    const cases: string[][] = [
      ['stress', '--count', '3', '--out', 'somefile/metrics'],
      ['chaos', '--calls', '10', '--out', 'somefile/metrics'],
      ['preflight', '--quiet', '--test-cmd', "echo '1 passed, 0 failed'", '--out', 'somefile/metrics'],
      ['sprint', '--test-cmd', "echo '1 passed, 0 failed'", '--out', 'somefile/metrics'],
    ];
    for (const args of cases) {
      const r = omega(dir, args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/ERR_OMEGA_IO: cannot mkdir somefile\/metrics\S*: not a directory \(ENOTDIR\)/);
      expect(r.stderr).not.toContain(dir);
    }
    expect(fs.readFileSync(path.join(dir, 'somefile'), 'utf8')).toBe('not a folder\n');
    expect(walk(dir).filter((f) => f !== 'somefile')).toEqual([]);
  });

  it('a run that fails mid-way leaves no *.partial-* folder (scorer throws)', () => {
    const dir = tmp();
    const scorer = path.join(dir, 'bad-scorer.js');
    fs.writeFileSync(scorer, "module.exports = { score() { return { hardScore: 2, softScore: 0.5, hardPass: true, softPass: true }; } };\n");
    const r = omega(dir, ['stress', '--count', '20', '--scorer', scorer]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_SCORER');
    expect(r.stderr).toContain('hardScore');
    expect(walk(path.join(dir, 'metrics'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS'))).toEqual([]);
  });
});

// ---- 10. full small sprint -------------------------------------------------------------------

describe('sprint (the runbook end to end)', () => {
  it('every gate PASS, proofpacks/final verifies, metrics/pr as the runbook, every JSON valid, no absolute paths', () => {
    const dir = tmp();
    const r = omega(dir, [
      'sprint',
      '--test-cmd',
      "echo '3 passed, 0 failed'",
      '--count',
      '20',
      '--chaos-calls',
      '200',
      '--workers',
      '4',
      '--updates',
      '20',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('=== SPRINT GATES ===');
    // The gate table (cli-table3): a row per gate, its status in the third column — never a bare
    // PASS for what was not checked: chaos, stress and their money ran on the simulated provider,
    // the final pack is not signed.
    const status = { 'PR-G0': 'PASS', 'PR-G1': 'PASS', 'PR-G2': 'PASS \\(SIMULATED\\)', 'PR-G3': 'PASS \\(SIMULATED\\)', 'PR-G4': 'PASS \\(SIMULATED\\)', 'PR-G5': 'PASS \\(UNSIGNED\\)' };
    for (const [g, st] of Object.entries(status)) expect(r.stdout).toMatch(new RegExp(`│ ${g} +│[^│\\n]*│ ${st} +│`));
    expect(r.stdout).not.toMatch(/^│ PR-G\d +│[^│\n]*│ (FAIL|SKIPPED) +│/m);
    expect(r.stdout).toMatch(/^SPRINT VERDICT: PASS \(SIMULATED, UNSIGNED\)$/m);
    expect(r.stdout).toContain('Successes: 4 / 4');
    expect(r.stdout).toContain('Residual .lock files: 0');
    expect(r.stdout).toContain('Final cache file: VALID JSON');
    expect(r.stdout).toContain('✓ proofpacks/final:');
    expect(fs.existsSync(path.join(dir, 'nexus'))).toBe(false);

    // metrics/pr exactly as the runbook's "Directory Structure".
    const metrics = path.join(dir, 'metrics', 'pr');
    const files = walk(metrics);
    const ts = '\\d{8}_\\d{6}';
    const expected = [
      /^PR_PREFLIGHT\.json$/,
      new RegExp(`^PR_RUNS/concurrency4_${ts}/concurrency4-report\\.json$`),
      new RegExp(`^PR_RUNS/concurrency4_${ts}/cache\\.json$`),
      new RegExp(`^PR_RUNS/stress20_${ts}/(PR_REPORT|run-cost|answers-cache)\\.json$`),
      // What the verdict depends on, for `proofpack replay` (issue 15).
      new RegExp(`^PR_RUNS/stress20_${ts}/(calibration|modules)\\.json$`),
      new RegExp(`^PR_RUNS/stress20_${ts}/stress-report\\.html$`),
      // The run journal (docs/JOURNAL.md): what the reports were derived from.
      new RegExp(`^PR_RUNS/stress20_${ts}/journal\\.jsonl$`),
      new RegExp(`^PR_RUNS/chaos_${ts}/(chaos-log|run-cost|chaos-summary)\\.json$`),
      /^schemas\/(run-cost|pr-report)\.schema\.example\.json$/,
      // The runbook's `stress100_latest` aliases: links to the newest complete run of each kind.
      /^PR_RUNS\/concurrency4_latest$/,
      /^PR_RUNS\/stress20_latest$/,
      /^PR_RUNS\/chaos_latest$/,
    ];
    for (const f of files) expect(expected.some((re) => re.test(f)), `unexpected ${f}`).toBe(true);
    for (const re of expected) expect(files.some((f) => re.test(f)), `missing ${re}`).toBe(true);
    expect(files).toContain('schemas/run-cost.schema.example.json');
    expect(files).toContain('schemas/pr-report.schema.example.json');
    // Example documents (not copies of the schemas): runbook.test.ts validates them against the schemas.
    expect(readJson(path.join(metrics, 'schemas', 'run-cost.schema.example.json'))).toEqual(readJson(path.join(ROOT, 'schemas', 'examples', 'run-cost.example.json')));
    expect(readJson(path.join(metrics, 'schemas', 'pr-report.schema.example.json'))).toEqual(readJson(path.join(ROOT, 'schemas', 'examples', 'pr-report.example.json')));

    // Every JSON file written validates against its schema.
    const jsonFiles = [...files.map((f) => path.join(metrics, f)), ...walk(path.join(dir, 'proofpacks')).map((f) => path.join(dir, 'proofpacks', f))].filter(
      (f) => f.endsWith('.json'),
    );
    let validated = 0;
    for (const f of jsonFiles) {
      if (f.endsWith('.schema.example.json')) {
        expect(ajv.validateSchema(readJson(f)), f).toBe(true);
        continue;
      }
      expectValid(f);
      validated++;
    }
    expect(validated).toBeGreaterThanOrEqual(20);
    expect(readJson(path.join(metrics, 'PR_PREFLIGHT.json'))).toMatchObject({ verdict: 'PASS', vitest_total: 3 });

    // The packs verify: our verifier and GNU sha256sum.
    const final = path.join(dir, 'proofpacks', 'final');
    for (const f of ['MANIFEST.json', 'SHA256SUMS.txt', 'toolchain.json', 'replay.sh', 'verify.ps1', 'PR_PREFLIGHT.json']) {
      expect(fs.existsSync(path.join(final, f)), f).toBe(true);
    }
    expect(readJson(path.join(final, 'MANIFEST.json'))).toMatchObject({ type: 'sprint', verdict: 'PASS' });
    const v = omega(dir, ['proofpack', 'verify', 'proofpacks/final']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const stressPack = fs.readdirSync(path.join(dir, 'proofpacks')).find((n) => n.startsWith('stress20_')) as string;
    expect(stressPack).toBeDefined();
    expect(omega(dir, ['proofpack', 'verify', path.join('proofpacks', stressPack)]).code).toBe(0);
    const sums = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS.txt'], { cwd: final, encoding: 'utf8' });
    if (sums.error === undefined) expect(sums.status, sums.stdout + sums.stderr).toBe(0);

    expectNoAbsolutePaths(dir);
  });
});
