/**
 * The cases file (`--input cases.json` or `cases.yaml`, schema `schemas/cases.schema.json`). Validation, prompt
 * rendering, the deterministic checks and the run score are the core's (`CaseSuite`); this file
 * reads the file, prepares the two checks that need JavaScript — `json-schema` (ajv) and `js` (a
 * function in the user's module) — and runs them, then hands their results to the core.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import { YAMLParseError, parse as parseYaml } from 'yaml';
import { CaseSuite, judgeMessages, judgeVerdict } from '../../native';
import type { EngineCheckInput, ExternalCheckResult } from '../../native';
import type { CaseDocument, CaseResult, CasesDocument } from '../../report-types';
import { OmegaError } from '../errors';
import { importModule } from './modules';

/** What a `js` check function is given besides the answer. */
export interface JsCheckContext {
  /** The case (normalized). */
  case: CaseDocument;
  /** Index of the run. */
  runIndex: number;
  /** The check's own settings (`value` of the check). */
  value: unknown;
}

/** A `js` check: true/false, or `{ pass, reason }`; may be async. */
export type JsCheck = (output: string, ctx: JsCheckContext) => boolean | { pass: boolean; reason?: string } | Promise<boolean | { pass: boolean; reason?: string }>;

type Prepared =
  | { index: number; kind: 'schema'; validate: ValidateFunction }
  | { index: number; kind: 'js'; fn: JsCheck }
  | { index: number; kind: 'judge'; rubric: string; threshold: number; model?: string };

/** A judge request of an `llm-judge` check: the messages (core `judgeMessages`) and where it comes from. */
export interface JudgeRequest {
  /** Index of the case in the file. */
  caseIndex: number;
  /** Index of the check in the case's `assert`. */
  checkIndex: number;
  /** System message (the reply format) and user message (rubric, task, answer). */
  system: string;
  user: string;
  /** The check's `model`, if it names one (else the run's model). */
  model?: string;
}

/**
 * Sends an `llm-judge` request to the judge model and returns its reply text (throws when the
 * call fails). The stress harness gives one that goes through the run's stack and budget.
 */
export type CaseJudge = (request: JudgeRequest) => Promise<string>;

/** A loaded, validated cases file with its JavaScript checks ready. */
export interface LoadedCases {
  /** The core's handle (evaluation, run score). */
  suite: CaseSuite;
  /** The normalized document. */
  doc: CasesDocument;
  /** File name for reports (relative), or `inline`. */
  name: string;
  /** Per case: the prepared `json-schema` / `js` / `llm-judge` checks. */
  prepared: Prepared[][];
  /** Whether any case has an `llm-judge` check (the harness then builds a judge). */
  hasJudge: boolean;
}

function casesError(message: string): OmegaError {
  return new OmegaError('ERR_OMEGA_CASES', message);
}

const dynamicImport = importModule;

/** Whether a cases file is YAML (by its extension, `.yaml` / `.yml`, any case). */
export function isYamlCases(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

/**
 * The JSON text of a YAML cases file (YAML 1.2 core schema: `yes`/`no` stay strings, duplicate
 * keys are errors). A syntax error is `ERR_OMEGA_CASES` naming the file, line and column; the
 * document is then validated by the core exactly as a JSON file is.
 */
export function yamlCasesToJson(text: string, name: string): string {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const e = err as Error;
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw casesError(`cases \`${name}\`: not valid YAML${where}: ${e.message.split('\n')[0]}`);
  }
  // Undefined (an empty file) becomes null: the core says what it expected.
  return JSON.stringify(doc ?? null);
}

/**
 * Loads cases from a file path (JSON, or YAML for `.yaml`/`.yml`) or an already-parsed document. Relative schema and module
 * paths in checks are resolved against the file's folder (or `baseDir`). Throws `ERR_OMEGA_CASES`
 * naming the case id and check index.
 */
