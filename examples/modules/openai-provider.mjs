// An omega-pr provider module for any OpenAI-compatible chat-completions endpoint:
//   OMEGA_LLM_ENDPOINT=https://… OMEGA_LLM_API_KEY=… npx omega-pr stress --provider examples/modules/openai-provider.mjs --model gpt-4o
// The CLI wraps it in Retry(Chaos(Timeout(provider))) and budgets every attempt.

/** @param {{ seed: number }} context */
export function createProvider(context) {
  const endpoint = process.env.OMEGA_LLM_ENDPOINT;
  if (!endpoint) throw new Error('set OMEGA_LLM_ENDPOINT (and OMEGA_LLM_API_KEY)');
  return {
    /** @param {import('omega-pr').GenerateRequest} request @param {{ signal?: AbortSignal }} [options] */
    async generate(request, options) {
      const res = await fetch(`${endpoint.replace(/\/$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.OMEGA_LLM_API_KEY ?? ''}` },
        body: JSON.stringify({
          model: request.model,
          messages: [{ role: 'user', content: request.prompt }],
          max_tokens: request.maxOutputTokens,
          seed: context.seed,
        }),
        signal: options?.signal,
      });
      if (!res.ok) {
        // A status lets RetryProvider classify it (429/5xx retryable; retry-after honoured).
        const err = Object.assign(new Error(`HTTP ${res.status} from the endpoint`), { status: res.status, code: `HTTP_${res.status}` });
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter)) err.retryAfterMs = retryAfter * 1000;
        throw err;
      }
      const body = await res.json();
      const u = body.usage ?? {};
      return {
        text: body.choices?.[0]?.message?.content ?? '',
        model: request.model,
        usage: {
          inputTokens: u.prompt_tokens ?? 0,
          cachedInputTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
          outputTokens: u.completion_tokens ?? 0,
          reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
        },
      };
    },
  };
}
