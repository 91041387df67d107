/**
 * `omega-pr/openai`: an `LlmProvider` over the official `openai` SDK (Chat Completions or
 * Responses), so the budget, chaos and retry layers of omega-pr govern real calls.
 *
 * ```ts
 * import OpenAI from 'openai';
 * import { openaiProvider } from 'omega-pr/openai';
 * const provider = openaiProvider(new OpenAI({ maxRetries: 0 }), { api: 'chat' });
 * ```
 *
 * - The SDK's own retries are off: every request is sent with `maxRetries: 0`, so omega-pr's
 *   `RetryProvider` is the one policy (seeded backoff, `retry-after` honoured, budget per attempt).
 * - Usage is mapped exactly: `prompt_tokens` / `input_tokens` already **include** the cached
 *   tokens and `completion_tokens` / `output_tokens` the reasoning tokens, so nothing is added.
 *   Counts are passed through untouched: a NaN or string count is `ERR_OMEGA_INVALID_USAGE`.
 * - Errors: the SDK's `APIError` keeps its status, headers and message; `toProviderError`
 *   classifies it (429 + `retry-after`, 5xx retryable; 400/401/403/404 surface at once).
 * - Streaming (`request.stream`): `stream_options.include_usage` asks for the final usage chunk;
 *   the answer carries `ttftMs` and `tokensPerSecond`. A stream cut mid-way is a
 *   retryable `ERR_OMEGA_CONNECTION_RESET` (or timeout) whose cost is the reservation.
 * The SDK is an optional peer dependency: this module never imports it, you pass the client.
 */
import { toProviderError } from '../providers/errors';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, ToolCall } from '../providers/types';
import { StreamClock, messagesOf, raw, rawOr0, streamFailure, usageOf } from './common';

/** Per-request options the adapter passes to the SDK. */
export interface SdkRequestOptions {
  signal?: AbortSignal;
  maxRetries: number;
}

/** The part of an `openai` client the adapter uses. */
export interface OpenAIClientLike {
  chat: { completions: { create(body: Record<string, unknown>, options?: SdkRequestOptions): Promise<unknown> } };
  responses?: { create(body: Record<string, unknown>, options?: SdkRequestOptions): Promise<unknown> };
}

/** Options of {@link openaiProvider}. */
export interface OpenAIProviderOptions {
  /** `chat` (Chat Completions, default) or `responses` (Responses API). */
  api?: 'chat' | 'responses';
  /** Extra body fields sent with every request (`seed`, `user`, `service_tier`, …). */
  extraBody?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function chatBody(request: GenerateRequest): Json {
  const messages = messagesOf(request).map((m) => {
    if (m.role === 'tool') return { role: 'tool', content: m.content, tool_call_id: m.toolCallId };
    if (m.role === 'assistant' && m.toolCalls?.length) {
      return {
        role: 'assistant',
        content: m.content === '' ? null : m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      };
    }
    return { role: m.role, content: m.content };
  });
  const body: Json = { model: request.model, messages };
  if (request.maxOutputTokens !== undefined) body.max_completion_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.tools?.length) {
    body.tools = request.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
  }
  const f = request.responseFormat;
  if (f?.type === 'json') {
    body.response_format = f.schema
      ? { type: 'json_schema', json_schema: { name: f.name ?? 'response', schema: f.schema, strict: true } }
      : { type: 'json_object' };
  }
  return body;
}

function chatUsage(u: unknown) {
  return usageOf({
    inputTokens: raw(u, 'prompt_tokens'),
    cachedInputTokens: rawOr0(raw(u, 'prompt_tokens_details'), 'cached_tokens'),
    cacheWriteTokens: rawOr0(raw(u, 'prompt_tokens_details'), 'cache_write_tokens'),
    outputTokens: raw(u, 'completion_tokens'),
    reasoningTokens: rawOr0(raw(u, 'completion_tokens_details'), 'reasoning_tokens'),
  });
}

