/**
 * `omega-pr stress` — runbook phase 5 (PR-4), gate PR-G4: N runs through the provider stack,
 * the variance analysis, `PR_REPORT.json` and `stress-report.html`. `--shard i/n` runs one part of
 * a large run on one machine; `omega-pr stress merge <dirs…>` merges the parts into exactly the
 * report one machine would have written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { CalibrationDocument, ChaosLogDocument } from '../../../report-types';
import { isShardRun, stressRunName } from '../../../native';
import { loadCalibration } from '../../index';
import { renderStressHtml } from '../../report/html';
import { StressAbortedError, resolveStress, runStress, type RunStressResult } from '../../stress/api';
import { shardRuns } from '../../stress/engine';
import { mergeShards, type PrReport } from '../../stress/report';
import { rateLimitLines } from '../../providers/ratelimit';
import { CALIBRATION_FILE, CASES_FILE, MODULES_DIR, MODULES_FILE, caseAssertionFiles, evidenceFiles, packedCalibration } from '../../stress/evidence';
import { derive } from '../../stress/derive';
import { JOURNAL_FILE, journalPathOf, parseJournal, splitJournals } from '../../stress/journal';
import { writeGateNcr } from '../ncr';
import type { RegisterCommand } from '../util';
import { progressMilestone, renderTable } from '../table';
import { EXIT, RunDir, UsageError, formatUsd, intOption, optionalInt, isoNow, rel, runStamp, writeInterrupted, updateLatest, latestAlias } from '../util';
import { InterruptedError, onCleanup, shutdownSignal } from '../lifecycle';
import { resolveShard } from '../shard';

/** Options of {@link runStressCommand} (the CLI's, parsed). */
export interface StressCommandOptions {
  count?: number;
  chaos?: string | null;
  concurrency?: number;
  seed?: number;
  shard?: { index: number; total: number } | null;
  calibrationFile?: string;
  provider?: string;
  scorer?: string;
  /** The user's engine module (`--engine`). */
  engine?: string;
  /** The cases file (`--input`). */
  input?: string;
  /** Timeout of one engine run, ms. */
  runTimeoutMs?: number;
  scenes?: number;
  model?: string;
  callTimeoutMs?: number;
  timeScale?: number;
  out?: string;
  cache?: boolean;
  /** Print progress and the analysis block (default true). */
  print?: boolean;
  /**
   * Continue an interrupted or crashed run: its run folder (the interrupted folder printed on
   * Ctrl-C, or the `*.cache.partial-<pid>` staging folder a kill -9 left), or its `journal.jsonl`.
   */
  resume?: string;
  /** The command line as typed (without node and the script): printed back as the resume command. */
  argv?: string[];
}

/** Result of a stress command: the report and where the run folder is. */
export interface StressResult {
  report: PrReport;
  dir: string;
}

/** The command that resumes the run whose journal is in `dir`: the same arguments, `--resume dir`. */
export function resumeCommand(argv: string[] | undefined, dir: string): string {
  const args: string[] = [];
  const given = argv ?? ['stress'];
  for (let i = 0; i < given.length; i++) {
    const a = given[i] as string;
    if (a === '--resume') {
      i++;
      continue;
    }
    if (a.startsWith('--resume=')) continue;
    args.push(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  }
  return `omega-pr ${args.join(' ')} --resume ${rel(dir)}`;
}

/** The folder holding the journal of `--resume <p>` (a run folder, or the journal file itself). */
function resumeDir(p: string): string {
  const file = journalPathOf(p);
  if (!fs.existsSync(file)) {
    throw new UsageError(`--resume ${p}: no ${JOURNAL_FILE} there (give the interrupted run folder, or the *.cache.partial-<pid> folder a crash left in PR_RUNS)`, 'ERR_OMEGA_RESUME');
  }
  return path.dirname(file);
}

/** The answers cache's files in `dir`: its snapshot and its own journal (not its lock). */
function cacheFilesIn(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => f.startsWith('answers-cache.json') && !f.endsWith('.lock'));
  } catch {
    return [];
  }
}

