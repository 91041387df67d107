/**
 * Typed provider errors. Every failure that leaves a provider wrapper is an `Error` with a
 * stable `code`; chaos-injected ones say so (`injected: true`, `failureType`).
 *
 * Aborts: a cancelled call or backoff sleep rejects with an `OmegaProviderError` whose `code` is
 * `ERR_OMEGA_ABORTED` and `name` is `'AbortError'` (so `err.name === 'AbortError'` checks work);
 * `cause` is the signal's reason.
 */
import { classifyFailure, failureTypeErrorCode, type ChaosDecision, type TokenUsage } from '../../native';
import type { SleepFn } from './types';

/** The failure types chaos can inject. */
export type FailureTypeName = NonNullable<ChaosDecision['failureType']>;

/** Codes of provider errors. */
export type OmegaProviderErrorCode =
  | 'ERR_OMEGA_PROVIDER_TIMEOUT'
  | 'ERR_OMEGA_RATE_LIMIT'
  | 'ERR_OMEGA_SERVER_ERROR'
  | 'ERR_OMEGA_OVERLOADED'
  | 'ERR_OMEGA_CONNECTION_RESET'
  | 'ERR_OMEGA_EMPTY_RESPONSE'
  | 'ERR_OMEGA_TRUNCATED_RESPONSE'
  | 'ERR_OMEGA_MALFORMED_JSON'
  | 'ERR_OMEGA_ABORTED'
  | 'ERR_OMEGA_NETWORK'
  | 'ERR_OMEGA_PROVIDER'
  | 'ERR_OMEGA_PROVIDER_BAD_REQUEST'
  | 'ERR_OMEGA_PROVIDER_AUTH'
  | 'ERR_OMEGA_PROVIDER_FORBIDDEN'
  | 'ERR_OMEGA_PROVIDER_NOT_FOUND'
  | 'ERR_OMEGA_PROVIDER_HTTP'
  | 'ERR_OMEGA_INVALID_USAGE'
  | 'ERR_OMEGA_RESPONSE_TOO_LARGE';

type FaultName = Exclude<FailureTypeName, 'latency'>;
const FAULTS: FaultName[] = [
  'timeout',
  'rate_limit',
  'server_error',
  'overloaded',
  'connection_reset',
  'empty_response',
  'truncated_response',
  'malformed_json',
];

/**
 * The error code thrown for each failure type (`latency` is a delay, then success): the core's
 * rule (`FailureType::error_code`), read once through `failureTypeErrorCode`.
 */
export const FAILURE_TYPE_CODES: Readonly<Record<FaultName, OmegaProviderErrorCode>> = Object.freeze(
  Object.fromEntries(FAULTS.map((t) => [t, failureTypeErrorCode(t) as OmegaProviderErrorCode])) as Record<FaultName, OmegaProviderErrorCode>,
);

/** Details of an `OmegaProviderError`. */
export interface OmegaProviderErrorDetails {
  /** Whether chaos injected the failure. */
  injected: boolean;
  /** Whether retrying may help. */
  retryable: boolean;
  /** The injected failure type. */
  failureType?: FailureTypeName;
  /** `retry-after` hint, ms. */
  retryAfterMs?: number;
  /** HTTP status (429, 500, 503, 529). */
  status?: number;
  /** Index of the call that failed. */
  callIndex?: number;
  /** Tokens billed although the call failed (e.g. an empty or truncated answer). */
  usage?: TokenUsage;
  /**
   * The request reached the API and may be billed, but no usage is known (a stream cut before
   * its usage event): the budget charges the whole reservation, never $0.
   */
  billedUnknown?: boolean;
  /** Underlying cause. */
  cause?: unknown;
}