function responsesUsage(u: unknown) {
  return usageOf({
    inputTokens: raw(u, 'input_tokens'),
    cachedInputTokens: rawOr0(raw(u, 'input_tokens_details'), 'cached_tokens'),
    cacheWriteTokens: rawOr0(raw(u, 'input_tokens_details'), 'cache_write_tokens'),
    outputTokens: raw(u, 'output_tokens'),
    reasoningTokens: rawOr0(raw(u, 'output_tokens_details'), 'reasoning_tokens'),
  });
}

function missingUsage(callIndex: number | undefined): never {
  throw streamFailure(new Error('the API sent no usage'), callIndex, undefined);
}

async function chat(client: OpenAIClientLike, request: GenerateRequest, body: Json, opts: SdkRequestOptions): Promise<GenerateResponse> {
  if (!request.stream) {
    const res = (await client.chat.completions.create(body, opts)) as Json;
    const choice = (raw(res, 'choices') as Json[] | undefined)?.[0];
    const msg = raw(choice, 'message');
    const calls = (raw(msg, 'tool_calls') as Json[] | undefined) ?? [];
    const out: GenerateResponse = {
      text: (raw(msg, 'content') as string | null) ?? '',
      usage: chatUsage(raw(res, 'usage')),
      model: raw(res, 'model') as string | undefined,
      finishReason: raw(choice, 'finish_reason') as string | undefined,
    };
    if (raw(res, 'usage') === undefined || raw(res, 'usage') === null) missingUsage(request.callIndex);
    if (calls.length) out.toolCalls = calls.map((c) => ({ id: String(raw(c, 'id')), name: String(raw(raw(c, 'function'), 'name')), arguments: String(raw(raw(c, 'function'), 'arguments') ?? '') }));
    return out;
  }
  const clock = new StreamClock();
  let text = '';
  let usage: unknown;
  let model: string | undefined;
  let finishReason: string | undefined;
  const calls = new Map<number, ToolCall>();
  try {
    const stream = (await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, opts)) as AsyncIterable<Json>;
    for await (const chunk of stream) {
      model ??= raw(chunk, 'model') as string | undefined;
      if (raw(chunk, 'usage') !== undefined && raw(chunk, 'usage') !== null) usage = raw(chunk, 'usage');
      for (const choice of (raw(chunk, 'choices') as Json[] | undefined) ?? []) {
        const delta = raw(choice, 'delta');
        const content = raw(delta, 'content');
        if (typeof content === 'string' && content !== '') {
          clock.token();
          text += content;
        }
        for (const tc of (raw(delta, 'tool_calls') as Json[] | undefined) ?? []) {
          clock.token();
          const i = Number(raw(tc, 'index') ?? 0);
          const cur = calls.get(i) ?? { id: '', name: '', arguments: '' };
          const fn = raw(tc, 'function');
          if (typeof raw(tc, 'id') === 'string') cur.id = raw(tc, 'id') as string;
          if (typeof raw(fn, 'name') === 'string') cur.name += raw(fn, 'name') as string;
          if (typeof raw(fn, 'arguments') === 'string') cur.arguments += raw(fn, 'arguments') as string;
          calls.set(i, cur);
        }
        if (typeof raw(choice, 'finish_reason') === 'string') finishReason = raw(choice, 'finish_reason') as string;
      }
    }
  } catch (err) {
    throw streamFailure(err, request.callIndex, usage === undefined ? undefined : chatUsage(usage));
  }
  if (usage === undefined) missingUsage(request.callIndex);
  const u = chatUsage(usage);
  const out: GenerateResponse = { text, usage: u, model, finishReason, ...clock.finish(u.outputTokens) };
  if (calls.size) out.toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  return out;
}