/** Removes a staging folder a crashed process left (`<name>.partial-<pid>`, that process gone) and its empty claimed name. */
function removeLeftover(dir: string): void {
  const m = /^(.*)\.partial-(\d+)$/.exec(path.resolve(dir));
  if (!m) return;
  try {
    process.kill(Number(m[2]), 0);
    return; // Still running: not ours to remove.
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.rmdirSync(m[1] as string);
  } catch {
    // Not empty, or gone.
  }
}
function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Prints the runbook's analysis block and a summary table. */
export function printAnalysis(report: PrReport): void {
  const hard = report.analysis.metrics.hard_score;
  console.log('\n=== ANALYSIS ===');
  console.log(`Provider: ${report.provider} | Engine: ${report.engine ?? 'none (one call per case)'} | Scorer: ${report.scorer}${report.cases_file ? ` | Cases: ${report.cases_file}` : ''}`);
  console.log(`Hard Pass Rate: ${pct(report.hard_pass_rate)}`);
  console.log(`Soft Pass Rate: ${pct(report.analysis.soft_pass_rate)}`);
  if (hard) console.log(`Mean Hard Score: ${hard.mean.toFixed(3)} ± ${hard.std.toFixed(3)}`);
  console.log(
    `Cost: $${formatUsd(report.cost.total_cost_usd)} (budget ${report.cost.budget_verdict}${report.cost.violations > 0 ? `, ${report.cost.violations} violation(s): over budget is FAIL` : ''})`,
  );
  if (report.calls.failed > 0) {
    const codes = Object.entries(report.calls.by_error).map(([code, n]) => `${code} × ${n}`).join(', ');
    console.log(`Failed calls: ${report.calls.failed} of ${report.calls.total} (${codes})`);
  }
  for (const line of rateLimitLines(report.rate_limit)) console.log(line);
  console.log(`Cache corruption: ${report.cache_corruption}`);
  if (report.downgrade_flag) console.log(`Downgrade: ${report.downgrade_flag}`);
  for (const v of report.variance_violations) {
    if ('message' in v) console.log(`  variance violation: ${v.metric}: ${v.message}`);
    else if ('min' in v) console.log(`  variance violation: ${v.metric} ${v.statistic} = ${v.value} < ${v.min} (${v.reason})`);
    else console.log(`  variance violation: ${v.metric} ${v.statistic} = ${v.value ?? 'n/a'} > ${v.max} (${v.reason})`);
  }
  const ca = report.case_analysis;
  if (ca) {
    console.log('Per case (hard pass rate, Wilson 95%):');
    for (const c of ca.cases) {
      const failing = Object.entries(c.failing_checks).map(([t, n]) => `${t} × ${n}`).join(', ');
      console.log(`  ${c.id}: ${pct(c.pass_rate)} [${pct(c.pass_ci95.low)}, ${pct(c.pass_ci95.high)}] ${c.status}${failing ? ` — failing: ${failing}` : ''}`);
    }
    const pk = Object.entries(ca.pass_k_mean).map(([k, v]) => `pass^${k} ${v.toFixed(3)}`).join(', ');
    if (pk) console.log(`  mean over cases: ${pk}`);
  }
  const oc = report.outcome_chaos;
  if (oc) {
    console.log(`Outcome chaos: ${oc.caught} of ${oc.delivered} corrupted answers caught${oc.detection_rate === null ? '' : ` (detection rate ${pct(oc.detection_rate)})`}`);
    for (const [fault, f] of Object.entries(oc.by_fault)) {
      console.log(`  ${fault}: caught ${f.caught} of ${f.delivered}${f.delivered > f.caught ? ` — accepted ${f.delivered - f.caught}` : ''}`);
    }
  }
  const failedRuns = report.runs.filter((r) => r.error !== undefined);
  if (failedRuns.length > 0) {
    console.log(`Failed runs: ${failedRuns.length} (first: run ${failedRuns[0]?.run_index}: ${failedRuns[0]?.error})`);
  }
  const f = (x: number): string => x.toFixed(4);
  const rows = Object.entries(report.analysis.metrics).map(([name, m]) => [name, m.n, f(m.mean), f(m.std), f(m.p50), f(m.p95), f(m.min), f(m.max)]);
  console.log(renderTable(['metric', 'n', 'mean', 'std', 'p50', 'p95', 'min', 'max'], rows));
  console.log(`VERDICT: ${report.verdict}`);
}

