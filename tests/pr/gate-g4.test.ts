/**
 * Gate PR-G4 lives in the core (issue 9 item 3, issue 15 item 3): `buildPrReport` takes its
 * verdict and statistics from `judgeStress`, and the same derivation run from a written
 * `PR_REPORT.json` + its calibration (`rederiveStressVerdict`) reproduces them. The native addon
 * and the wasm build (what verify.html runs) return deep-equal objects for the same input.
 * Reports come from real stress runs (`runStress`: the simulated provider with chaos, and a cases
 * file with the CASE_PASS_MIN floor). Needs `npm run build:native` and `npm run build:wasm`.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeStress, rederiveStressVerdict, stressDocumentsJson } from '../../native';
import { loadCalibration, runStress, type LlmProvider } from '../../src/index';
import type { CalibrationDocument } from '../../report-types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const wasm = require('../../npm/wasm/pkg/node/omega_pr_wasm.js') as {
  judgeStress: (runs: unknown, caseIds: unknown, calibration: unknown, cacheCorruption: number) => unknown;
  rederiveStressVerdict: (report: unknown, calibration?: unknown) => { status: string; line: string; first_difference: string | null };
  stressDocumentsJson: (calibration: unknown, requestJson: string) => string;
};

const FIX = path.join(__dirname, 'fixtures');
const calibration = loadCalibration();
const clock = () => '2023-11-14T22:13:20.000Z';
/** The report as it is written and read back (`PR_REPORT.json`). */
const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
type Json = Record<string, unknown> & { runs: Array<Record<string, unknown>> };

async function simulatedReport(count: number) {
  const r = await runStress({ calibration, count, chaos: 'medium', clock });
  return roundTrip(r.report) as unknown as Json;
}

async function casesReport(cal: CalibrationDocument) {
  const provider = (await import(path.join(FIX, 'case-provider.mjs'))).default as LlmProvider;
  const r = await runStress({ provider, cases: path.join(FIX, 'cases-five.json'), calibration: cal, count: 12, clock });
  return roundTrip(r.report) as unknown as Json;
}

const G4 = ['verdict', 'total_runs', 'hard_pass_rate', 'variance_verdict', 'variance_violations', 'downgrade_flag', 'cache_corruption', 'analysis', 'case_analysis'];
const pick = (report: Json) => Object.fromEntries(G4.filter((k) => k in report).map((k) => [k, report[k]]));

describe('judgeStress: the PR-G4 fields of PR_REPORT.json come from the core', () => {
  it('a simulated chaos run: the report holds exactly what judgeStress derives; native and wasm deep-equal', async () => {
    const report = await simulatedReport(30);
    const native = judgeStress(report.runs as never, null, calibration, report.cache_corruption as number);
    expect(roundTrip(native)).toEqual(pick(report));
    expect(wasm.judgeStress(report.runs, null, calibration, report.cache_corruption as number)).toEqual(native);
    // Cache corruption alone fails the gate; the variance verdict stays.
    const corrupt = judgeStress(report.runs as never, null, calibration, 2);
    expect([corrupt.verdict, corrupt.variance_verdict, corrupt.cache_corruption]).toEqual(['FAIL', report.variance_verdict, 2]);
    expect(wasm.judgeStress(report.runs, null, calibration, 2)).toEqual(corrupt);
  });

  it('a cases run under CASE_PASS_MIN: case analysis and the floor violation, native and wasm deep-equal', async () => {
    const cal = { ...calibration, CASE_PASS_MIN: 0.5 };
    const report = await casesReport(cal);
    expect(report.verdict).toBe('FAIL');
    const ids = report.case_ids as string[];
    const native = judgeStress(report.runs as never, ids, cal, 0);
    expect(roundTrip(native)).toEqual(pick(report));
    expect(native.case_analysis?.violations.map((v) => v.metric)).toEqual(['case:broken']);
    expect(wasm.judgeStress(report.runs, ids, cal, 0)).toEqual(native);
  });

  it('bad input: empty runs, a NaN score, a bad calibration — the same codes from both builds', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => judgeStress([], null, calibration, 0))).toBe('ERR_OMEGA_EMPTY_RUNS');
    expect(code(() => wasm.judgeStress([], null, calibration, 0))).toBe('ERR_OMEGA_EMPTY_RUNS');
    const nan = [{ hard_score: Number.NaN, soft_score: 0, hard_pass: false, soft_pass: false, metrics: {} }];
    expect(code(() => judgeStress(nan, null, calibration, 0))).toBe('ERR_OMEGA_INVALID_ARGUMENT');
    expect(code(() => wasm.judgeStress(nan, null, calibration, 0))).toBe('ERR_OMEGA_INVALID_ARGUMENT');
    const bad = { ...calibration, PASS_RATIO_MIN: 7 };
    expect(code(() => judgeStress(nan, null, bad, 0))).toBe('ERR_OMEGA_CALIBRATION');
    expect(code(() => wasm.judgeStress(nan, null, bad, 0))).toBe('ERR_OMEGA_CALIBRATION');
  });
});

