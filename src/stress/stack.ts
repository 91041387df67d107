/**
 * Builds the provider stack every harness uses: `Retry(Chaos(Timeout(provider)))` — with
 * calibration `rate_limits`, `Retry(Chaos(RateLimit(Timeout(provider))))` — sharing one budget
 * tracker, with sleeps scaled for the simulated provider.
 */
import { BudgetTracker } from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { ChaosProvider } from '../providers/chaos';
import { OmegaProviderError, oversizeBytes, responseTooLargeError, sleep as realSleep } from '../providers/errors';
import { RateLimitProvider } from '../providers/ratelimit';
import { RetryProvider, maxResponseBytesOf } from '../providers/retry';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, SleepFn } from '../providers/types';
import type { RetryEvent } from '../providers/retry';

/**
 * Fails an attempt that takes longer than `ms` with `ERR_OMEGA_PROVIDER_TIMEOUT` (retryable), and
 * one whose answer exceeds `maxResponseBytes` with `ERR_OMEGA_RESPONSE_TOO_LARGE` (not retryable;
 * the answer is dropped here, where the provider's answer is received, so the chaos log records
 * the fault and nothing above ever holds the text).
 * The request was sent and may be billed (a stalled stream, a slow answer): a timed-out attempt is
 * charged its reservation (`billedUnknown`), never $0.
 */
export class TimeoutProvider implements LlmProvider {
  constructor(
    private readonly inner: LlmProvider,
    private readonly ms: number,
    private readonly maxResponseBytes: number = maxResponseBytesOf(),
  ) {}

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse> {
    const controller = new AbortController();
    const outer = options?.signal;
    const onAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new OmegaProviderError(
          'ERR_OMEGA_PROVIDER_TIMEOUT',
          `provider did not answer within ${this.ms} ms (call ${request.callIndex ?? '?'}, scene ${request.sceneId ?? '?'})`,
          { injected: false, retryable: true, callIndex: request.callIndex, billedUnknown: true },
        );
        controller.abort(err);
        reject(err);
      }, this.ms);
    });
    try {
      const response = await Promise.race([this.inner.generate(request, { signal: controller.signal }), timeout]);
      const bytes = oversizeBytes(response?.text, this.maxResponseBytes);
      if (bytes !== null) throw responseTooLargeError(bytes, this.maxResponseBytes, request.callIndex, response.usage);
      return response;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }
}

/** Options of {@link buildStack}. */
export interface StackOptions {
  provider: LlmProvider;
  calibration: CalibrationDocument;
  seed: number;
  /** Chaos profile name, `default` for `CHAOS_RATE` with every failure type, or null for no chaos. */
  chaosProfile: string | null;
  budget: BudgetTracker;
  /** Per-attempt timeout, ms. */
  callTimeoutMs: number;
  /** Real time per logical ms of injected latency and backoff (1 for real providers). */
  timeScale: number;
  /** Timestamp source of chaos-log entries. */
  clock: () => string;
  /** Called before each retry (counts retries per call). */
  onRetry?: (info: RetryEvent) => void;
  /** Shards running at once: each enforces `1/shares` of the rate limits (default 1). */
  shares?: number;
}

/** The stack, and its chaos layer (for the chaos log) when chaos is on. */
export interface Stack {
  provider: LlmProvider;
  chaos: ChaosProvider | null;
  /** The rate-limit layer, when the calibration sets `rate_limits`. */
  rateLimit: RateLimitProvider | null;
}

/**
 * Builds `Retry(Chaos(Timeout(provider)))`; with calibration `rate_limits`, the rate-limit layer
 * sits between chaos and timeout: it sees only real calls (an injected fault spends no quota),
 * and its wait is not part of an attempt's timeout.
 */
export function buildStack(o: StackOptions): Stack {
  const sleep: SleepFn = o.timeScale === 1 ? realSleep : (ms, signal) => realSleep(ms * o.timeScale, signal);
  const timeout = new TimeoutProvider(o.provider, o.callTimeoutMs, maxResponseBytesOf(o.calibration));
  const rateLimit = RateLimitProvider.configured(o.calibration)
    ? new RateLimitProvider(timeout, { calibration: o.calibration, timeScale: o.timeScale, sleep, shares: o.shares })
    : null;
  const timed: LlmProvider = rateLimit ?? timeout;
  const chaos =
    o.chaosProfile === null
      ? null
      : new ChaosProvider(timed, {
          profile: o.chaosProfile === 'default' ? undefined : o.chaosProfile,
          seed: o.seed,
          calibration: o.calibration,
          clock: o.clock,
          sleep,
        });
  const provider = new RetryProvider(chaos ?? timed, {
    calibration: o.calibration,
    seed: o.seed,
    budget: o.budget,
    sleep,
    onRetry: o.onRetry,
  });
  return { provider, chaos, rateLimit };
}
