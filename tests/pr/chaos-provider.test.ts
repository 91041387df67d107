import { describe, expect, it } from 'vitest';
import { ChaosEngine, failureTypeErrorCode } from '../../native';
import { ChaosProvider } from '../../src/providers/chaos';
import { FAILURE_TYPE_CODES, OmegaProviderError, type FailureTypeName } from '../../src/providers/errors';
import type { GenerateRequest, GenerateResponse, LlmProvider } from '../../src/providers/types';
import { expectCode } from './errors';

/** A provider that answers every prompt (or the given text) and counts its calls. */
class FakeProvider implements LlmProvider {
  calls = 0;
  constructor(private readonly text: (req: GenerateRequest) => string = (r) => `{"answer":"${r.prompt}"}`) {}
  async generate(request: GenerateRequest): Promise<GenerateResponse> {
    this.calls++;
    return { text: this.text(request), usage: { inputTokens: 12, outputTokens: 7 }, model: request.model };
  }
}

const FIXED_CLOCK = (): string => '2026-01-01T00:00:00.000Z';
const noSleep = async (): Promise<void> => {};
const req = (i: number): GenerateRequest => ({ model: 'simulated-scribe', prompt: `p${i}`, sceneId: `SCN-${String(i + 1).padStart(2, '0')}` });

/** Runs `n` calls, returning each outcome (response or error). */
async function runCalls(provider: LlmProvider, n: number): Promise<Array<GenerateResponse | unknown>> {
  const out: Array<GenerateResponse | unknown> = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(await provider.generate(req(i)));
    } catch (err) {
      out.push(err);
    }
  }
  return out;
}