/** A provider failure with a stable `code`. */
export class OmegaProviderError extends Error {
  /** Stable code (a user provider's own `code` is kept when it is not a known transient one). */
  readonly code: OmegaProviderErrorCode | (string & {});
  /** Whether chaos injected the failure. */
  readonly injected: boolean;
  /** Whether retrying may help. */
  readonly retryable: boolean;
  /** The injected failure type. */
  readonly failureType?: FailureTypeName;
  /** `retry-after` hint, ms. */
  readonly retryAfterMs?: number;
  /** HTTP status. */
  readonly status?: number;
  /** Index of the call that failed. */
  readonly callIndex?: number;
  /** Tokens billed although the call failed. */
  readonly usage?: TokenUsage;
  /** The call may be billed but its usage is unknown: charged at the reservation. */
  readonly billedUnknown?: boolean;
  /** Attempts made before giving up (set by `RetryProvider`). */
  attempts?: number;

  constructor(code: OmegaProviderErrorCode | (string & {}), message: string, details: OmegaProviderErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.name = code === 'ERR_OMEGA_ABORTED' ? 'AbortError' : 'OmegaProviderError';
    this.injected = details.injected;
    this.retryable = details.retryable;
    if (details.failureType !== undefined) this.failureType = details.failureType;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.status !== undefined) this.status = details.status;
    if (details.callIndex !== undefined) this.callIndex = details.callIndex;
    if (details.usage !== undefined) this.usage = details.usage;
    if (details.billedUnknown === true) this.billedUnknown = true;
  }
}

/** Whether `err` is an `OmegaProviderError`. */
export function isOmegaProviderError(err: unknown): err is OmegaProviderError {
  return err instanceof OmegaProviderError;
}

/** The abort error (`ERR_OMEGA_ABORTED`, name `AbortError`) for `signal`. */
export function abortError(signal?: AbortSignal): OmegaProviderError {
  return new OmegaProviderError('ERR_OMEGA_ABORTED', 'the call was aborted', {
    injected: false,
    retryable: false,
    cause: signal?.reason,
  });
}

/** Whether `err` is an abort (ours, or a DOM/Node `AbortError`). */
export function isAbortError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; name?: unknown };
  return e.code === 'ERR_OMEGA_ABORTED' || e.code === 'ABORT_ERR' || e.name === 'AbortError';
}

/** The empty-response error: a provider answered with no (or only whitespace) text. */
export function emptyResponseError(callIndex: number | undefined, usage: TokenUsage | undefined, injected: boolean): OmegaProviderError {
  return new OmegaProviderError(
    'ERR_OMEGA_EMPTY_RESPONSE',
    `${injected ? 'chaos-injected ' : ''}empty response${callIndex === undefined ? '' : ` (call ${callIndex})`}: the provider returned no text`,
    { injected, retryable: true, failureType: injected ? 'empty_response' : undefined, callIndex, usage },
  );
}

/**
 * Bytes (UTF-8) of `text` when it exceeds `maxBytes`, else `null`. Cheap for ordinary answers:
 * a string of n UTF-16 units has between n and 3n UTF-8 bytes, so only a borderline one is
 * measured.
 */
export function oversizeBytes(text: unknown, maxBytes: number): number | null {
  if (typeof text !== 'string' || text.length * 3 <= maxBytes) return null;
  // Every UTF-16 unit is at least one UTF-8 byte: no need to measure (nor flatten) a huge answer.
  if (text.length > maxBytes) return text.length;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > maxBytes ? bytes : null;
}

/**
 * The answer-too-large fault (`ERR_OMEGA_RESPONSE_TOO_LARGE`, not retryable): the provider's
 * answer exceeded calibration `max_response_bytes`. The answer itself is not kept (only its size).
 */
export function responseTooLargeError(bytes: number, maxBytes: number, callIndex: number | undefined, usage: TokenUsage | undefined): OmegaProviderError {
  return new OmegaProviderError(
    'ERR_OMEGA_RESPONSE_TOO_LARGE',
    `response of at least ${bytes} bytes${callIndex === undefined ? '' : ` (call ${callIndex})`} exceeds calibration max_response_bytes (${maxBytes}); it was dropped`,
    { injected: false, retryable: false, callIndex, usage },
  );
}

