import { describe, expect, it } from 'vitest';
import { BudgetTracker, RetryPolicy, defaultCalibrationJson, isRetryable, isRetryableStatus } from '../../native';
import { ChaosProvider } from '../../src/providers/chaos';
import { OmegaProviderError } from '../../src/providers/errors';
import { RetryProvider, isRetryableError } from '../../src/providers/retry';
import type { GenerateRequest, GenerateResponse, LlmProvider } from '../../src/providers/types';

const USAGE = { inputTokens: 100, outputTokens: 50 };
const REQ: GenerateRequest = { model: 'claude-sonnet-4-5', prompt: 'hello', sceneId: 'SCN-01', inputTokens: 100, maxOutputTokens: 200 };

/** A provider that fails with the queued errors, then answers. */
class ScriptedProvider implements LlmProvider {
  calls = 0;
  attempts: Array<number | undefined> = [];
  constructor(private readonly script: Array<unknown>, private readonly text = 'fine') {}
  async generate(request: GenerateRequest): Promise<GenerateResponse> {
    this.calls++;
    this.attempts.push(request.attempt);
    const next = this.script.shift();
    if (next === 'EMPTY') return { text: '  ', usage: USAGE };
    if (next !== undefined) throw next;
    return { text: this.text, usage: USAGE, model: request.model };
  }
}

const transient = (code = 'ERR_OMEGA_SERVER_ERROR', extra: Record<string, unknown> = {}): OmegaProviderError =>
  new OmegaProviderError(code as 'ERR_OMEGA_SERVER_ERROR', 'boom', { injected: true, retryable: true, status: 503, ...extra });

