// An offline stand-in model for the scribe-engine example (no network): deterministic for a
// (seed, call index, attempt), it writes a scene — or scene metadata as JSON when the prompt asks
// for JSON — and misbehaves the way real models do at a fixed rate: truncated JSON, a renamed key,
// a refusal, a scene that forgets a character. Swap it for examples/modules/openai-provider.mjs to
// run the same cases against a real endpoint.

function mix(seed, a, b) {
  // splitmix-style 32-bit hash → [0, 1)
  let h = (seed ^ Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

export function createProvider(ctx) {
  return {
    name: 'offline-scribe-model',
    async generate(request) {
      const r = mix(ctx.seed, request.callIndex ?? 0, request.attempt ?? 1);
      const names = [...new Set(request.prompt.match(/\b[A-Z][a-z]{2,}\b/g) ?? [])].filter((w) => !['Write', 'Return', 'Scene', 'Your', 'The', 'This', 'JSON', 'Include', 'You'].includes(w));
      const wantsJson = /\bJSON\b/.test(request.prompt);
      const repair = /was rejected/.test(request.prompt);
      let text;
      if (wantsJson) {
        const meta = { title: `The ${names[0] ?? 'Quiet'} Affair`, characters: names.slice(0, 3), mood: r < 0.5 ? 'tense' : 'wistful' };
        if (!repair && r < 0.12) text = JSON.stringify(meta).slice(0, 25); // truncated
        else if (!repair && r < 0.2) text = JSON.stringify({ ...meta, tone: meta.mood, mood: undefined }); // renamed key
        else if (r > 0.97) text = 'Sure! Here is the metadata: ' + JSON.stringify(meta); // chatty wrapper
        else text = JSON.stringify(meta);
      } else if (r < 0.06) {
        text = "I'm sorry, but I can't write that scene.";
      } else {
        const cast = r > 0.9 ? names.slice(1) : names; // sometimes forgets the lead
        text = `${cast.join(' and ')} stood in the rain while the city went quiet. ` +
          'Words were few; the silence said the rest, and the night carried on without them. '.repeat(2 + Math.floor(r * 4));
      }
      const outputTokens = Math.max(1, Math.ceil(text.length / 4));
      return { text, usage: { inputTokens: Math.ceil(request.prompt.length / 4), outputTokens }, model: request.model, latencyMs: 300 + Math.floor(r * 900) };
    },
  };
}
