/**
 * Loading the user's provider (`--provider ./module.js`) and scorer (`--scorer ./module.js`).
 *
 * A provider module exports (as `default`, `provider` or `createProvider`) either an object with
 * an async `generate(request)` or a factory `(context) => provider`. A scorer module likewise
 * exports an object with `score(input)` or a factory (`default`, `scorer` or `createScorer`).
 */
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CalibrationDocument } from '../../report-types';
import { OmegaError } from '../errors';
import type { LlmProvider } from '../providers/types';
import type { EngineModule, Scorer } from './types';

/** What a factory export is called with. */
export interface ModuleContext {
  seed: number;
  calibration: CalibrationDocument;
}

// tsc compiles `import()` to `require()` under CommonJS; this keeps a real dynamic import so ESM
// modules (.mjs, "type": "module") load too.
const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

/**
 * Imports a module by file URL. Where the host gives `new Function` no dynamic-import hook (a
 * vitest/vm context), falls back to `require` (Node ≥ 20.19 requires ES modules too).
 */
export async function importModule(href: string): Promise<Record<string, unknown>> {
  try {
    return await nativeImport(href);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') throw err;
    const req = createRequire(path.join(process.cwd(), 'omega-pr-loader.js'));
    return req(fileURLToPath(href)) as Record<string, unknown>;
  }
}
const dynamicImport = importModule;

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

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/**
 * Checks an engine given as an object (`{ run }`) or a function (`run` itself); throws
 * `ERR_OMEGA_MODULE` for a class or anything else.
 */
export function asEngine(value: unknown, name: string): EngineModule {
  if (isClass(value)) throw moduleError(name, 'exports a class: export a function `run(ctx)` (or an object with `run`) instead');
  if (typeof value === 'function') return { name, run: value as EngineModule['run'] };
  if (value && typeof value === 'object' && typeof (value as { run?: unknown }).run === 'function') {
    const run = (value as { run: EngineModule['run'] }).run;
    if (isClass(run)) throw moduleError(name, '`run` is a class: make it a function `run(ctx)`');
    const own = (value as { name?: unknown }).name;
    return { name: typeof own === 'string' && own !== '' ? own : name, run: run.bind(value) as EngineModule['run'] };
  }
  throw moduleError(name, 'is not an engine: give a function `run(ctx)` or an object with `run`');
}

/**
 * Loads an engine module (`--engine ./engine.mjs`): it exports `run(ctx)` (named), a default
 * object with `run`, a default function (taken as `run`), or a factory `createEngine(context)`
 * returning an object with `run`. A class, or no such export, is `ERR_OMEGA_MODULE`.
 */
export async function loadEngine(file: string, ctx: ModuleContext): Promise<EngineModule> {
  const abs = path.resolve(file);
  const name = path.basename(file);
  let mod: Record<string, unknown>;
  try {
    mod = await dynamicImport(pathToFileURL(abs).href);
  } catch (err) {
    throw moduleError(file, `cannot load module: ${(err as Error).message.split('\n')[0]}`);
  }
  for (const key of ['run', 'default', 'engine']) {
    const c = mod[key];
    if (c === undefined) continue;
    if (isClass(c)) throw moduleError(file, `exports a class as \`${key}\`: export a function \`run(ctx)\` (or an object with \`run\`) instead`);
    if (typeof c === 'function' || (c && typeof c === 'object' && typeof (c as { run?: unknown }).run === 'function')) return asEngine(c, name);
  }
  if (typeof mod.createEngine === 'function') {
    if (isClass(mod.createEngine)) throw moduleError(file, 'exports a class as `createEngine`: make it a factory function');
    return asEngine(await (mod.createEngine as (c: ModuleContext) => unknown)(ctx), name);
  }
  throw moduleError(file, 'exports no engine: export `async function run(ctx)` (or a default object with `run`, or `createEngine`)');
}