/** Whether a response is empty: no text (missing, empty or whitespace only) and no tool calls. */
export function isEmptyResponse(res: { text?: unknown; toolCalls?: unknown } | undefined): boolean {
  return isEmptyText(res?.text) && !(Array.isArray(res?.toolCalls) && res.toolCalls.length > 0);
}

/** Whether a response text counts as empty (missing, empty or whitespace only). */
export function isEmptyText(text: unknown): boolean {
  return typeof text !== 'string' || text.trim().length === 0;
}

/** Sleeps `ms` (real timers); rejects with `ERR_OMEGA_ABORTED` as soon as `signal` aborts. */
export const sleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * A signal that aborts when any of `signals` does (undefined ones ignored); `dispose` removes
 * the listeners.
 */
export function combineSignals(...signals: Array<AbortSignal | undefined>): { signal?: AbortSignal; dispose: () => void } {
  const real = signals.filter((s): s is AbortSignal => s !== undefined);
  if (real.length === 0) return { dispose: () => {} };
  if (real.length === 1) return { signal: real[0], dispose: () => {} };
  const controller = new AbortController();
  const listeners: Array<[AbortSignal, () => void]> = [];
  for (const s of real) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    const fn = (): void => controller.abort(s.reason);
    s.addEventListener('abort', fn, { once: true });
    listeners.push([s, fn]);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [s, fn] of listeners) s.removeEventListener('abort', fn);
    },
  };
}

function field(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined;
}

function headerOf(err: unknown, name: string): string | undefined {
  const h = field(err, 'headers');
  if (h === undefined || h === null) return undefined;
  if (typeof (h as { get?: unknown }).get === 'function') {
    const v = (h as { get(n: string): unknown }).get(name);
    return typeof v === 'string' ? v : undefined;
  }
  const v = field(h, name);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * Turns any failure of a provider into an `OmegaProviderError` with a stable code, classified by
 * the core's one rule (`classifyFailure`): HTTP 429 (with `retry-after-ms` / `retry-after`), 529,
 * 500/502/503/504, 408 and network-ish codes (`ECONNRESET`, `ETIMEDOUT`, `EAI_AGAIN`, … also on
 * `err.cause`) are retryable; 400/401/403/404 and anything unknown surface at once. The
 * original message (the API's own words for an SDK error) is kept, and the original error is
 * the `cause`. `OmegaProviderError`s and aborts pass through unchanged.
 */
export function toProviderError(err: unknown, callIndex?: number): unknown {
  if (err instanceof OmegaProviderError || isAbortError(err)) return err;
  // Already one of ours (a native error, a user module speaking our codes): unchanged.
  const own = field(err, 'code');
  if (typeof own === 'string' && own.startsWith('ERR_OMEGA_') && field(err, 'status') === undefined) return err;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const rawStatus = field(err, 'status');
  const status = typeof rawStatus === 'number' && Number.isInteger(rawStatus) && rawStatus >= 100 && rawStatus <= 999 ? rawStatus : undefined;
  const cls = classifyFailure({
    code: str(field(err, 'code')),
    causeCode: str(field(field(err, 'cause'), 'code')),
    status,
    name: str(field(err, 'name')),
    retryAfterMsHeader: headerOf(err, 'retry-after-ms'),
    retryAfterHeader: headerOf(err, 'retry-after'),
  });
  const hint = field(err, 'retryAfterMs');
  const retryAfterMs = cls.retryAfterMs ?? (cls.retryable && typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined);
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : String(err);
  const usage = field(err, 'usage');
  const out = new OmegaProviderError(cls.code, message === '' ? `provider failed (${cls.code})` : message, {
    injected: false,
    retryable: cls.retryable,
    status,
    retryAfterMs,
    callIndex,
    usage: typeof usage === 'object' && usage !== null ? (usage as TokenUsage) : undefined,
    cause: err,
  });
  return out;
}
