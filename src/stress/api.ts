/**
 * `runStress` — the stress gate (PR-G4) as a library function, so an engine team can run it from
 * a test file. The CLI (`omega-pr stress`) is a thin layer over it: options, progress, files.
 *
 * ```ts
 * const { report } = await runStress({ engine: './engine.mjs', cases: './cases.json', provider: myProvider, count: 20 });
 * expect(report.verdict).toBe('PASS');
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CalibrationDocument, ChaosLogDocument, RunCost } from '../../report-types';
import { SimulatedProvider, SimulatedScorer } from '../sim';
import { OmegaError, type OmegaErrorCode } from '../errors';
import { defaultClock } from '../providers/chaos';
import { DEFAULT_REAL_MODEL, checkModel } from '../models';
import type { LlmProvider } from '../providers/types';
import { loadCases, type LoadedCases } from './cases';
import { runStress as executeStress, shardRuns, type CallCounts, type RunRecord, type StressExecution } from './engine';
import { asEngine, loadEngine, loadProvider, loadScorer } from './modules';
import { type PrReport, type StressMeta } from './report';
import { derive } from './derive';
import { runCostFromLedger } from '../../native';
import {
  JOURNAL_SCHEMA,
  JournalWriter,
  calibrationDigest,
  checkResumable,
  fileDigest,
  readJournal,
  sha256,
  type JournalHeader,
  type JournalLine,
} from './journal';
import type { EngineModule, Scorer } from './types';

/** Options of {@link runStress}. */
export interface RunStressOptions {
  /** The engine: a module path, an object with `run(ctx)`, or `run` itself. Omitted: one call per case. */
  engine?: string | EngineModule | EngineModule['run'] | null;
  /** The cases: a file path, a cases document, or loaded cases. Omitted: the simulated scenes (or one case for an engine). */
  cases?: string | LoadedCases | { cases: unknown[] } | unknown[] | null;
  /** The provider: a module path or an object with `generate`. Omitted: the simulated provider. */
  provider?: string | LlmProvider | null;
  /** A scorer: a module path or an object with `score`. Omitted: the cases' checks / the engine's checks. */
  scorer?: string | Scorer | null;
  /** Calibration document (from `loadCalibration`). */
  calibration: CalibrationDocument;
  /** Runs (default calibration `STRESS_COUNT`). */
  count?: number;
  /** Chaos profile, `default`, or null (default) for none. */
  chaos?: string | null;
  /** Runs in flight at once (default 8). */
  concurrency?: number;
  /** Seed (default calibration `SEED`). */
  seed?: number;
  /** Aborts the stress run. */
  signal?: AbortSignal;
  /** Called after each run. */
  onProgress?: (done: number, total: number, run: RunRecord) => void;
  /** Model (default `simulated-scribe` with the simulated provider, else `claude-sonnet-4-5`). */
  model?: string;
  /** Scenes per run of the simulated scenes (default 3; ignored with cases or an engine). */
  scenes?: number;
  /** One shard `{ index, total }` of the runs, or null. */
  shard?: { index: number; total: number } | null;
  /** Timeout of one provider attempt, ms (default 30 000). */
  callTimeoutMs?: number;
  /** Timeout of one engine run, ms (default 600 000). */
  runTimeoutMs?: number;
  /** Real time per simulated ms (simulated provider; default 0.001, else 1). */
  timeScale?: number;
  /** Atomic cache file the answers are written through, or null (default). */
  cachePath?: string | null;
  /** Timestamp of the report and chaos log (default: now, or `SOURCE_DATE_EPOCH`). */
  clock?: () => string;
  /** Names recorded in the report (default: module file names / `name` properties). */
  names?: { provider?: string; scorer?: string; engine?: string };
  /**
   * The run journal file (`journal.jsonl`, docs/JOURNAL.md): each finished run is appended and
   * fsynced as it finishes. Default: none (the journal is kept in memory only).
   */
  journal?: string | null;
  /**
   * Continue the run recorded in `journal` (after a crash, kill -9 or an abort): its finished runs
   * are not run (nor paid for) again, their money counts against the caps, new runs are appended,
   * and the documents are those of an uninterrupted run. The journal's header must match this
   * run's options and input digests (`ERR_OMEGA_RESUME` names what differs). Without an existing
   * journal file, the run starts afresh.
   */
  resume?: boolean;
  /** How errors name the run being resumed (default: the journal's folder name). */
  resumeName?: string;
}

/**
 * What the runs of a stress run recorded, as `derive` reads it from the journal (every line: the
 * resumed ones and this process's): a whole run, or the finished runs of an interrupted one.
 */
