import { describe, expect, it } from 'vitest';
import { BudgetTracker, loadCalibration, type CalibrationDocument } from '../../src/index';
import { OmegaProviderError } from '../../src/providers/errors';
import { RetryProvider } from '../../src/providers/retry';
import type { GenerateRequest, GenerateResponse, LlmProvider } from '../../src/providers/types';
import { SimulatedScorer } from '../../src/sim';
import { derive } from '../../src/stress/derive';
import { runStress } from '../../src/stress/engine';
import { JOURNAL_SCHEMA, type JournalHeader } from '../../src/stress/journal';
import { expectCode } from './errors';

/** A calibration with the given caps (USD) and the shipped prices. */
function calibration(perCall: number, perRun: number): CalibrationDocument {
  const cal = loadCalibration();
  return { ...cal, budget: { ...cal.budget, max_per_call_usd: perCall, max_per_run_usd: perRun } };
}

// claude-sonnet-4-5: $3 / $15 per million tokens, cached read $0.30, cache write $3.75.
const MODEL = 'claude-sonnet-4-5';

describe('BudgetTracker (PR-2)', () => {
  it('settles the exact cost in integer micro-USD', () => {
    const t = new BudgetTracker();
    const r = t.reserve({ callId: 'c1', sceneId: 'SCN-01', model: MODEL, inputTokens: 1000, maxOutputTokens: 500 });
    // worst case 1000*3 + 500*15 = 10,500 µUSD
    expect(r.reservedMicroUsd).toBe(10_500);
    const cost = t.settle(r.id, { inputTokens: 1000, outputTokens: 200 });
    expect(cost.costMicroUsd).toBe(6_000);
    expect(cost.costUsd).toBe(0.006);
    expect(t.spentUsd).toBe(0.006);
    expect(t.reservedUsd).toBe(0);
  });

  it('never double-counts cached tokens (input includes cached and cache-write tokens)', () => {
    const t = new BudgetTracker();
    const cost = t.record(
      { callId: 'c1', model: MODEL },
      { inputTokens: 1000, cachedInputTokens: 400, cacheWriteTokens: 100, outputTokens: 200 },
    );
    // 500*3 + 400*0.3 + 100*3.75 + 200*15 = 4,995 µUSD
    expect(cost.costMicroUsd).toBe(4_995);
  });

  it('counts reasoning tokens as output unless priced apart', () => {
    const t = new BudgetTracker();
    const plain = t.record({ callId: 'c1', model: MODEL }, { inputTokens: 0, outputTokens: 100, reasoningTokens: 60 });
    expect(plain.costMicroUsd).toBe(1_500);
    // o4-mini prices reasoning at $4.40/M like output: 40*4.4 + 60*4.4 = 440 µUSD
    const priced = t.record({ callId: 'c2', model: 'o4-mini' }, { inputTokens: 0, outputTokens: 100, reasoningTokens: 60 });
    expect(priced.costMicroUsd).toBe(440);
  });

  it('refuses a call whose worst case exceeds the per-call cap, before it is made', () => {
    const t = new BudgetTracker(calibration(0.01, 10));
    expectCode(
      () => t.reserve({ callId: 'big', sceneId: 'SCN-02', model: MODEL, inputTokens: 1000, maxOutputTokens: 1000 }),
      'ERR_OMEGA_BUDGET_EXCEEDED',
      'per_call',
    );
    const report = t.finalize();
    expect(report.budget_verdict).toBe('FAIL');
    expect(report.refused_calls).toBe(1);
    expect(report.violations[0]).toMatchObject({ kind: 'per_call', phase: 'reserve', call_id: 'big', scene_id: 'SCN-02' });
  });

  it('counts open reservations against the run cap so concurrent calls cannot overspend', () => {
    // each worst case: 1000*3 + 1000*15 = 18,000 µUSD; cap 40,000 → only two fit at once.
    const t = new BudgetTracker(calibration(0.02, 0.04));
    const call = (id: string) => ({ callId: id, model: MODEL, inputTokens: 1000, maxOutputTokens: 1000 });
    const a = t.reserve(call('a'));
    t.reserve(call('b'));
    expectCode(() => t.reserve(call('c')), 'ERR_OMEGA_BUDGET_EXCEEDED', 'per_run');
    // Once a settles for less, room frees up.
    t.settle(a.id, { inputTokens: 1000, outputTokens: 10 });
    expect(() => t.reserve(call('d'))).not.toThrow();
    expect(t.spentUsd + t.reservedUsd).toBeLessThanOrEqual(0.04);
  });

  it('over budget at settle is FAIL, never a warning', () => {
    const t = new BudgetTracker(calibration(0.001, 0.002));
    t.record({ callId: 'c1', model: MODEL }, { inputTokens: 0, outputTokens: 100 }); // $0.0015
    const report = t.finalize();
    expect(report.budget_verdict).toBe('FAIL');
    expect(report.violations).toEqual([
      expect.objectContaining({ kind: 'per_call', phase: 'settle', amount_usd: 0.0015, limit_usd: 0.001 }),
    ]);
  });

  it('an unpriced model is an error and a violation, never $0', () => {
    const t = new BudgetTracker();
    expectCode(() => t.reserve({ callId: 'x', model: 'mystery-model', inputTokens: 1 }), 'ERR_OMEGA_UNKNOWN_MODEL', 'mystery-model');
    expect(t.finalize()).toMatchObject({ budget_verdict: 'FAIL', violations: [{ kind: 'unpriced_model' }] });
  });

  it('finalize gives the runbook run-cost.json fields', () => {
    const t = new BudgetTracker();
    const r = t.reserve({ callId: 'c1', sceneId: 'SCN-01', model: MODEL, inputTokens: 100 });
    t.settle(r.id, { inputTokens: 100, outputTokens: 50 });
    const report = t.finalize();
    expect(report).toMatchObject({
      schema_version: 'OMEGA-RUN-COST-1.0',
      total_cost_usd: 0.00105,
      total_cost_micro_usd: 1_050,
      budget_verdict: 'PASS',
      violations: [],
      call_count: 1,
      refused_calls: 0,
      open_reservations: 0,
      max_per_call_usd: 0.25,
      max_per_run_usd: 20,
    });
    expect(report.per_model[MODEL]).toMatchObject({ calls: 1, input_tokens: 100, output_tokens: 50, cost_micro_usd: 1_050 });
  });

  it('release frees a reservation at no cost; an unknown id is a coded error', () => {
    const t = new BudgetTracker();
    const r = t.reserve({ callId: 'c1', model: MODEL, inputTokens: 100 });
    expect(t.reservedUsd).toBeGreaterThan(0);
    t.release(r.id);
    expect(t.reservedUsd).toBe(0);
    expect(t.spentUsd).toBe(0);
    expectCode(() => t.release(r.id), 'ERR_OMEGA_UNKNOWN_RESERVATION', String(r.id));
    expectCode(() => t.settle(999, { inputTokens: 1, outputTokens: 1 }), 'ERR_OMEGA_UNKNOWN_RESERVATION', '999');
  });

  it.each([
    ['NaN', Number.NaN, 'finite'],
    ['Infinity', Number.POSITIVE_INFINITY, 'finite'],
    ['negative', -5, 'negative'],
    ['fractional', 1.5, 'whole'],
  ])('rejects %s token counts naming the field (reserve: ERR_OMEGA_INVALID_ARGUMENT, usage: ERR_OMEGA_INVALID_USAGE)', (_label, value, text) => {
    const t = new BudgetTracker();
    expectCode(() => t.reserve({ callId: 'c', model: MODEL, inputTokens: value }), 'ERR_OMEGA_INVALID_ARGUMENT', 'inputTokens');
    expectCode(() => t.record({ callId: 'c', model: MODEL }, { inputTokens: 1, outputTokens: value }), 'ERR_OMEGA_INVALID_USAGE', text);
  });

  it('rejects usage whose parts exceed their whole', () => {
    const t = new BudgetTracker();
    expectCode(
      () => t.record({ callId: 'c', model: MODEL }, { inputTokens: 10, cachedInputTokens: 20, outputTokens: 1 }),
      'ERR_OMEGA_INVALID_USAGE',
      'cachedInputTokens',
    );
    expectCode(
      () => t.record({ callId: 'c', model: MODEL }, { inputTokens: 10, outputTokens: 1, reasoningTokens: 2 }),
      'ERR_OMEGA_INVALID_USAGE',
      'reasoningTokens',
    );
  });

  it('rejects a calibration with negative money or per-million prices, naming the path', () => {
    const cal = calibration(-1, 10);
    expectCode(() => new BudgetTracker(cal), 'ERR_OMEGA_CALIBRATION', '$.budget.max_per_call_usd');
    const base = loadCalibration();
    const perMillion: CalibrationDocument = {
      ...base,
      budget: {
        ...base.budget,
        models: { ...base.budget.models, [MODEL]: { ...base.budget.models[MODEL]!, output_cost_per_token: 15 } },
      },
    };
    expectCode(() => new BudgetTracker(perMillion), 'ERR_OMEGA_CALIBRATION', `$.budget.models.${MODEL}.output_cost_per_token`);
  });

  it('splits the run budget across shards', () => {
    const t = new BudgetTracker(calibration(0.25, 20), { shards: 4 });
    expect(t.remainingUsd).toBe(5);
    expect(t.finalize().max_per_run_usd).toBe(5);
    expectCode(() => new BudgetTracker(undefined, { shards: 0 }), 'ERR_OMEGA_INVALID_ARGUMENT', 'shards');
  });

  it('is deterministic: the same calls give identical run-cost JSON', () => {
    const run = () => {
      const t = new BudgetTracker();
      for (let i = 0; i < 50; i++) {
        const r = t.reserve({ callId: `c${i}`, sceneId: `SCN-${i % 5}`, model: i % 2 ? MODEL : 'gpt-4o', inputTokens: 100 + i });
        t.settle(r.id, { inputTokens: 100 + i, cachedInputTokens: i, outputTokens: 30 + i });
      }
      return JSON.stringify(t.finalize());
    };
    expect(run()).toBe(run());
  });

  it('stops a run exactly at the run cap: the sum of settled costs never exceeds it', () => {
    const t = new BudgetTracker(calibration(0.05, 0.3));
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      try {
        const r = t.reserve({ callId: `c${i}`, model: MODEL, inputTokens: 2000, maxOutputTokens: 1000 });
        t.settle(r.id, { inputTokens: 2000, outputTokens: 1000 }); // settles at the worst case: $0.021
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_OMEGA_BUDGET_EXCEEDED');
        refused++;
      }
    }
    expect(t.spentUsd).toBeLessThanOrEqual(0.3);
    expect(t.spentUsd).toBeCloseTo(0.021 * 14, 10);
    expect(refused).toBe(86);
  });
});

