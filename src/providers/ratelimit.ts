/**
 * `RateLimitProvider`: enforces calibration `rate_limits` before each attempt. For a model with
 * limits (matched like prices), every attempt first waits its turn (FIFO) at the native
 * `RateLimiter` — token buckets for requests / tokens / input / output tokens per minute, never
 * more than the limit in any minute, and a `retry-after` not yet passed — then calls the inner
 * provider and settles: the billed usage corrects the estimates, a 429/529 halves the AIMD
 * window of calls in flight (the stress pool follows it), a success grows it.
 *
 * Models without limits pass straight through. Time is logical (the stack's time scale): the
 * clock reads `performance.now() / timeScale` and the sleeps are the stack's scaled ones, so a
 * test or bench can compress a minute.
 */
import { RateLimiter, rateLimitsFor, stressDocumentsJson, throttleStatus, type RateLimitsInfo } from '../../native';
import type { CalibrationDocument, RateLimitEntryReport, RateLimitReport } from '../../report-types';
import { abortError, combineSignals, isAbortError, sleep as realSleep, toProviderError } from './errors';
import { requestBytes } from './retry';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, SleepFn, TokenUsage } from './types';

/** Options of a `RateLimitProvider`. */
export interface RateLimitProviderOptions {
  /** The calibration whose `rate_limits` apply. */
  calibration: CalibrationDocument;
  /** Clock in logical ms (default `performance.now() / timeScale`). */
  now?: () => number;
  /** Real ms per logical ms of the default clock (default 1). */
  timeScale?: number;
  /** Sleep of logical ms (default real timers, unscaled). */
  sleep?: SleepFn;
  /** Shards running at once on one account: each enforces `1/shares` of every limit (default 1). */
  shares?: number;
}

/**
 * `PR_REPORT.json` → `rate_limit` (present only when a limit applied to the run's models) and one
 * configured limit's figures in it (`rate_limit.limits.<key>`): generated from the core's
 * `pr_report::RateLimitReport`.
 */
export type { RateLimitEntryReport, RateLimitReport };

interface Entry {
  limiter: RateLimiter;
  queue: Promise<void>;
  /** Cuts the head of the queue's sleep short (a settle may have refunded what it waits for). */
  wake: (() => void) | null;
  throttledMs: number;
  throttledCalls: number;
}

const round1 = (x: number | null | undefined): number | null => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

function field(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined;
}

/** Wraps a provider with the calibration's rate limits. */
export class RateLimitProvider implements LlmProvider {
  private readonly inner: LlmProvider;
  private readonly calibration: CalibrationDocument;
  private readonly now: () => number;
  private readonly sleep: SleepFn;
  private readonly shares: number;
  /** Limiter per calibration key; `null` for a model without limits. */
  private readonly byModel = new Map<string, Entry | null>();
  private readonly byKey = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();

  constructor(inner: LlmProvider, options: RateLimitProviderOptions) {
    this.inner = inner;
    this.calibration = options.calibration;
    const scale = options.timeScale ?? 1;
    const origin = performance.now();
    this.now = options.now ?? (() => (performance.now() - origin) / scale);
    this.sleep = options.sleep ?? realSleep;
    this.shares = options.shares ?? 1;
  }

  /** Whether the calibration sets any rate limit. */
  static configured(calibration: CalibrationDocument): boolean {
    const rl = (calibration as { rate_limits?: Record<string, unknown> }).rate_limits;
    return rl !== undefined && rl !== null && Object.keys(rl).length > 0;
  }