export interface StressOutcome extends StressExecution {
  /** The journaled runs, by run index (an interrupted run: the finished ones only). */
  runs: RunRecord[];
  /** Their money (`run-cost.json`). */
  runCost: RunCost;
  /** Their chaos log (null without chaos). */
  chaosLog: ChaosLogDocument | null;
  /** Their provider calls (`PR_REPORT.json` → `calls`). */
  calls: CallCounts;
}

/** What {@link runStress} produced. */
export interface RunStressResult {
  /** `PR_REPORT.json`. */
  report: PrReport;
  /** `run-cost.json`. */
  runCost: RunCost;
  /** `chaos-log.json` (null without chaos). */
  chaosLog: ChaosLogDocument | null;
  /** The raw outcome (runs, calls, cache). */
  outcome: StressOutcome;
  /** The journal's header and every line (resumed and new): what the documents were derived from. */
  journal: { header: JournalHeader; lines: JournalLine[] };
}

/**
 * `runStress` stopped by its `signal` before every run finished: no verdict is derived from a
 * partial run. `outcome` holds the runs that completed and their calls, money and chaos log,
 * derived from the journal lines they wrote (calls of runs cut by the abort are in no line: not
 * counted, and run again by a resume).
 */
export class StressAbortedError extends OmegaError {
  /** What completed before the abort. */
  readonly outcome: StressOutcome;
  constructor(outcome: StressOutcome) {
    super('ERR_OMEGA_ABORTED', `stress aborted after ${outcome.runs.length} completed run(s): no verdict`);
    this.name = 'StressAbortedError';
    this.outcome = outcome;
  }
}

function usage(code: OmegaErrorCode, message: string): OmegaError {
  return new OmegaError(code, message);
}

/** Resolved inputs of a stress run (shared by {@link runStress} and the CLI's early checks). */
export interface ResolvedStress {
  provider: LlmProvider;
  providerName: string;
  simulated: boolean;
  scorer: Scorer;
  scorerName: string;
  userScorer: boolean;
  engine: EngineModule | null;
  engineName: string | null;
  cases: LoadedCases | null;
  model: string;
}

/**
 * Loads and checks the inputs: modules, cases, models, and that something real scores the runs
 * (`ERR_OMEGA_NO_SCORER` otherwise — the simulated scorer only goes with the simulated provider).
 */
