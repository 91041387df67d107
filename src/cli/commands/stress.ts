/**
 * `omega-pr stress` — runbook phase 5 (PR-4), gate PR-G4: N runs through the provider stack,
 * the variance analysis, `PR_REPORT.json` and `stress-report.html`. `--shard i/n` runs one part of
 * a large run on one machine; `omega-pr stress merge <dirs…>` merges the parts into exactly the
 * report one machine would have written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { CalibrationDocument } from '../../../report-types';
import type { ChaosLogDocument } from '../../../native';
import { loadCalibration } from '../../index';
import { SimulatedProvider, SimulatedScorer } from '../../sim';
import { renderStressHtml } from '../../report/html';
import { runStress, shardRuns, type StressOutcome } from '../../stress/engine';
import { loadProvider, loadScorer } from '../../stress/modules';
import { buildPrReport, mergeShards, type PrReport, type StressMeta } from '../../stress/report';
import type { Scorer } from '../../stress/types';
import type { LlmProvider } from '../../providers/types';
import type { RegisterCommand } from './index';
import { EXIT, RunDir, UsageError, intOption, optionalInt, isoNow, rel, runStamp } from '../util';
import { DEFAULT_REAL_MODEL, checkModel } from './prices';

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
  scenes?: number;
  model?: string;
  callTimeoutMs?: number;
  timeScale?: number;
  out?: string;
  cache?: boolean;
  /** Print progress and the analysis block (default true). */
  print?: boolean;
}

/** Result of a stress command: the report and where the run folder is. */
export interface StressResult {
  report: PrReport;
  dir: string;
}