  private entry(model: string): Entry | null {
    const known = this.byModel.get(model);
    if (known !== undefined) return known;
    const limits: RateLimitsInfo | null = rateLimitsFor(this.calibration, model);
    let entry: Entry | null = null;
    if (limits !== null) {
      entry = this.byKey.get(limits.name) ?? null;
      if (entry === null) {
        const limiter = new RateLimiter({
          limits,
          nowMs: Math.max(0, Math.floor(this.now())),
          shares: this.shares,
          initialOutputEstimate: this.calibration.budget.max_output_tokens,
        });
        entry = { limiter, queue: Promise.resolve(), wake: null, throttledMs: 0, throttledCalls: 0 };
        this.byKey.set(limits.name, entry);
      }
    }
    this.byModel.set(model, entry);
    return entry;
  }

  /**
   * The AIMD window of `model`'s limiter as a live reading, and a way to hear when it may have
   * changed (after every settled call); null when `model` has no limits.
   */
  concurrencyFor(model: string): { limit: () => number; subscribe: (wake: () => void) => () => void } | null {
    const entry = this.entry(model);
    if (entry === null) return null;
    return {
      limit: () => entry.limiter.concurrency,
      subscribe: (wake) => {
        this.listeners.add(wake);
        return () => this.listeners.delete(wake);
      },
    };
  }

  /** Waits this call's turn (FIFO) and its admission; resolves with the ticket. */
  private admit(entry: Entry, inputTokens: number, signal: AbortSignal | undefined): Promise<number> {
    const started = this.now();
    const turn = async (): Promise<number> => {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        const a = entry.limiter.acquire(Math.max(0, this.now()), inputTokens);
        if (a.ready) {
          const waited = Math.max(0, Math.round(this.now() - started));
          if (waited > 0) {
            entry.throttledMs += waited;
            entry.throttledCalls++;
          }
          return a.ticket;
        }
        // Sleep, but ask again as soon as a call settles: billed usage below the estimate
        // refunds the buckets (the first calls are charged a pessimistic output estimate).
        const woken = new AbortController();
        const { signal: both, dispose } = combineSignals(signal, woken.signal);
        entry.wake = () => woken.abort();
        try {
          await this.sleep(a.waitMs, both);
        } catch (err) {
          if (signal?.aborted || !woken.signal.aborted || !isAbortError(err)) throw err;
        } finally {
          entry.wake = null;
          dispose();
        }
      }
    };
    const p = entry.queue.then(turn, turn);
    entry.queue = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse> {
    const entry = this.entry(request.model);
    if (entry === null) return this.inner.generate(request, options);
    // Prompt tokens: the engine's figure, else ~4 bytes per token (the billed figure corrects it).
    const input = request.inputTokens ?? Math.ceil(requestBytes(request) / 4);
    const ticket = await this.admit(entry, input, options?.signal);
    let response: GenerateResponse;
    try {
      response = await this.inner.generate(request, options);
    } catch (err) {
      const e = toProviderError(err, request.callIndex);
      const status = field(e, 'status');
      const code = field(e, 'code');
      const throttled = throttleStatus(
        typeof status === 'number' && Number.isInteger(status) && status >= 0 && status < 1000 ? status : undefined,
        typeof code === 'string' ? code : undefined,
      );
      const usage = field(e, 'usage') as TokenUsage | undefined;
      const retryAfter = field(e, 'retryAfterMs');
      entry.limiter.settle(ticket, Math.max(0, this.now()), {
        outcome: throttled === null ? 'failed' : 'throttled',
        status: throttled ?? 429,
        retryAfterMs: typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
        inputTokens: typeof usage?.inputTokens === 'number' ? usage.inputTokens : undefined,
        outputTokens: typeof usage?.outputTokens === 'number' ? usage.outputTokens : undefined,
      });
      this.wake(entry);
      throw err;
    }
    const u = response?.usage;
    entry.limiter.settle(ticket, Math.max(0, this.now()), {
      outcome: 'success',
      inputTokens: typeof u?.inputTokens === 'number' && Number.isFinite(u.inputTokens) ? u.inputTokens : undefined,
      outputTokens: typeof u?.outputTokens === 'number' && Number.isFinite(u.outputTokens) ? u.outputTokens : undefined,
    });
    this.wake(entry);
    return response;
  }

