/**
 * `ChaosProvider`: wraps an `LlmProvider` and injects seeded faults (PR-3). Each call takes the
 * next call index (or `request.callIndex`), asks the native `ChaosEngine` — whose decision is a
 * pure function of `(seed, profile, callIndex, attempt)` — and then:
 *
 * - no fault: calls the inner provider; an empty/whitespace answer throws
 *   `ERR_OMEGA_EMPTY_RESPONSE` (`injected: false`): no silent success;
 * - `latency`: sleeps the drawn delay, then calls the inner provider;
 * - `timeout`, `rate_limit` (429, `retryAfterMs`), `server_error` (500/503), `overloaded` (529),
 *   `connection_reset`: throws the coded `OmegaProviderError` without calling the inner provider;
 * - `empty_response`, `truncated_response`, `malformed_json`: calls the inner provider (the
 *   tokens are billed, and reported on `err.usage`), discards/corrupts the answer and throws.
 *
 * Every call is recorded; `chaosLog()` / `chaosLogJson()` give `chaos-log.json` (built by the
 * core: runbook field names, entries sorted by call index, byte-identical for the same seed).
 */
import { ChaosEngine, applyOutcomeFault, decideOutcome, parseSourceDateEpoch, type ChaosDecision, type ChaosLogDocument, type ChaosLogEntryInput } from '../../native';
import type { CalibrationDocument } from '../../report-types';
import {
  FAILURE_TYPE_CODES,
  OmegaProviderError,
  emptyResponseError,
  isEmptyResponse,
  toProviderError,
  sleep as realSleep,
  type FailureTypeName,
} from './errors';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, SleepFn } from './types';

/** Outcome faults: answers that arrive, corrupted (profile `outcome_faults` of the calibration). */
export type OutcomeFaultName = 'truncated' | 'refusal' | 'malformed_json' | 'renamed_key' | 'empty_billed' | 'latency_spike';

/** One outcome fault delivered (logged in `chaos-log.json` → `delivered_faults`). */
export interface DeliveredFault {
  call_index: number;
  attempt: number;
  scene_id?: string;
  fault: OutcomeFaultName;
  delivered: true;
  latency_ms?: number;
}

/** What became of a call, as the chaos log records it. */
export type ChaosOutcome = 'passed' | 'recovered' | 'surfaced' | 'failed';

/** Options of a `ChaosProvider`. */
export interface ChaosProviderOptions {
  /** Calibration profile (`light`, `medium`, `heavy`, `hellfire`); omitted: `CHAOS_RATE`, every failure type. */
  profile?: string;
  /** Seed (non-negative safe integer); default calibration `SEED`. */
  seed?: number;
  /** Calibration document; default the shipped one. */
  calibration?: CalibrationDocument;
  /** Timestamp source of log entries; default ISO time, or `SOURCE_DATE_EPOCH` when set. */
  clock?: () => string;
  /** Sleep used for `latency` faults; default real timers (abortable). */
  sleep?: SleepFn;
}

