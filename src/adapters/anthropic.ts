/**
 * `omega-pr/anthropic`: an `LlmProvider` over the official `@anthropic-ai/sdk` Messages API.
 *
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { anthropicProvider } from 'omega-pr/anthropic';
 * const provider = anthropicProvider(new Anthropic({ maxRetries: 0 }));
 * ```
 *
 * - SDK retries off (`maxRetries: 0` on every request): omega-pr's `RetryProvider` is the policy.
 * - Usage mapped exactly: Anthropic's `input_tokens` **excludes** `cache_read_input_tokens` and
 *   `cache_creation_input_tokens`, so the adapter adds them (omega-pr counts all prompt tokens in
 *   `inputTokens`); `cache_creation.ephemeral_1h_input_tokens` are the 1-hour writes (priced
 *   apart), the rest of the writes are 5-minute ones.
 * - `max_tokens` is required by the API: `request.maxOutputTokens`, else `defaultMaxTokens`.
 * - A JSON response format becomes a system instruction (the Messages API has no JSON mode).
 * - Streaming: text from `content_block_delta`, usage from `message_start` + the cumulative
 *   `message_delta`; a stream cut after `message_start` settles at the tokens reported so far,
 *   before it at the reservation.
 */
import { toProviderError } from '../providers/errors';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, TokenUsage, ToolCall } from '../providers/types';
import { StreamClock, messagesOf, raw, rawOr0, streamFailure, usageOf } from './common';
import type { SdkRequestOptions } from './openai';

/** The part of an `@anthropic-ai/sdk` client the adapter uses. */
export interface AnthropicClientLike {
  messages: { create(body: Record<string, unknown>, options?: SdkRequestOptions): Promise<unknown> };
}

/** Options of {@link anthropicProvider}. */
export interface AnthropicProviderOptions {
  /** `max_tokens` when the request has no `maxOutputTokens` (default 4096). */
  defaultMaxTokens?: number;
  /** Extra body fields sent with every request (`metadata`, `thinking`, …). */
  extraBody?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function plus(a: unknown, b: unknown): unknown {
  // Untrusted values stay untrusted: only numbers add; anything else is passed on to be refused.
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return typeof a !== 'number' ? a : b;
}

/** Maps an Anthropic `usage` object to omega-pr's (prompt tokens include cache reads and writes). */
export function anthropicUsage(u: unknown): TokenUsage {
  const read = rawOr0(u, 'cache_read_input_tokens');
  const write = rawOr0(u, 'cache_creation_input_tokens');
  const oneHour = rawOr0(raw(u, 'cache_creation'), 'ephemeral_1h_input_tokens');
  return usageOf({
    inputTokens: plus(plus(raw(u, 'input_tokens'), read), write),
    cachedInputTokens: read,
    cacheWriteTokens: write,
    cacheWrite1hTokens: oneHour,
    outputTokens: raw(u, 'output_tokens'),
    reasoningTokens: rawOr0(raw(u, 'output_tokens_details'), 'thinking_tokens'),
  });
}

function body(request: GenerateRequest, defaultMaxTokens: number): Json {
  const msgs = messagesOf(request);
  const system = msgs.filter((m) => m.role === 'system').map((m) => m.content);
  const f = request.responseFormat;
  if (f?.type === 'json') {
    system.push(`Answer with one JSON value only, no prose${f.schema ? `, matching this JSON Schema: ${JSON.stringify(f.schema)}` : ''}.`);
  }
  const messages: Json[] = [];
  for (const m of msgs) {
    if (m.role === 'system') continue;
    if (m.role === 'tool') {
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }] });
    } else if (m.role === 'assistant' && m.toolCalls?.length) {
      const content: Json[] = m.content === '' ? [] : [{ type: 'text', text: m.content }];
      for (const c of m.toolCalls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments || '{}') as unknown });
      messages.push({ role: 'assistant', content });
    } else messages.push({ role: m.role, content: m.content });
  }
  const out: Json = { model: request.model, max_tokens: request.maxOutputTokens ?? defaultMaxTokens, messages };
  if (system.length) out.system = system.join('\n\n');
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.tools?.length) out.tools = request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
  return out;
}

