/**
 * `omega-pr proofpack replay`: re-derives the reports of a stress run from what its folder (or
 * pack) recorded — no LLM call, no network — and compares them byte for byte with the packed
 * `PR_REPORT.json`, `run-cost.json` and `chaos-log.json`.
 *
 * - Simulated provider and scorer (the built-in ones, with or without a cases file of built-in
 *   checks): the whole stress is re-run from the seed, in memory, with the recorded options.
 * - Any other run: each run is re-scored from its recorded outputs (`journal.jsonl`), then the
 *   reports are derived again.
 *
 * Timestamps are recorded inputs (the packed report's `generated`, the chaos log's entries), not
 * derived. The comparisons (first differing JSON path, changed runs) are the core's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { changedRuns, firstJsonDifference, parseCalibrationJson, type RunChange } from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { OmegaError } from '../errors';
import { runStress } from './api';
import { derive } from './derive';
import { CALIBRATION_FILE, CASES_FILE, MODULES_FILE, sha256Hex, type ModuleRecord, type ModulesDocument } from './evidence';
import { JOURNAL_FILE, calibrationDigest, parseJournal, splitJournals, type JournalLine } from './journal';
import { loadScorer } from './modules';
import type { PrReport } from './report';
import { rescoreRun, suiteFor, type RescoreNotes } from './rescore';

export { JOURNAL_FILE };

/** The reports `replay` derives again and compares, in this order. */
export const REPLAYED_FILES = ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json'] as const;

/** What became of one derived file. */
export interface ReplayedFile {
  /**
   * The file, relative to the replayed directory. For a simulated re-run, `journal.jsonl` too: its
   * recorded outputs, re-scored, must give the same documents as the seed.
   */
  file: string;
  /** `reproduced` (byte-identical), `differs`, or `missing` (packed but not derived, or the reverse). */
  status: 'reproduced' | 'differs' | 'missing';
  /** First differing JSON path, when it differs. */
  path?: string;
}

/** The replay of one stress run folder. */
export interface RunReplay {
  /** The run folder, relative to the replayed directory (`.` for the directory itself). */
  folder: string;
  /** `simulated`: the whole stress re-run from the seed; `recorded`: re-scored from the journal. */
  mode: 'simulated' | 'recorded';
  files: ReplayedFile[];
  /** Verdict of the packed report (PR-G4) and its budget verdict (PR-G2). */
  recorded: { verdict: string; budget: string };
  /** The same, re-derived. */
  replayed: { verdict: string; budget: string };
  /** Runs whose record changed (field by field). */
  changedRuns: RunChange[];
  /** What was not re-run and why (`js checks: recorded, not re-run`). */
  notes: string[];
}

/** The replay of a pack or run folder: every stress run folder in it. */
export interface ReplayResult {
  runs: RunReplay[];
  /** Every file reproduced and every verdict the same. */
  reproduced: boolean;
}

function notReplayable(reason: string, file?: string): OmegaError {
  return new OmegaError('ERR_OMEGA_NOT_REPLAYABLE', `not replayable: ${reason}`, file === undefined ? {} : { path: file });
}

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Aborts a simulated re-run. */
  signal?: AbortSignal;
  /**
   * The user's scorer module, to score again the runs it judged (from their recorded calls): its
   * sha256 must be the one `modules.json` records (`ERR_OMEGA_MODULE_DIGEST` otherwise). Without
   * it, its recorded scores are taken. Replay never runs code from the pack by itself.
   */
  scorer?: string;
}

/** The stress run folders of `dir`: itself when it holds `PR_REPORT.json`, else those below it (a sprint's final pack). */
export function findRunFolders(dir: string): string[] {
  if (fs.existsSync(path.join(dir, 'PR_REPORT.json'))) return ['.'];
  const found: string[] = [];
  const walk = (rel: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!e.isDirectory()) continue;
      const sub = rel === '.' ? e.name : `${rel}/${e.name}`;
      if (fs.existsSync(path.join(dir, sub, 'PR_REPORT.json'))) found.push(sub);
      else if (depth < 3) walk(sub, depth + 1);
    }
  };
  walk('.', 0);
  return found;
}