/** Default clock: `SOURCE_DATE_EPOCH` (seconds) when set, else now, as ISO 8601. */
export function defaultClock(): string {
  const secs = parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
  return (secs === null ? new Date() : new Date(secs * 1000)).toISOString();
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Wraps a provider with seeded fault injection. */
export class ChaosProvider implements LlmProvider {
  /** The native decision engine (seed, profile, rate, failure types). */
  readonly engine: ChaosEngine;
  private readonly inner: LlmProvider;
  private readonly clock: () => string;
  private readonly sleep: SleepFn;
  private nextIndex = 0;
  private readonly entries: ChaosLogEntryInput[] = [];
  private readonly outcome: { rate: number; weights: Record<string, number> } | null;
  private readonly spikeMs: [number, number];
  /** Outcome faults delivered so far. */
  readonly delivered: DeliveredFault[] = [];
  private drainedEntries = 0;
  private drainedDelivered = 0;

  /**
   * Throws `ERR_OMEGA_UNKNOWN_PROFILE` for an unknown profile, `ERR_OMEGA_SEED_RANGE` for a bad
   * seed, `ERR_OMEGA_CALIBRATION` for an invalid calibration.
   */
  constructor(inner: LlmProvider, options: ChaosProviderOptions = {}) {
    this.inner = inner;
    this.engine = new ChaosEngine({ profile: options.profile, seed: options.seed, calibration: options.calibration });
    this.clock = options.clock ?? defaultClock;
    this.sleep = options.sleep ?? realSleep;
    const profile = options.profile === undefined ? undefined : options.calibration?.chaos_profiles[options.profile];
    this.outcome = profile?.outcome_faults ?? null;
    const max = options.calibration?.chaos_faults.latency_ms_max ?? 1500;
    this.spikeMs = [max, max * 4];
  }

  /** Profile name (`default` without one). */
  get profile(): string {
    return this.engine.profile;
  }

  /** Injection rate. */
  get rate(): number {
    return this.engine.rate;
  }

  /** Seed. */
  get seed(): number {
    return this.engine.seed;
  }

  /** Whether the profile delivers outcome faults (`outcome_faults` in the calibration). */
  get hasOutcomeFaults(): boolean {
    return this.outcome !== null;
  }

  /** Calls recorded so far. */
  get callCount(): number {
    return this.entries.length;
  }

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse> {
    const explicit = request.callIndex !== undefined;
    const callIndex = explicit ? (request.callIndex as number) : this.nextIndex++;
    // With an explicit index a retried call draws afresh per attempt; with arrival numbering
    // every attempt already has its own index.
    const attempt = explicit ? request.attempt : undefined;
    const timestamp = this.clock();
    const decision = this.engine.decide(callIndex, attempt);
    const entry: ChaosLogEntryInput = { callIndex, timestamp };
    if (attempt !== undefined) entry.attempt = attempt;
    if (request.sceneId !== undefined) entry.sceneId = request.sceneId;
    const record = (outcome: ChaosOutcome, err?: unknown): void => {
      entry.outcome = outcome;
      const code = errorCode(err);
      if (code !== undefined) entry.errorCode = code;
      // The provider's own failure keeps its words (a plain Error's message, the API's message).
      if (outcome === 'failed' && err instanceof Error && err.message !== '') entry.errorMessage = err.message;
      this.entries.push(entry);
    };
    try {
      const thrown = decision.injected && decision.failureType !== 'latency';
      if (!thrown && this.outcome !== null) {
        const od = decideOutcome(this.engine.seed, callIndex, attempt ?? 1, this.outcome, this.spikeMs[0], this.spikeMs[1]);
        if (od.fault !== undefined && od.fault !== null) {
          const response = await this.deliver(request, options, decision, od.fault as OutcomeFaultName, od.latencyMs ?? 0, callIndex, attempt ?? 1);
          record(decision.injected ? 'recovered' : 'passed');
          return response;
        }
      }
      const response = await this.run(request, options, decision, callIndex);
      record(decision.injected ? 'recovered' : 'passed');
      return response;
    } catch (caught) {
      const err = toProviderError(caught, callIndex);
      const injected = err instanceof OmegaProviderError && err.injected;
      record(injected ? 'surfaced' : 'failed', err);
      throw err;
    }
  }

  /** Calls the inner provider and delivers its answer corrupted by `fault` (it returns, never throws). */
  private async deliver(
    request: GenerateRequest,
    options: GenerateOptions | undefined,
    decision: ChaosDecision,
    fault: OutcomeFaultName,
    spikeMs: number,
    callIndex: number,
    attempt: number,
  ): Promise<GenerateResponse> {
    if (decision.injected && decision.failureType === 'latency') await this.sleep(decision.latencyMs ?? 0, options?.signal);
    if (fault === 'latency_spike') await this.sleep(spikeMs, options?.signal);
    const response = await this.inner.generate(request, options);
    if (isEmptyResponse(response)) throw emptyResponseError(callIndex, response?.usage, false);
    const entry: DeliveredFault = { call_index: callIndex, attempt, fault, delivered: true };
    if (request.sceneId !== undefined) entry.scene_id = request.sceneId;
    if (fault === 'latency_spike') entry.latency_ms = spikeMs;
    this.delivered.push(entry);
    const out = { ...response, text: applyOutcomeFault(fault, response.text), outcomeFault: fault } as GenerateResponse & { outcomeFault: OutcomeFaultName; latencyMs?: number };
    const reported = (response as { latencyMs?: unknown }).latencyMs;
    if (fault === 'latency_spike' && typeof reported === 'number') out.latencyMs = reported + spikeMs;
    // `empty_billed` returns an empty text with the usage billed: the retry layer turns it into
    // ERR_OMEGA_EMPTY_RESPONSE (billed) and retries — the stack catches it.
    return out;
  }

  private async run(
    request: GenerateRequest,
    options: GenerateOptions | undefined,
    decision: ChaosDecision,
    callIndex: number,
  ): Promise<GenerateResponse> {
    const type = decision.failureType as FailureTypeName | undefined;
    if (!decision.injected || type === undefined) {
      const response = await this.inner.generate(request, options);
      if (isEmptyResponse(response)) throw emptyResponseError(callIndex, response?.usage, false);
      return response;
    }
    if (type === 'latency') {
      await this.sleep(decision.latencyMs ?? 0, options?.signal);
      const response = await this.inner.generate(request, options);
      if (isEmptyResponse(response)) throw emptyResponseError(callIndex, response?.usage, false);
      return response;
    }
    const code = FAILURE_TYPE_CODES[type];
    const base = { injected: true, retryable: true, failureType: type, callIndex } as const;
    switch (type) {
      case 'timeout':
        throw new OmegaProviderError(code, `chaos-injected timeout (call ${callIndex}): the provider did not answer in time`, base);
      case 'rate_limit':
        throw new OmegaProviderError(
          code,
          `chaos-injected rate limit (call ${callIndex}): HTTP ${decision.status}, retry after ${decision.retryAfterMs} ms`,
          { ...base, status: decision.status, retryAfterMs: decision.retryAfterMs },
        );
      case 'server_error':
        throw new OmegaProviderError(code, `chaos-injected server error (call ${callIndex}): HTTP ${decision.status}`, {
          ...base,
          status: decision.status,
        });
      case 'overloaded':
        throw new OmegaProviderError(code, `chaos-injected overload (call ${callIndex}): HTTP ${decision.status}`, {
          ...base,
          status: decision.status,
        });
      case 'connection_reset':
        throw new OmegaProviderError(code, `chaos-injected connection reset (call ${callIndex})`, base);
      default: {
        // empty_response, truncated_response, malformed_json: the call happens (and is billed),
        // its answer is discarded or corrupted, and the failure surfaces.
        const response = await this.inner.generate(request, options);
        const usage = response?.usage;
        if (type === 'empty_response') throw emptyResponseError(callIndex, usage, true);
        const text = typeof response?.text === 'string' ? response.text : '';
        const what =
          type === 'truncated_response'
            ? `response cut short after ${Math.floor(text.length / 2)} of ${text.length} characters`
            : 'response is not valid JSON';
        throw new OmegaProviderError(code, `chaos-injected ${type.replace('_', ' ')} (call ${callIndex}): ${what}`, {
          ...base,
          usage,
        });
      }
    }
  }

  /**
   * The log entries and delivered outcome faults recorded since the last call: a run journal
   * files them with the run they belong to (`chaosLog()` still sees every entry).
   */
  drain(): { entries: ChaosLogEntryInput[]; delivered: DeliveredFault[] } {
    const entries = this.entries.slice(this.drainedEntries);
    const delivered = this.delivered.slice(this.drainedDelivered);
    this.drainedEntries = this.entries.length;
    this.drainedDelivered = this.delivered.length;
    return { entries, delivered };
  }

  /** The `chaos-log.json` object (snake_case, runbook key order, entries sorted by call index). */
  chaosLog(): ChaosLogDocument {
    const log = JSON.parse(this.chaosLogJson()) as ChaosLogDocument & { delivered_faults?: DeliveredFault[] };
    if (this.outcome !== null) log.delivered_faults = sortDelivered(this.delivered);
    return log;
  }

  /** `chaos-log.json` text (byte-identical for the same seed, calls and clock). */
  chaosLogJson(): string {
    return this.engine.buildLogJson(this.entries);
  }
}

/** Delivered outcome faults in (call index, attempt) order: the same whatever the completion order. */
export function sortDelivered(list: DeliveredFault[]): DeliveredFault[] {
  return [...list].sort((a, b) => a.call_index - b.call_index || a.attempt - b.attempt);
}
