/**
 * Issue 11 leftovers: `omega-pr chaos --engine` (PR-G3 judged on the user's engine runs, the REAL
 * CLI), the `OUTCOME_DETECTION_MIN` threshold (core rule, one for PR-G3 and PR-G4), and cases in
 * YAML (`--input cases.yaml`, validated by the core like JSON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { judgeOutcomeDetection } from '../../native';
import { loadCalibration, runStress, type LlmProvider } from '../../src/index';
import { loadCases } from '../../src/stress/cases';
import { thrown } from './errors';
import { ROOT, binEnv, runBin } from './helpers/bin';
import { readJson, runDirs as committedRunDirs } from './helpers/files';
import { tempDirs } from './helpers/tmp';

const EXAMPLE = path.join(ROOT, 'examples', 'scribe-engine', 'engine');
const ENGINE = path.join(EXAMPLE, 'engine.mjs');
const CASES = path.join(EXAMPLE, 'cases.json');
const PROVIDER = path.join(EXAMPLE, 'offline-provider.mjs');
const OUTCOME_CAL = path.join(EXAMPLE, 'calibration-outcome.json');

const tmp = tempDirs('omega-engine-chaos-');

function omega(cwd: string, args: string[]) {
  return runBin(cwd, args, binEnv());
}

function runDirs(cwd: string, re: RegExp): string[] {
  return committedRunDirs(cwd, re, { committed: true });
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const summarySchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'chaos-summary.schema.json')));
const prSchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'pr-report.schema.json')));
const calSchema = ajv.compile(readJson(path.join(ROOT, 'schemas', 'calibration.schema.json')));

/** The example's outcome calibration with `OUTCOME_DETECTION_MIN` set (or not), written to `dir`. */
function outcomeCalibration(dir: string, min?: number): string {
  const doc = readJson(OUTCOME_CAL);
  if (min !== undefined) doc.OUTCOME_DETECTION_MIN = min;
  const file = path.join(dir, `calibration-${min ?? 'none'}.json`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  expect(calSchema(doc), ajv.errorsText(calSchema.errors)).toBe(true);
  return file;
}

const ENGINE_ARGS = ['--engine', ENGINE, '--input', CASES, '--provider', PROVIDER, '--time-scale', '0'];

describe('omega-pr chaos --engine: PR-G3 on the engine\'s runs', () => {
  it('runs the engine under the profile; the summary names the engine, its runs and the outcome faults; deterministic', () => {
    const dir = tmp();
    const cal = outcomeCalibration(dir);
    const args = ['chaos', '--profile', 'outcome', '--runs', '12', '--calibration', cal, ...ENGINE_ARGS];
    const a = omega(dir, args);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout).toContain('Engine engine.mjs: 12 runs');
    expect(a.stdout).toMatch(/Outcome chaos: \d+ of \d+ corrupted answers caught/);
    expect(a.stdout).toContain('VERDICT: PASS');
    const b = omega(dir, args);
    expect(b.code).toBe(0);
    const [d1, d2] = runDirs(dir, /^chaos_/);
    const summary = readJson(path.join(d1 as string, 'chaos-summary.json'));
    expect(summarySchema(summary), ajv.errorsText(summarySchema.errors)).toBe(true);
    expect(summary.engine).toBe('engine.mjs');
    expect(summary.runs).toBe(12);
    expect(summary.provider).toBe('offline-provider.mjs');
    // The engine made the calls (5 cases, retries of its own): more than one per run.
    expect(summary.calls).toBeGreaterThan(12 * 5 - 1);
    expect(summary.calls_succeeded).toBeGreaterThan(0);
    expect(summary.outcome_chaos.delivered).toBeGreaterThan(5);
    expect(summary.detection_violations).toEqual([]);
    // Same seed → same files (timestamps from SOURCE_DATE_EPOCH).
    for (const f of ['chaos-summary.json', 'chaos-log.json', 'run-cost.json']) {
      expect(fs.readFileSync(path.join(d2 as string, f), 'utf8'), f).toBe(fs.readFileSync(path.join(d1 as string, f), 'utf8'));
    }
  });

  it('thrown faults on the engine\'s calls: injected at the profile rate, retried, none silent', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--profile', 'heavy', '--runs', '10', ...ENGINE_ARGS]);
    const [run] = runDirs(dir, /^chaos_/);
    const summary = readJson(path.join(run as string, 'chaos-summary.json'));
    expect(summary.injected).toBeGreaterThan(0);
    expect(summary.rate_ok).toBe(true);
    expect(summary.silent_successes).toBe(0);
    expect(summary.faults_recovered_by_retry + summary.faults_surfaced_to_caller).toBeGreaterThan(0);
    expect(summary.outcome_chaos).toBeNull();
    expect(r.code, r.stdout + r.stderr).toBe(summary.verdict === 'PASS' && summary.budget_verdict === 'PASS' ? 0 : 1);
  });

  it('input errors exit 2 before any call: --runs without --engine, an engine module that is not one', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--runs', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--runs goes with --engine');
    const r1 = omega(dir, ['chaos', '--calls', '5', ...ENGINE_ARGS]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('--calls does not apply with --engine');
    const r2 = omega(dir, ['chaos', '--engine', path.join(ROOT, 'tests', 'pr', 'fixtures', 'class-engine.mjs'), '--input', CASES, '--provider', PROVIDER]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('ERR_OMEGA_MODULE');
    expect(runDirs(dir, /^chaos_/)).toEqual([]);
  });
});

