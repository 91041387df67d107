// An omega-pr provider module over the official `@anthropic-ai/sdk` (`npm install @anthropic-ai/sdk@^1`),
// through the `omega-pr/anthropic` adapter:
//   ANTHROPIC_API_KEY=… npx omega-pr stress --provider examples/modules/anthropic-provider.mjs --model claude-sonnet-5-5
// Usage is mapped exactly (input_tokens + cache reads + cache writes; 1-hour writes priced apart);
// the SDK's own retries are off (maxRetries: 0 per request).
import Anthropic from '@anthropic-ai/sdk';
import { anthropicProvider } from 'omega-pr/anthropic';

export function createProvider() {
  return anthropicProvider(new Anthropic({ maxRetries: 0 }), { defaultMaxTokens: 2048 });
}
