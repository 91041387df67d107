/**
 * `RetryProvider`: retries transient failures of an `LlmProvider` with the native seeded policy
 * (exponential backoff with full jitter keyed by `(seed, callIndex, attempt)`, `retry-after`
 * honoured within `max_retry_after_ms`, never past `deadline_ms`, at most `max_attempts`).
 *
 * - Budget: with a `BudgetTracker`, every attempt reserves its worst case first and settles the
 *   billed usage (or releases the reservation when nothing was billed). A refused reservation
 *   (`ERR_OMEGA_BUDGET_EXCEEDED`) stops at once and is thrown.
 * - Empty or whitespace-only text is `ERR_OMEGA_EMPTY_RESPONSE` (retryable): never a success.
 * - Giving up rethrows the last error with `attempts` (and `retryReason`) set on it.
 * - Aborts (`signal` of the constructor or of the call) cut a backoff sleep short and reject with
 *   `ERR_OMEGA_ABORTED` (`name === 'AbortError'`).
 */
import {
  RetryPolicy,
  defaultCalibrationJson,
  isRetryable as nativeIsRetryable,
  isRetryableStatus,
  type BudgetTracker,
  type RetryDecision,
  type RetryPolicyOptions,
} from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { OmegaError } from '../errors';
import {
  OmegaProviderError,
  abortError,
  combineSignals,
  emptyResponseError,
  isAbortError,
  isEmptyResponse,
  oversizeBytes,
  responseTooLargeError,
  sleep as realSleep,
  toProviderError,
} from './errors';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, SleepFn, TokenUsage } from './types';

/** Options of a `RetryProvider`. */
export interface RetryProviderOptions {
  /** A native policy, or options for one (calibration `retry` with overrides). */
  policy?: RetryPolicy | RetryPolicyOptions;
  /** Calibration (used when `policy` is not a `RetryPolicy` instance). */
  calibration?: CalibrationDocument;
  /** Jitter seed (used when `policy` is not a `RetryPolicy` instance); default calibration `SEED`. */
  seed?: number;
  /** Budget tracker: reserve before each attempt, settle/release after. */
  budget?: BudgetTracker;
  /** Aborts every call of this provider. */
  signal?: AbortSignal;
  /** Sleep between attempts; default real timers (abortable). */
  sleep?: SleepFn;
  /** Clock in ms for the deadline; default `Date.now`. */
  now?: () => number;
  /** Called before each backoff sleep. */
  onRetry?: (info: RetryEvent) => void;
  /**
   * Largest answer accepted, bytes of UTF-8 text; default calibration `max_response_bytes`
   * (shipped: 4 MiB). A larger answer is `ERR_OMEGA_RESPONSE_TOO_LARGE` (not retryable).
   */
  maxResponseBytes?: number;
}

let shippedMaxResponseBytes: number | undefined;
/** Calibration `max_response_bytes` of `calibration`, or of the shipped calibration. */
export function maxResponseBytesOf(calibration?: CalibrationDocument): number {
  if (calibration !== undefined && typeof calibration.max_response_bytes === 'number') return calibration.max_response_bytes;
  shippedMaxResponseBytes ??= (JSON.parse(defaultCalibrationJson()) as CalibrationDocument).max_response_bytes;
  return shippedMaxResponseBytes;
}

/** What `onRetry` is told. */
export interface RetryEvent {
  /** Index of the logical call. */
  callIndex: number;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Its error. */
  error: unknown;
  /** The decision (delay, reason). */
  decision: RetryDecision;
}

/**
 * Whether an error is worth retrying: an `OmegaProviderError` says so itself; otherwise by its
 * `code` (`ERR_OMEGA_…`, `ECONNRESET`, …) or HTTP `status`. Budget refusals, invalid requests,
 * unknown models, aborts and unknown errors are not retryable.
 */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof OmegaProviderError) return err.retryable;
  if (typeof err !== 'object' || err === null || isAbortError(err)) return false;
  const { code, status } = err as { code?: unknown; status?: unknown };
  if (typeof code === 'string') return nativeIsRetryable(code);
  if (typeof status === 'number' && Number.isInteger(status) && status >= 0) return isRetryableStatus(status);
  return false;
}

function setOn(err: unknown, key: string, value: unknown): void {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
    try {
      (err as Record<string, unknown>)[key] = value;
    } catch {
      // A frozen or read-only property: leave the error as it is.
    }
  }
}

function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
}

function usageOf(err: unknown): TokenUsage | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const u = (err as { usage?: unknown }).usage;
  return typeof u === 'object' && u !== null ? (u as TokenUsage) : undefined;
}