function fromMessage(msg: unknown): GenerateResponse {
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of (raw(msg, 'content') as Json[] | undefined) ?? []) {
    if (raw(block, 'type') === 'text') text += String(raw(block, 'text') ?? '');
    else if (raw(block, 'type') === 'tool_use') toolCalls.push({ id: String(raw(block, 'id')), name: String(raw(block, 'name')), arguments: JSON.stringify(raw(block, 'input') ?? {}) });
  }
  if (raw(msg, 'usage') === undefined || raw(msg, 'usage') === null) throw streamFailure(new Error('the API sent no usage'), undefined, undefined);
  const out: GenerateResponse = { text, usage: anthropicUsage(raw(msg, 'usage')), model: raw(msg, 'model') as string | undefined, finishReason: raw(msg, 'stop_reason') as string | undefined };
  if (toolCalls.length) out.toolCalls = toolCalls;
  return out;
}

async function streamed(client: AnthropicClientLike, request: GenerateRequest, b: Json, opts: SdkRequestOptions): Promise<GenerateResponse> {
  const clock = new StreamClock();
  let usage: Json | undefined;
  let model: string | undefined;
  let stop: string | undefined;
  let text = '';
  const blocks = new Map<number, { type: string; id: string; name: string; json: string }>();
  try {
    const stream = (await client.messages.create({ ...b, stream: true }, opts)) as AsyncIterable<Json>;
    for await (const ev of stream) {
      switch (raw(ev, 'type')) {
        case 'message_start': {
          const m = raw(ev, 'message');
          model = raw(m, 'model') as string | undefined;
          usage = { ...((raw(m, 'usage') as Json | undefined) ?? {}) };
          break;
        }
        case 'content_block_start': {
          const cb = raw(ev, 'content_block');
          blocks.set(Number(raw(ev, 'index')), { type: String(raw(cb, 'type')), id: String(raw(cb, 'id') ?? ''), name: String(raw(cb, 'name') ?? ''), json: '' });
          break;
        }
        case 'content_block_delta': {
          const d = raw(ev, 'delta');
          if (raw(d, 'type') === 'text_delta') {
            clock.token();
            text += String(raw(d, 'text') ?? '');
          } else if (raw(d, 'type') === 'input_json_delta') {
            clock.token();
            const blk = blocks.get(Number(raw(ev, 'index')));
            if (blk) blk.json += String(raw(d, 'partial_json') ?? '');
          }
          break;
        }
        case 'message_delta': {
          // Cumulative counts: the last one wins, field by field.
          const u = raw(ev, 'usage');
          if (typeof u === 'object' && u !== null) usage = { ...(usage ?? {}), ...Object.fromEntries(Object.entries(u).filter(([, v]) => v !== null && v !== undefined)) };
          stop = (raw(raw(ev, 'delta'), 'stop_reason') as string | undefined) ?? stop;
          break;
        }
        default:
          break;
      }
    }
  } catch (err) {
    throw streamFailure(err, request.callIndex, usage === undefined ? undefined : anthropicUsage(usage));
  }
  if (usage === undefined) throw streamFailure(new Error('stream ended without message_start'), request.callIndex, undefined);
  const u = anthropicUsage(usage);
  const toolCalls = [...blocks.entries()].sort((a, b2) => a[0] - b2[0]).filter(([, x]) => x.type === 'tool_use').map(([, x]) => ({ id: x.id, name: x.name, arguments: x.json === '' ? '{}' : x.json }));
  const out: GenerateResponse = { text, usage: u, model, finishReason: stop, ...clock.finish(u.outputTokens) };
  if (toolCalls.length) out.toolCalls = toolCalls;
  return out;
}

/** An `LlmProvider` over an `@anthropic-ai/sdk` client (Messages API). */
export function anthropicProvider(client: AnthropicClientLike, options: AnthropicProviderOptions = {}): LlmProvider {
  const maxTokens = options.defaultMaxTokens ?? 4096;
  return {
    async generate(request: GenerateRequest, callOptions?: GenerateOptions): Promise<GenerateResponse> {
      const opts: SdkRequestOptions = { maxRetries: 0 };
      if (callOptions?.signal !== undefined) opts.signal = callOptions.signal;
      const b = { ...body(request, maxTokens), ...(options.extraBody ?? {}) };
      try {
        if (request.stream) return await streamed(client, request, b, opts);
        return fromMessage(await client.messages.create(b, opts));
      } catch (err) {
        throw toProviderError(err, request.callIndex);
      }
    },
  };
}