describe('ChaosEngine (PR-3, native)', () => {
  it('injects at each profile rate (±1 point over 10,000 decisions) and uses every listed type', () => {
    const want: Record<string, number> = { light: 0.05, medium: 0.15, heavy: 0.3, hellfire: 0.5 };
    for (const [profile, rate] of Object.entries(want)) {
      const e = new ChaosEngine({ profile, seed: 42 });
      expect(e.rate).toBe(rate);
      const b = e.decideBatch(0, 10_000);
      let injected = 0;
      const seen = new Set<number>();
      for (let i = 0; i < 10_000; i++) {
        injected += b.injected[i];
        if (b.injected[i]) seen.add(b.failureTypeIndex[i]);
        else expect(b.failureTypeIndex[i]).toBe(255);
      }
      expect(Math.abs(injected / 10_000 - rate), profile).toBeLessThanOrEqual(0.01);
      expect(seen.size, profile).toBe(e.failureTypes.length);
    }
  });

  it('is deterministic and order independent; batch equals single decisions', () => {
    const a = new ChaosEngine({ profile: 'heavy', seed: 7 });
    const b = new ChaosEngine({ profile: 'heavy', seed: 7 });
    const forward = Array.from({ length: 500 }, (_, i) => a.decide(i));
    const reversed = Array.from({ length: 500 }, (_, i) => b.decide(499 - i)).reverse();
    expect(reversed).toEqual(forward);
    const batch = a.decideBatch(0, 500);
    forward.forEach((d, i) => {
      expect(batch.injected[i] === 1).toBe(d.injected);
      if (d.injected) expect(a.failureTypes[batch.failureTypeIndex[i]]).toBe(d.failureType);
    });
    const other = new ChaosEngine({ profile: 'heavy', seed: 8 });
    expect(Array.from({ length: 500 }, (_, i) => other.decide(i))).not.toEqual(forward);
  });

  it('pins the first injected decisions of seed 42 / medium (known answer)', () => {
    const e = new ChaosEngine({ profile: 'medium' });
    expect(e.seed).toBe(42);
    expect(e.decide(0)).toEqual({ callIndex: 0, injected: false });
    expect(e.decide(1)).toEqual({ callIndex: 1, injected: false });
    expect(e.decide(2)).toEqual({ callIndex: 2, injected: true, failureType: 'timeout', errorCode: 'ERR_OMEGA_PROVIDER_TIMEOUT' });
    expect(e.decide(39)).toEqual({
      callIndex: 39,
      injected: true,
      failureType: 'rate_limit',
      retryAfterMs: 300,
      status: 429,
      errorCode: 'ERR_OMEGA_RATE_LIMIT',
    });
    expect(e.decide(63)).toMatchObject({ failureType: 'server_error', status: 500 });
    expect(e.decide(75)).toMatchObject({ failureType: 'server_error', status: 503 });
    const injected = Array.from({ length: 76 }, (_, i) => i).filter((i) => e.decide(i).injected);
    expect(injected).toEqual([2, 11, 34, 39, 47, 49, 63, 68, 70, 75]);
  });

  it('draws fault parameters within the calibrated ranges', () => {
    const e = new ChaosEngine({ profile: 'hellfire', seed: 3 });
    let latency = 0;
    let rateLimit = 0;
    for (let i = 0; i < 5000; i++) {
      const d = e.decide(i);
      if (d.failureType === 'latency') {
        latency++;
        expect(d.latencyMs).toBeGreaterThanOrEqual(50);
        expect(d.latencyMs).toBeLessThanOrEqual(1500);
      }
      if (d.failureType === 'rate_limit') {
        rateLimit++;
        expect(d.retryAfterMs).toBeGreaterThanOrEqual(100);
        expect(d.retryAfterMs).toBeLessThanOrEqual(2000);
        expect(d.status).toBe(429);
      }
      if (d.failureType === 'overloaded') expect(d.status).toBe(529);
      if (d.failureType === 'server_error') expect([500, 503]).toContain(d.status);
    }
    expect(latency).toBeGreaterThan(100);
    expect(rateLimit).toBeGreaterThan(100);
  });

  it('refuses unknown profiles and bad seeds with stable codes', () => {
    expectCode(() => new ChaosEngine({ profile: 'apocalypse' }), 'ERR_OMEGA_UNKNOWN_PROFILE');
    for (const seed of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      expectCode(() => new ChaosEngine({ seed }), 'ERR_OMEGA_SEED_RANGE');
    }
    expectCode(() => new ChaosProvider(new FakeProvider(), { profile: 'nope' }), 'ERR_OMEGA_UNKNOWN_PROFILE');
    expectCode(() => new ChaosEngine().decide(-3), 'ERR_OMEGA_INVALID_ARGUMENT');
    const d = new ChaosEngine();
    expect(d.profile).toBe('default');
    expect(d.rate).toBe(0.15);
    expect(d.failureTypes).toHaveLength(9);
    expect(failureTypeErrorCode('latency')).toBeNull();
    expect(failureTypeErrorCode('timeout')).toBe('ERR_OMEGA_PROVIDER_TIMEOUT');
  });
});