/** A fake sleep recording its delays. */
function recorder(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

describe('RetryPolicy (native)', () => {
  it('classifies retryable failures', () => {
    for (const t of ['timeout', 'rate_limit', 'server_error', 'overloaded', 'empty_response', 'truncated_response', 'malformed_json', 'connection_reset']) {
      expect(isRetryable(t), t).toBe(true);
    }
    expect(isRetryable('latency')).toBe(false);
    for (const c of ['ERR_OMEGA_BUDGET_EXCEEDED', 'ERR_OMEGA_INVALID_ARGUMENT', 'ERR_OMEGA_UNKNOWN_MODEL', 'invalid_request', 'nope']) {
      expect(isRetryable(c), c).toBe(false);
    }
    expect(isRetryable('ERR_OMEGA_RATE_LIMIT')).toBe(true);
    expect(isRetryableStatus(429)).toBe(true);
    expect(isRetryableStatus(400)).toBe(false);
    expect(isRetryableError(Object.assign(new Error('x'), { status: 503 }))).toBe(true);
    expect(isRetryableError(new Error('plain'))).toBe(false);
  });

  it('backs off with full jitter under the caps, reproducibly, and reports reasons', () => {
    const p = new RetryPolicy();
    expect([p.maxAttempts, p.baseDelayMs, p.maxDelayMs, p.maxRetryAfterMs, p.deadlineMs]).toEqual([5, 50, 2000, 5000, 60000]);
    const caps = [1, 2, 3, 4].map((a) => p.backoffCapMs(a));
    expect(caps).toEqual([50, 100, 200, 400]);
    for (let call = 0; call < 200; call++) {
      for (let attempt = 1; attempt <= 4; attempt++) {
        const d = p.decide({ callIndex: call, attempt, retryable: true, elapsedMs: 0 });
        expect(d.retry).toBe(true);
        expect(d.reason).toBe('backoff');
        expect(d.delayMs).toBeGreaterThanOrEqual(0);
        expect(d.delayMs).toBeLessThanOrEqual(caps[attempt - 1]);
        expect(new RetryPolicy().decide({ callIndex: call, attempt, retryable: true, elapsedMs: 0 })).toEqual(d);
      }
    }
    expect(p.decide({ callIndex: 0, attempt: 5, retryable: true, elapsedMs: 0 })).toEqual({ retry: false, delayMs: 0, reason: 'max_attempts' });
    expect(p.decide({ callIndex: 0, attempt: 1, retryable: false, elapsedMs: 0 }).reason).toBe('not_retryable');
    expect(p.decide({ callIndex: 0, attempt: 1, retryable: true, retryAfterMs: 9999, elapsedMs: 0 })).toEqual({ retry: true, delayMs: 5000, reason: 'retry_after' });
    expect(p.decide({ callIndex: 0, attempt: 1, retryable: true, retryAfterMs: 1000, elapsedMs: 59_500 }).reason).toBe('deadline');
    expect(() => new RetryPolicy({ seed: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OMEGA_SEED_RANGE' }));
    expect(() => new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(expect.objectContaining({ code: 'ERR_OMEGA_INVALID_ARGUMENT' }));
  });
});

describe('RetryProvider (PR-3)', () => {
  it('recovers from transient faults, passing the attempt number down', async () => {
    const inner = new ScriptedProvider([transient(), transient('ERR_OMEGA_PROVIDER_TIMEOUT')]);
    const { delays, sleep } = recorder();
    const r = new RetryProvider(inner, { sleep });
    const res = await r.generate(REQ);
    expect(res.text).toBe('fine');
    expect(inner.calls).toBe(3);
    expect(inner.attempts).toEqual([1, 2, 3]);
    expect(delays).toHaveLength(2);
    const p = new RetryPolicy();
    expect(delays).toEqual([1, 2].map((attempt) => p.decide({ callIndex: 0, attempt, retryable: true, elapsedMs: 0 }).delayMs));
  });

  it('honours retry-after hints (capped at max_retry_after_ms)', async () => {
    const inner = new ScriptedProvider([transient('ERR_OMEGA_RATE_LIMIT', { retryAfterMs: 1200 }), transient('ERR_OMEGA_RATE_LIMIT', { retryAfterMs: 99_999 })]);
    const { delays, sleep } = recorder();
    const res = await new RetryProvider(inner, { sleep }).generate(REQ);
    expect(res.text).toBe('fine');
    expect(delays).toEqual([1200, 5000]);
  });

  it('stops at the deadline instead of sleeping past it', async () => {
    let t = 0;
    const inner: LlmProvider = {
      generate: async () => {
        t += 400; // each attempt takes 400 ms of fake time
        throw transient('ERR_OMEGA_RATE_LIMIT', { retryAfterMs: 700 });
      },
    };
    const { delays, sleep } = recorder();
    const r = new RetryProvider(inner, { policy: { deadlineMs: 2000, maxAttempts: 10 }, sleep: async (ms) => { t += ms; await sleep(ms); }, now: () => t });
    const err = (await r.generate(REQ).catch((e: unknown) => e)) as OmegaProviderError & { retryReason?: string };
    expect(err.code).toBe('ERR_OMEGA_RATE_LIMIT');
    expect(err.retryReason).toBe('deadline');
    // 400 + 700 + 400 = 1500 elapsed; another 700 would end at 2200 > 2000
    expect(delays).toEqual([700]);
    expect(err.attempts).toBe(2);
  });

  it('gives up after max_attempts and rethrows the last error with attempts', async () => {
    const errors = Array.from({ length: 10 }, (_, i) => transient('ERR_OMEGA_CONNECTION_RESET', { callIndex: i }));
    const inner = new ScriptedProvider([...errors]);
    const { delays, sleep } = recorder();
    const err = (await new RetryProvider(inner, { policy: { maxAttempts: 4 }, sleep }).generate(REQ).catch((e: unknown) => e)) as OmegaProviderError & {
      retryReason?: string;
    };
    expect(inner.calls).toBe(4);
    expect(delays).toHaveLength(3);
    expect(err).toBe(errors[3]);
    expect(err.attempts).toBe(4);
    expect(err.retryReason).toBe('max_attempts');
  });

  it('does not retry non-retryable errors', async () => {
    const bad = Object.assign(new Error('invalid request: prompt too long'), { code: 'ERR_OMEGA_INVALID_ARGUMENT' });
    const inner = new ScriptedProvider([bad]);
    const { delays, sleep } = recorder();
    const err = (await new RetryProvider(inner, { sleep }).generate(REQ).catch((e: unknown) => e)) as Error & { attempts?: number; retryReason?: string };
    expect(err).toBe(bad);
    expect(inner.calls).toBe(1);
    expect(delays).toEqual([]);
    expect(err.attempts).toBe(1);
    expect(err.retryReason).toBe('not_retryable');
  });

  it('treats an empty/whitespace answer as ERR_OMEGA_EMPTY_RESPONSE and retries it', async () => {
    const inner = new ScriptedProvider(['EMPTY']);
    const { sleep } = recorder();
    expect((await new RetryProvider(inner, { sleep }).generate(REQ)).text).toBe('fine');
    expect(inner.calls).toBe(2);
    const always: LlmProvider = { generate: async () => ({ text: '', usage: USAGE }) };
    const err = (await new RetryProvider(always, { sleep, policy: { maxAttempts: 3 } }).generate(REQ).catch((e: unknown) => e)) as OmegaProviderError;
    expect(err.code).toBe('ERR_OMEGA_EMPTY_RESPONSE');
    expect(err.injected).toBe(false);
    expect(err.attempts).toBe(3);
  });

  it('reserves the budget per attempt, settles billed usage, releases unbilled failures', async () => {
    const budget = new BudgetTracker();
    const billed = transient('ERR_OMEGA_TRUNCATED_RESPONSE', { usage: { inputTokens: 100, outputTokens: 10 } });
    const inner = new ScriptedProvider([transient(), billed]);
    const { sleep } = recorder();
    await new RetryProvider(inner, { budget, sleep }).generate(REQ);
    const cost = budget.finalize();
    // attempt 1 released (not billed); attempt 2: 100·3 + 10·15 = 450 µUSD; attempt 3: 100·3 + 50·15 = 1050 µUSD
    expect(cost.total_cost_micro_usd).toBe(1500);
    expect(cost.call_count).toBe(2);
    expect(cost.open_reservations).toBe(0);
    expect(budget.reservedUsd).toBe(0);
  });

  it('a refused reservation stops retrying and is thrown (the call is not made)', async () => {
    const cal = JSON.parse(defaultCalibrationJson());
    // room for one worst-case reservation (100·3 + 200·15 = 3300 µUSD) but not for a second one
    // once the first, failed-but-billed attempt settled 450 µUSD (3300 + 450 > 3500)
    cal.budget.max_per_run_usd = 0.0035;
    cal.budget.max_per_call_usd = 0.0035;
    const budget = new BudgetTracker(cal);
    const inner = new ScriptedProvider([transient(), transient()]);
    const billedFail: LlmProvider = {
      generate: async (r) => {
        try {
          return await inner.generate(r);
        } catch (e) {
          throw Object.assign(e as object, { usage: { inputTokens: 100, outputTokens: 10 } });
        }
      },
    };
    const { delays, sleep } = recorder();
    const err = (await new RetryProvider(billedFail, { budget, sleep }).generate(REQ).catch((e: unknown) => e)) as Error & { code?: string; attempts?: number };
    expect(err.code).toBe('ERR_OMEGA_BUDGET_EXCEEDED');
    expect(err.attempts).toBe(2);
    expect(inner.calls).toBe(1);
    expect(delays).toHaveLength(1);
    expect(budget.finalize().budget_verdict).toBe('FAIL');
  });

  it('an AbortSignal cuts a backoff sleep short (real timers)', async () => {
    const inner = new ScriptedProvider([transient('ERR_OMEGA_RATE_LIMIT', { retryAfterMs: 5000 })]);
    const controller = new AbortController();
    const r = new RetryProvider(inner);
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('user cancelled')), 30);
    const err = (await r.generate(REQ, { signal: controller.signal }).catch((e: unknown) => e)) as OmegaProviderError;
    const took = Date.now() - started;
    expect(err.code).toBe('ERR_OMEGA_ABORTED');
    expect(err.name).toBe('AbortError');
    expect(took).toBeLessThan(1000);
    expect(inner.calls).toBe(1);
    // constructor signal, already aborted: no call at all
    const c2 = new AbortController();
    c2.abort();
    const inner2 = new ScriptedProvider([]);
    await expect(new RetryProvider(inner2, { signal: c2.signal }).generate(REQ)).rejects.toMatchObject({ code: 'ERR_OMEGA_ABORTED' });
    expect(inner2.calls).toBe(0);
  });

  it('Retry(Chaos(provider)) over 1,000 calls at medium: every call succeeds with text or throws a coded error', async () => {
    let realCalls = 0;
    const real: LlmProvider = {
      generate: async (r) => {
        realCalls++;
        return { text: `answer to ${r.prompt}`, usage: { inputTokens: 20, outputTokens: 30 } };
      },
    };
    const { delays, sleep } = recorder();
    const chaos = new ChaosProvider(real, { profile: 'medium', seed: 42, sleep: async () => {}, clock: () => 'T' });
    const stack = new RetryProvider(chaos, { sleep, policy: { maxAttempts: 3 } });
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 1000; i++) {
      try {
        const res = await stack.generate({ model: 'claude-sonnet-4-5', prompt: `p${i}`, sceneId: `S${i}` });
        expect(res.text).toBe(`answer to p${i}`);
        ok++;
      } catch (err) {
        failed++;
        expect(err).toBeInstanceOf(OmegaProviderError);
        expect((err as OmegaProviderError).code).toMatch(/^ERR_OMEGA_/);
        expect((err as OmegaProviderError).attempts).toBe(3);
      }
    }
    expect(ok + failed).toBe(1000);
    const log = chaos.chaosLog();
    // every chaos-level call is logged; injected faults were retried
    expect(log.total_calls).toBeGreaterThan(1000);
    expect(Math.abs(log.injected_rate - 0.15)).toBeLessThan(0.04);
    expect(delays.length).toBe(log.entries.filter((e) => e.outcome === 'surfaced').length - failed);
    // With 3 attempts at 15 % (latency is a success), nearly every logical call succeeds.
    expect(ok).toBeGreaterThan(990);
    expect(realCalls).toBeGreaterThan(1000);
  });
});
