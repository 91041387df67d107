/**
 * omega-pr — hardening toolkit for LLM-driven TypeScript engines.
 *
 * Budget accounting, seeded chaos and retry decisions, variance statistics, calibration
 * validation and proofpacks come from the Rust core through the native addon; this file only
 * adds what must happen in JavaScript (loading files, wrapping the user's async provider).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as native from '../native';
import type { CalibrationDocument } from '../report-types';
import { OmegaError } from './errors';

export * from '../native';
export type * from '../report-types';
export * from './errors';
export * from './providers/types';
export * from './providers/errors';
export * from './providers/chaos';
export * from './providers/retry';
export * from './providers/ratelimit';
export { SimulatedProvider, SimulatedScorer, type SimulatedProviderOptions, type SimulatedResponse } from './sim';
export type { RunScore, Scorer, ScorerInput, SceneResult } from './stress/types';
export type { EngineCheck, EngineContext, EngineModule, EngineOutputs, EngineRequest, EngineResponse } from './stress/types';
export { runStress, resolveStress, type RunStressOptions, type RunStressResult, type ResolvedStress } from './stress/api';
export { loadCases, evaluateCase, type LoadedCases, type JsCheck, type JsCheckContext, type CaseAnswer } from './stress/cases';
export { loadEngine } from './stress/modules';
// Types of the report files the CLI writes (snake_case, the runbook's names).
export type { PrReport, StressMeta } from './stress/report';
export type { RunRecord, CaseRunRecord } from './stress/engine';
export { derive, callCounts, type Derived, type JournalInput } from './stress/derive';
export {
  JOURNAL_FILE,
  JOURNAL_SCHEMA,
  JournalWriter,
  parseJournal,
  readJournal,
  splitJournals,
  type Journal,
  type JournalHeader,
  type JournalLine,
  type JournalRunLine,
  type JournalCall,
} from './stress/journal';
// `omega-pr proofpack replay` as a function: re-derives a pack's reports and compares them.
export { replay as replayProofpack, findRunFolders, type ReplayOptions, type ReplayResult, type RunReplay, type ReplayedFile } from './stress/replay';
export { evidenceFiles, type ModuleRecord, type ModulesDocument } from './stress/evidence';
export type { PreflightReport, ConcurrencyReport, ChaosSummary } from './report/types';
// These replace the native functions of the same name: they fill in the probed toolchain versions
// and ship the self-contained `verify.html`.
export { buildProofpack, buildProofpackAsync, probeToolchain, loadVerifyHtml, VERIFY_HTML_PATH } from './proofpack';

/** Path of the shipped default calibration inside the package. */
export const DEFAULT_CALIBRATION_PATH = path.join(__dirname, '..', 'budgets', 'calibration.json');

/**
 * Loads and validates a calibration file (the shipped `budgets/calibration.json` when `file` is
 * omitted). Throws `ERR_OMEGA_CALIBRATION` listing every problem with its JSON path, or
 * `ERR_OMEGA_IO` naming the file when it cannot be read.
 */
export function loadCalibration(file?: string): CalibrationDocument {
  const target = file ?? DEFAULT_CALIBRATION_PATH;
  let text: string;
  try {
    text = fs.readFileSync(target, 'utf8');
  } catch (err) {
    // Node's message repeats the path as given (maybe absolute): keep only the file name and errno code.
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    const name = path.basename(target);
    throw new OmegaError('ERR_OMEGA_IO', `cannot read calibration \`${name}\`: ${reason}`, { path: name });
  }
  const doc = native.parseCalibrationJson(text, path.basename(target)) as CalibrationDocument;
  return withPriceFile(doc, path.dirname(target));
}

/**
 * Applies calibration `budget.prices_file` (a LiteLLM `model_prices_and_context_window.json`, or
 * a file written by `omega-pr prices import`; the path is relative to the calibration file's
 * folder): its chat/responses/completion entries with per-token prices join `budget.models`
 * (entries of the calibration itself take precedence) and its `alias_of` entries join
 * `budget.aliases`. Throws `ERR_OMEGA_IO` (unreadable) or `ERR_OMEGA_PRICE_FILE` naming the
 * entry and key of a malformed price.
 */
export function withPriceFile(doc: CalibrationDocument, baseDir: string): CalibrationDocument {
  const budget = doc.budget as CalibrationDocument['budget'] & { prices_file?: string; aliases?: Record<string, string> };
  if (typeof budget.prices_file !== 'string') return doc;
  const file = path.resolve(baseDir, budget.prices_file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new OmegaError('ERR_OMEGA_IO', `cannot read budget.prices_file \`${budget.prices_file}\`: ${reason}`, { path: budget.prices_file });
  }
  const imported = native.importPrices(text, path.basename(file));
  const merged = {
    ...doc,
    budget: {
      ...budget,
      models: { ...(imported.models as Record<string, unknown>), ...budget.models },
      aliases: { ...(imported.aliases as Record<string, string>), ...(budget.aliases ?? {}) },
    },
  } as CalibrationDocument;
  return native.validateCalibration(merged) as CalibrationDocument;
}