  private wake(entry: Entry): void {
    entry.wake?.();
    for (const fn of [...this.listeners]) fn();
  }

  /** The `rate_limit` block of `PR_REPORT.json`; undefined when no call met a limit. */
  report(): RateLimitReport | undefined {
    if (this.byKey.size === 0) return undefined;
    const limits: Record<string, RateLimitEntryReport> = {};
    const out: RateLimitReport = { throttled_ms: 0, throttled_calls: 0, responses_429: 0, responses_529: 0, effective_rpm: null, limits };
    for (const key of [...this.byKey.keys()].sort()) {
      const e = this.byKey.get(key) as Entry;
      const s = e.limiter.stats();
      const l = e.limiter.limits;
      const r: RateLimitEntryReport = {
        calls: s.admitted,
        throttled_ms: e.throttledMs,
        throttled_calls: e.throttledCalls,
        responses_429: s.responses429,
        responses_529: s.responses529,
        effective_rpm: round1(s.effectiveRpm),
        effective_input_tpm: round1(s.effectiveInputTpm),
        effective_output_tpm: round1(s.effectiveOutputTpm),
        in_flight: { min: s.minInFlight, max: s.maxInFlight, final: e.limiter.concurrency },
      };
      const limitsFirst: RateLimitEntryReport = {
        ...(l.requestsPerMinute != null ? { requests_per_minute: l.requestsPerMinute } : {}),
        ...(l.tokensPerMinute != null ? { tokens_per_minute: l.tokensPerMinute } : {}),
        ...(l.inputTokensPerMinute != null ? { input_tokens_per_minute: l.inputTokensPerMinute } : {}),
        ...(l.outputTokensPerMinute != null ? { output_tokens_per_minute: l.outputTokensPerMinute } : {}),
        ...r,
      };
      limits[key] = limitsFirst;
      out.throttled_ms += r.throttled_ms;
      out.throttled_calls += r.throttled_calls;
      out.responses_429 += r.responses_429;
      out.responses_529 += r.responses_529;
      if (r.effective_rpm !== null) out.effective_rpm = round1((out.effective_rpm ?? 0) + r.effective_rpm);
    }
    return out;
  }
}

/**
 * Adds up the `rate_limit` blocks of shards that ran at once (counters and rates summed): the
 * core's `pr_report::merge_rate_limit_reports`.
 */
export function mergeRateLimitReports(parts: Array<RateLimitReport | undefined>): RateLimitReport | undefined {
  const merged = JSON.parse(stressDocumentsJson(null, JSON.stringify({ merge_rate_limits: { parts } }))) as RateLimitReport | null;
  return merged ?? undefined;
}

/** The terminal summary's lines for a `rate_limit` block (none without one). */
export function rateLimitLines(rl: RateLimitReport | undefined): string[] {
  if (rl === undefined) return [];
  return Object.entries(rl.limits).map(([key, e]) => {
    const lim = [
      e.requests_per_minute !== undefined ? `${e.requests_per_minute} RPM` : null,
      e.tokens_per_minute !== undefined ? `${e.tokens_per_minute} TPM` : null,
      e.input_tokens_per_minute !== undefined ? `${e.input_tokens_per_minute} ITPM` : null,
      e.output_tokens_per_minute !== undefined ? `${e.output_tokens_per_minute} OTPM` : null,
    ]
      .filter((x) => x !== null)
      .join(', ');
    return (
      `Rate limits ${key} (${lim}): effective ${e.effective_rpm ?? 'n/a'} RPM, throttled ${(e.throttled_ms / 1000).toFixed(1)} s ` +
      `over ${e.throttled_calls} of ${e.calls} calls, 429 × ${e.responses_429}, 529 × ${e.responses_529}, in flight ${e.in_flight.min}–${e.in_flight.max}`
    );
  });
}