export async function loadCases(input: string | unknown, baseDir?: string): Promise<LoadedCases> {
  let text: string;
  let name: string;
  let dir: string;
  if (typeof input === 'string') {
    try {
      text = fs.readFileSync(input, 'utf8');
    } catch (err) {
      throw casesError(`cannot read cases file \`${path.basename(input)}\`: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    name = path.basename(input);
    dir = baseDir ?? path.dirname(path.resolve(input));
    if (isYamlCases(input)) text = yamlCasesToJson(text, name);
  } else {
    text = JSON.stringify(input);
    name = 'inline';
    dir = baseDir ?? process.cwd();
  }
  const suite = CaseSuite.fromJson(text, name);
  const doc = suite.document();
  const ajv = new Ajv({ allErrors: false, strict: false });
  const prepared: Prepared[][] = [];
  for (const c of doc.cases) {
    const list: Prepared[] = [];
    for (const [index, check] of c.assert.entries()) {
      const where = `cases \`${name}\`: case \`${c.id}\` assert[${index}]`;
      if (check.type === 'json-schema') {
        let schema = check.value;
        if (typeof schema === 'string') {
          const file = path.resolve(dir, schema);
          try {
            schema = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
          } catch (err) {
            const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
            throw casesError(`${where}: cannot read schema file \`${check.value as string}\`: ${reason}`);
          }
        }
        try {
          list.push({ index, kind: 'schema', validate: ajv.compile(schema as object) });
        } catch (err) {
          throw casesError(`${where}: invalid JSON Schema: ${(err as Error).message}`);
        }
      } else if (check.type === 'llm-judge') {
        // Validated and normalized by the core: `value` is { rubric, threshold, model? }.
        const v = check.value as { rubric: string; threshold: number; model?: string };
        list.push({ index, kind: 'judge', rubric: v.rubric, threshold: v.threshold, ...(v.model !== undefined ? { model: v.model } : {}) });
      } else if (check.type === 'js') {
        const [file, exportName] = (check.value as string).split('#') as [string, string | undefined];
        let mod: Record<string, unknown>;
        try {
          mod = await dynamicImport(pathToFileURL(path.resolve(dir, file)).href);
        } catch (err) {
          throw casesError(`${where}: cannot load check module \`${file}\`: ${(err as Error).message.split('\n')[0]}`);
        }
        const fn = exportName ? mod[exportName] : (mod.default ?? mod.check);
        if (typeof fn !== 'function') {
          throw casesError(`${where}: \`${check.value as string}\` exports no check function (${exportName ? `\`${exportName}\`` : 'default or `check`'})`);
        }
        list.push({ index, kind: 'js', fn: fn as JsCheck });
      }
    }
    prepared.push(list);
  }
  return { suite, doc, name, prepared, hasJudge: prepared.some((l) => l.some((p) => p.kind === 'judge')) };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text.trim()) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The answer of one case, as the core judges it. */
export interface CaseAnswer {
  text: string | null;
  error: string | null;
  latencyMs: number;
  costUsd: number;
}

/**
 * Judges one answer of case `caseIndex`: runs its `json-schema`, `js` and `llm-judge` checks here
 * (the judge through `judge`), the rest in the core. A `js` check that throws, or a judge call
 * that fails or answers no score, fails (its message recorded); it never stops the run.
 * `onExternal` is given the results of the checks run here (a run journal records them).
 */
export async function evaluateCase(
  cases: LoadedCases,
  caseIndex: number,
  answer: CaseAnswer,
  runIndex: number,
  engineChecks: EngineCheckInput[] = [],
  judge?: CaseJudge,
  onExternal?: (external: ExternalCheckResult[]) => void,
): Promise<CaseResult> {
  const external: ExternalCheckResult[] = [];
  const c = cases.doc.cases[caseIndex] as CaseDocument;
  if (answer.text !== null) {
    for (const p of cases.prepared[caseIndex] ?? []) {
      if (p.kind === 'schema') {
        const parsed = parseJson(answer.text);
        if (!parsed.ok) external.push({ index: p.index, pass: false, message: 'not valid JSON' });
        else if (p.validate(parsed.value)) external.push({ index: p.index, pass: true });
        else external.push({ index: p.index, pass: false, message: `schema: ${p.validate.errors?.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ') ?? 'invalid'}` });
      } else if (p.kind === 'judge') {
        // Scored by the judge model (core: the messages, reading the score, the verdict).
        let v;
        if (judge === undefined) {
          v = judgeVerdict(null, 'no judge: an llm-judge check is scored through the run\'s provider (runStress)', p.threshold);
        } else {
          const m = judgeMessages(p.rubric, c.prompt, answer.text);
          const request: JudgeRequest = { caseIndex, checkIndex: p.index, system: m.system, user: m.user };
          if (p.model !== undefined) request.model = p.model;
          try {
            v = judgeVerdict(await judge(request), null, p.threshold);
          } catch (err) {
            const e = err as { code?: unknown; message?: unknown };
            v = judgeVerdict(null, `${typeof e?.code === 'string' ? `${e.code}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`, p.threshold);
          }
        }
        external.push({ index: p.index, pass: v.pass, message: v.pass ? undefined : (v.message ?? 'llm-judge failed') });
      } else {
        try {
          const r = await p.fn(answer.text, { case: c, runIndex, value: c.assert[p.index]?.value });
          const pass = typeof r === 'boolean' ? r : Boolean(r?.pass);
          const reason = typeof r === 'object' && r !== null ? r.reason : undefined;
          external.push({ index: p.index, pass, message: pass ? undefined : (reason ?? 'js check returned false') });
        } catch (err) {
          external.push({ index: p.index, pass: false, message: `js check threw: ${(err as Error)?.message ?? String(err)}` });
        }
      }
    }
  }
  onExternal?.(external);
  return cases.suite.evaluate(
    caseIndex,
    { text: answer.text ?? undefined, error: answer.error ?? undefined, latencyMs: answer.latencyMs, costUsd: answer.costUsd },
    external,
    engineChecks,
  );
}