function writeRunFolder(
  metricsRoot: string,
  name: string,
  report: PrReport,
  runCost: unknown,
  chaosLog: ChaosLogDocument | null,
  calibration: CalibrationDocument,
  fill?: (dir: RunDir) => void,
): string {
  const dir = new RunDir(metricsRoot, name);
  try {
    fill?.(dir);
    dir.json('PR_REPORT.json', report);
    dir.json('run-cost.json', runCost);
    if (chaosLog !== null) dir.json('chaos-log.json', chaosLog);
    const hardEnv = calibration.VARIANCE_ENVELOPES.hard_score;
    const softEnv = calibration.VARIANCE_ENVELOPES.soft_score;
    const m = report.analysis.metrics;
    dir.text(
      'stress-report.html',
      renderStressHtml({
        title: `omega-pr stress — ${report.total_runs} runs`,
        provider: report.provider,
        engine: report.engine ?? null,
        scorer: report.scorer,
        casesFile: report.cases_file ?? null,
        cases: report.case_analysis?.cases.map((c) => ({ id: c.id, passRate: c.pass_rate, low: c.pass_ci95.low, high: c.pass_ci95.high, status: c.status })) ?? [],
        outcomeChaos: report.outcome_chaos
          ? Object.entries(report.outcome_chaos.by_fault).map(([fault, f]) => ({ fault, delivered: f.delivered, caught: f.caught }))
          : [],
        seed: report.seed,
        totalRuns: report.total_runs,
        hardScores: report.runs.map((r) => r.hard_score),
        softScores: report.runs.map((r) => r.soft_score),
        hardPassRate: report.hard_pass_rate,
        hardPassCi95: report.analysis.hard_pass_ci95,
        softPassRate: report.analysis.soft_pass_rate,
        passRatioMin: report.analysis.pass_ratio_min,
        verdict: report.verdict,
        downgradeFlag: report.downgrade_flag,
        envelopes: {
          hard: hardEnv?.statistic === 'std' && m.hard_score ? { mean: m.hard_score.mean, maxStd: hardEnv.max } : undefined,
          soft: softEnv?.statistic === 'std' && m.soft_score ? { mean: m.soft_score.mean, maxStd: softEnv.max } : undefined,
        },
        hardPassScore: report.hard_pass_score ?? undefined,
        generated: report.generated,
      }),
    );
    const final = dir.commit();
    // Complete run with a verdict: `PR_RUNS/stress<N>_latest` points here (never for a shard).
    if (!isShardRun(name)) updateLatest(final, latestAlias(name));
    return final;
  } catch (err) {
    dir.abort();
    throw err;
  }
}

/** Writes the evidence files (`calibration.json`, `cases.json`, `modules.json`, `modules/…`) into a run folder. */
function writeEvidence(dir: RunDir, files: Map<string, Buffer>): void {
  for (const [name, bytes] of files) {
    const to = dir.stagingPath(name);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, bytes);
  }
}