export async function resolveStress(o: RunStressOptions): Promise<ResolvedStress> {
  const calibration = o.calibration;
  const seed = o.seed ?? calibration.SEED;
  const ctx = { seed, calibration };
  let provider: LlmProvider;
  let providerName: string;
  if (typeof o.provider === 'string') ({ provider, name: providerName } = await loadProvider(o.provider, ctx));
  else if (o.provider) {
    provider = o.provider;
    providerName = o.names?.provider ?? ((o.provider as { name?: unknown }).name as string | undefined) ?? 'provider';
  } else {
    provider = new SimulatedProvider({ seed, timeScale: o.timeScale ?? 0.001 });
    providerName = 'simulated';
  }
  const simulated = provider instanceof SimulatedProvider;
  let engine: EngineModule | null = null;
  if (typeof o.engine === 'string') engine = await loadEngine(o.engine, ctx);
  else if (o.engine) engine = asEngine(o.engine, o.names?.engine ?? 'engine');
  const engineName = engine === null ? null : (o.names?.engine ?? engine.name ?? (typeof o.engine === 'string' ? path.basename(o.engine) : 'engine'));
  let cases: LoadedCases | null = null;
  if (o.cases) {
    if (typeof o.cases === 'object' && 'suite' in (o.cases as object)) cases = o.cases as LoadedCases;
    else cases = await loadCases(o.cases);
  } else if (engine !== null) {
    // An engine without a cases file runs once per run on one case, `run`.
    cases = await loadCases({ cases: [{ id: 'run', prompt: '(engine run)' }] });
  }
  const model = o.model ?? (simulated ? 'simulated-scribe' : DEFAULT_REAL_MODEL);
  const today = (o.clock ?? defaultClock)().slice(0, 10);
  const judgeModels = (cases?.doc.cases ?? []).flatMap((c) => c.assert.filter((k) => k.type === 'llm-judge').map((k) => (k.value as { model?: string }).model));
  const models = new Set([model, ...(cases?.doc.cases.map((c) => c.model) ?? []), ...judgeModels].filter((m): m is string => m !== undefined));
  // Every model priced before any call (ERR_OMEGA_UNKNOWN_MODEL otherwise); a deprecated one warns.
  for (const m of models) checkModel(m, calibration, today);
  let scorer: Scorer;
  let scorerName: string;
  let userScorer = false;
  if (typeof o.scorer === 'string') {
    ({ scorer, name: scorerName } = await loadScorer(o.scorer, ctx));
    userScorer = true;
  } else if (o.scorer) {
    scorer = o.scorer;
    scorerName = o.names?.scorer ?? scorer.name ?? 'scorer';
    userScorer = !(scorer instanceof SimulatedScorer);
    if (!userScorer && (!simulated || engine !== null || cases !== null)) {
      throw usage('ERR_OMEGA_NO_SCORER', `the simulated scorer only goes with the simulated provider and scenes: it ignores the answers of ${engineName ?? providerName}`);
    }
  } else if (cases !== null && cases.suite.hasChecks) {
    scorer = new SimulatedScorer(); // not used: the cases' checks score the runs
    scorerName = `assertions:${cases.name}`;
  } else if (engine !== null) {
    scorer = new SimulatedScorer(); // not used: the engine's own checks score the runs (checked per run)
    scorerName = `engine-checks:${engineName}`;
  } else if (simulated && cases === null) {
    scorer = new SimulatedScorer();
    scorerName = 'simulated';
  } else {
    throw usage(
      'ERR_OMEGA_NO_SCORER',
      `nothing would judge the answers of provider ${providerName}${cases ? ` on ${cases.name} (its cases have no \`assert\` checks)` : ''}: ` +
        'the simulated scorer ignores answers and only goes with the simulated provider. Add `assert` checks to your cases (--input cases.json), ' +
        'a scorer module (--scorer ./scorer.mjs), or an engine whose run(ctx) returns its own checks (--engine ./engine.mjs)',
    );
  }
  return { provider, providerName, simulated, scorer, scorerName, userScorer, engine, engineName, cases, model };
}

/**
 * Runs the stress gate: `count` runs (of the engine, of one call per case, or of the simulated
 * scenes) through the provider stack, scored, analysed by the core. Never throws for a failing
 * run (an engine or scorer that throws fails that run); throws coded errors for bad input
 * (`ERR_OMEGA_CASES`, `ERR_OMEGA_MODULE`, `ERR_OMEGA_NO_SCORER`, `ERR_OMEGA_UNKNOWN_MODEL`, …).
 */
export async function runStress(o: RunStressOptions, resolved?: ResolvedStress): Promise<RunStressResult> {
  const r = resolved ?? (await resolveStress(o));
  const calibration = o.calibration;
  const count = o.count ?? calibration.STRESS_COUNT;
  const seed = o.seed ?? calibration.SEED;
  const chaosProfile = o.chaos ?? null;
  if (chaosProfile !== null && chaosProfile !== 'default' && !(chaosProfile in calibration.chaos_profiles)) {
    throw usage('ERR_OMEGA_UNKNOWN_PROFILE', `unknown chaos profile "${chaosProfile}" (known: ${Object.keys(calibration.chaos_profiles).join(', ')}, default)`);
  }
  const concurrency = o.concurrency ?? 8;
  const shard = o.shard ?? null;
  const clock = o.clock ?? defaultClock;
  const scenesPerRun = r.cases !== null ? r.cases.doc.cases.length : (o.scenes ?? 3);
  const provider = r.provider;
  const meta: StressMeta = {
    provider: r.providerName,
    scorer: r.scorerName,
    seed,
    chaos_profile: chaosProfile,
    concurrency,
    scenes_per_run: scenesPerRun,
    model: r.model,
    planned_runs: count,
    shard,
    hard_pass_score: r.cases !== null && !r.userScorer ? r.cases.doc.hard_pass_score : (r.scorer.hardPassScore ?? null),
    engine: r.engineName,
    cases_file: o.cases && r.cases !== null ? r.cases.name : null,
  };
  if (r.cases !== null) meta.case_ids = r.cases.doc.cases.map((c) => c.id);
  const header = journalHeader(o, r, meta);
  // The journal: a new one, or the one being resumed (checked against this run's header).
  let recorded: JournalHeader = header;
  let resumed: JournalLine[] = [];
  let writer: JournalWriter | null = null;
  if (o.journal) {
    if (o.resume === true && fs.existsSync(o.journal)) {
      const j = readJournal(o.journal);
      checkResumable(j.header, header, o.resumeName ?? path.basename(path.dirname(path.resolve(o.journal))));
      if (j.lines.some((l) => l.type === 'header')) {
        throw new OmegaError('ERR_OMEGA_RESUME', `${path.basename(o.journal)} holds several journals (merged shards): resume each shard's own journal`);
      }
      recorded = j.header;
      resumed = j.lines as JournalLine[];
      if (!resumed.some((l) => l.type === 'end')) writer = new JournalWriter(o.journal, { keepBytes: j.validBytes });
    } else {
      writer = new JournalWriter(o.journal, { header });
    }
  }
  const complete = resumed.some((l) => l.type === 'end');
  let executed: StressExecution;
  try {
    executed = await executeStress({
      count,
      concurrency,
      seed,
      chaosProfile,
      calibration,
      provider,
      scorer: r.scorer,
      scenesPerRun,
      model: r.model,
      shard,
      callTimeoutMs: o.callTimeoutMs ?? 30_000,
      timeScale: r.simulated ? (o.timeScale ?? 0.001) : (o.timeScale ?? 1),
      clock,
      providerLatencyOnly: r.simulated,
      promptTokens: provider instanceof SimulatedProvider ? (req) => provider.promptTokens(req) : undefined,
      // A complete journal (kill -9 after its end line) has nothing left to run or check.
      cachePath: complete ? null : (o.cachePath ?? null),
      onRun: o.onProgress,
      cases: r.engine === null && r.cases === null ? null : r.cases,
      engine: r.engine,
      userScorer: r.userScorer,
      runTimeoutMs: o.runTimeoutMs,
      signal: o.signal,
      resumed,
      onJournal: writer === null ? undefined : (line) => (writer as JournalWriter).append(line),
    });
  } finally {
    writer?.close();
  }
  const lines = complete ? resumed : [...resumed, ...executed.journal];
  // Every document comes only from the journal: live = resumed = merged = replayed = interrupted.
  if (!executed.complete) throw new StressAbortedError(partialOutcome(executed, calibration, recorded, lines, clock()));
  const { report, runCost, chaosLog } = derive(calibration, [{ header: recorded, lines }], clock());
  const outcome: StressOutcome = { ...executed, runs: report.runs, runCost, chaosLog, calls: report.calls };
  return { report, runCost, chaosLog, outcome, journal: { header: recorded, lines } };
}