describe('sprint --engine: the chaos phase runs the engine too', () => {
  it('PR-G3 of the sprint is judged on --chaos-runs runs of the engine', () => {
    const dir = tmp();
    const r = omega(dir, [
      'sprint', '--test-cmd', "echo '3 passed, 0 failed'", '--workers', '2', '--updates', '5',
      '--chaos-profile', 'heavy', '--chaos-runs', '4', '--count', '6', ...ENGINE_ARGS.filter((a) => a !== '--time-scale' && a !== '0'),
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PR-G3 │ Chaos: profile heavy +│ PASS/);
    const [run] = runDirs(dir, /^chaos_/);
    const summary = readJson(path.join(run as string, 'chaos-summary.json'));
    expect(summary.engine).toBe('engine.mjs');
    expect(summary.runs).toBe(4);
    expect(summary.calls).toBeGreaterThanOrEqual(4 * 5);
  });
});

describe('OUTCOME_DETECTION_MIN: one rule (core) for PR-G3 and PR-G4', () => {
  it('the core rule: per fault type, latency_spike and undelivered types not judged, the message counts what was accepted', () => {
    const cal = loadCalibration(OUTCOME_CAL);
    const counts = [
      { fault: 'truncated', delivered: 12, caught: 7 },
      { fault: 'refusal', delivered: 3, caught: 3 },
      { fault: 'latency_spike', delivered: 4, caught: 0 },
      { fault: 'renamed_key', delivered: 0, caught: 0 },
    ];
    expect(judgeOutcomeDetection(counts, cal)).toEqual([]);
    const v = judgeOutcomeDetection(counts, { ...cal, OUTCOME_DETECTION_MIN: 0.9 });
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ metric: 'outcome_detection:truncated', statistic: 'detection_rate', min: 0.9, reason: 'below_min' });
    expect(v[0]?.message).toMatch(/^your engine accepted 5 of 12 truncated answers/);
    const e = thrown(() => loadCalibration.call(null, writeTmp({ ...readJson(OUTCOME_CAL), OUTCOME_DETECTION_MIN: 2 })));
    expect(e.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(e.message).toContain('$.OUTCOME_DETECTION_MIN: must be in [0, 1], got 2');
  });

  it('stress: a threshold above the engine\'s detection rate is a variance violation with its message (FAIL); merged shards agree', () => {
    const dir = tmp();
    const strict = outcomeCalibration(dir, 1);
    const args = ['stress', '--count', '12', '--chaos', 'outcome', '--calibration', strict, ...ENGINE_ARGS];
    const r = omega(dir, args);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/variance violation: outcome_detection:\w+: your engine accepted \d+ of \d+ /);
    const [run] = runDirs(dir, /^stress12_\d{8}_\d{6}$/);
    const report = readJson(path.join(run as string, 'PR_REPORT.json'));
    expect(prSchema(report), ajv.errorsText(prSchema.errors)).toBe(true);
    const dv = report.variance_violations.filter((v: { metric: string }) => v.metric.startsWith('outcome_detection:'));
    expect(dv.length).toBeGreaterThan(0);
    // Exactly the fault types (but latency_spike) caught less than always.
    const expected = Object.entries(report.outcome_chaos.by_fault as Record<string, { delivered: number; caught: number }>)
      .filter(([f, c]) => f !== 'latency_spike' && c.delivered > 0 && c.caught < c.delivered)
      .map(([f]) => `outcome_detection:${f}`);
    expect(dv.map((v: { metric: string }) => v.metric)).toEqual(expected);
    expect(report.variance_verdict).toBe('FAIL');
    // Without the threshold the same run is judged on its pass rates only: no detection violation.
    const lax = omega(dir, ['stress', '--count', '12', '--chaos', 'outcome', '--calibration', outcomeCalibration(dir), ...ENGINE_ARGS]);
    expect(lax.stdout).not.toContain('outcome_detection:');
    // Two shards merged give the same violations (counts merge exactly).
    for (let i = 1; i <= 2; i++) omega(dir, [...args, '--shard', `${i}/2`]);
    const shards = runDirs(dir, /_shard\dof2$/).map((s) => path.relative(dir, s));
    const m = omega(dir, ['stress', 'merge', ...shards, '--calibration', strict]);
    expect(m.code).toBe(1);
    const merged = runDirs(dir, /^stress12_\d{8}_\d{6}-\d+$/).map((d) => readJson(path.join(d, 'PR_REPORT.json')));
    const last = merged[merged.length - 1];
    expect(last.variance_violations).toEqual(report.variance_violations);
  });

  it('chaos --engine: a threshold above the detection rate fails PR-G3 with the message as a reason (exit 1, NCR)', () => {
    const dir = tmp();
    const r = omega(dir, ['chaos', '--profile', 'outcome', '--runs', '12', '--calibration', outcomeCalibration(dir, 1), ...ENGINE_ARGS]);
    expect(r.code, r.stderr).toBe(1);
    const [run] = runDirs(dir, /^chaos_/);
    const summary = readJson(path.join(run as string, 'chaos-summary.json'));
    expect(summarySchema(summary), ajv.errorsText(summarySchema.errors)).toBe(true);
    expect(summary.verdict).toBe('FAIL');
    expect(summary.detection_violations.length).toBeGreaterThan(0);
    for (const v of summary.detection_violations) expect(summary.verdict_reasons).toContain(v.message);
    expect(r.stdout).toMatch(/VERDICT: FAIL \(.*your engine accepted \d+ of \d+ /);
    const ncrs = fs.readdirSync(path.join(dir, 'nexus', 'proof')).filter((n) => n.startsWith('NCR_PR_G3_'));
    expect(ncrs).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, 'nexus', 'proof', ncrs[0] as string), 'utf8')).toContain('your engine accepted');
  });
});