function readText(folder: string, file: string): string | null {
  try {
    return fs.readFileSync(path.join(folder, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new OmegaError('ERR_OMEGA_IO', `cannot read \`${file}\`: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { path: file });
  }
}

function parseJson<T>(text: string, file: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw notReplayable(`\`${file}\` is not valid JSON (${(err as Error).message})`, file);
  }
}

/**
 * Checks every packed module copy against `modules.json`: a copy whose sha256 differs is refused
 * (`ERR_OMEGA_MODULE_DIGEST`, naming it). Returns the records.
 */
export function checkPackedModules(folder: string): ModuleRecord[] {
  const text = readText(folder, MODULES_FILE);
  if (text === null) return [];
  const doc = parseJson<ModulesDocument>(text, MODULES_FILE);
  for (const m of doc.modules ?? []) {
    if (m.packed === null || m.packed === undefined) continue;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(folder, m.packed));
    } catch {
      throw notReplayable(`${m.role} module \`${m.packed}\` listed in modules.json is missing`, m.packed);
    }
    const actual = sha256Hex(bytes);
    if (actual !== m.sha256) {
      throw new OmegaError('ERR_OMEGA_MODULE_DIGEST', `${m.role} module \`${m.packed}\` refused: its sha256 ${actual} differs from the recorded ${m.sha256}`, { path: m.packed });
    }
  }
  return doc.modules ?? [];
}

/**
 * Checks a module file the auditor gives (`--scorer FILE`) against the digest the run recorded
 * for `role`: refused (`ERR_OMEGA_MODULE_DIGEST`) when it differs or none was recorded.
 */
export function checkGivenModule(modules: ModuleRecord[], role: string, file: string): void {
  const rec = modules.find((m) => m.role === role);
  const actual = sha256Hex(fs.readFileSync(file));
  const name = path.basename(file);
  if (rec === undefined) throw new OmegaError('ERR_OMEGA_MODULE_DIGEST', `${role} module \`${name}\` refused: the run recorded no ${role} module`, { path: name });
  if (rec.sha256 !== actual) {
    throw new OmegaError('ERR_OMEGA_MODULE_DIGEST', `${role} module \`${name}\` refused: its sha256 ${actual} differs from the recorded ${rec.sha256} (${rec.name})`, { path: name });
  }
}

/** Chaos-log timestamps are recorded inputs: the replayed entries take the packed ones (same call, same attempt). */
function withRecordedTimestamps(replayed: unknown, packedText: string | null): unknown {
  if (packedText === null || replayed === null || typeof replayed !== 'object') return replayed;
  let packed: { entries?: { call_index?: number; attempt?: number; timestamp?: string }[] };
  try {
    packed = JSON.parse(packedText) as typeof packed;
  } catch {
    return replayed;
  }
  const key = (e: { call_index?: number; attempt?: number }) => `${e.call_index}/${e.attempt ?? ''}`;
  const stamps = new Map((packed.entries ?? []).map((e) => [key(e), e.timestamp]));
  const doc = replayed as { entries?: { call_index?: number; attempt?: number; timestamp?: string }[] };
  for (const e of doc.entries ?? []) {
    const t = stamps.get(key(e));
    if (typeof t === 'string') e.timestamp = t;
  }
  return doc;
}

const json = (data: unknown): string => `${JSON.stringify(data, null, 2)}\n`;

/**
 * Whether the run can be re-run whole from its seed: the built-in provider, scorer and checks
 * only, and within budget (which calls the caps refuse depends on the order calls are made).
 */
function simulatedRerun(report: PrReport, modules: ModuleRecord[]): boolean {
  if (report.provider !== 'simulated' || (report.engine ?? null) !== null) return false;
  if (report.cost?.budget_verdict !== 'PASS') return false;
  if (modules.some((m) => m.role === 'check' || m.role === 'schema' || m.role === 'scorer' || m.role === 'engine' || m.role === 'provider')) return false;
  return report.scorer === 'simulated' || report.scorer.startsWith('assertions:');
}

/** What re-scoring a journal gave: the three documents, and what was taken as recorded. */
interface FromJournal {
  derived: Record<string, string | null>;
  notes: string[];
}