/**
 * The outcome of an interrupted run: `derive` over the lines it journaled (its verdict is not
 * used: no verdict from a partial run). With no finished run there is nothing to derive from
 * (statistics over zero runs are `ERR_OMEGA_EMPTY_RUNS`) and nothing recorded: no runs, no calls,
 * the money of an empty ledger, no chaos log.
 */
function partialOutcome(executed: StressExecution, calibration: CalibrationDocument, header: JournalHeader, lines: JournalLine[], generated: string): StressOutcome {
  if (lines.some((l) => l.type === 'run')) {
    const d = derive(calibration, [{ header, lines }], generated);
    return { ...executed, runs: d.report.runs, runCost: d.runCost, chaosLog: d.chaosLog, calls: d.report.calls };
  }
  const calls: CallCounts = { total: 0, failed: 0, retries: 0, by_error: {}, error_samples: {}, models: { requested: header.meta.model, returned: [] } };
  const runCost = runCostFromLedger([], calibration, { shards: header.meta.shard?.total ?? 1 }) as RunCost;
  return { ...executed, runs: [], runCost, chaosLog: null, calls };
}

/** The journal header of a run: its options (the report's meta) and the digests of its inputs. */
export function journalHeader(o: RunStressOptions, r: ResolvedStress, meta: StressMeta): JournalHeader {
  const digests: JournalHeader['digests'] = { calibration: calibrationDigest(o.calibration) };
  if (r.cases !== null) {
    const d = typeof o.cases === 'string' ? fileDigest(o.cases) : undefined;
    digests.cases = d ?? sha256(JSON.stringify(r.cases.doc));
  }
  for (const k of ['engine', 'provider', 'scorer'] as const) {
    const v = o[k];
    const d = typeof v === 'string' ? fileDigest(v) : undefined;
    if (d !== undefined) digests[k] = d;
  }
  return {
    type: 'header',
    schema: JOURNAL_SCHEMA,
    omega_pr_version: omegaVersion(),
    meta,
    mode: r.engine !== null ? 'engine' : r.cases !== null ? 'cases' : 'scenes',
    user_scorer: r.userScorer,
    digests,
  };
}

let version: string | undefined;
function omegaVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version ??= (require('../../package.json') as { version: string }).version;
  return version;
}

export { shardRuns };