function writeTmp(doc: unknown): string {
  const file = path.join(tmp(), 'calibration.json');
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

describe('cases in YAML (--input cases.yaml)', () => {
  it('a YAML file is the same cases as its JSON: same normalized document, same stress report but the file name', async () => {
    const dir = tmp();
    const doc = readJson(CASES);
    delete doc.$schema;
    fs.writeFileSync(path.join(dir, 'cases.yaml'), `# the example's cases, in YAML\n${stringify(doc)}`);
    fs.copyFileSync(path.join(EXAMPLE, 'metadata.schema.json'), path.join(dir, 'metadata.schema.json'));
    fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(doc));
    const fromYaml = await loadCases(path.join(dir, 'cases.yaml'));
    const fromJson = await loadCases(path.join(dir, 'cases.json'));
    expect(fromYaml.name).toBe('cases.yaml');
    expect(fromYaml.doc).toEqual(fromJson.doc);
    const y = omega(dir, ['stress', '--count', '6', '--engine', ENGINE, '--input', 'cases.yaml', '--provider', PROVIDER, '--time-scale', '0', '--out', 'y']);
    const j = omega(dir, ['stress', '--count', '6', '--engine', ENGINE, '--input', 'cases.json', '--provider', PROVIDER, '--time-scale', '0', '--out', 'j']);
    expect(y.code, y.stderr).not.toBe(2);
    expect(y.code).toBe(j.code);
    const read = (root: string) => {
      const runs = path.join(dir, root, 'PR_RUNS');
      const name = fs.readdirSync(runs).find((n) => /^stress6_\d{8}_\d{6}$/.test(n)) as string;
      return readJson(path.join(runs, name, 'PR_REPORT.json'));
    };
    const ry = read('y');
    const rj = read('j');
    expect(ry.cases_file).toBe('cases.yaml');
    expect({ ...ry, cases_file: 'cases.json', scorer: rj.scorer }).toEqual(rj);
  });

  it('YAML errors: syntax (line and column), duplicate keys, then the core\'s validation naming the case and check index', async () => {
    const dir = tmp();
    const write = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    let e = await loadCases(write('bad.yml', 'cases:\n  - id: a\n    prompt: [unclosed\n')).catch((x: unknown) => x as { code: string; message: string });
    expect(e.code).toBe('ERR_OMEGA_CASES');
    expect(e.message).toMatch(/cases `bad\.yml`: not valid YAML at line \d+, column \d+/);
    e = await loadCases(write('dup.yaml', 'cases:\n  - id: a\n    id: b\n    prompt: p\n')).catch((x: unknown) => x as { code: string; message: string });
    expect(e.code).toBe('ERR_OMEGA_CASES');
    expect(e.message).toContain('not valid YAML');
    e = await loadCases(write('types.yaml', 'cases:\n  - id: scene-1\n    prompt: Write\n    assert:\n      - type: contains\n        value: x\n      - type: llm-magic\n')).catch((x: unknown) => x as { code: string; message: string });
    expect(e.code).toBe('ERR_OMEGA_CASES');
    expect(e.message).toContain('case `scene-1` assert[1]');
    expect(e.message).toContain('unknown check type `llm-magic`');
    // YAML 1.2 core schema: `yes` is a string, not a boolean (the id stays "yes").
    const ok = await loadCases(write('yes.yaml', 'cases:\n  - id: yes\n    prompt: "Say {{word}}"\n    vars: { word: on }\n'));
    expect(ok.doc.cases[0]?.id).toBe('yes');
    expect(ok.doc.cases[0]?.prompt).toBe('Say on');
    // Through the CLI: exit 2, the file named.
    const r = omega(dir, ['stress', '--count', '2', '--input', 'bad.yml', '--provider', PROVIDER]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not valid YAML');
  });
});

describe('llm-judge checks: scored by the run\'s provider through the stack, counted apart', () => {
  const JUDGE_MARK = 'You grade an answer against a rubric';
  /** Model and judge in one: the model answers per case; the judge scores politeness. */
  function playsJudge(judge: (user: string) => string): LlmProvider & { judged: string[] } {
    const judged: string[] = [];
    return {
      name: 'plays-judge',
      judged,
      async generate(req) {
        const usage = { inputTokens: 20, outputTokens: 10 };
        const messages = (req as { messages?: { role: string; content: string }[] }).messages;
        if (messages?.[0]?.content.startsWith(JUDGE_MARK)) {
          const user = messages[1]?.content ?? '';
          judged.push(user);
          return { text: judge(user), usage, model: req.model };
        }
        const text = req.sceneId === 'polite' ? 'Please take a seat, thank you.' : 'Sit.';
        return { text, usage, model: req.model };
      },
    };
  }
  const cases = {
    cases: [
      { id: 'polite', prompt: 'Ask the guest to sit, politely.', assert: [{ type: 'contains', value: 'seat', level: 'soft' }, { type: 'llm-judge', rubric: 'The answer is polite.', threshold: 0.7 }] },
      { id: 'rude', prompt: 'Ask the guest to sit.', assert: [{ type: 'llm-judge', rubric: 'The answer is polite.' }] },
    ],
  };
  const calibration = loadCalibration();
  const base = { cases, calibration, count: 4, model: 'gpt-4o', timeScale: 0, clock: () => '2023-11-14T22:13:20.000Z' };
  const politeness = (user: string) => (/<answer>\n.*[Pp]lease/.test(user) ? '{"score": 0.9, "reason": "says please"}' : '```json\n{"score": 0.2, "reason": "no please"}\n```');

  it('the judge sees rubric, task and answer; its score against the threshold decides the check; judge_calls apart from calls', async () => {
    const provider = playsJudge(politeness);
    const { report, runCost } = await runStress({ ...base, provider });
    expect(prSchema(report), ajv.errorsText(prSchema.errors)).toBe(true);
    expect(provider.judged).toHaveLength(8);
    expect(provider.judged[0]).toContain('Rubric:\nThe answer is polite.');
    expect(provider.judged.some((u) => u.includes('Task given to the model:\nAsk the guest to sit, politely.'))).toBe(true);
    const byId = Object.fromEntries((report.case_analysis?.cases ?? []).map((c) => [c.id, c]));
    expect(byId.polite?.pass_rate).toBe(1);
    expect(byId.rude?.pass_rate).toBe(0);
    expect(byId.rude?.failing_checks).toEqual({ 'llm-judge': 4 });
    const rude = report.runs[0]?.cases?.find((c) => c.id === 'rude');
    expect(rude?.failures).toEqual(['llm-judge: judge scored 0.2 < threshold 0.7: no please']);
    // 2 answers per run are the engine's calls; the 2 judge calls per run are counted apart, and budgeted.
    expect(report.calls.total).toBe(8);
    expect(report.calls.judge_calls).toEqual({ total: 8, failed: 0 });
    expect(runCost.call_count).toBe(16);
  });

  it('a judge that answers no score, or whose call fails, fails the check with why (never the run)', async () => {
    const { report } = await runStress({ ...base, count: 1, provider: playsJudge(() => 'lol') });
    const polite = report.runs[0]?.cases?.find((c) => c.id === 'polite');
    expect(polite?.hard_pass).toBe(false);
    expect(polite?.failures?.[0]).toMatch(/^llm-judge: judge reply is not \{"score": 0\.\.1\}: "lol"/);
    expect(report.runs[0]?.error).toBeUndefined();
    const failing = playsJudge(() => {
      throw Object.assign(new Error('judge endpoint down'), { code: 'ERR_FIXTURE_DOWN' });
    });
    const r2 = await runStress({ ...base, count: 1, provider: failing });
    expect(r2.report.calls.judge_calls).toEqual({ total: 2, failed: 2 });
    expect(r2.report.runs[0]?.cases?.[0]?.failures?.find((f) => f.startsWith('llm-judge'))).toContain('judge call failed: ERR_FIXTURE_DOWN: judge endpoint down');
    // Without llm-judge checks no judge_calls key (reports of other runs unchanged).
    const plain = await runStress({ ...base, count: 1, cases: { cases: [{ id: 'polite', prompt: 'p', assert: [{ type: 'contains', value: 'seat' }] }] }, provider: playsJudge(politeness) });
    expect(plain.report.calls.judge_calls).toBeUndefined();
  });

  it('an unpriced judge model is refused before any call (ERR_OMEGA_UNKNOWN_MODEL)', async () => {
    const provider = playsJudge(politeness);
    const bad = { cases: [{ id: 'polite', prompt: 'p', assert: [{ type: 'llm-judge', rubric: 'r', model: 'no-such-model-9' }] }] };
    const e = await runStress({ ...base, cases: bad, provider }).catch((x: unknown) => x as { code: string });
    expect(e.code).toBe('ERR_OMEGA_UNKNOWN_MODEL');
    expect(provider.judged).toEqual([]);
  });
});
