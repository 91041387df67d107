/**
 * The argument checks of the chaos, rate-limit and cases bindings live in the core (issue 9: the
 * bindings convert and forward): their codes and messages, naming the JS field, as the addon
 * throws them.
 */
import { describe, expect, it } from 'vitest';
import { ChaosEngine, CaseSuite, RateLimiter, applyOutcomeFault, decideOutcome, failureTypeErrorCode, judgeChaosGate, judgeOutcomeDetection, judgeVerdict } from '../../native';
import { thrown } from './errors';

const INVALID = 'ERR_OMEGA_INVALID_ARGUMENT';
const expectError = (fn: () => unknown, code: string, message: string): void => {
  expect(thrown(fn)).toMatchObject({ code, message });
};

describe('binding arguments checked by the core', () => {
  it('ChaosEngine, failureTypeErrorCode, judgeChaosGate', () => {
    const e = new ChaosEngine({ profile: 'heavy', seed: 7 });
    expectError(() => e.decide(1.5), INVALID, 'invalid argument `callIndex`: must be a whole number ≤ 2^53−1, got 1.5');
    expectError(() => e.decideBatch(0, 2 ** 31 + 1), INVALID, 'invalid argument `count`: must be ≤ 2^31, got 2147483649');
    expectError(() => e.buildLog([{ callIndex: 0, timestamp: 't' }, { callIndex: 1, timestamp: 't', outcome: 'lost' as never }]), INVALID, 'invalid argument `entries[1].outcome`: must be passed, recovered, surfaced or failed, got "lost"');
    expectError(() => new ChaosEngine({ seed: 1.5 }), 'ERR_OMEGA_SEED_RANGE', 'seed 1.5 out of range: must be an integer in 0..=9007199254740991');
    expectError(() => failureTypeErrorCode('meteor'), INVALID, 'invalid argument `failureType`: unknown failure type "meteor"');
    expectError(() => judgeChaosGate({ calls: 10, callsSucceeded: 1.5, rateOk: true, silentSuccesses: 0, emptySuccesses: 0, jsonValid: true }), INVALID, 'invalid argument `callsSucceeded`: must be a whole number ≤ 2^53−1, got 1.5');
  });

  it('RateLimiter', () => {
    expectError(() => new RateLimiter({ limits: { name: 'x', requestsPerMinute: 0, tokensPerMinute: 1.5 } }), INVALID, 'invalid argument `limits.requestsPerMinute`: must be in [1, 1000000000], got 0');
    expectError(() => new RateLimiter({ limits: { name: 'x' } }), INVALID, 'invalid argument `limits`: must set at least one per-minute limit');
    expectError(() => new RateLimiter({ limits: { name: 'x', requestsPerMinute: 60 }, shares: 0 }), INVALID, 'invalid argument `shares`: must be ≥ 1, got 0');
    const l = new RateLimiter({ limits: { name: 'x', requestsPerMinute: 60 }, shares: 2 });
    expect(l.limits.requestsPerMinute).toBe(30);
    expectError(() => l.acquire(Infinity, 1), INVALID, 'invalid argument `nowMs`: must be a finite number, got inf');
    const a = l.acquire(-5, -1);
    expect(a.ready).toBe(true);
    expectError(() => l.settle(a.ticket, 0, { outcome: 'done' as never }), INVALID, 'invalid argument `outcome`: must be "success", "throttled" or "failed", got "done"');
    expect(l.settle(a.ticket, 0, { outcome: 'throttled', status: 529, retryAfterMs: 10.2 })).toBe(true);
    expect(l.stats()).toMatchObject({ responses529: 1, responses429: 0 });
  });

  it('CaseSuite, outcome faults, judge verdicts', () => {
    const suite = CaseSuite.fromJson(JSON.stringify({ cases: [{ id: 'a', prompt: 'hi' }] }));
    const out = { text: 'x', latencyMs: 1, costUsd: 0 };
    expectError(() => suite.evaluate(3, out), INVALID, 'invalid argument `caseIndex`: no case 3');
    expectError(() => suite.evaluate(0, { ...out, latencyMs: NaN }), INVALID, 'invalid argument `output`: latencyMs and costUsd must be finite numbers');
    expectError(() => suite.evaluate(0, out, null, [{ name: 'p', pass: true, level: 'medium' as never }]), INVALID, 'invalid argument `engineChecks[0].level`: must be hard or soft, got "medium"');
    expectError(() => suite.evaluate(0, out, null, [{ name: 'p', pass: true, weight: 0 }]), INVALID, 'invalid argument `engineChecks[0].weight`: must be > 0, got 0');
    expectError(() => suite.scoreRun([{ hard_score: 1 } as never]), INVALID, 'invalid argument `results[0].soft_score`: must be a number');
    expectError(() => decideOutcome(1, 0.5, 1, { rate: 2, weights: {} }, 0, 0), INVALID, 'invalid argument `callIndex`: must be a whole number ≤ 2^53−1, got 0.5');
    expectError(() => decideOutcome(1, 0, 1, { rate: 2, weights: {} }, 0, 0), INVALID, 'invalid argument `settings.rate`: must be in [0, 1], got 2');
    expectError(() => decideOutcome(1, 0, 1, { rate: 0.5, weights: { gremlin: 1 } }, 0, 0), INVALID, 'invalid argument `settings.weights.gremlin`: unknown outcome fault');
    expectError(() => applyOutcomeFault('nope', 'x'), INVALID, 'invalid argument `fault`: unknown outcome fault "nope"');
    expectError(() => judgeOutcomeDetection([{ fault: 'refusal', delivered: 4, caught: 1.5 }]), INVALID, 'invalid argument `caught`: must be a whole number ≤ 2^53−1, got 1.5');
    expectError(() => judgeVerdict('x', null, 1.5), INVALID, 'invalid argument `threshold`: must be in [0, 1], got 1.5');
    expect(judgeVerdict(null, null, 0.5)).toMatchObject({ pass: false, message: 'judge call failed: no reply' });
  });
});
