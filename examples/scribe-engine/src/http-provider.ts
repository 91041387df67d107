/**
 * A real provider: any OpenAI-compatible `POST {endpoint}/chat/completions`. Errors carry what
 * omega-pr's RetryProvider looks at: `status` (429/5xx are retried), `retryAfterMs` (from the
 * `retry-after` header) and `code` for network failures (`ECONNRESET`, …). Not run in CI.
 */
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider } from 'omega-pr';

export interface HttpProviderOptions {
  endpoint: string;
  apiKey?: string;
  /** Model sent to the endpoint (priced in the calibration under the same name). */
  model?: string;
}

interface ChatCompletion {
  model?: string;
  choices?: Array<{ message?: { content?: string | null } }>;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number };
    completion_tokens_details?: { reasoning_tokens?: number };
  };
}

type CodedError = Error & { status?: number; code?: string; retryAfterMs?: number };

export class HttpProvider implements LlmProvider {
  readonly name = 'openai-compatible';
  private readonly url: string;

  constructor(private readonly options: HttpProviderOptions) {
    this.url = `${options.endpoint.replace(/\/+$/, '')}/chat/completions`;
  }

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers,
        signal: options?.signal,
        body: JSON.stringify({
          model: this.options.model ?? request.model,
          messages: [{ role: 'user', content: request.prompt }],
          max_tokens: request.maxOutputTokens,
        }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: unknown } }).cause;
      const e: CodedError = new Error(`chat/completions: ${(err as Error).message}`);
      e.code = typeof cause?.code === 'string' ? cause.code : 'ECONNRESET';
      throw e;
    }
    if (!res.ok) {
      const e: CodedError = new Error(`chat/completions: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      e.status = res.status;
      const ra = res.headers.get('retry-after');
      if (ra !== null && /^\d+(\.\d+)?$/.test(ra)) e.retryAfterMs = Math.round(Number(ra) * 1000);
      throw e;
    }
    const body = (await res.json()) as ChatCompletion;
    const u = body.usage ?? {};
    return {
      text: body.choices?.[0]?.message?.content ?? '',
      model: body.model ?? request.model,
      usage: {
        inputTokens: u.prompt_tokens ?? 0,
        cachedInputTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
        outputTokens: u.completion_tokens ?? 0,
        reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
      },
    };
  }
}