function parseShard(s: string | undefined): { index: number; total: number } | null {
  if (s === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total) throw new UsageError(`--shard must be i/n with 1 ≤ i ≤ n, got "${s}"`);
  return { index, total };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Prints the runbook's analysis block and a summary table. */
export function printAnalysis(report: PrReport): void {
  const hard = report.analysis.metrics.hard_score;
  console.log('\n=== ANALYSIS ===');
  console.log(`Hard Pass Rate: ${pct(report.hard_pass_rate)}`);
  console.log(`Soft Pass Rate: ${pct(report.analysis.soft_pass_rate)}`);
  if (hard) console.log(`Mean Hard Score: ${hard.mean.toFixed(3)} ± ${hard.std.toFixed(3)}`);
  console.log(
    `Cost: $${report.cost.total_cost_usd.toFixed(4)} (budget ${report.cost.budget_verdict}${report.cost.violations > 0 ? `, ${report.cost.violations} violation(s): over budget is FAIL` : ''})`,
  );
  if (report.calls.failed > 0) {
    const codes = Object.entries(report.calls.by_error).map(([code, n]) => `${code} × ${n}`).join(', ');
    console.log(`Failed calls: ${report.calls.failed} of ${report.calls.total} (${codes})`);
  }
  console.log(`Cache corruption: ${report.cache_corruption}`);
  if (report.downgrade_flag) console.log(`Downgrade: ${report.downgrade_flag}`);
  for (const v of report.variance_violations) {
    console.log(`  variance violation: ${v.metric} ${v.statistic} = ${v.value ?? 'n/a'} > ${v.max} (${v.reason})`);
  }
  const rows: Record<string, Record<string, string | number>> = {};
  for (const [name, m] of Object.entries(report.analysis.metrics)) {
    rows[name] = { n: m.n, mean: +m.mean.toFixed(4), std: +m.std.toFixed(4), p50: +m.p50.toFixed(4), p95: +m.p95.toFixed(4), min: +m.min.toFixed(4), max: +m.max.toFixed(4) };
  }
  console.table(rows);
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
    return dir.commit();
  } catch (err) {
    dir.abort();
    throw err;
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
  const ctx = { seed, calibration };
  let provider: LlmProvider;
  let providerName: string;
  if (o.provider) ({ provider, name: providerName } = await loadProvider(o.provider, ctx));
  else ({ provider, name: providerName } = { provider: new SimulatedProvider({ seed, timeScale: o.timeScale ?? 0.001 }), name: 'simulated' });
  let scorer: Scorer;
  let scorerName: string;
  if (o.scorer) ({ scorer, name: scorerName } = await loadScorer(o.scorer, ctx));
  else ({ scorer, name: scorerName } = { scorer: new SimulatedScorer(), name: 'simulated' });
  const simulated = o.provider === undefined;
  const model = o.model ?? (simulated ? 'simulated-scribe' : DEFAULT_REAL_MODEL);
  checkModel(model, calibration, isoNow().slice(0, 10));
  const scenesPerRun = o.scenes ?? 3;
  const concurrency = o.concurrency ?? 8;
  const metricsRoot = o.out ?? path.join('metrics', 'pr');
  const name = `stress${count}_${runStamp()}${shard ? `_shard${shard.index}of${shard.total}` : ''}`;
  const total = shardRuns(count, shard).length;
  const print = o.print ?? true;

  const bar =
    print && process.stdout.isTTY
      ? new SingleBar({ format: 'Run {value}/{total} [{bar}] {percentage}% | ETA {eta_formatted} | hard pass {rate}', hideCursor: true })
      : null;
  bar?.start(total, 0, { rate: '—' });
  let passes = 0;
  // The answers go through the atomic cache in the staging folder; it is part of the evidence.
  const staging = new RunDir(metricsRoot, `${name}.cache`);
  let outcome: StressOutcome;
  try {
    outcome = await runStress({
      count,
      concurrency,
      seed,
      chaosProfile,
      calibration,
      provider,
      scorer,
      scenesPerRun,
      model,
      shard,
      callTimeoutMs: o.callTimeoutMs ?? 30_000,
      timeScale: simulated ? (o.timeScale ?? 0.001) : (o.timeScale ?? 1),
      clock: isoNow,
      providerLatencyOnly: simulated,
      promptTokens: provider instanceof SimulatedProvider ? (r) => (provider as SimulatedProvider).promptTokens(r) : undefined,
      cachePath: o.cache === false ? null : staging.stagingPath('answers-cache.json'),
      onRun: (done, all, r) => {
        if (r.hard_pass) passes++;
        if (bar) bar.update(done, { rate: pct(passes / done) });
        else if (print) console.log(`Run ${done}/${all}... run ${r.run_index}: hard ${r.hard_score.toFixed(3)} ${r.hard_pass ? 'PASS' : 'FAIL'}`);
      },
    });
  } catch (err) {
    bar?.stop();
    staging.abort();
    throw err;
  }
  bar?.stop();
  const meta: StressMeta = {
    provider: providerName,
    scorer: scorerName,
    seed,
    chaos_profile: chaosProfile,
    concurrency,
    scenes_per_run: scenesPerRun,
    model,
    planned_runs: count,
    shard,
    hard_pass_score: scorer.hardPassScore ?? null,
  };
  const report = buildPrReport({
    meta,
    runs: outcome.runs,
    runCost: outcome.runCost,
    calls: outcome.calls,
    cacheCorruption: outcome.cacheCorruption,
    calibration,
    generated: isoNow(),
  });
  let dir: string;
  try {
    dir = writeRunFolder(metricsRoot, name, report, outcome.runCost, outcome.chaosLog, calibration, (d) => {
      const cacheFile = staging.stagingPath('answers-cache.json');
      if (fs.existsSync(cacheFile)) fs.copyFileSync(cacheFile, d.stagingPath('answers-cache.json'));
    });
  } finally {
    staging.abort();
  }
  if (print) {
    printAnalysis(report);
    console.log(`Report: ${rel(path.join(dir, 'PR_REPORT.json'))}`);
  }
  return { report, dir };
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
  const parts = dirs.map((d) => {
    const report = read(d, 'PR_REPORT.json') as PrReport | null;
    const runCost = read(d, 'run-cost.json');
    if (report === null || runCost === null) throw new UsageError(`${rel(d)}: no PR_REPORT.json / run-cost.json (not a stress run folder)`, 'ERR_OMEGA_MERGE');
    return { report, runCost: runCost as never, chaosLog: read(d, 'chaos-log.json') as ChaosLogDocument | null };
  });
  const merged = mergeShards(parts, calibration, isoNow());
  const metricsRoot = o.out ?? path.join('metrics', 'pr');
  const dir = writeRunFolder(metricsRoot, `stress${merged.report.planned_runs}_${runStamp()}`, merged.report, merged.runCost, merged.chaosLog, calibration);
  if (o.print ?? true) {
    console.log(`Merged ${parts.length} shards: ${merged.report.total_runs} runs`);
    printAnalysis(merged.report);
    console.log(`Report: ${rel(path.join(dir, 'PR_REPORT.json'))}`);
  }
  return { report: merged.report, dir };
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
    .option('--shard <i/n>', 'run only shard i of n (runs r with r % n == i-1; budget / n)')
    .option('--scenes <n>', 'scenes (provider calls) per run', '3')
    .option('--model <name>', 'model name (priced in calibration)')
    .option('--provider <module>', 'your provider module (default: the built-in simulated provider)')
    .option('--scorer <module>', 'your scorer module (default: the built-in simulated scorer)')
    .option('--calibration <file>', 'calibration file (default: the shipped budgets/calibration.json)')
    .option('--call-timeout-ms <ms>', 'timeout of one provider attempt', '30000')
    .option('--time-scale <x>', 'real time per simulated ms (simulated provider; default 0.001)')
    .option('--no-cache', 'do not write answers through the atomic cache')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    // Options after `merge` belong to `merge` (its own --calibration / --out), not to `stress`.
    .enablePositionalOptions()
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const timeScale = o.timeScale === undefined ? undefined : Number(o.timeScale);
      if (timeScale !== undefined && !(timeScale >= 0)) throw new UsageError(`--time-scale must be a number ≥ 0, got "${o.timeScale}"`);
      const { report } = await runStressCommand({
        count: optionalInt('--count', o.count as string | undefined, 1),
        chaos: (o.chaos as string | undefined) ?? null,
        concurrency: intOption('--concurrency', o.concurrency as string, 1),
        seed: optionalInt('--seed', o.seed as string | undefined, 0),
        shard: parseShard(o.shard as string | undefined),
        scenes: intOption('--scenes', o.scenes as string, 1),
        model: o.model as string | undefined,
        provider: o.provider as string | undefined,
        scorer: o.scorer as string | undefined,
        calibrationFile: o.calibration as string | undefined,
        callTimeoutMs: intOption('--call-timeout-ms', o.callTimeoutMs as string, 1),
        timeScale,
        cache: o.cache !== false,
        out: o.out as string,
      });
      // Over budget is a FAIL (gate PR-G2), never a warning.
      setExit(report.verdict === 'PASS' && report.cost.budget_verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
    });
  stress
    .command('merge')
    .description('merge shard folders (stress --shard i/n) into the report of one machine')
    .argument('<dirs...>', 'the shard run folders')
    .option('--calibration <file>', 'calibration file')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .action((dirs: string[], o: { calibration?: string; out: string }) => {
      const { report } = runStressMerge(dirs, { out: o.out, calibrationFile: o.calibration });
      setExit(report.verdict === 'PASS' && report.cost.budget_verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
    });
};
