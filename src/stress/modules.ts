/**
 * Loading the user's provider (`--provider ./module.js`) and scorer (`--scorer ./module.js`).
 *
 * A provider module exports (as `default`, `provider` or `createProvider`) either an object with
 * an async `generate(request)` or a factory `(context) => provider`. A scorer module likewise
 * exports an object with `score(input)` or a factory (`default`, `scorer` or `createScorer`).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CalibrationDocument } from '../../report-types';
import { OmegaError } from '../errors';
import type { LlmProvider } from '../providers/types';
import type { Scorer } from './types';

/** What a factory export is called with. */
export interface ModuleContext {
  seed: number;
  calibration: CalibrationDocument;
}

// tsc compiles `import()` to `require()` under CommonJS; this keeps a real dynamic import so ESM
// modules (.mjs, "type": "module") load too.
const dynamicImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

function moduleError(file: string, message: string): OmegaError {
  const name = path.basename(file);
  return new OmegaError('ERR_OMEGA_MODULE', `${name}: ${message}`, { path: name });
}

async function load(file: string, names: string[], method: string, ctx: ModuleContext): Promise<unknown> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = await dynamicImport(pathToFileURL(abs).href);
  } catch (err) {
    throw moduleError(file, `cannot load module: ${(err as Error).message}`);
  }
  const candidates = [mod.default, ...names.map((n) => mod[n])];
  const nested = mod.default as Record<string, unknown> | undefined;
  if (nested && typeof nested === 'object') candidates.push(...names.map((n) => nested[n]));
  for (const c of candidates) {
    if (c && typeof c === 'object' && typeof (c as Record<string, unknown>)[method] === 'function') return c;
    if (typeof c === 'function') {
      const made = await (c as (ctx: ModuleContext) => unknown)(ctx);
      if (made && typeof made === 'object' && typeof (made as Record<string, unknown>)[method] === 'function') return made;
    }
  }
  throw moduleError(file, `exports no object with a \`${method}\` function (looked at default, ${names.join(', ')})`);
}

/** Loads a provider module; its name in reports is the file name. */
export async function loadProvider(file: string, ctx: ModuleContext): Promise<{ provider: LlmProvider; name: string }> {
  const provider = (await load(file, ['provider', 'createProvider'], 'generate', ctx)) as LlmProvider;
  return { provider, name: path.basename(file) };
}

/** Loads a scorer module; its name in reports is its `name` or the file name. */
export async function loadScorer(file: string, ctx: ModuleContext): Promise<{ scorer: Scorer; name: string }> {
  const scorer = (await load(file, ['scorer', 'createScorer'], 'score', ctx)) as Scorer;
  return { scorer, name: scorer.name ?? path.basename(file) };
}
