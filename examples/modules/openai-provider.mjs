// An omega-pr provider module over the official `openai` SDK (`npm install openai@^7`), through the
// `omega-pr/openai` adapter — replaces the hand-written fetch example:
//   OPENAI_API_KEY=… npx omega-pr stress --provider examples/modules/openai-provider.mjs --model gpt-4o
// Any OpenAI-compatible endpoint: set OPENAI_BASE_URL (with /v1). OMEGA_OPENAI_API=responses uses the
// Responses API. The adapter sends every request with maxRetries: 0, so the CLI's
// Retry(Chaos(Timeout(provider))) stack is the one retry policy, and 429/529/5xx (retry-after),
// resets and 400/401/403/404 are classified by the core.
import OpenAI from 'openai';
import { openaiProvider } from 'omega-pr/openai';

/** @param {{ seed: number }} context */
export function createProvider(context) {
  const api = process.env.OMEGA_OPENAI_API === 'responses' ? 'responses' : 'chat';
  return openaiProvider(new OpenAI({ maxRetries: 0 }), { api, extraBody: api === 'chat' ? { seed: context.seed } : {} });
}