/** UTF-8 bytes of a request's prompt and messages: an upper bound of its prompt tokens. */
export function requestBytes(request: GenerateRequest): number {
  let n = request.prompt === undefined ? 0 : Buffer.byteLength(request.prompt, 'utf8');
  for (const m of request.messages ?? []) n += Buffer.byteLength(typeof m.content === 'string' ? m.content : JSON.stringify(m.content), 'utf8') + 4;
  if (request.tools !== undefined) n += Buffer.byteLength(JSON.stringify(request.tools), 'utf8');
  return n;
}

/** Wraps a provider with seeded retries. */
export class RetryProvider implements LlmProvider {
  /** The native policy. */
  readonly policy: RetryPolicy;
  private readonly inner: LlmProvider;
  private readonly budget?: BudgetTracker;
  private readonly signal?: AbortSignal;
  private readonly sleep: SleepFn;
  private readonly now: () => number;
  private readonly onRetry?: (info: RetryEvent) => void;
  private readonly maxResponseBytes: number;
  private nextIndex = 0;

  constructor(inner: LlmProvider, options: RetryProviderOptions = {}) {
    this.inner = inner;
    this.policy =
      options.policy instanceof RetryPolicy
        ? options.policy
        : new RetryPolicy({ calibration: options.calibration, seed: options.seed, ...(options.policy ?? {}) });
    this.budget = options.budget;
    this.signal = options.signal;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.onRetry = options.onRetry;
    this.maxResponseBytes = options.maxResponseBytes ?? maxResponseBytesOf(options.calibration);
    if (!Number.isSafeInteger(this.maxResponseBytes) || this.maxResponseBytes < 1) {
      throw new OmegaError('ERR_OMEGA_INVALID_ARGUMENT', `invalid argument \`maxResponseBytes\`: must be a whole number ≥ 1, got ${String(this.maxResponseBytes)}`, { field: 'maxResponseBytes' });
    }
  }

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse> {
    const callIndex = request.callIndex ?? this.nextIndex++;
    const { signal, dispose } = combineSignals(this.signal, options?.signal);
    const started = this.now();
    try {
      for (let attempt = 1; ; attempt++) {
        if (signal?.aborted) throw abortError(signal);
        try {
          return await this.attempt(request, attempt, callIndex, signal);
        } catch (err) {
          setOn(err, 'attempts', attempt);
          if (isAbortError(err)) throw err;
          const decision = this.policy.decide({
            callIndex,
            attempt,
            retryable: isRetryableError(err),
            retryAfterMs: retryAfterOf(err),
            elapsedMs: Math.max(0, this.now() - started),
          });
          if (!decision.retry) {
            setOn(err, 'retryReason', decision.reason);
            throw err;
          }
          this.onRetry?.({ callIndex, attempt, error: err, decision });
          await this.sleep(decision.delayMs, signal);
        }
      }
    } finally {
      dispose();
    }
  }

  private async attempt(
    request: GenerateRequest,
    attempt: number,
    callIndex: number,
    signal: AbortSignal | undefined,
  ): Promise<GenerateResponse> {
    const budget = this.budget;
    // A refused reservation throws ERR_OMEGA_BUDGET_EXCEEDED (not retryable): the call is not made.
    const reservation = budget?.reserve({
      callId: `call-${callIndex}#${attempt}`,
      sceneId: request.sceneId,
      model: request.model,
      inputTokens: request.inputTokens ?? requestBytes(request),
      maxOutputTokens: request.maxOutputTokens,
    });
    let response: GenerateResponse;
    try {
      response = await this.inner.generate({ ...request, attempt }, signal === undefined ? undefined : { signal });
      // Too large an answer is a fault: settled as billed, never returned nor kept.
      const bytes = oversizeBytes(response?.text, this.maxResponseBytes);
      if (bytes !== null) throw responseTooLargeError(bytes, this.maxResponseBytes, callIndex, response?.usage);
    } catch (caught) {
      const err = toProviderError(caught, callIndex);
      if (budget !== undefined && reservation !== undefined) {
        const billed = usageOf(err);
        if (billed !== undefined) budget.settle(reservation.id, billed);
        else if ((err as { billedUnknown?: unknown }).billedUnknown === true) budget.chargeReservation(reservation.id);
        else budget.release(reservation.id);
      }
      throw err;
    }
    if (budget !== undefined && reservation !== undefined) {
      if (response?.usage !== undefined) budget.settle(reservation.id, response.usage);
      else budget.release(reservation.id);
    }
    if (isEmptyResponse(response)) throw emptyResponseError(callIndex, response?.usage, false);
    return response;
  }
}