/** Runs `omega-pr stress` (also used by `sprint`). */
export async function runStressCommand(o: StressCommandOptions): Promise<StressResult> {
  const calibration = loadCalibration(o.calibrationFile);
  const count = o.count ?? calibration.STRESS_COUNT;
  const seed = o.seed ?? calibration.SEED;
  const shard = o.shard ?? null;
  const chaosProfile = o.chaos ?? null;
  if (chaosProfile !== null && chaosProfile !== 'default' && !(chaosProfile in calibration.chaos_profiles)) {
    const e = new UsageError(`unknown chaos profile "${chaosProfile}" (known: ${Object.keys(calibration.chaos_profiles).join(', ')}, default)`, 'ERR_OMEGA_UNKNOWN_PROFILE');
    throw e;
  }
  const concurrency = o.concurrency ?? 8;
  const metricsRoot = o.out ?? path.join('metrics', 'pr');
  const name = stressRunName(count, runStamp(), shard);
  const total = shardRuns(count, shard).length;
  const print = o.print ?? true;
  const options = {
    engine: o.engine ?? null,
    cases: o.input ?? null,
    provider: o.provider ?? null,
    scorer: o.scorer ?? null,
    calibration,
    count,
    chaos: chaosProfile,
    concurrency,
    seed,
    model: o.model,
    scenes: o.scenes ?? 3,
    shard,
    callTimeoutMs: o.callTimeoutMs ?? 30_000,
    runTimeoutMs: o.runTimeoutMs,
    timeScale: o.timeScale,
    clock: isoNow,
  };
  // Input errors (cases, modules, models, no scorer) surface before any run starts.
  const resolved = await resolveStress(options);
  // What the verdict depends on, read as loaded: the calibration, the cases, the modules' digests.
  const evidence = evidenceFiles({
    calibration,
    providerName: resolved.providerName,
    engine: o.engine,
    provider: o.provider,
    scorer: o.scorer,
    cases: o.input,
    caseFiles: o.input !== undefined && resolved.cases !== null ? caseAssertionFiles(o.input, resolved.cases.doc) : [],
  });

  const bar =
    print && process.stdout.isTTY
      ? new SingleBar({ format: 'Run {value}/{total} [{bar}] {percentage}% | ETA {eta_formatted} | hard pass {rate}', hideCursor: true })
      : null;
  bar?.start(total, 0, { rate: '—' });
  const stopBar = onCleanup(() => bar?.stop());
  let passes = 0;
  let lastPrint = Date.now();
  // The answers go through the atomic cache in the staging folder; it is part of the evidence.
  // The journal is there too, appended as each run finishes: after a kill -9 the staging folder
  // stays, and `--resume` continues from it.
  const from = o.resume === undefined ? null : resumeDir(o.resume);
  const staging = new RunDir(metricsRoot, `${name}.cache`);
  const journalFile = staging.stagingPath(JOURNAL_FILE);
  const cacheFile = staging.stagingPath('answers-cache.json');
  if (from !== null) {
    fs.copyFileSync(journalPathOf(from), journalFile);
    if (o.cache !== false) for (const f of cacheFilesIn(from)) fs.copyFileSync(path.join(from, f), staging.stagingPath(f));
  }
  if (print) console.log(`Journal: ${rel(journalFile)}${from !== null ? ` (resuming ${rel(from)})` : ''}`);
  let result: RunStressResult;
  try {
    result = await runStress(
      {
        ...options,
        journal: journalFile,
        resume: from !== null,
        resumeName: from === null ? undefined : rel(from),
        cachePath: o.cache === false ? null : cacheFile,
        signal: shutdownSignal,
        onProgress: (done, all, r) => {
          if (r.hard_pass) passes++;
          if (bar) bar.update(done, { rate: pct(passes / done) });
          else if (print && progressMilestone(done, all, Date.now() - lastPrint)) {
            // Not a TTY (CI, a log file): the runbook's `Run i/N...` line every 10 % (and at least every 10 s).
            lastPrint = Date.now();
            console.log(`Run ${done}/${all}... run ${r.run_index}: hard ${r.hard_score.toFixed(3)} ${r.hard_pass ? 'PASS' : 'FAIL'}${r.error ? ` (${r.error})` : ''}`);
          }
        },
      },
      resolved,
    );
  } catch (err) {
    bar?.stop();
    stopBar();
    if (!(err instanceof StressAbortedError)) {
      staging.abort();
      throw err;
    }
    // Interrupted: what completed, marked incomplete, in its own run folder; never a verdict.
    // The journal goes with it: `--resume <that folder>` runs only what is missing.
    const outcome = err.outcome;
    let dir: string;
    try {
      dir = writeInterrupted(
        metricsRoot,
        name,
        (folder) => ({ phase: 'stress', planned: total, completed: outcome.runs.length, resume_command: resumeCommand(o.argv, folder), runs: outcome.runs, calls: outcome.calls }),
        { 'run-cost.json': outcome.runCost },
        { [JOURNAL_FILE]: journalFile, ...Object.fromEntries(cacheFilesIn(path.dirname(cacheFile)).map((f) => [f, staging.stagingPath(f)])) },
      );
    } finally {
      staging.abort();
    }
    if (print) {
      console.log(`Interrupted after ${outcome.runs.length}/${total} runs: ${rel(path.join(dir, 'interrupted-report.json'))} (complete: false)`);
      console.log(`Resume: ${resumeCommand(o.argv, dir)}`);
    }
    throw new InterruptedError(`stress (${outcome.runs.length}/${total} runs done)`);
  }
  bar?.stop();
  stopBar();
  const { report, runCost, chaosLog } = result;
  let dir: string;
  try {
    dir = writeRunFolder(metricsRoot, name, report, runCost, chaosLog, calibration, (d) => {
      writeEvidence(d, evidence);
      if (fs.existsSync(cacheFile)) fs.copyFileSync(cacheFile, d.stagingPath('answers-cache.json'));
      fs.copyFileSync(journalFile, d.stagingPath(JOURNAL_FILE));
    });
  } finally {
    staging.abort();
  }
  // Resumed from what a crash left behind: that staging folder has served.
  if (from !== null) removeLeftover(from);
  if (print) {
    printAnalysis(report);
    console.log(`Report: ${rel(path.join(dir, 'PR_REPORT.json'))}`);
  }
  return { report, dir };
}

