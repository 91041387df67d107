/**
 * `omega-pr/ai-sdk`: a Vercel AI SDK `LanguageModelMiddleware` (spec v4, package `ai` ≥ 7) that
 * puts omega-pr's budget, seeded chaos, seeded retries and atomic cache around any AI SDK model:
 *
 * ```ts
 * import { wrapLanguageModel } from 'ai';
 * import { omegaMiddleware } from 'omega-pr/ai-sdk';
 * const model = wrapLanguageModel({ model: anthropic('claude-sonnet-5-5'), middleware: omegaMiddleware({ budget, calibration }) });
 * ```
 *
 * - generate: every attempt reserves the worst case, settles the usage the model reports
 *   (`inputTokens.total` includes cache reads/writes; `outputTokens.total` the reasoning), and
 *   retries transient failures with the calibration's seeded policy (turn the provider's own
 *   retries off: `generateText({ maxRetries: 0 })`); with a cache, an identical call is answered
 *   from it (no money spent).
 * - stream: failures before the first part are retried; the stream then passes through with
 *   `ttftMs` / `tokensPerSecond` measured and the budget settled from the `finish` part. A
 *   stream that errors or is cancelled before `finish` is charged its reservation — never $0.
 *   Chaos can fail the start of a stream or cut it after a few parts (`truncated_response`).
 * This module imports nothing from `ai`: it only returns the middleware object.
 */
import { AtomicCache, BudgetTracker, ChaosEngine, RetryPolicy, sha256Hex, type RetryPolicyOptions } from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { ChaosProvider } from '../providers/chaos';
import { FAILURE_TYPE_CODES, OmegaProviderError, isAbortError, sleep as realSleep, toProviderError } from '../providers/errors';
import { RetryProvider } from '../providers/retry';
import type { GenerateResponse, LlmProvider, SleepFn, TokenUsage } from '../providers/types';
import { usageOf } from './common';

/** The AI SDK usage object (`LanguageModelV4Usage`), as far as the middleware reads it. */
interface UsageV4 {
  inputTokens?: { total?: unknown; cacheRead?: unknown; cacheWrite?: unknown };
  outputTokens?: { total?: unknown; reasoning?: unknown };
}

/** What the middleware reads of a `doGenerate` result. */
interface GenerateResultV4 {
  content: Array<{ type: string; text?: string; toolCallId?: string; toolName?: string; input?: string }>;
  usage: UsageV4;
  response?: { modelId?: string };
}

/** What the middleware reads of a stream part. */
interface StreamPartV4 {
  type: string;
  usage?: UsageV4;
  [key: string]: unknown;
}

/** The parameters the middleware reads (`LanguageModelV4CallOptions`). */
interface CallOptionsV4 {
  prompt: unknown;
  maxOutputTokens?: number;
  temperature?: number;
  tools?: unknown;
  responseFormat?: unknown;
  abortSignal?: AbortSignal;
}

interface ModelV4 {
  modelId: string;
  provider?: string;
}

/** The middleware object (structurally an AI SDK `LanguageModelMiddleware`, spec `v4`). */
export interface OmegaLanguageModelMiddleware {
  specificationVersion: 'v4';
  wrapGenerate: (o: { doGenerate: () => PromiseLike<GenerateResultV4>; doStream: () => PromiseLike<{ stream: ReadableStream<StreamPartV4> }>; params: CallOptionsV4; model: ModelV4 }) => Promise<GenerateResultV4>;
  wrapStream: (o: { doGenerate: () => PromiseLike<GenerateResultV4>; doStream: () => PromiseLike<{ stream: ReadableStream<StreamPartV4> }>; params: CallOptionsV4; model: ModelV4 }) => Promise<{ stream: ReadableStream<StreamPartV4> }>;
}

/** What `onCall` is told after each call. */
export interface OmegaCallInfo {
  model: string;
  /** `generate` or `stream`. */
  type: 'generate' | 'stream';
  /** Answered from the cache (nothing spent). */
  cached: boolean;
  usage?: TokenUsage;
  /** Streams: ms to the first text/tool part, and output tokens/s after it. */
  ttftMs?: number;
  tokensPerSecond?: number;
}

