/**
 * Rules that live once in the core and are read by the TS layer: `SOURCE_DATE_EPOCH`, the
 * nearest-rank percentile, failure type → error code / HTTP status, which failures throttle.
 */
import { describe, expect, it } from 'vitest';
import { ChaosEngine, failureTypeErrorCode, nearestRankPercentile, parseSourceDateEpoch, throttleStatus } from '../../native';
import { FAILURE_TYPE_CODES } from '../../src/providers/errors';
import { percentile } from '../../src/cli/commands/concurrency';

describe('core rules seen from TS', () => {
  it('throttled (the rate limiter shrinks its window): HTTP 429/529 or the faults\' codes; 529 wins', () => {
    expect(throttleStatus(429)).toBe(429);
    expect(throttleStatus(529, null)).toBe(529);
    expect(throttleStatus(undefined, 'ERR_OMEGA_RATE_LIMIT')).toBe(429);
    expect(throttleStatus(429, 'ERR_OMEGA_OVERLOADED')).toBe(529);
    expect(throttleStatus(503, FAILURE_TYPE_CODES.server_error)).toBeNull();
    expect(throttleStatus()).toBeNull();
  });

  it('SOURCE_DATE_EPOCH: whole non-negative seconds, else null', () => {
    expect(parseSourceDateEpoch('1700000000')).toBe(1_700_000_000);
    expect(parseSourceDateEpoch(' 0 ')).toBe(0);
    for (const bad of [undefined, null, '', '-1', '1.5', '1e9', '0x10', 'abc', '9007199254740992']) {
      expect(parseSourceDateEpoch(bad), String(bad)).toBeNull();
    }
  });

  it('nearest-rank percentile (the CLI and the cache stats use the same one)', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRankPercentile(v, 50)).toBe(5);
    expect(nearestRankPercentile(v, 99)).toBe(10);
    expect(nearestRankPercentile([], 50)).toBe(0);
    expect(percentile(v, 11)).toBe(2);
  });

  it('FAILURE_TYPE_CODES is the core map; HTTP statuses come with the decision', () => {
    for (const [type, code] of Object.entries(FAILURE_TYPE_CODES)) expect(failureTypeErrorCode(type)).toBe(code);
    expect(failureTypeErrorCode('latency')).toBeNull();
    const e = new ChaosEngine({ seed: 42 });
    const seen = new Map<string, Set<number | undefined>>();
    for (let i = 0; i < 2000; i++) {
      const d = e.decide(i);
      if (d.failureType === undefined) continue;
      if (!seen.has(d.failureType)) seen.set(d.failureType, new Set());
      seen.get(d.failureType)?.add(d.status);
    }
    expect([...(seen.get('rate_limit') ?? [])]).toEqual([429]);
    expect([...(seen.get('overloaded') ?? [])]).toEqual([529]);
    expect([...(seen.get('server_error') ?? [])].sort()).toEqual([500, 503]);
  });
});