function responsesBody(request: GenerateRequest): Json {
  const msgs = messagesOf(request);
  const system = msgs.filter((m) => m.role === 'system').map((m) => m.content);
  const input: Json[] = [];
  for (const m of msgs) {
    if (m.role === 'system') continue;
    if (m.role === 'tool') input.push({ type: 'function_call_output', call_id: m.toolCallId, output: m.content });
    else {
      if (m.content !== '' || !m.toolCalls?.length) input.push({ role: m.role, content: m.content });
      for (const c of m.toolCalls ?? []) input.push({ type: 'function_call', call_id: c.id, name: c.name, arguments: c.arguments });
    }
  }
  const body: Json = { model: request.model, input };
  if (system.length) body.instructions = system.join('\n\n');
  if (request.maxOutputTokens !== undefined) body.max_output_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.tools?.length) body.tools = request.tools.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: t.parameters }));
  const f = request.responseFormat;
  if (f?.type === 'json') {
    body.text = { format: f.schema ? { type: 'json_schema', name: f.name ?? 'response', schema: f.schema, strict: true } : { type: 'json_object' } };
  }
  return body;
}

function responsesOutput(res: unknown): { text: string; toolCalls: ToolCall[] } {
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const item of (raw(res, 'output') as Json[] | undefined) ?? []) {
    if (raw(item, 'type') === 'message') {
      for (const c of (raw(item, 'content') as Json[] | undefined) ?? []) if (raw(c, 'type') === 'output_text') text += String(raw(c, 'text') ?? '');
    } else if (raw(item, 'type') === 'function_call') {
      toolCalls.push({ id: String(raw(item, 'call_id')), name: String(raw(item, 'name')), arguments: String(raw(item, 'arguments') ?? '') });
    }
  }
  return { text, toolCalls };
}

async function responses(client: OpenAIClientLike, request: GenerateRequest, body: Json, opts: SdkRequestOptions): Promise<GenerateResponse> {
  const api = client.responses;
  if (api === undefined) throw new TypeError('this openai client has no `responses` API (openai ≥ 4.87 needed)');
  const finish = (res: unknown, extra: Partial<GenerateResponse>): GenerateResponse => {
    if (raw(res, 'usage') === undefined || raw(res, 'usage') === null) missingUsage(request.callIndex);
    const { text, toolCalls } = responsesOutput(res);
    const out: GenerateResponse = { text, usage: responsesUsage(raw(res, 'usage')), model: raw(res, 'model') as string | undefined, finishReason: String(raw(res, 'status') ?? ''), ...extra };
    if (toolCalls.length) out.toolCalls = toolCalls;
    return out;
  };
  if (!request.stream) return finish(await api.create(body, opts), {});
  const clock = new StreamClock();
  let done: unknown;
  try {
    const stream = (await api.create({ ...body, stream: true }, opts)) as AsyncIterable<Json>;
    for await (const ev of stream) {
      const type = raw(ev, 'type');
      if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') clock.token();
      else if (type === 'response.completed' || type === 'response.incomplete') done = raw(ev, 'response');
      else if (type === 'response.failed' || type === 'error') throw Object.assign(new Error(String(raw(raw(raw(ev, 'response'), 'error'), 'message') ?? raw(ev, 'message') ?? 'response failed')), { status: 500 });
    }
  } catch (err) {
    throw streamFailure(err, request.callIndex, undefined);
  }
  if (done === undefined) throw streamFailure(new Error('stream ended before response.completed'), request.callIndex, undefined);
  const u = responsesUsage(raw(done, 'usage'));
  return finish(done, clock.finish(u.outputTokens));
}

/** An `LlmProvider` over an `openai` client (Chat Completions by default, or the Responses API). */
export function openaiProvider(client: OpenAIClientLike, options: OpenAIProviderOptions = {}): LlmProvider {
  const api = options.api ?? 'chat';
  return {
    async generate(request: GenerateRequest, callOptions?: GenerateOptions): Promise<GenerateResponse> {
      const opts: SdkRequestOptions = { maxRetries: 0 };
      if (callOptions?.signal !== undefined) opts.signal = callOptions.signal;
      const body = { ...(api === 'chat' ? chatBody(request) : responsesBody(request)), ...(options.extraBody ?? {}) };
      try {
        return await (api === 'chat' ? chat(client, request, body, opts) : responses(client, request, body, opts));
      } catch (err) {
        throw toProviderError(err, request.callIndex);
      }
    },
  };
}
