import { describe, expect, it } from 'vitest';
import * as ss from 'simple-statistics';
import {
  analyzeVariance,
  defaultCalibrationJson,
  mergeVarianceStates,
  summarize,
  VarianceAccumulator,
  varianceReportFromState,
  varianceState,
  type RunInput,
  type VarianceShardState,
} from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { expectCode } from './errors';

const Z95 = 1.959963984540054;

/** Seeded PRNG (mulberry32): same seed, same numbers. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function calibration(patch: Partial<CalibrationDocument> = {}): CalibrationDocument {
  return { ...(JSON.parse(defaultCalibrationJson()) as CalibrationDocument), ...patch };
}

/** `n` runs of which the first `hard` pass the hard gate and the first `soft` the soft gate;
 * scores near 0.8 / 0.9, latency and cost within the shipped envelopes. */
function runs(n: number, hard: number, soft: number, seed = 7): RunInput[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    hardScore: 0.8 + (r() - 0.5) * 0.1,
    softScore: 0.9 + (r() - 0.5) * 0.05,
    hardPass: i < hard,
    softPass: i < soft,
    metrics: { latency_ms: 900 + r() * 200, cost_usd: 0.02 + r() * 0.005 },
  }));
}

/** Type-7 (numpy default) quantile of an array, by sorting: the reference. */
function type7(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

function wilson(c: number, n: number): [number, number] {
  const p = c / n;
  const z2 = Z95 * Z95;
  const d = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / d;
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / d;
  return [center - half, center + half];
}

describe('variance envelope (PR-4, gate PR-G4)', () => {
  it('runbook example: 85 % hard pass → PASS, no violations, no downgrade', () => {
    const r = analyzeVariance(runs(100, 85, 95));
    expect(r.total_runs).toBe(100);
    expect(r.hard_pass_rate).toBe(0.85);
    expect(r.soft_pass_rate).toBe(0.95);
    expect(r.variance_verdict).toBe('PASS');
    expect(r.variance_violations).toEqual([]);
    expect(r.downgrade_flag).toBeNull();
    expect(r.pass_ratio_min).toBe(0.75);
    expect(Object.keys(r.metrics)).toEqual(['cost_usd', 'hard_score', 'latency_ms', 'soft_score']);
    expect(r.metrics.hard_score.mean).toBeCloseTo(0.8, 1);
  });

  it('hard pass rate below PASS_RATIO_MIN → FAIL; exactly at it → PASS', () => {
    expect(analyzeVariance(runs(100, 74, 95)).variance_verdict).toBe('FAIL');
    expect(analyzeVariance(runs(100, 75, 95)).variance_verdict).toBe('PASS');
    const strict = calibration({ PASS_RATIO_MIN: 0.9 });
    const r = analyzeVariance(runs(100, 85, 95), strict);
    expect(r.variance_verdict).toBe('FAIL');
    expect(r.pass_ratio_min).toBe(0.9);
    expect(r.downgrade_flag).toBeNull();
  });

  it('envelope violation → PASS + DOWNGRADE_VARIANCE, violation lists metric/statistic/value/max', () => {
    const cal = calibration({
      VARIANCE_ENVELOPES: {
        hard_score: { statistic: 'std', max: 0.001 },
        latency_ms: { statistic: 'range', max: 10 },
        cost_usd: { statistic: 'cv', max: 0.75 },
      },
    });
    const r = analyzeVariance(runs(100, 85, 95), cal);
    expect(r.variance_verdict).toBe('PASS');
    expect(r.downgrade_flag).toBe('DOWNGRADE_VARIANCE');
    expect(r.variance_violations).toEqual([
      { metric: 'hard_score', statistic: 'std', value: r.metrics.hard_score.std, max: 0.001, reason: 'exceeds_max' },
      {
        metric: 'latency_ms',
        statistic: 'range',
        value: r.metrics.latency_ms.max - r.metrics.latency_ms.min,
        max: 10,
        reason: 'exceeds_max',
      },
    ]);
  });

  it('an envelope on a metric with no data is a violation (value null, reason no_data)', () => {
    const bare = runs(20, 20, 20).map(({ metrics: _m, ...rest }) => rest);
    const r = analyzeVariance(bare);
    expect(r.variance_verdict).toBe('PASS');
    expect(r.downgrade_flag).toBe('DOWNGRADE_VARIANCE');
    expect(r.variance_violations.map((v) => [v.metric, v.value, v.reason])).toEqual([
      ['cost_usd', null, 'no_data'],
      ['latency_ms', null, 'no_data'],
    ]);
  });

  it('Wilson 95 % intervals: known answer for 85/100, clamped at 0/n and n/n', () => {
    const r = analyzeVariance(runs(100, 85, 95));
    expect(r.hard_pass_ci95.low).toBeCloseTo(0.7671644040916763, 12);
    expect(r.hard_pass_ci95.high).toBeCloseTo(0.9069401471634337, 12);
    const [lo, hi] = wilson(95, 100);
    expect(r.soft_pass_ci95.low).toBeCloseTo(lo, 12);
    expect(r.soft_pass_ci95.high).toBeCloseTo(hi, 12);
    const none = analyzeVariance(runs(10, 0, 10));
    expect(none.hard_pass_ci95.low).toBe(0);
    expect(none.hard_pass_ci95.high).toBeGreaterThan(0);
    expect(none.soft_pass_ci95.high).toBe(1);
    for (const [c, n] of [[1, 3], [7, 9], [50, 51]]) {
      const x = analyzeVariance(runs(n, c, c));
      expect(x.hard_pass_ci95.low).toBeLessThanOrEqual(x.hard_pass_rate);
      expect(x.hard_pass_ci95.high).toBeGreaterThanOrEqual(x.hard_pass_rate);
      expect(x.hard_pass_ci95.low).toBeGreaterThanOrEqual(0);
      expect(x.hard_pass_ci95.high).toBeLessThanOrEqual(1);
    }
  });

  it('pass^k: unbiased C(c,k)/C(n,k), pass^1 = pass rate, only k ≤ n', () => {
    const r = analyzeVariance(runs(100, 85, 95));
    expect(Object.keys(r.pass_k)).toEqual(['1', '2', '4', '8']);
    expect(r.pass_k['1']).toBe(r.hard_pass_rate);
    expect(r.pass_k['2']).toBeCloseTo((85 * 84) / (100 * 99), 15);
    let p8 = 1;
    for (let i = 0; i < 8; i++) p8 *= (85 - i) / (100 - i);
    expect(r.pass_k['8']).toBeCloseTo(p8, 15);
    const small = analyzeVariance(runs(3, 2, 3));
    expect(Object.keys(small.pass_k)).toEqual(['1', '2']);
    expect(small.pass_k['2']).toBeCloseTo(1 / 3, 15);
  });

  it('per-metric statistics agree with simple-statistics (mean, sd, min, max)', () => {
    const input = runs(200, 180, 190, 99);
    const r = analyzeVariance(input);
    const lat = input.map((x) => x.metrics!.latency_ms);
    const m = r.metrics.latency_ms;
    expect(m.n).toBe(200);
    expect(Math.abs(m.mean - ss.mean(lat))).toBeLessThan(1e-9);
    expect(Math.abs(m.std - ss.sampleStandardDeviation(lat))).toBeLessThan(1e-9);
    expect(m.min).toBe(ss.min(lat));
    expect(m.max).toBe(ss.max(lat));
    expect(m.p50).toBeCloseTo(type7(lat, 0.5), 12);
    expect(m.p95).toBeCloseTo(type7(lat, 0.95), 12);
    expect(m.cv).toBeCloseTo(m.std / Math.abs(m.mean), 15);
  });

  it('4 shards merged == all runs at once (through JSON, any shard order)', () => {
    const all = runs(101, 80, 97, 3);
    // Some runs omit a metric.
    all[5].metrics = { latency_ms: 1234.5 };
    const whole = analyzeVariance(all);
    const states = [0, 1, 2, 3].map((i) => {
      const shard = all.filter((_, j) => j % 4 === i);
      return JSON.parse(JSON.stringify(varianceState(shard))) as VarianceShardState;
    });
    const merged = mergeVarianceStates([states[2], states[0], states[3], states[1]]);
    expect(merged.total_runs).toBe(101);
    const r = varianceReportFromState(merged);
    expect(r.total_runs).toBe(whole.total_runs);
    expect(r.hard_pass_rate).toBe(whole.hard_pass_rate);
    expect(r.hard_pass_ci95).toEqual(whole.hard_pass_ci95);
    expect(r.pass_k).toEqual(whole.pass_k);
    expect(r.variance_verdict).toBe(whole.variance_verdict);
    for (const name of Object.keys(whole.metrics)) {
      const a = r.metrics[name];
      const b = whole.metrics[name];
      expect([a.n, a.min, a.max, a.p50, a.p95]).toEqual([b.n, b.min, b.max, b.p50, b.p95]);
      expect(Math.abs(a.mean - b.mean)).toBeLessThanOrEqual(1e-12 * Math.abs(b.mean));
      expect(Math.abs(a.std - b.std)).toBeLessThanOrEqual(1e-12 * b.std + 1e-15);
    }
  });

  it('malformed shard states are refused with coded errors (negative counts, passes > runs)', () => {
    const s = varianceState(runs(10, 8, 9));
    expectCode(() => mergeVarianceStates([s, { ...s, hard_passes: -1 }]), 'ERR_OMEGA_INVALID_ARGUMENT', 'states[1].hard_passes');
    expectCode(() => mergeVarianceStates([{ ...s, total_runs: 2.5 }]), 'ERR_OMEGA_INVALID_ARGUMENT', 'states[0].total_runs');
    expectCode(() => mergeVarianceStates([{ ...s, soft_passes: 11 }]), 'ERR_OMEGA_INVALID_ARGUMENT', 'states[0].soft_passes');
    expectCode(
      () => varianceReportFromState({ ...s, metrics: { ...s.metrics, hard_score: [0.5] } }),
      'ERR_OMEGA_INVALID_ARGUMENT',
      'state.metrics.hard_score',
    );
    expectCode(() => varianceReportFromState(mergeVarianceStates([])), 'ERR_OMEGA_EMPTY_RUNS');
  });

  it('VarianceAccumulator: push, pushMany and merge give the all-at-once statistics', () => {
    const r = rng(11);
    const xs = Float64Array.from({ length: 5000 }, () => r() * 100 - 20);
    const a = new VarianceAccumulator();
    for (const x of xs.subarray(0, 1000)) a.push(x);
    const b = new VarianceAccumulator();
    b.pushMany(xs.subarray(1000, 3000));
    b.pushMany(xs.subarray(3000));
    a.merge(b);
    const all = Array.from(xs);
    expect(a.count).toBe(5000);
    expect(Math.abs(a.mean - ss.mean(all))).toBeLessThan(1e-9);
    expect(Math.abs(a.std - ss.sampleStandardDeviation(all))).toBeLessThan(1e-9);
    expect(a.min).toBe(ss.min(all));
    expect(a.max).toBe(ss.max(all));
    expect(a.percentile(0.95)).toBeCloseTo(type7(xs, 0.95), 12);
    expect(a.percentile(0)).toBe(a.min);
    expect(a.percentile(1)).toBe(a.max);
    const s = a.summary();
    expect(s.n).toBe(5000);
    expect(s.p50).toBeCloseTo(type7(xs, 0.5), 12);
    expect(s.p50).toBeLessThanOrEqual(s.p95);
    expect(b.count).toBe(4000); // other is left unchanged
    a.merge(a); // self-merge doubles
    expect(a.count).toBe(10000);
    expect(Math.abs(a.mean - ss.mean(all))).toBeLessThan(1e-9);
    const empty = new VarianceAccumulator();
    expect(empty.count).toBe(0);
    expect(Number.isNaN(empty.mean)).toBe(true);
    expectCode(() => empty.summary(), 'ERR_OMEGA_EMPTY_RUNS');
    expectCode(() => a.percentile(1.5), 'ERR_OMEGA_INVALID_ARGUMENT', '`p`');
  });

  it('summarize agrees with simple-statistics on random data (mean, sd, quantile within 1e-9)', () => {
    const r = rng(2024);
    // n = 100k + 1: simple-statistics' quantile definition and type 7 pick the same order
    // statistic for p = 0.5 and 0.95, so the quantiles can be compared directly.
    const xs = Float64Array.from({ length: 10_001 }, () => (r() - 0.3) * 1e4);
    const all = Array.from(xs);
    const s = summarize(xs);
    expect(s.n).toBe(10_001);
    expect(Math.abs(s.mean - ss.mean(all))).toBeLessThan(1e-9);
    expect(Math.abs(s.std - ss.sampleStandardDeviation(all))).toBeLessThan(1e-9);
    expect(Math.abs(s.p50 - ss.quantile(all, 0.5))).toBeLessThan(1e-9);
    expect(Math.abs(s.p95 - ss.quantile(all, 0.95))).toBeLessThan(1e-9);
    expect(s.min).toBe(ss.min(all));
    expect(s.max).toBe(ss.max(all));
    // The input is not reordered (summarize selects on a copy).
    expect(Array.from(xs)).toEqual(all);
    // Any n: type-7 reference.
    const odd = xs.subarray(0, 1234);
    const t = summarize(odd);
    expect(t.p50).toBeCloseTo(type7(odd, 0.5), 9);
    expect(t.p95).toBeCloseTo(type7(odd, 0.95), 9);
  });

  it('known answers: [2,4,4,4,5,5,7,9] and catastrophic cancellation 1e9+{4,7,13,16}', () => {
    const s = summarize(new Float64Array([2, 4, 4, 4, 5, 5, 7, 9]));
    expect(s.mean).toBe(5);
    expect(s.std).toBeCloseTo(2.138089935299395, 14);
    expect(s.p50).toBe(4.5);
    expect(s.p95).toBeCloseTo(8.3, 14);
    const c = summarize(new Float64Array([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]));
    expect(c.std * c.std).toBeCloseTo(30, 9);
    const acc = new VarianceAccumulator();
    for (const x of [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]) acc.push(x);
    expect(acc.std * acc.std).toBeCloseTo(30, 9);
    expect(summarize(new Float64Array([3])).std).toBe(0);
  });

  it('empty runs → ERR_OMEGA_EMPTY_RUNS', () => {
    expectCode(() => analyzeVariance([]), 'ERR_OMEGA_EMPTY_RUNS', 'analyzeVariance');
    expectCode(() => summarize(new Float64Array(0)), 'ERR_OMEGA_EMPTY_RUNS');
  });

  it('NaN / Infinity → ERR_OMEGA_INVALID_ARGUMENT naming the field', () => {
    const bad = runs(5, 5, 5);
    bad[3] = { ...bad[3], hardScore: Number.NaN };
    expectCode(() => analyzeVariance(bad), 'ERR_OMEGA_INVALID_ARGUMENT', 'runs[3].hardScore');
    const inf = runs(5, 5, 5);
    inf[1] = { ...inf[1], softScore: Number.POSITIVE_INFINITY };
    expectCode(() => analyzeVariance(inf), 'ERR_OMEGA_INVALID_ARGUMENT', 'runs[1].softScore');
    const metric = runs(5, 5, 5);
    metric[4] = { ...metric[4], metrics: { latency_ms: Number.NEGATIVE_INFINITY } };
    expectCode(() => analyzeVariance(metric), 'ERR_OMEGA_INVALID_ARGUMENT', 'runs[4].metrics.latency_ms');
    expectCode(() => summarize(new Float64Array([1, 2, Number.NaN])), 'ERR_OMEGA_INVALID_ARGUMENT', 'values[2]');
    const acc = new VarianceAccumulator();
    expectCode(() => acc.push(Number.NaN), 'ERR_OMEGA_INVALID_ARGUMENT');
    expectCode(() => acc.pushMany(new Float64Array([1, Infinity])), 'ERR_OMEGA_INVALID_ARGUMENT', 'values[1]');
    expect(acc.count).toBe(0); // nothing added
    const reserved = runs(2, 2, 2);
    reserved[0] = { ...reserved[0], metrics: { hard_score: 1 } };
    expectCode(() => analyzeVariance(reserved), 'ERR_OMEGA_INVALID_ARGUMENT', 'runs[0].metrics.hard_score');
  });

  it('bad calibration (negative PASS_K, PASS_RATIO_MIN > 1) → ERR_OMEGA_CALIBRATION', () => {
    expectCode(() => analyzeVariance(runs(5, 5, 5), calibration({ PASS_K: [-1] })), 'ERR_OMEGA_CALIBRATION', '$.PASS_K[0]');
    expectCode(() => analyzeVariance(runs(5, 5, 5), calibration({ PASS_RATIO_MIN: 1.5 })), 'ERR_OMEGA_CALIBRATION', '$.PASS_RATIO_MIN');
  });

  it('deterministic: same input → byte-identical JSON, sorted keys', () => {
    const a = JSON.stringify(analyzeVariance(runs(100, 85, 95)));
    const b = JSON.stringify(analyzeVariance(runs(100, 85, 95)));
    expect(a).toBe(b);
    const keys = Object.keys(JSON.parse(a) as object);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toEqual(
      expect.arrayContaining(['total_runs', 'hard_pass_rate', 'variance_verdict', 'variance_violations', 'downgrade_flag']),
    );
  });
});