/**
 * The evidence of a merged run folder: the shards ran the same inputs, so the first shard's
 * copies of the cases and modules; the calibration the merge used.
 */
function mergedEvidence(d: RunDir, dirs: string[], calibration: CalibrationDocument): void {
  const first = dirs[0] as string;
  for (const name of [CASES_FILE, MODULES_FILE, MODULES_DIR]) {
    const from = path.join(first, name);
    if (fs.existsSync(from)) fs.cpSync(from, d.stagingPath(name), { recursive: true });
  }
  d.text(CALIBRATION_FILE, packedCalibration(calibration));
}

/** Runs `omega-pr stress merge`. */
export function runStressMerge(dirs: string[], o: { out?: string; calibrationFile?: string; print?: boolean }): StressResult {
  if (dirs.length === 0) throw new UsageError('stress merge needs the shard folders to merge');
  const calibration = loadCalibration(o.calibrationFile);
  const read = (dir: string, file: string) => {
    const p = path.join(dir, file);
    if (!fs.existsSync(p)) return null;
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8')) as unknown;
    } catch (err) {
      throw new UsageError(`${rel(p)}: not valid JSON (${(err as Error).message})`, 'ERR_OMEGA_MERGE');
    }
  };
  // Shards with journals: concatenate them and derive (as one machine would); older shard
  // folders without journals merge their reports.
  if (dirs.every((d) => fs.existsSync(path.join(d, JOURNAL_FILE)))) {
    // A torn last line (a crash mid-append) is not part of a journal.
    const texts = dirs.map((d) => fs.readFileSync(path.join(d, JOURNAL_FILE), 'utf8')).map((t) => t.slice(0, t.lastIndexOf('\n') + 1));
    let journals;
    try {
      journals = texts.flatMap((t, i) => splitJournals(parseJournal(t, `${rel(dirs[i] as string)}/${JOURNAL_FILE}`)));
    } catch (err) {
      throw new UsageError((err as Error).message, 'ERR_OMEGA_MERGE');
    }
    const merged = derive(calibration, journals, isoNow(), { merge: true });
    const metricsRoot = o.out ?? path.join('metrics', 'pr');
    const dir = writeRunFolder(metricsRoot, stressRunName(merged.report.planned_runs, runStamp()), merged.report, merged.runCost, merged.chaosLog, calibration, (d) => {
      // Shard journals in shard order, concatenated: `derive` of this file gives these documents.
      const shardOf = (t: string): number => (JSON.parse(t.slice(0, t.indexOf('\n'))) as { meta: { shard: { index: number } | null } }).meta.shard?.index ?? 0;
      d.text(JOURNAL_FILE, [...texts].sort((a, b) => shardOf(a) - shardOf(b)).join(''));
      mergedEvidence(d, dirs, calibration);
    });
    if (o.print ?? true) {
      console.log(`Merged ${journals.length} shards: ${merged.report.total_runs} runs`);
      printAnalysis(merged.report);
      console.log(`Report: ${rel(path.join(dir, 'PR_REPORT.json'))}`);
    }
    return { report: merged.report, dir };
  }
  const parts = dirs.map((d) => {
    const report = read(d, 'PR_REPORT.json') as PrReport | null;
    const runCost = read(d, 'run-cost.json');
    if (report === null || runCost === null) throw new UsageError(`${rel(d)}: no PR_REPORT.json / run-cost.json (not a stress run folder)`, 'ERR_OMEGA_MERGE');
    return { report, runCost: runCost as never, chaosLog: read(d, 'chaos-log.json') as ChaosLogDocument | null };
  });
  const merged = mergeShards(parts, calibration, isoNow());
  const metricsRoot = o.out ?? path.join('metrics', 'pr');
  const dir = writeRunFolder(metricsRoot, stressRunName(merged.report.planned_runs, runStamp()), merged.report, merged.runCost, merged.chaosLog, calibration, (d) => mergedEvidence(d, dirs, calibration));
  if (o.print ?? true) {
    console.log(`Merged ${parts.length} shards: ${merged.report.total_runs} runs`);
    printAnalysis(merged.report);
    console.log(`Report: ${rel(path.join(dir, 'PR_REPORT.json'))}`);
  }
  return { report: merged.report, dir };
}