/** Options of {@link omegaMiddleware}. */
export interface OmegaMiddlewareOptions {
  /** Budget tracker every attempt reserves against (default: one over `calibration`). */
  budget?: BudgetTracker;
  /** Calibration (prices, retry policy, chaos profiles); default the shipped one. */
  calibration?: CalibrationDocument;
  /** Seed of chaos and retry jitter; default calibration `SEED`. */
  seed?: number;
  /** Chaos profile (`light`, `medium`, …) to inject faults, or null/undefined for none. */
  chaosProfile?: string | null;
  /** Retry policy overrides. */
  retry?: RetryPolicyOptions;
  /** Answers are written to / read from this atomic cache, keyed by model and call options. */
  cache?: AtomicCache | null;
  /** Sleep of backoffs and injected latency (tests pass a fast one). */
  sleep?: SleepFn;
  /** Called after each successful call. */
  onCall?: (info: OmegaCallInfo) => void;
}

/** Maps AI SDK usage to omega-pr's: totals already include cache reads/writes and reasoning. */
export function aiSdkUsage(u: UsageV4 | undefined): TokenUsage {
  const n0 = (v: unknown) => (v === undefined || v === null ? 0 : v);
  return usageOf({
    inputTokens: u?.inputTokens?.total,
    cachedInputTokens: n0(u?.inputTokens?.cacheRead),
    cacheWriteTokens: n0(u?.inputTokens?.cacheWrite),
    outputTokens: u?.outputTokens?.total,
    reasoningTokens: n0(u?.outputTokens?.reasoning),
  });
}

function bytesOf(params: CallOptionsV4): number {
  return Buffer.byteLength(JSON.stringify([params.prompt, params.tools ?? null]), 'utf8');
}

