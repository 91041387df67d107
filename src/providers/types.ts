/**
 * The provider interface every omega-pr wrapper speaks: a single async `generate`. The user's
 * real LLM client, `ChaosProvider` and `RetryProvider` all implement it, so they stack:
 * `new RetryProvider(new ChaosProvider(real, { profile: 'medium' }), { budget })`.
 */
import type { TokenUsage } from '../../native';

export type { TokenUsage };

/** One message of a conversation. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** Text of the message. */
  content: string;
  /** Tool calls an assistant message made (to send a conversation back with them). */
  toolCalls?: ToolCall[];
  /** For `role: 'tool'`: the id of the call this message answers. */
  toolCallId?: string;
}

/** A tool the model may call (JSON-Schema parameters). */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters: Record<string, unknown>;
}

/** A tool call the model made. */
export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text). */
  arguments: string;
}

/** A JSON response format: any JSON object, or one matching a schema. */
export type ResponseFormat = { type: 'text' } | { type: 'json'; schema?: Record<string, unknown>; name?: string };

/** One generation request. */
export interface GenerateRequest {
  /** Model name (priced in calibration `budget.models` when a budget is tracked). */
  model: string;
  /** The prompt text: shorthand for `messages: [{ role: 'user', content: prompt }]`. */
  prompt?: string;
  /** The conversation (system/user/assistant/tool); with `prompt` too, the prompt is appended as a user message. */
  messages?: ChatMessage[];
  /** Tools the model may call. */
  tools?: ToolDefinition[];
  /** JSON output. */
  responseFormat?: ResponseFormat;
  /** Sampling temperature. */
  temperature?: number;
  /** Stream the answer (adapters then measure time to first token and tokens/s). */
  stream?: boolean;
  /** Scene the call belongs to (recorded in logs and budget reports). */
  sceneId?: string;
  /**
   * Index of the logical call in the run. Chaos decisions and retry jitter are keyed by it, so a
   * run is reproducible whatever the order of concurrent calls. Omitted: each wrapper numbers
   * the calls it sees, 0, 1, 2, … in arrival order.
   */
  callIndex?: number;
  /**
   * Attempt number (1-based) of this call; set by `RetryProvider` on each attempt. With
   * `callIndex` given, `ChaosProvider` draws a fresh decision per attempt.
   */
  attempt?: number;
  /** Cap of completion tokens (budget reservations assume it; default calibration `budget.max_output_tokens`). */
  maxOutputTokens?: number;
  /** Prompt tokens, when known (budget reservations; default: the prompt's UTF-8 byte length, an upper bound). */
  inputTokens?: number;
}

/** One generation response. */
export interface GenerateResponse {
  /** The generated text; an empty or whitespace-only text is an error (`ERR_OMEGA_EMPTY_RESPONSE`), never a success. */
  text: string;
  /** Tokens billed for the call. */
  usage: TokenUsage;
  /** Model that answered, when the provider says (an API's dated name is priced as its base model). */
  model?: string;
  /** Tool calls the model made (a response with tool calls and no text is not empty). */
  toolCalls?: ToolCall[];
  /** Why the model stopped (`stop`, `length`, `tool-calls`, …), when known. */
  finishReason?: string;
  /** Streaming: ms from the request to the first content token. */
  ttftMs?: number;
  /** Streaming: output tokens per second after the first token. */
  tokensPerSecond?: number;
}

/** Per-call options. */
export interface GenerateOptions {
  /** Aborts the call (and any backoff sleep). */
  signal?: AbortSignal;
}

/** An LLM provider: the user's client, or an omega-pr wrapper around one. */
export interface LlmProvider {
  /** Generates a response; rejects with a coded error (`err.code`) on failure. */
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse>;
}

/** A sleep that rejects with an abort error (`ERR_OMEGA_ABORTED`) when `signal` aborts. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;