describe('ChaosProvider (PR-3)', () => {
  it('passes calls through unchanged when nothing is injected (rate of injections matches the engine)', async () => {
    const inner = new FakeProvider();
    const chaos = new ChaosProvider(inner, { profile: 'light', seed: 42, clock: FIXED_CLOCK, sleep: noSleep });
    const results = await runCalls(chaos, 400);
    const engine = new ChaosEngine({ profile: 'light', seed: 42 });
    results.forEach((r, i) => {
      const d = engine.decide(i);
      if (!d.injected || d.failureType === 'latency') {
        expect(r).toEqual({ text: `{"answer":"p${i}"}`, usage: { inputTokens: 12, outputTokens: 7 }, model: 'simulated-scribe' });
      } else {
        expect(r).toBeInstanceOf(OmegaProviderError);
        expect((r as OmegaProviderError).code).toBe(d.errorCode);
      }
    });
  });

  it('throws the typed error of every failure type (hellfire, all types)', async () => {
    const chaos = new ChaosProvider(new FakeProvider(), { profile: 'hellfire', seed: 1, clock: FIXED_CLOCK, sleep: noSleep });
    const results = await runCalls(chaos, 600);
    const engine = chaos.engine;
    const seen = new Set<FailureTypeName>();
    results.forEach((r, i) => {
      const d = engine.decide(i);
      if (!d.injected || d.failureType === 'latency') return;
      const type = d.failureType as Exclude<FailureTypeName, 'latency'>;
      seen.add(type);
      const e = r as OmegaProviderError;
      expect(e).toBeInstanceOf(OmegaProviderError);
      expect(e.code).toBe(FAILURE_TYPE_CODES[type]);
      expect(e.injected).toBe(true);
      expect(e.retryable).toBe(true);
      expect(e.failureType).toBe(type);
      expect(e.callIndex).toBe(i);
      if (type === 'rate_limit') {
        expect(e.status).toBe(429);
        expect(e.retryAfterMs).toBe(d.retryAfterMs);
      }
      if (type === 'server_error') expect([500, 503]).toContain(e.status);
      if (type === 'overloaded') expect(e.status).toBe(529);
      if (type === 'empty_response' || type === 'truncated_response' || type === 'malformed_json') {
        expect(e.usage).toEqual({ inputTokens: 12, outputTokens: 7 });
      }
    });
    expect([...seen].sort()).toEqual(Object.keys(FAILURE_TYPE_CODES).sort());
  });

  it('latency faults sleep the drawn delay then succeed', async () => {
    const slept: number[] = [];
    const chaos = new ChaosProvider(new FakeProvider(), {
      profile: 'hellfire',
      seed: 5,
      clock: FIXED_CLOCK,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const results = await runCalls(chaos, 300);
    const expected: number[] = [];
    results.forEach((r, i) => {
      const d = chaos.engine.decide(i);
      if (d.failureType === 'latency') {
        expected.push(d.latencyMs as number);
        expect((r as GenerateResponse).text).toBe(`{"answer":"p${i}"}`);
      }
    });
    expect(expected.length).toBeGreaterThan(5);
    expect(slept).toEqual(expected);
    const log = chaos.chaosLog();
    const latencyEntry = log.entries.find((e) => e.failure_type === 'latency');
    expect(latencyEntry?.outcome).toBe('recovered');
  });

  it('an empty or whitespace-only answer of the real provider throws ERR_OMEGA_EMPTY_RESPONSE (not injected)', async () => {
    for (const text of ['', '   \n\t ']) {
      const chaos = new ChaosProvider(new FakeProvider(() => text), { profile: 'light', seed: 42, clock: FIXED_CLOCK });
      // call 0 of seed 42 / light is not injected
      expect(chaos.engine.decide(0).injected).toBe(false);
      const err = await chaos.generate(req(0)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OmegaProviderError);
      expect((err as OmegaProviderError).code).toBe('ERR_OMEGA_EMPTY_RESPONSE');
      expect((err as OmegaProviderError).injected).toBe(false);
      expect((err as OmegaProviderError).retryable).toBe(true);
      expect(chaos.chaosLog().entries[0]).toMatchObject({ call_index: 0, injected: false, outcome: 'failed', error_code: 'ERR_OMEGA_EMPTY_RESPONSE' });
    }
  });

  it('an injected empty_response calls the provider but never returns its answer', async () => {
    const engine = new ChaosEngine({ profile: 'medium', seed: 42 });
    const index = Array.from({ length: 200 }, (_, i) => i).find((i) => engine.decide(i).failureType === 'empty_response');
    expect(index).toBe(11);
    const inner = new FakeProvider();
    const chaos = new ChaosProvider(inner, { profile: 'medium', seed: 42, clock: FIXED_CLOCK });
    const err = await chaos.generate({ ...req(11), callIndex: 11 }).catch((e: unknown) => e);
    expect(inner.calls).toBe(1);
    expect(err).toMatchObject({ code: 'ERR_OMEGA_EMPTY_RESPONSE', injected: true, failureType: 'empty_response' });
  });

  it('uses request.callIndex when given, and a fresh draw per attempt', async () => {
    const chaos = new ChaosProvider(new FakeProvider(), { profile: 'medium', seed: 42, clock: FIXED_CLOCK });
    const err = await chaos.generate({ ...req(39), callIndex: 39 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_OMEGA_RATE_LIMIT', retryAfterMs: 300, status: 429, callIndex: 39 });
    // attempt 2 of call 39 is an independent draw
    const d2 = chaos.engine.decide(39, 2);
    const second = await chaos.generate({ ...req(39), callIndex: 39, attempt: 2 }).catch((e: unknown) => e);
    if (d2.injected && d2.failureType !== 'latency') expect((second as OmegaProviderError).code).toBe(d2.errorCode);
    else expect((second as GenerateResponse).text).toBe('{"answer":"p39"}');
    expect(chaos.engine.decide(39, 1)).toEqual(chaos.engine.decide(39));
    // attempts are independent draws: over 1,000 calls, attempt 2 differs from attempt 1 often
    const differ = Array.from({ length: 1000 }, (_, i) => i).filter((i) => chaos.engine.decide(i, 1).injected !== chaos.engine.decide(i, 2).injected);
    expect(differ.length).toBeGreaterThan(150);
    const log = chaos.chaosLog();
    expect(log.entries.map((e) => [e.call_index, e.attempt])).toEqual([
      [39, undefined],
      [39, 2],
    ]);
  });

  it('writes chaos-log.json with the runbook fields, deterministic for the same seed', async () => {
    const make = (): ChaosProvider => new ChaosProvider(new FakeProvider(), { profile: 'medium', seed: 42, clock: FIXED_CLOCK, sleep: noSleep });
    const a = make();
    await runCalls(a, 100);
    const log = a.chaosLog();
    expect(log).toMatchObject({ schema_version: 'OMEGA-CHAOS-LOG-1.0', seed: 42, profile: 'medium', rate: 0.15, total_calls: 100 });
    expect(log.entries).toHaveLength(100);
    let injected = 0;
    log.entries.forEach((e, i) => {
      expect(e.call_index).toBe(i);
      expect(e.scene_id).toBe(`SCN-${String(i + 1).padStart(2, '0')}`);
      expect(e.timestamp).toBe('2026-01-01T00:00:00.000Z');
      expect(typeof e.injected).toBe('boolean');
      if (e.injected) {
        injected++;
        expect(typeof e.failure_type).toBe('string');
        expect(['surfaced', 'recovered']).toContain(e.outcome);
      } else {
        expect('failure_type' in e).toBe(false);
        expect(e.outcome).toBe('passed');
      }
    });
    expect(log.injected_count).toBe(injected);
    expect(injected).toBeGreaterThan(5);
    // key order of the runbook
    expect(Object.keys(log.entries[0]).slice(0, 3)).toEqual(['call_index', 'scene_id', 'injected']);
    const text = a.chaosLogJson();
    expect(JSON.parse(text)).toEqual(log);
    const b = make();
    await runCalls(b, 100);
    expect(b.chaosLogJson()).toBe(text);
  });

  it('log entries are sorted by call index whatever the completion order', async () => {
    // The inner provider answers later calls first.
    const slowFirst: LlmProvider = {
      generate: (r) =>
        new Promise((resolve) => setTimeout(() => resolve({ text: 'ok', usage: { inputTokens: 1, outputTokens: 1 } }), 20 - (r.callIndex ?? 0))),
    };
    const chaos = new ChaosProvider(slowFirst, { profile: 'light', seed: 9, clock: FIXED_CLOCK, sleep: noSleep });
    await Promise.allSettled(Array.from({ length: 15 }, (_, i) => chaos.generate({ model: 'm', prompt: 'x', callIndex: i })));
    expect(chaos.callCount).toBe(15);
    expect(chaos.chaosLog().entries.map((e) => e.call_index)).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it('propagates errors of the real provider and logs them as failed', async () => {
    const failing: LlmProvider = {
      generate: async () => {
        throw Object.assign(new Error('bad request'), { code: 'ERR_OMEGA_INVALID_ARGUMENT' });
      },
    };
    const chaos = new ChaosProvider(failing, { profile: 'light', seed: 42, clock: FIXED_CLOCK });
    await expect(chaos.generate(req(0))).rejects.toMatchObject({ code: 'ERR_OMEGA_INVALID_ARGUMENT' });
    expect(chaos.chaosLog().entries[0]).toMatchObject({ outcome: 'failed', error_code: 'ERR_OMEGA_INVALID_ARGUMENT', injected: false });
  });
});
