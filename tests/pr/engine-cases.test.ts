/**
 * The gates judge the user's engine (issue 11): cases files with checks computed in the core,
 * no PASS without real scoring, per-case statistics with the `CASE_PASS_MIN` floor, engine modules
 * run through `runStress` (library) and `omega-pr stress --engine` (the REAL CLI), robustness of
 * the engine runner, determinism and shard merge with cases and an engine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { CaseSuite } from '../../native';
import { loadCalibration, runStress, type EngineContext, type LlmProvider, type Scorer } from '../../src/index';
import { thrown } from './errors';
import { FIX, ROOT, binEnv, runBin } from './helpers/bin';
import { readJson, runDirs as committedRunDirs } from './helpers/files';
import { tempDirs } from './helpers/tmp';

const EXAMPLE = path.join(ROOT, 'examples', 'scribe-engine', 'engine');

const tmp = tempDirs('omega-engine-');

function omega(cwd: string, args: string[], env: Record<string, string> = {}) {
  return runBin(cwd, args, binEnv(env));
}

function runDirs(cwd: string, re: RegExp): string[] {
  return committedRunDirs(cwd, re, { committed: true });
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const prSchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'pr-report.schema.json')));
const casesSchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'cases.schema.json')));

function expectValidReport(report: unknown): void {
  const ok = prSchema(report);
  expect(ok, ajv.errorsText(prSchema.errors)).toBe(true);
}

const calibration = loadCalibration();

describe('cases file: validation in the core (ERR_OMEGA_CASES naming case and check index)', () => {
  const bad = (doc: unknown) => thrown(() => CaseSuite.fromJson(JSON.stringify(doc), 'cases.json'));

  it('unknown check type, bad regex, bad values, missing vars → ERR_OMEGA_CASES with case id and index', () => {
    let e = bad({ cases: [{ id: 'scene-1', prompt: 'p', assert: [{ type: 'contains', value: 'x' }, { type: 'llm-magic' }] }] });
    expect(e.code).toBe('ERR_OMEGA_CASES');
    expect(e.message).toContain('case `scene-1` assert[1]');
    expect(e.message).toContain('unknown check type `llm-magic`');
    e = bad([{ id: 'r', prompt: 'p', assert: [{ type: 'regex', value: '([a-z' }] }]);
    expect(e.message).toMatch(/case `r` assert\[0\]: bad regex/);
    e = bad([{ id: 'w', prompt: 'p', assert: [{ type: 'min-words', value: -1 }] }]);
    expect(e.message).toContain('case `w` assert[0]');
    e = bad([{ id: 'v', prompt: 'Hello {{who}}' }]);
    expect(e.message).toContain('`vars` has no `who`');
    e = bad([{ id: 'x', prompt: 'a' }, { id: 'x', prompt: 'b' }]);
    expect(e.message).toContain('duplicate case id');
    e = bad([{ id: 'm', prompt: 'a', messages: [{ role: 'user', content: 'b' }] }]);
    expect(e.message).toContain('not both');
  });

  it('the example cases file is valid for the JSON Schema and the core', () => {
    const doc = readJson(path.join(EXAMPLE, 'cases.json'));
    expect(casesSchema(doc), ajv.errorsText(casesSchema.errors)).toBe(true);
    const suite = CaseSuite.fromJson(JSON.stringify(doc), 'cases.json');
    const norm = suite.document();
    expect(norm.cases[0]?.prompt).toBe('Write Scene 1: Mara meets Tomas at the harbor at night.');
    expect(norm.cases[0]?.assert[4]).toEqual({ type: 'max-words', level: 'soft', weight: 1, value: 400 });
    expect(norm.cases[2]?.messages?.[0]?.role).toBe('system');
    // The JSON Schema rejects what the core rejects.
    expect(casesSchema({ cases: [{ id: 'a', prompt: 'p', assert: [{ type: 'nope' }] }] })).toBe(false);
  });

  it('checks in the core judge an answer; a failed call fails every check', () => {
    const suite = CaseSuite.fromJson(
      JSON.stringify([{ id: 'a', prompt: 'p', assert: [{ type: 'starts-with', value: 'The' }, { type: 'equals', value: 'The end.' }, { type: 'cost-usd', value: 0.01 }, { type: 'latency-ms', value: 100, level: 'soft' }] }]),
      'c.json',
    );
    const good = suite.evaluate(0, { text: 'The end.', latencyMs: 50, costUsd: 0.001 });
    expect(good).toMatchObject({ ok: true, hard_pass: true, soft_pass: true, hard_score: 1, failed_checks: [] });
    const slow = suite.evaluate(0, { text: 'The end.', latencyMs: 500, costUsd: 0.02 });
    expect(slow).toMatchObject({ hard_pass: false, soft_pass: false, failed_checks: ['cost-usd', 'latency-ms'] });
    expect(slow.hard_score).toBeCloseTo(2 / 3, 12);
    const none = suite.evaluate(0, { error: 'ERR_X: down', latencyMs: 0, costUsd: 0 });
    expect(none).toMatchObject({ ok: false, hard_pass: false, hard_score: 0 });
    expect(none.failed_checks[0]).toBe('no_output');
  });
});

describe('no PASS without real scoring (CLI)', () => {
  it('a provider answering "lol" is refused without a scorer (exit 2, says what to add)', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '3', '--provider', path.join(FIX, 'lol-provider.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_NO_SCORER');
    expect(r.stderr).toContain('--input');
    expect(r.stderr).toContain('--scorer');
    expect(r.stderr).toContain('--engine');
    expect(runDirs(dir, /./)).toEqual([]);
  });

  it('the same provider FAILs with --input assertions; the report and page name provider, engine and scorer', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '4', '--provider', path.join(FIX, 'lol-provider.mjs'), '--input', path.join(EXAMPLE, 'cases.json')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^VERDICT: FAIL$/m);
    expect(r.stdout).toContain('Provider: lol-provider.mjs | Engine: none (one call per case) | Scorer: assertions:cases.json');
    const [run] = runDirs(dir, /^stress4_/);
    const report = readJson(path.join(run as string, 'PR_REPORT.json'));
    expectValidReport(report);
    expect(report).toMatchObject({ provider: 'lol-provider.mjs', engine: null, scorer: 'assertions:cases.json', cases_file: 'cases.json', hard_pass_rate: 0 });
    expect(report.case_analysis.always_failing).toEqual(['harbor-prose', 'harbor-meta', 'archive-prose', 'archive-meta', 'finale-prose']);
    expect(report.case_analysis.failing_checks['is-json']).toBe(8);
    const html = fs.readFileSync(path.join(run as string, 'stress-report.html'), 'utf8');
    expect(html).toContain('<tr><th>scorer</th><td>assertions:cases.json</td></tr>');
    expect(html).toContain('<tr><th>engine</th><td>none</td></tr>');
    expect(html).toContain('<h2>Per case</h2>');
  });

  it('bad cases input → exit 2 before any run: unknown check, unreadable schema file', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ cases: [{ id: 's1', prompt: 'p', assert: [{ type: 'contains', value: 'a' }, { type: 'json-schema', value: 'missing.schema.json' }] }] }));
    const r = omega(dir, ['stress', '--count', '2', '--input', 'bad.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_CASES');
    expect(r.stderr).toContain('case `s1` assert[1]');
    expect(r.stderr).toContain('missing.schema.json');
    fs.writeFileSync(path.join(dir, 'bad2.json'), JSON.stringify([{ id: 's2', prompt: 'p', assert: [{ type: 'regexp', value: 'a' }] }]));
    const r2 = omega(dir, ['stress', '--count', '2', '--input', 'bad2.json']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('case `s2` assert[0]: unknown check type `regexp`');
    expect(runDirs(dir, /./)).toEqual([]);
  });
});

describe('per-case statistics and the CASE_PASS_MIN floor', () => {
  it('one case always wrong: pooled PASS, but the floor FAILs the gate naming the case', async () => {
    const provider = (await import(path.join(FIX, 'case-provider.mjs'))).default as LlmProvider;
    const base = await runStress({ provider, cases: path.join(FIX, 'cases-five.json'), calibration, count: 12, clock: () => '2023-11-14T22:13:20.000Z' });
    expect(base.report.hard_pass_rate).toBe(1);
    expect(base.report.verdict).toBe('PASS');
    expect(base.report.case_analysis?.always_failing).toEqual(['broken']);
    const broken = base.report.case_analysis?.cases.find((c) => c.id === 'broken');
    expect(broken).toMatchObject({ runs: 12, passes: 0, pass_rate: 0, status: 'always_fails', failing_checks: { contains: 12, 'min-words': 12 } });
    expect(broken?.pass_ci95.high).toBeGreaterThan(0.2);
    const a = base.report.case_analysis?.cases.find((c) => c.id === 'a');
    expect(a).toMatchObject({ pass_rate: 1, status: 'always_passes' });
    expect(base.report.case_analysis?.pass_k_mean['1']).toBeCloseTo(0.8, 12);

    const floored = await runStress({ provider, cases: path.join(FIX, 'cases-five.json'), calibration: { ...calibration, CASE_PASS_MIN: 0.5 }, count: 12, clock: () => '2023-11-14T22:13:20.000Z' });
    expect(floored.report.hard_pass_rate).toBe(1);
    expect(floored.report.verdict).toBe('FAIL');
    expect(floored.report.variance_verdict).toBe('FAIL');
    expect(floored.report.variance_violations).toEqual([{ metric: 'case:broken', statistic: 'case_pass_rate', value: 0, min: 0.5, reason: 'below_min' }]);
    expectValidReport(floored.report);
  });
});

describe('engine modules through runStress (library)', () => {
  const offline = async () => ((await import(path.join(EXAMPLE, 'offline-provider.mjs'))) as { createProvider: (c: { seed: number }) => LlmProvider }).createProvider({ seed: 42 });
  const fixed = () => '2023-11-14T22:13:20.000Z';

  it('the example engine on its cases: per-case figures, its parser catches bad metadata, deterministic', async () => {
    const provider = await offline();
    const opts = { engine: path.join(EXAMPLE, 'engine.mjs'), cases: path.join(EXAMPLE, 'cases.json'), provider, calibration, count: 40, concurrency: 4, clock: fixed, names: { provider: 'offline-provider.mjs' } };
    const a = await runStress(opts);
    const b = await runStress({ ...opts, provider: await offline(), concurrency: 1 });
    // Same seed → the same report, whatever the concurrency (recorded in the report itself).
    expect(JSON.stringify({ ...a.report, concurrency: 1 })).toBe(JSON.stringify(b.report));
    expectValidReport(a.report);
    expect(a.report.engine).toBe('engine.mjs');
    expect(a.report.scorer).toBe('assertions:cases.json');
    const stats = Object.fromEntries((a.report.case_analysis?.cases ?? []).map((c) => [c.id, c]));
    // The model gets ~20 % of metadata answers wrong; the engine's parser catches them and asks for a
    // repair, so few survive — and every one that does is caught by its own parser too.
    expect(stats['harbor-meta']?.pass_rate).toBeGreaterThan(0.9);
    expect(stats['harbor-meta']?.failing_checks.engine ?? 0).toBe(stats['harbor-meta']?.failing_checks['is-json'] ?? 0);
    // The engine asked for repairs: more calls than cases × runs.
    expect(a.report.calls.total).toBeGreaterThan(5 * 40);
    for (const c of a.report.case_analysis?.cases ?? []) expect(c.runs).toBe(40);
    // Refusals and forgotten characters are caught by the cases' checks (flaky prose cases).
    expect(a.report.case_analysis?.flaky.length).toBeGreaterThan(0);
  });

  it('robustness: throws, returns nothing, never resolves, late llm call, scorer throwing — each fails one run only', async () => {
    const provider = await offline();
    let late: Promise<unknown> | null = null;
    const engine = async (ctx: EngineContext) => {
      const answer = await ctx.llm.generate({ prompt: 'Write Scene: Mara.', caseId: 'only' });
      if (ctx.runIndex === 1) throw new Error('engine bug in run 1');
      if (ctx.runIndex === 2) return undefined as unknown as string;
      if (ctx.runIndex === 3) return new Promise<string>(() => {});
      if (ctx.runIndex === 4) {
        late = new Promise((resolve) => setTimeout(() => resolve(ctx.llm.generate({ prompt: 'late' }).catch((e: { code: string }) => e.code)), 20));
      }
      return { outputs: { only: answer.text } };
    };
    const cases = { cases: [{ id: 'only', prompt: 'Write Scene: Mara.', assert: [{ type: 'min-words', value: 1 }] }] };
    const r = await runStress({ engine, cases, provider, calibration, count: 6, runTimeoutMs: 300, clock: fixed });
    const runs = r.report.runs;
    expect(runs[0]?.error).toBeUndefined();
    expect(runs[1]?.error).toBe('engine threw: engine bug in run 1');
    expect(runs[2]?.error).toContain('engine returned nothing');
    expect(runs[3]?.error).toContain('ERR_OMEGA_RUN_TIMEOUT');
    expect(runs[4]?.error).toBeUndefined();
    expect(runs[5]?.hard_pass).toBe(true);
    expect(runs.filter((x) => x.hard_pass)).toHaveLength(3);
    expect(await late).toBe('ERR_OMEGA_RUN_ENDED');

    const scorer: Scorer = {
      name: 'flaky-scorer',
      score(input) {
        if (input.runIndex === 2) throw new Error('scorer bug');
        return { hardScore: 1, softScore: 1, hardPass: true, softPass: true };
      },
    };
    const s = await runStress({ engine: async (ctx: EngineContext) => ({ outputs: { only: (await ctx.llm.generate({ prompt: 'x', caseId: 'only' })).text } }), cases, provider, scorer, calibration, count: 4, clock: fixed });
    expect(s.report.scorer).toBe('flaky-scorer');
    expect(s.report.runs.map((x) => x.hard_pass)).toEqual([true, true, false, true]);
    expect(s.report.runs[2]?.error).toBe('scorer threw: scorer bug');
  });

  it('budget exceeded mid-run fails the run closed, even when the engine swallows the refusal', async () => {
    const provider = await offline();
    const tight = { ...calibration, budget: { ...calibration.budget, max_per_run_usd: 0.02, max_per_call_usd: 0.02 } };
    const engine = async (ctx: EngineContext) => {
      let text = '';
      for (let i = 0; i < 50; i++) {
        try {
          text = (await ctx.llm.generate({ prompt: 'Write Scene: Mara and Tomas.', caseId: 'only', maxOutputTokens: 400 })).text;
        } catch {
          // swallowed
        }
      }
      return { outputs: { only: text } };
    };
    const cases = { cases: [{ id: 'only', prompt: 'Write.', assert: [{ type: 'min-words', value: 1 }] }] };
    const r = await runStress({ engine, cases, provider, calibration: tight, count: 2, concurrency: 1, clock: fixed });
    expect(r.report.cost.budget_verdict).toBe('FAIL');
    expect(r.report.runs.some((x) => (x.error ?? '').startsWith('budget exceeded mid-run'))).toBe(true);
    expect(r.report.runs.every((x) => !x.hard_pass)).toBe(true);
  });

  it('an engine without any scorer, a class, or nothing exported → coded errors', async () => {
    const provider = await offline();
    const noChecks = { cases: [{ id: 'only', prompt: 'p' }] };
    const e1 = await runStress({ engine: async () => ({ outputs: { only: 'x' } }), cases: noChecks, provider, calibration, count: 2 }).catch((e: { code: string; message: string }) => e);
    expect((e1 as { code: string }).code).toBe('ERR_OMEGA_NO_SCORER');
    const e2 = await runStress({ engine: path.join(FIX, 'class-engine.mjs'), cases: noChecks, provider, calibration, count: 1 }).catch((e: { code: string; message: string }) => e);
    expect(e2).toMatchObject({ code: 'ERR_OMEGA_MODULE' });
    expect((e2 as Error).message).toContain('exports a class');
    const e3 = await runStress({ engine: path.join(FIX, 'empty-engine.mjs'), cases: noChecks, provider, calibration, count: 1 }).catch((e: { code: string; message: string }) => e);
    expect(e3).toMatchObject({ code: 'ERR_OMEGA_MODULE' });
    expect((e3 as Error).message).toContain('empty-engine.mjs: exports no engine');
  });
});

describe('omega-pr stress --engine (CLI): shards merge per case exactly', () => {
  it('2 shards of an engine run on cases merged == one machine, byte for byte', () => {
    const dir = tmp();
    const args = ['stress', '--count', '10', '--engine', path.join(EXAMPLE, 'engine.mjs'), '--input', path.join(EXAMPLE, 'cases.json'), '--provider', path.join(EXAMPLE, 'offline-provider.mjs')];
    for (const s of ['1/2', '2/2']) {
      const r = omega(dir, [...args, '--shard', s]);
      expect(r.code, r.stderr).not.toBe(2);
    }
    const shards = runDirs(dir, /_shard\dof2$/);
    const m = omega(dir, ['stress', 'merge', ...shards]);
    expect(m.code, m.stderr).not.toBe(2);
    const single = omega(dir, args);
    expect(single.code, single.stderr).not.toBe(2);
    expect(single.stdout).toContain('Engine: engine.mjs');
    expect(single.stdout).toMatch(/harbor-meta: \d+\.\d% \[/);
    const [merged, one] = runDirs(dir, /^stress10_\d{8}_\d{6}(-\d+)?$/);
    for (const f of ['PR_REPORT.json', 'run-cost.json']) {
      expect(fs.readFileSync(path.join(merged as string, f), 'utf8'), f).toBe(fs.readFileSync(path.join(one as string, f), 'utf8'));
    }
    const report = readJson(path.join(one as string, 'PR_REPORT.json'));
    expectValidReport(report);
    expect(report.case_ids).toEqual(['harbor-prose', 'harbor-meta', 'archive-prose', 'archive-meta', 'finale-prose']);
  });
});

describe('outcome chaos: faults that return, and the detection rate', () => {
  const outcomeCal = loadCalibration(path.join(EXAMPLE, 'calibration-outcome.json'));
  const chaosSchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'chaos-log.schema.json')));

  it('the example engine under profile "outcome": delivered faults logged, detection rate deterministic for a seed', async () => {
    const offline = async () => ((await import(path.join(EXAMPLE, 'offline-provider.mjs'))) as { createProvider: (c: { seed: number }) => LlmProvider }).createProvider({ seed: 42 });
    const opts = { engine: path.join(EXAMPLE, 'engine.mjs'), cases: path.join(EXAMPLE, 'cases.json'), calibration: outcomeCal, chaos: 'outcome', count: 30, timeScale: 0, clock: () => '2023-11-14T22:13:20.000Z', names: { provider: 'offline-provider.mjs' } };
    const a = await runStress({ ...opts, provider: await offline() });
    const b = await runStress({ ...opts, provider: await offline(), concurrency: 2 });
    expect(JSON.stringify({ ...a.report, concurrency: 2 })).toBe(JSON.stringify(b.report));
    expect(JSON.stringify(a.chaosLog)).toBe(JSON.stringify(b.chaosLog));
    expectValidReport(a.report);
    expect(chaosSchema(a.chaosLog), ajv.errorsText(chaosSchema.errors)).toBe(true);
    const oc = a.report.outcome_chaos;
    expect(oc).toBeDefined();
    const delivered = (a.chaosLog as unknown as { delivered_faults: { fault: string; delivered: boolean }[] }).delivered_faults;
    expect(delivered.length).toBe(oc?.delivered);
    expect(delivered.every((d) => d.delivered === true)).toBe(true);
    // ~20 % of ~200 calls: every fault type shows up, each counted delivered vs caught.
    expect(oc?.delivered).toBeGreaterThan(20);
    expect(Object.keys(oc?.by_fault ?? {}).sort()).toEqual(['empty_billed', 'latency_spike', 'malformed_json', 'refusal', 'renamed_key', 'truncated']);
    // Empty answers are caught by the stack (retried); refusals by the engine or the refusal checks.
    expect(oc?.by_fault.empty_billed?.caught).toBe(oc?.by_fault.empty_billed?.delivered);
    expect(oc?.by_fault.refusal?.caught).toBe(oc?.by_fault.refusal?.delivered);
    expect(oc?.detection_rate).toBeGreaterThan(0);
    expect(oc?.detection_rate).toBeLessThan(1);
    console.log(`outcome chaos figures: ${JSON.stringify(oc)}`);
  });
});

describe('chaos --input: the chaos phase sends the cases', () => {
  it('call i sends case i mod n; the chaos log names the cases', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--calls', '40', '--profile', 'light', '--input', path.join(EXAMPLE, 'cases.json'), '--provider', path.join(EXAMPLE, 'offline-provider.mjs'), '--time-scale', '0']);
    expect(r.code, r.stderr).not.toBe(2);
    const [run] = runDirs(dir, /^chaos_/);
    const log = readJson(path.join(run as string, 'chaos-log.json'));
    expect(log.entries.find((e: { call_index: number }) => e.call_index === 6).scene_id).toBe('harbor-meta');
  });
});

describe('PR-G0 on the user\'s project; sprint input errors before any gate', () => {
  it('preflight --expect-branch / --require-clean say why they FAIL; sprint --chaos-profile nope / a bad --input exit 2 at once', () => {
    const dir = tmp();
    spawnSync('git', ['init', '-q', '-b', 'work'], { cwd: dir });
    fs.writeFileSync(path.join(dir, 'dirty.txt'), 'x\n');
    const cmd = "node -e \"console.log('3 passed, 0 failed'); console.error('stderr tail line')\"";
    const r = omega(dir, ['preflight', '--test-cmd', cmd, '--expect-branch', 'main', '--require-clean', '--expect-total', '4']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('count mismatch: 3 tests, expected 4');
    expect(r.stdout).toContain('expected main');
    expect(r.stdout).toMatch(/dirty tree: \d+ changed file\(s\)/);
    expect(r.stdout).toContain('stderr tail line');
    const s = omega(dir, ['sprint', '--test-cmd', cmd, '--chaos-profile', 'nope']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('ERR_OMEGA_UNKNOWN_PROFILE');
    const s2 = omega(dir, ['sprint', '--test-cmd', cmd, '--input', 'missing-cases.json']);
    expect(s2.code).toBe(2);
    expect(s2.stderr).toContain('ERR_OMEGA_CASES');
    expect(s.stdout + s2.stdout).not.toContain('PR-G0');
  });
});