/** Creates the middleware. */
export function omegaMiddleware(options: OmegaMiddlewareOptions = {}): OmegaLanguageModelMiddleware {
  const calibration = options.calibration;
  const budget = options.budget ?? new BudgetTracker(calibration);
  const sleep = options.sleep ?? realSleep;
  const policy = new RetryPolicy({ calibration, seed: options.seed, ...(options.retry ?? {}) });
  const chaos = options.chaosProfile ? new ChaosEngine({ profile: options.chaosProfile, seed: options.seed, calibration }) : null;
  let nextIndex = 0;
  // One shared inner slot per generate call (the stack is per call: cheap objects).
  const keyOf = (model: ModelV4, p: CallOptionsV4) =>
    `ai-sdk/${model.modelId}/${sha256Hex(Buffer.from(JSON.stringify([p.prompt, p.tools ?? null, p.responseFormat ?? null, p.temperature ?? null, p.maxOutputTokens ?? null])))}`;

  const wrapGenerate: OmegaLanguageModelMiddleware['wrapGenerate'] = async ({ doGenerate, params, model }) => {
    const key = options.cache ? keyOf(model, params) : '';
    if (options.cache?.has(key)) {
      const hit = options.cache.get(key) as GenerateResultV4;
      options.onCall?.({ model: model.modelId, type: 'generate', cached: true });
      return hit;
    }
    let last: GenerateResultV4 | undefined;
    const inner: LlmProvider = {
      async generate(): Promise<GenerateResponse> {
        const r = await doGenerate();
        last = r;
        const text = r.content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('');
        const toolCalls = r.content.filter((c) => c.type === 'tool-call').map((c) => ({ id: String(c.toolCallId), name: String(c.toolName), arguments: String(c.input ?? '') }));
        return { text, toolCalls, usage: aiSdkUsage(r.usage), model: r.response?.modelId ?? model.modelId };
      },
    };
    const mid = chaos && options.chaosProfile ? new ChaosProvider(inner, { profile: options.chaosProfile, seed: options.seed, calibration, sleep }) : inner;
    const stack = new RetryProvider(mid, { policy, budget, sleep });
    const res = await stack.generate(
      { model: model.modelId, prompt: '', inputTokens: bytesOf(params), maxOutputTokens: params.maxOutputTokens, temperature: params.temperature, callIndex: nextIndex++ },
      params.abortSignal ? { signal: params.abortSignal } : undefined,
    );
    const result = last as GenerateResultV4;
    if (options.cache) await options.cache.setAsync(key, JSON.parse(JSON.stringify(result)) as unknown);
    options.onCall?.({ model: model.modelId, type: 'generate', cached: false, usage: res.usage });
    return result;
  };

  const wrapStream: OmegaLanguageModelMiddleware['wrapStream'] = async ({ doStream, params, model }) => {
    const callIndex = nextIndex++;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const reservation = budget.reserve({ callId: `call-${callIndex}#${attempt}`, model: model.modelId, inputTokens: bytesOf(params), maxOutputTokens: params.maxOutputTokens });
      const decision = chaos?.decide(callIndex, attempt);
      let cutAfter: number | undefined;
      try {
        const type = decision?.injected ? decision.failureType : undefined;
        if (type === 'latency') await sleep(decision?.latencyMs ?? 0, params.abortSignal);
        else if (type === 'truncated_response') cutAfter = 2 + (callIndex % 3);
        else if (type === 'timeout' || type === 'rate_limit' || type === 'server_error' || type === 'overloaded' || type === 'connection_reset') {
          throw new OmegaProviderError(FAILURE_TYPE_CODES[type], `chaos-injected ${type} (call ${callIndex}) before the stream started`, {
            injected: true,
            retryable: true,
            failureType: type,
            retryAfterMs: decision?.retryAfterMs ?? undefined,
            status: decision?.status ?? undefined,
            callIndex,
          });
        }
        const res = await doStream();
        return { ...res, stream: meter(res.stream, reservation.id, model.modelId, cutAfter, callIndex) };
      } catch (caught) {
        const err = toProviderError(caught, callIndex);
        budget.release(reservation.id);
        if (isAbortError(err)) throw err;
        const retryable = err instanceof OmegaProviderError ? err.retryable : false;
        const d = policy.decide({ callIndex, attempt, retryable, retryAfterMs: (err as { retryAfterMs?: number }).retryAfterMs, elapsedMs: Date.now() - started });
        if (!d.retry) throw err;
        await sleep(d.delayMs, params.abortSignal);
      }
    }
  };

  /** Passes the parts through; settles the budget from `finish`, else charges the reservation. */
  function meter(stream: ReadableStream<StreamPartV4>, reservationId: number, modelId: string, cutAfter: number | undefined, callIndex: number): ReadableStream<StreamPartV4> {
    const t0 = performance.now();
    let first: number | undefined;
    let parts = 0;
    let settled = false;
    const chargeAll = () => {
      if (!settled) {
        settled = true;
        budget.chargeReservation(reservationId);
      }
    };
    const reader = stream.getReader();
    return new ReadableStream<StreamPartV4>({
      async pull(controller) {
        let next: ReadableStreamReadResult<StreamPartV4>;
        try {
          next = await reader.read();
        } catch (err) {
          chargeAll();
          controller.error(toProviderError(err, callIndex));
          return;
        }
        if (next.done) {
          chargeAll();
          controller.close();
          return;
        }
        const part = next.value;
        parts++;
        if (first === undefined && (part.type === 'text-delta' || part.type === 'tool-input-delta' || part.type === 'reasoning-delta')) first = performance.now();
        if (part.type === 'finish' && !settled) {
          settled = true;
          const usage = aiSdkUsage(part.usage);
          try {
            budget.settle(reservationId, usage);
          } catch (err) {
            // Untrusted usage: the core charged the reservation; the stream reports the error.
            controller.enqueue({ type: 'error', error: err });
          }
          const secs = first === undefined ? 0 : (performance.now() - first) / 1000;
          const out = typeof usage.outputTokens === 'number' ? usage.outputTokens : 0;
          options.onCall?.({ model: modelId, type: 'stream', cached: false, usage, ttftMs: first === undefined ? undefined : first - t0, tokensPerSecond: secs > 0 ? out / secs : undefined });
        }
        if (part.type === 'error') chargeAll();
        controller.enqueue(part);
        if (cutAfter !== undefined && parts >= cutAfter && !settled) {
          chargeAll();
          controller.enqueue({ type: 'error', error: new OmegaProviderError('ERR_OMEGA_CONNECTION_RESET', `chaos-injected stream cut after ${parts} parts (call ${callIndex})`, { injected: true, retryable: true, failureType: 'truncated_response', callIndex }) });
          controller.close();
          void reader.cancel();
        }
      },
      cancel(reason) {
        chargeAll();
        return reader.cancel(reason);
      },
    });
  }

  return { specificationVersion: 'v4', wrapGenerate, wrapStream };
}
