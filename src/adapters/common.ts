/**
 * What the SDK adapters share: request normalisation (`prompt` shorthand → messages), streaming
 * metrics (time to first token, tokens/s) and the conservative settlement of a cut stream.
 */
import { OmegaProviderError, isAbortError, toProviderError } from '../providers/errors';
import type { ChatMessage, GenerateRequest, GenerateResponse, TokenUsage } from '../providers/types';

/** The request's conversation: `messages`, then `prompt` as a last user message. */
export function messagesOf(request: GenerateRequest): ChatMessage[] {
  const out = [...(request.messages ?? [])];
  if (request.prompt !== undefined) out.push({ role: 'user', content: request.prompt });
  if (out.length === 0) {
    throw new OmegaProviderError('ERR_OMEGA_PROVIDER_BAD_REQUEST', 'request has neither `prompt` nor `messages`', {
      injected: false,
      retryable: false,
      callIndex: request.callIndex,
    });
  }
  return out;
}

/** Measures a stream: request start, first content token, end. */
export class StreamClock {
  private readonly started = performance.now();
  private first: number | undefined;

  /** Marks content arriving (the first call fixes the time to first token). */
  token(): void {
    if (this.first === undefined) this.first = performance.now();
  }

  /** Time to first token and tokens/s after it (output tokens over the time since the first token). */
  finish(outputTokens: unknown): Pick<GenerateResponse, 'ttftMs' | 'tokensPerSecond'> {
    const end = performance.now();
    if (this.first === undefined) return {};
    const ttftMs = Math.round((this.first - this.started) * 1000) / 1000;
    const secs = (end - this.first) / 1000;
    const n = typeof outputTokens === 'number' && Number.isFinite(outputTokens) ? outputTokens : 0;
    const tokensPerSecond = secs > 0 ? Math.round((n / secs) * 1000) / 1000 : n;
    return { ttftMs, tokensPerSecond };
  }
}

/**
 * The error of a stream that failed after the request was sent. Classified like any failure
 * (a reset mid-stream is `ERR_OMEGA_CONNECTION_RESET`, retryable); its money is settled
 * conservatively: the tokens the API reported so far when it reported any (`partial`), else the
 * whole reservation (`billedUnknown`) — never $0. An abort keeps `ERR_OMEGA_ABORTED`.
 */
export function streamFailure(err: unknown, callIndex: number | undefined, partial: TokenUsage | undefined): OmegaProviderError {
  const base = toProviderError(err, callIndex);
  const abort = isAbortError(base);
  const cls = base instanceof OmegaProviderError ? base : undefined;
  const code = abort ? 'ERR_OMEGA_ABORTED' : (cls?.code ?? 'ERR_OMEGA_PROVIDER');
  const message = err instanceof Error ? err.message : String(err);
  const out = new OmegaProviderError(code, `stream failed: ${message}`, {
    injected: false,
    retryable: abort ? false : (cls?.retryable ?? false),
    status: cls?.status,
    retryAfterMs: cls?.retryAfterMs,
    callIndex,
    usage: partial,
    billedUnknown: partial === undefined,
    cause: err,
  });
  return out;
}

/** A number field of an SDK object, unchanged (untrusted values reach the core's validation). */
export function raw(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined;
}

/** `raw(obj, key)`, or 0 when absent / null (optional detail counts). */
export function rawOr0(obj: unknown, key: string): unknown {
  const v = raw(obj, key);
  return v === undefined || v === null ? 0 : v;
}

/** Passes untrusted counts through to the budget as they are: the core validates them. */
export function usageOf(u: Record<string, unknown>): TokenUsage {
  return u as unknown as TokenUsage;
}