/** The NCR of a failed stress gate (PR-G4; over budget is PR-G2's FAIL too). */
function stressNcr(report: PrReport, dir: string): void {
  const lines = [
    `VERDICT: ${report.verdict}`,
    `hard_pass_rate ${report.hard_pass_rate} (PASS_RATIO_MIN ${report.analysis.pass_ratio_min}), ${report.total_runs} runs`,
    `budget: ${report.cost.budget_verdict}`,
  ];
  if (report.downgrade_flag) lines.push(`downgrade_flag: ${report.downgrade_flag}`);
  for (const v of report.variance_violations ?? []) lines.push(`variance violation: ${JSON.stringify(v)}`);
  writeGateNcr('PR-G4', 'Stress variance', lines.join('\n'), [path.join(dir, 'PR_REPORT.json'), path.join(dir, 'run-cost.json')]);
}

/** Registers `omega-pr stress` and `omega-pr stress merge`. */
export const register: RegisterCommand = (program, setExit) => {
  const stress = program
    .command('stress')
    .description('Phase 5 (PR-4, gate PR-G4): N runs, variance analysis, PR_REPORT.json and stress-report.html')
    .option('--count <n>', 'number of runs (default: calibration STRESS_COUNT)')
    .option('--chaos <profile>', 'inject faults with this profile (light, medium, heavy, hellfire, default)')
    .option('--concurrency <k>', 'runs in flight at once', '8')
    .option('--seed <s>', 'seed (default: calibration SEED)')
    .option('--shard <i/n|auto>', 'run only shard i of n (runs r with r % n == i-1; budget / n); auto: the index from OMEGA_SHARD_INDEX or JOB_COMPLETION_INDEX (0-based)')
    .option('--shards <n>', 'shard count with --shard auto (the matrix size / the Indexed Job\'s completions)')
    .option('--scenes <n>', 'scenes (provider calls) per run', '3')
    .option('--model <name>', 'model name (priced in calibration)')
    .option('--provider <module>', 'your provider module (default: the built-in simulated provider)')
    .option('--scorer <module>', 'your scorer module (default: the cases\' checks; the simulated scorer only with the simulated provider)')
    .option('--engine <module>', 'your engine module: run(ctx) once per run, its LLM calls through the stack')
    .option('--input <cases>', 'cases file, .json or .yaml/.yml (schemas/cases.schema.json): prompts and their checks')
    .option('--run-timeout-ms <ms>', 'timeout of one engine run', '600000')
    .option('--calibration <file>', 'calibration file (default: the shipped budgets/calibration.json)')
    .option('--call-timeout-ms <ms>', 'timeout of one provider attempt', '30000')
    .option('--time-scale <x>', 'real time per simulated ms (simulated provider; default 0.001)')
    .option('--no-cache', 'do not write answers through the atomic cache')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .option('--resume <run-dir>', 'continue an interrupted or crashed run from its journal (the folder printed on Ctrl-C, or the *.cache.partial-<pid> folder a kill -9 left); same options as the first run')
    // Options after `merge` belong to `merge` (its own --calibration / --out), not to `stress`.
    .enablePositionalOptions()
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const timeScale = o.timeScale === undefined ? undefined : Number(o.timeScale);
      if (timeScale !== undefined && !(timeScale >= 0)) throw new UsageError(`--time-scale must be a number ≥ 0, got "${o.timeScale}"`);
      const { report, dir } = await runStressCommand({
        count: optionalInt('--count', o.count as string | undefined, 1),
        chaos: (o.chaos as string | undefined) ?? null,
        concurrency: intOption('--concurrency', o.concurrency as string, 1),
        seed: optionalInt('--seed', o.seed as string | undefined, 0),
        shard: resolveShard(o.shard as string | undefined, o.shards as string | undefined),
        scenes: intOption('--scenes', o.scenes as string, 1),
        model: o.model as string | undefined,
        provider: o.provider as string | undefined,
        scorer: o.scorer as string | undefined,
        engine: o.engine as string | undefined,
        input: o.input as string | undefined,
        runTimeoutMs: intOption('--run-timeout-ms', o.runTimeoutMs as string, 1),
        calibrationFile: o.calibration as string | undefined,
        callTimeoutMs: intOption('--call-timeout-ms', o.callTimeoutMs as string, 1),
        timeScale,
        cache: o.cache !== false,
        out: o.out as string,
        resume: o.resume as string | undefined,
        argv: process.argv.slice(2),
      });
      // Over budget is a FAIL (gate PR-G2), never a warning.
      const pass = report.verdict === 'PASS' && report.cost.budget_verdict === 'PASS';
      if (!pass) stressNcr(report, dir);
      setExit(pass ? EXIT.PASS : EXIT.FAIL);
    });
  stress
    .command('merge')
    .description('merge shard folders (stress --shard i/n) into the report of one machine')
    .argument('<dirs...>', 'the shard run folders')
    .option('--calibration <file>', 'calibration file')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .action((dirs: string[], o: { calibration?: string; out: string }) => {
      const { report, dir } = runStressMerge(dirs, { out: o.out, calibrationFile: o.calibration });
      const pass = report.verdict === 'PASS' && report.cost.budget_verdict === 'PASS';
      if (!pass) stressNcr(report, dir);
      setExit(pass ? EXIT.PASS : EXIT.FAIL);
    });
};