/** A real timer wait: calls interleave on the event loop as a real provider's would. */
const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('BudgetTracker under truly concurrent calls (PR-2)', () => {
  it('Promise.all of 60 RetryProvider.generate calls sharing one tracker near the run cap: committed never above it', async () => {
    // Worst case of a call: 1000·3 + 1000·15 = 18,000 µUSD; it settles at 1000·3 + 500·15 = 10,500.
    // Run cap $0.2: the cap is reached after ~15 calls while many reservations are open.
    const CAP = 0.2;
    const t = new BudgetTracker(calibration(0.02, CAP));
    let inFlight = 0;
    let maxInFlight = 0;
    let maxCommitted = 0;
    let attempts = 0;
    const inner: LlmProvider = {
      async generate(request: GenerateRequest): Promise<GenerateResponse> {
        attempts++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        maxCommitted = Math.max(maxCommitted, t.spentUsd + t.reservedUsd);
        await tick(1 + (attempts % 4));
        maxCommitted = Math.max(maxCommitted, t.spentUsd + t.reservedUsd);
        inFlight--;
        // Every 3rd attempt fails transiently (retried, billed for the input it read).
        if (attempts % 3 === 0) {
          throw new OmegaProviderError('ERR_OMEGA_SERVER_ERROR', 'boom', { retryable: true, status: 503, usage: { inputTokens: 1000, outputTokens: 0 } });
        }
        return { text: `answer ${request.prompt}`, usage: { inputTokens: 1000, outputTokens: 500 } };
      },
    };
    const retry = new RetryProvider(inner, { budget: t, sleep: () => tick(1) });
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => retry.generate({ model: MODEL, prompt: `p${i}`, inputTokens: 1000, maxOutputTokens: 1000 })),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_OMEGA_BUDGET_EXCEEDED' });
    expect(maxInFlight, 'calls really overlapped').toBeGreaterThanOrEqual(8);
    expect(maxCommitted, 'spent + reserved while calls were in flight').toBeLessThanOrEqual(CAP + 1e-12);
    expect(refused.length).toBeGreaterThan(0);
    expect(results.length - refused.length).toBeGreaterThan(0);
    const report = t.finalize();
    expect(report.total_cost_usd).toBeLessThanOrEqual(CAP);
    expect(report.open_reservations).toBe(0);
    expect(report.budget_verdict).toBe('FAIL');
    // Every refusal was recorded as a run-cap violation at reservation time.
    expect(report.refused_calls).toBe(refused.length);
    expect(report.violations.length).toBe(refused.length);
    expect(report.violations.every((v) => v.kind === 'per_run' && v.phase === 'reserve')).toBe(true);
  });

  it('a stress whose run cap trips with 8 runs in flight: total within the cap, every refusal a recorded violation', async () => {
    // Worst case of a call: 1000·3 + 4096 (calibration max_output_tokens)·15 = 64,440 µUSD, so 8
    // reservations fit under $0.8 at first; each call settles at 10,500 µUSD, 120 calls would cost
    // $1.26: the cap trips part-way, with 8 runs in flight.
    const CAP = 0.8;
    const cal = calibration(0.25, CAP);
    let inFlight = 0;
    let maxInFlight = 0;
    let made = 0;
    const provider: LlmProvider = {
      async generate(): Promise<GenerateResponse> {
        made++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick(2);
        inFlight--;
        return { text: 'scene', usage: { inputTokens: 1000, outputTokens: 500 } };
      },
    };
    const clock = () => '2026-01-01T00:00:00.000Z';
    const out = await runStress({
      count: 40,
      concurrency: 8,
      seed: 42,
      chaosProfile: null,
      calibration: cal,
      provider,
      scorer: new SimulatedScorer(),
      scenesPerRun: 3,
      model: MODEL,
      shard: null,
      callTimeoutMs: 30_000,
      timeScale: 1,
      clock,
      providerLatencyOnly: true,
      promptTokens: () => 1000,
      cachePath: null,
    });
    expect(maxInFlight, 'runs in flight at once').toBe(8);
    // The documents come from the journal the run wrote (as every stress report does).
    const meta = { provider: 'test', scorer: 'simulated', seed: 42, chaos_profile: null, concurrency: 8, scenes_per_run: 3, model: MODEL, planned_runs: 40, shard: null, hard_pass_score: null };
    const header: JournalHeader = { type: 'header', schema: JOURNAL_SCHEMA, omega_pr_version: 'test', meta, mode: 'scenes', user_scorer: false, digests: { calibration: 'sha256:test' } };
    const { runCost: cost, report } = derive(cal, [{ header, lines: out.journal }], clock());
    expect(cost.total_cost_usd).toBeLessThanOrEqual(CAP);
    expect(cost.budget_verdict).toBe('FAIL');
    expect(cost.open_reservations).toBe(0);
    expect(cost.call_count).toBe(made);
    expect(cost.refused_calls).toBeGreaterThan(0);
    expect(cost.call_count + cost.refused_calls).toBe(120);
    expect(report.calls.by_error).toEqual({ ERR_OMEGA_BUDGET_EXCEEDED: cost.refused_calls });
    expect(cost.violations).toHaveLength(cost.refused_calls);
    expect(cost.violations.every((v) => v.kind === 'per_run' && v.phase === 'reserve')).toBe(true);
    // The cap tripped part-way: calls were made, and the last ones were refused.
    expect(made).toBeGreaterThan(8);
  });
});
