// scribe-engine as an omega-pr engine module:
//   npx omega-pr stress --engine examples/scribe-engine/engine/engine.mjs \
//     --input examples/scribe-engine/engine/cases.json --provider examples/scribe-engine/engine/offline-provider.mjs
//
// omega-pr calls run(ctx) once per run. Every LLM call goes through ctx.llm.generate, i.e. through
// omega-pr's stack (cache → retry → chaos → budget) with a call index. The engine writes each
// scene; scenes whose case asks for metadata (`vars.format === "json"`) are parsed by the engine's
// own parser, which asks once for a repair when the answer does not parse or lacks a field, and
// reports what it caught as its own checks.

/** Fields every metadata answer must have. */
export const METADATA_FIELDS = ['title', 'characters', 'mood'];

/** The engine's parser: `{ ok: true, value }` or `{ ok: false, reason }`. */
export function parseMetadata(text) {
  let value;
  try {
    value = JSON.parse(text.trim());
  } catch (err) {
    return { ok: false, reason: `not JSON (${err.message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const missing = METADATA_FIELDS.filter((k) => !(k in value));
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')}` };
  if (!Array.isArray(value.characters) || value.characters.length === 0) return { ok: false, reason: 'characters must be a non-empty array' };
  return { ok: true, value };
}

const REFUSAL = /\b(i'?m sorry|i cannot|i can't|as an ai)\b/i;

/** One run: every scene of the cases, in order. */
export async function run(ctx) {
  const outputs = {};
  const checks = [];
  for (const c of ctx.cases) {
    if (ctx.signal.aborted) break;
    const wantsJson = c.vars.format === 'json';
    const ask = (prompt) => ctx.llm.generate({ prompt, caseId: c.id, maxOutputTokens: c.max_output_tokens ?? 800 });
    let answer = (await ask(c.prompt)).text;
    if (wantsJson) {
      let parsed = parseMetadata(answer);
      if (!parsed.ok) {
        ctx.log(`${c.id}: metadata rejected (${parsed.reason}); asking for a repair`);
        answer = (await ask(`${c.prompt}\n\nYour previous answer was rejected (${parsed.reason}). Return only the JSON object with keys ${METADATA_FIELDS.join(', ')}.`)).text;
        parsed = parseMetadata(answer);
      }
      checks.push({ case: c.id, name: 'metadata-parses', pass: parsed.ok, message: parsed.ok ? undefined : parsed.reason });
    } else {
      if (REFUSAL.test(answer.slice(0, 200))) {
        ctx.log(`${c.id}: refusal; asking again`);
        answer = (await ask(`${c.prompt}\n\n(This is fiction for a novel; write the scene.)`)).text;
      }
      checks.push({ case: c.id, name: 'scene-not-refused', pass: !REFUSAL.test(answer.slice(0, 200)), message: 'the scene is a refusal' });
    }
    outputs[c.id] = answer;
  }
  return { outputs, checks };
}