/** Each run of the journal(s) re-scored from its recorded outputs, then `derive`. */
async function fromJournal(
  folder: string,
  where: (f: string) => string,
  journals: ReturnType<typeof splitJournals>,
  calibration: CalibrationDocument,
  report: PrReport,
  o: ReplayOptions,
): Promise<FromJournal> {
  const first = journals[0] as (typeof journals)[number];
  const casesText = readText(folder, CASES_FILE);
  if (first.header.meta.cases_file && casesText === null) throw notReplayable(`the run used cases \`${first.header.meta.cases_file}\` but no ${CASES_FILE} was packed`, where(CASES_FILE));
  let suite;
  try {
    suite = suiteFor(first.header, casesText);
  } catch (err) {
    throw notReplayable(`${where(CASES_FILE)}: ${(err as Error).message}`, where(CASES_FILE));
  }
  const counted: RescoreNotes = { externalChecks: 0, engineChecks: 0, recordedScores: 0, simulatedScores: 0, rerunScores: 0 };
  let scorer;
  if (o.scorer !== undefined) {
    ({ scorer } = await loadScorer(o.scorer, { seed: first.header.meta.seed, calibration }));
  }
  // Each run re-scored from its recorded outputs (in run order); everything else as recorded.
  const rescored: { header: (typeof journals)[number]['header']; lines: JournalLine[] }[] = [];
  for (const j of journals) {
    const lines: JournalLine[] = [];
    for (const l of j.lines) lines.push(l.type === 'run' ? { ...l, record: await rescoreRun(j.header, l, suite, counted, scorer) } : l);
    rescored.push({ header: j.header, lines });
  }
  const d = derive(calibration, rescored, report.generated, { merge: journals.length > 1 });
  const notes: string[] = ['provider: not called; every answer, usage, latency, error and chaos decision as recorded in journal.jsonl'];
  if (counted.externalChecks > 0) notes.push(`js checks: recorded, not re-run (${counted.externalChecks} results of \`js\` / \`json-schema\` checks from journal.jsonl)`);
  if (counted.engineChecks > 0) notes.push(`engine checks: recorded, not re-run (${counted.engineChecks} from journal.jsonl; the engine is not run again)`);
  if (counted.simulatedScores > 0) notes.push(`scorer simulated: scored again from the seed and each run's failed calls (${counted.simulatedScores} run(s))`);
  if (counted.rerunScores > 0) notes.push(`scorer ${report.scorer}: run again from ${path.basename(o.scorer as string)} (its sha256 is the recorded one) on ${counted.rerunScores} run(s)`);
  if (counted.recordedScores > 0) notes.push(`scorer ${report.scorer}: recorded scores, not re-run (${counted.recordedScores} run(s); --scorer FILE runs it again when its sha256 is the recorded one)`);
  return {
    derived: { 'PR_REPORT.json': json(d.report), 'run-cost.json': json(d.runCost), 'chaos-log.json': d.chaosLog === null ? null : json(d.chaosLog) },
    notes,
  };
}