describe('rederiveStressVerdict: the recorded verdict follows from the recorded runs', () => {
  it('reproduced for a simulated run and a cases run (native = wasm)', async () => {
    for (const [report, cal] of [
      [await simulatedReport(20), calibration],
      [await casesReport({ ...calibration, CASE_PASS_MIN: 0.5 }), { ...calibration, CASE_PASS_MIN: 0.5 }],
    ] as const) {
      const native = rederiveStressVerdict(report, cal);
      expect(native.status, native.line).toBe('reproduced');
      expect(native.line).toBe(`verdict reproduced: ${report.verdict as string} re-derived from the ${report.total_runs as number} recorded run(s)`);
      expect(wasm.rederiveStressVerdict(report, cal)).toEqual(native);
    }
  });

  it('edited run scores → "verdict differs: recorded PASS, derived FAIL"; an edited statistic names its path', async () => {
    const report = await simulatedReport(20);
    expect(report.verdict).toBe('PASS');
    for (const run of report.runs.slice(0, 12)) Object.assign(run, { hard_pass: false, hard_score: 0.1 });
    const native = rederiveStressVerdict(report, calibration);
    expect(native.status).toBe('differs');
    expect(native.line).toMatch(/^verdict differs: recorded PASS, derived FAIL \(first difference at \$\.verdict\)$/);
    expect(wasm.rederiveStressVerdict(report, calibration)).toEqual(native);

    const edited = await simulatedReport(20);
    (edited.analysis as { metrics: { hard_score: { mean: number } } }).metrics.hard_score.mean += 0.01;
    const r = rederiveStressVerdict(edited, calibration);
    expect([r.status, r.first_difference]).toEqual(['differs', '$.analysis.metrics.hard_score.mean']);
  });

  it('not re-derivable: no calibration, an old report without runs, a report that is not an object', async () => {
    const report = await simulatedReport(5);
    expect(rederiveStressVerdict(report, null).line).toBe('not re-derivable: no calibration.json');
    expect(wasm.rederiveStressVerdict(report, undefined).line).toBe('not re-derivable: no calibration.json');
    const old = rederiveStressVerdict({ total_runs: 100, verdict: 'PASS' }, calibration);
    expect([old.status, old.recorded_verdict]).toEqual(['not_rederivable', 'PASS']);
    expect(old.line).toContain('no per-run scores');
    expect(rederiveStressVerdict([1, 2], calibration).status).toBe('not_rederivable');
    expect(wasm.rederiveStressVerdict([1, 2], calibration)).toEqual(rederiveStressVerdict([1, 2], calibration));
  });
});

describe('derive in the core: the same journal, native and wasm, gives the same bytes', () => {
  it('a simulated chaos run: the live documents = native derive = wasm derive (text)', async () => {
    const r = await runStress({ calibration, count: 12, chaos: 'medium', clock });
    const request = JSON.stringify({ derive: { journals: [r.journal], generated: clock(), merge: false } });
    const native = stressDocumentsJson(calibration, request);
    expect(wasm.stressDocumentsJson(calibration, request)).toBe(native);
    const d = JSON.parse(native) as { report: unknown; run_cost: unknown; chaos_log: unknown };
    expect(JSON.stringify(d.report)).toBe(JSON.stringify(r.report));
    expect(JSON.stringify(d.run_cost)).toBe(JSON.stringify(r.runCost));
    expect(JSON.stringify(d.chaos_log)).toBe(JSON.stringify(r.chaosLog));
  });
});