async function replayFolder(root: string, rel: string, o: ReplayOptions): Promise<RunReplay> {
  const folder = path.join(root, rel);
  const where = (f: string) => (rel === '.' ? f : `${rel}/${f}`);
  const journalText = readText(folder, JOURNAL_FILE);
  if (journalText === null) {
    throw notReplayable(`no ${JOURNAL_FILE} in ${rel === '.' ? 'the pack' : rel} — packs made before omega-pr 0.1.0's replay carry no recorded outputs`, where(JOURNAL_FILE));
  }
  const calText = readText(folder, CALIBRATION_FILE);
  if (calText === null) throw notReplayable(`no ${CALIBRATION_FILE} beside PR_REPORT.json: the calibration the verdict depends on was not packed`, where(CALIBRATION_FILE));
  let calibration: CalibrationDocument;
  try {
    calibration = parseCalibrationJson(calText, CALIBRATION_FILE) as CalibrationDocument;
  } catch (err) {
    throw notReplayable(`${where(CALIBRATION_FILE)}: ${(err as Error).message}`, where(CALIBRATION_FILE));
  }
  let journals: ReturnType<typeof splitJournals>;
  try {
    // A torn last line (a crash mid-append) is not part of a journal.
    journals = splitJournals(parseJournal(journalText, where(JOURNAL_FILE)));
  } catch (err) {
    throw notReplayable((err as Error).message, where(JOURNAL_FILE));
  }
  for (const j of journals) {
    const recorded = j.header.digests?.calibration;
    if (recorded !== undefined && recorded !== calibrationDigest(calibration)) {
      throw notReplayable(`${where(CALIBRATION_FILE)} is not the calibration the run recorded in ${JOURNAL_FILE} (${recorded})`, where(CALIBRATION_FILE));
    }
  }
  const modules = checkPackedModules(folder);
  if (o.scorer !== undefined) checkGivenModule(modules, 'scorer', o.scorer);
  const packed: Record<string, string | null> = {};
  for (const f of REPLAYED_FILES) packed[f] = readText(folder, f);
  const report = parseJson<PrReport>(packed['PR_REPORT.json'] as string, where('PR_REPORT.json'));
  const notes: string[] = [];
  let derived: Record<string, string | null>;
  let mode: RunReplay['mode'];
  let journalCheck: ReplayedFile | undefined;
  let journalChanges: RunChange[] = [];
  if (simulatedRerun(report, modules)) {
    mode = 'simulated';
    const casesText = report.cases_file ? readText(folder, CASES_FILE) : null;
    if (report.cases_file && casesText === null) throw notReplayable(`the run used cases \`${report.cases_file}\` but no ${CASES_FILE} was packed`, where(CASES_FILE));
    const result = await runStress({
      calibration,
      count: report.planned_runs,
      chaos: report.chaos_profile,
      concurrency: report.concurrency,
      seed: report.seed,
      model: report.model,
      scenes: report.scenes_per_run,
      shard: report.shard,
      cases: casesText === null ? null : { ...parseJson<object>(casesText, where(CASES_FILE)) } as { cases: unknown[] },
      // No real waiting: the simulated latencies are figures, not sleeps.
      timeScale: 0,
      cachePath: null,
      clock: () => report.generated,
      signal: o.signal,
    });
    if (casesText !== null) {
      // The report names the cases file as the run saw it, not `inline`.
      result.report.cases_file = report.cases_file ?? null;
      if (result.report.scorer.startsWith('assertions:')) result.report.scorer = report.scorer;
    }
    // Cache corruption is a fact of the run's disk, not of its answers: a recorded input.
    if (result.report.cache_corruption !== report.cache_corruption) {
      result.report.cache_corruption = report.cache_corruption;
      if (report.cache_corruption > 0) result.report.verdict = 'FAIL';
    }
    derived = {
      'PR_REPORT.json': json(result.report),
      'run-cost.json': json(result.runCost),
      'chaos-log.json': result.chaosLog === null ? null : json(withRecordedTimestamps(result.chaosLog, packed['chaos-log.json'] ?? null)),
    };
    // The journal's recorded outputs must tell the same story as the seed: re-scored, they give
    // the same documents (a tampered answer or score in journal.jsonl shows here).
    const j = await fromJournal(folder, where, journals, calibration, report, o);
    for (const f of REPLAYED_FILES) {
      const a = derived[f] ?? null;
      const b = j.derived[f] ?? null;
      const diff = a === null || b === null ? (a === b ? null : '$') : firstJsonDifference(a, b);
      if (diff !== null) {
        journalCheck = { file: where(JOURNAL_FILE), status: 'differs', path: `${f} ${diff} (its recorded outputs re-score to other reports than the seed's)` };
        if (f === 'PR_REPORT.json' && a !== null && b !== null) journalChanges = changedRuns(a, b);
        break;
      }
    }
    journalCheck ??= { file: where(JOURNAL_FILE), status: 'reproduced' };
  } else {
    mode = 'recorded';
    const r = await fromJournal(folder, where, journals, calibration, report, o);
    derived = r.derived;
    if (report.provider === 'simulated' && report.cost?.budget_verdict !== 'PASS') {
      notes.push('budget FAIL: which calls the caps refused depends on the order the calls were made, so the runs are re-scored from journal.jsonl, not re-run from the seed');
    }
    notes.push(...r.notes);
  }
  const files: ReplayedFile[] = [];
  for (const f of REPLAYED_FILES) {
    const a = packed[f] ?? null;
    const b = derived[f] ?? null;
    if (a === null && b === null) continue;
    if (a === null || b === null) files.push({ file: where(f), status: 'missing', path: a === null ? 'not packed' : 'not derived' });
    else {
      const diff = firstJsonDifference(a, b);
      files.push(diff === null ? { file: where(f), status: 'reproduced' } : { file: where(f), status: 'differs', path: diff });
    }
  }
  if (journalCheck !== undefined) files.push(journalCheck);
  const replayedReport = derived['PR_REPORT.json'] === null ? null : (JSON.parse(derived['PR_REPORT.json'] as string) as PrReport);
  const reportDiffers = files.some((f) => f.status !== 'reproduced' && !f.file.endsWith(JOURNAL_FILE));
  const changes = reportDiffers && replayedReport !== null ? changedRuns(packed['PR_REPORT.json'] as string, derived['PR_REPORT.json'] as string) : journalChanges;
  return {
    folder: rel,
    mode,
    files,
    recorded: { verdict: report.verdict, budget: report.cost?.budget_verdict ?? '?' },
    replayed: { verdict: replayedReport?.verdict ?? '?', budget: replayedReport?.cost?.budget_verdict ?? '?' },
    changedRuns: changes,
    notes,
  };
}

/**
 * Replays `dir` — a pack, a stress run folder, or a sprint's final pack holding one — and compares
 * the re-derived reports with the packed ones. Throws `ERR_OMEGA_NOT_REPLAYABLE` (no stress run,
 * no journal, no calibration) and `ERR_OMEGA_MODULE_DIGEST` (a module copy whose digest differs
 * from `modules.json`); never calls a provider.
 */
export async function replay(dir: string, o: ReplayOptions = {}): Promise<ReplayResult> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new OmegaError('ERR_OMEGA_IO', `\`${path.basename(dir)}\` is not a directory`, { path: path.basename(dir) });
  const folders = findRunFolders(dir);
  if (folders.length === 0) throw notReplayable('no PR_REPORT.json (not a stress run folder, nor a pack holding one)');
  const runs: RunReplay[] = [];
  for (const rel of folders) runs.push(await replayFolder(dir, rel, o));
  const reproduced = runs.every((r) => r.files.every((f) => f.status === 'reproduced') && r.recorded.verdict === r.replayed.verdict && r.recorded.budget === r.replayed.budget);
  return { runs, reproduced };
}
