/**
 * `PR_REPORT.json` (runbook phase 5, gate PR-G4) from a stress run's records: the statistics and
 * the verdict are the core's (`judgeStress`); this file only lays the document out and merges
 * shard reports.
 */
import { ChaosEngine, checkShards, judgeOutcomeDetection, judgeStress, mergeRunCosts } from '../../native';
import type { ChaosLogEntryInput } from '../../native';
import type { CalibrationDocument, CaseReport, CaseViolation, ChaosLogDocument, DetectionViolation, RunCost, VarianceReport } from '../../report-types';
import { OmegaError } from '../errors';
import { sortedCounts, type CallCounts, type RunRecord } from './engine';
import { sortDelivered } from '../providers/chaos';
import { mergeRateLimitReports, type RateLimitReport } from '../providers/ratelimit';

/** Schema version of `PR_REPORT.json`. */
export const PR_REPORT_SCHEMA_VERSION = 'OMEGA-PR-REPORT-1.0';

/** How a stress run was made (recorded in the report). */
export interface StressMeta {
  provider: string;
  scorer: string;
  seed: number;
  chaos_profile: string | null;
  concurrency: number;
  scenes_per_run: number;
  model: string;
  /** Runs planned for the whole stress run (all shards). */
  planned_runs: number;
  /** `{ index, total }` for a shard, null for a whole (or merged) run. */
  shard: { index: number; total: number } | null;
  /** Score at or above which the scorer passes a run, when known. */
  hard_pass_score: number | null;
  /** The engine module's name (`--engine`), or null for one call per case / scene. */
  engine?: string | null;
  /** The cases file's name (`--input`), or null for the simulated scenes. */
  cases_file?: string | null;
  /** Ids of the cases, in file order (per-case statistics follow it). */
  case_ids?: string[] | null;
}

/** `PR_REPORT.json`: the runbook's fields first, then the rest. */
export type PrReport = {
  schema_version: typeof PR_REPORT_SCHEMA_VERSION;
  /** Gate PR-G4: variance verdict PASS and 0 cache corruption. */
  verdict: 'PASS' | 'FAIL';
  total_runs: number;
  hard_pass_rate: number;
  variance_verdict: 'PASS' | 'FAIL';
  /**
   * Envelope violations, then (with a cases file and `CASE_PASS_MIN`) the cases below the floor,
   * then (with outcome chaos and `OUTCOME_DETECTION_MIN`) the fault types caught too rarely.
   */
  variance_violations: (VarianceReport['variance_violations'][number] | CaseViolation | DetectionViolation)[];
  downgrade_flag: 'DOWNGRADE_VARIANCE' | null;
  cache_corruption: number;
  generated: string;
  calls: CallCounts;
  /** Calibration `rate_limits` at work: time throttled, 429/529 seen, effective rates (only when a limit applied). */
  rate_limit?: RateLimitReport;
  cost: { total_cost_usd: number; budget_verdict: 'PASS' | 'FAIL'; violations: number };
  analysis: VarianceReport;
  /** Per-case statistics (runs of a cases file or an engine). */
  case_analysis?: CaseReport;
  /** Outcome chaos: faults delivered (answers that arrived corrupted) and how many were caught. */
  outcome_chaos?: OutcomeChaosReport;
  runs: RunRecord[];
} & StressMeta;

/** Builds the report. `generated` is the report time (from `SOURCE_DATE_EPOCH` when set). */
export function buildPrReport(args: {
  meta: StressMeta;
  runs: RunRecord[];
  runCost: RunCost;
  calls: CallCounts;
  cacheCorruption: number;
  calibration: CalibrationDocument;
  generated: string;
  /** The rate limiter's figures (omitted: no `rate_limit` block). */
  rateLimit?: RateLimitReport;
}): PrReport {
  // The PR-G4 fields come from the core (`judgeStress`: variance and per-case statistics, the
  // verdict); a case under CASE_PASS_MIN fails the gate even when the pooled rate passes. The
  // page and `proofpack verify` re-derive the same fields from the packed runs.
  const g4 = judgeStress(args.runs, args.meta.case_ids ?? null, args.calibration, args.cacheCorruption);
  const report: PrReport = {
    schema_version: PR_REPORT_SCHEMA_VERSION,
    verdict: g4.verdict,
    total_runs: g4.total_runs,
    hard_pass_rate: g4.hard_pass_rate,
    variance_verdict: g4.variance_verdict,
    variance_violations: g4.variance_violations,
    downgrade_flag: g4.downgrade_flag,
    cache_corruption: g4.cache_corruption,
    generated: args.generated,
    ...args.meta,
    calls: args.calls,
    ...(args.rateLimit !== undefined ? { rate_limit: args.rateLimit } : {}),
    cost: {
      total_cost_usd: args.runCost.total_cost_usd,
      budget_verdict: args.runCost.budget_verdict,
      violations: args.runCost.violations.length,
    },
    analysis: g4.analysis,
    runs: args.runs,
  };
  const oc = outcomeChaos(args.runs);
  if (g4.case_analysis !== undefined || oc !== undefined) {
    // Keep `runs` last in the document.
    delete (report as Partial<PrReport>).runs;
    if (g4.case_analysis !== undefined) report.case_analysis = g4.case_analysis;
    if (oc !== undefined) report.outcome_chaos = oc;
    report.runs = args.runs;
  }
  return report;
}

/** Outcome faults delivered vs caught (by the stack's retry, the engine, or a failed case/run). */
export interface OutcomeChaosReport {
  delivered: number;
  caught: number;
  /** caught / delivered (null when none was delivered). */
  detection_rate: number | null;
  by_fault: Record<string, { delivered: number; caught: number; detection_rate: number | null }>;
  by_catcher: Record<string, number>;
}

/**
 * The fault types of `oc` caught less often than the calibration's `OUTCOME_DETECTION_MIN` (the
 * core's rule, shared by PR-G3 and PR-G4); none without the threshold.
 */
export function detectionViolationsOf(oc: OutcomeChaosReport, calibration: CalibrationDocument): DetectionViolation[] {
  return judgeOutcomeDetection(
    Object.entries(oc.by_fault).map(([fault, f]) => ({ fault, delivered: f.delivered, caught: f.caught })),
    calibration,
  );
}

/** Counts the outcome faults of the runs (independent of run order: shards merge exactly). */
export function outcomeChaos(runs: RunRecord[]): OutcomeChaosReport | undefined {
  if (!runs.some((r) => r.outcome_faults !== undefined)) return undefined;
  const byFault: Record<string, { delivered: number; caught: number; detection_rate: number | null }> = {};
  const byCatcher: Record<string, number> = {};
  let delivered = 0;
  let caught = 0;
  for (const r of runs) {
    for (const f of r.outcome_faults ?? []) {
      const e = (byFault[f.fault] ??= { delivered: 0, caught: 0, detection_rate: null });
      e.delivered++;
      delivered++;
      if (f.caught !== null) {
        e.caught++;
        caught++;
        byCatcher[f.caught] = (byCatcher[f.caught] ?? 0) + 1;
      }
    }
  }
  const sorted: OutcomeChaosReport['by_fault'] = {};
  for (const k of Object.keys(byFault).sort()) {
    const e = byFault[k] as { delivered: number; caught: number; detection_rate: number | null };
    sorted[k] = { delivered: e.delivered, caught: e.caught, detection_rate: e.delivered === 0 ? null : e.caught / e.delivered };
  }
  return { delivered, caught, detection_rate: delivered === 0 ? null : caught / delivered, by_fault: sorted, by_catcher: sortedCounts(byCatcher) };
}

/** What one shard directory holds. */
export interface ShardParts {
  report: PrReport;
  runCost: RunCost;
  chaosLog: ChaosLogDocument | null;
}

function mergeError(message: string): OmegaError {
  return new OmegaError('ERR_OMEGA_MERGE', message);
}

/**
 * Merges shard results into the report of one machine: runs in run order, costs added up (by the
 * core), chaos logs rebuilt from all entries (by the core). Throws `ERR_OMEGA_MERGE` when the
 * shards do not belong to one run (different seed, provider, profile, …) or overlap / leave gaps.
 */
export function mergeShards(parts: ShardParts[], calibration: CalibrationDocument, generated: string) {
  const first = parts[0];
  if (first === undefined) throw mergeError('no shard to merge');
  // Every shard once, one run (the core's rule, shared with `derive` of shard journals).
  checkShards(parts.map((p) => ({ meta: pickMeta(p.report) as unknown as Record<string, unknown> })), 'PR_REPORT.json');
  const runs = parts.flatMap((p) => p.report.runs).sort((a, b) => a.run_index - b.run_index);
  const runCost = mergeRunCosts(parts.map((p) => p.runCost), calibration);
  const byError: Record<string, number> = {};
  for (const p of parts) {
    for (const [code, n] of Object.entries(p.report.calls.by_error ?? {})) byError[code] = (byError[code] ?? 0) + n;
  }
  // Shards in index order: the first shard's sample of a code wins.
  const samples: Record<string, string> = {};
  const returned = new Set<string>();
  for (const p of [...parts].sort((a, b) => (a.report.shard?.index ?? 0) - (b.report.shard?.index ?? 0))) {
    for (const [code, m] of Object.entries(p.report.calls.error_samples ?? {})) if (!(code in samples)) samples[code] = m;
    for (const m of p.report.calls.models?.returned ?? []) returned.add(m);
  }
  const calls: CallCounts = {
    total: parts.reduce((a, p) => a + p.report.calls.total, 0),
    failed: parts.reduce((a, p) => a + p.report.calls.failed, 0),
    retries: parts.reduce((a, p) => a + p.report.calls.retries, 0),
    by_error: sortedCounts(byError),
  };
  if (first.report.calls.error_samples !== undefined) {
    calls.error_samples = Object.fromEntries(Object.keys(samples).sort().map((k) => [k, samples[k] as string]));
  }
  if (first.report.calls.models !== undefined) calls.models = { requested: first.report.calls.models.requested, returned: [...returned].sort() };
  if (parts.some((p) => p.report.calls.judge_calls !== undefined)) {
    calls.judge_calls = {
      total: parts.reduce((a, p) => a + (p.report.calls.judge_calls?.total ?? 0), 0),
      failed: parts.reduce((a, p) => a + (p.report.calls.judge_calls?.failed ?? 0), 0),
    };
  }
  const report = buildPrReport({
    meta: { ...pickMeta(first.report), shard: null },
    runs,
    runCost,
    calls,
    cacheCorruption: parts.reduce((a, p) => a + p.report.cache_corruption, 0),
    calibration,
    generated,
    rateLimit: mergeRateLimitReports(parts.map((p) => p.report.rate_limit)),
  });
  let chaosLog: ChaosLogDocument | null = null;
  if (first.chaosLog !== null) {
    const profile = first.chaosLog.profile;
    const engine = new ChaosEngine({ profile: profile === 'default' ? undefined : profile, seed: first.chaosLog.seed, calibration });
    const entries: ChaosLogEntryInput[] = parts.flatMap((p) =>
      (p.chaosLog?.entries ?? []).map((e) => {
        const input: ChaosLogEntryInput = { callIndex: e.call_index, timestamp: e.timestamp };
        if (e.attempt !== undefined) input.attempt = e.attempt;
        if (e.scene_id !== undefined) input.sceneId = e.scene_id;
        if (e.outcome !== undefined) input.outcome = e.outcome;
        if (e.error_code !== undefined) input.errorCode = e.error_code;
        return input;
      }),
    );
    // The text form, as ChaosProvider.chaosLog() reads it: the object form's key order differs.
    chaosLog = JSON.parse(engine.buildLogJson(entries)) as ChaosLogDocument;
    const delivered = parts.flatMap((p) => (p.chaosLog?.delivered_faults === undefined ? [] : [p.chaosLog.delivered_faults]));
    if (delivered.length > 0) chaosLog.delivered_faults = sortDelivered(delivered.flat());
  }
  return { report, runCost, chaosLog };
}

function pickMeta(r: PrReport): StressMeta {
  return {
    provider: r.provider,
    scorer: r.scorer,
    seed: r.seed,
    chaos_profile: r.chaos_profile,
    concurrency: r.concurrency,
    scenes_per_run: r.scenes_per_run,
    model: r.model,
    planned_runs: r.planned_runs,
    shard: r.shard,
    hard_pass_score: r.hard_pass_score,
    ...(r.engine !== undefined ? { engine: r.engine } : {}),
    ...(r.cases_file !== undefined ? { cases_file: r.cases_file } : {}),
    ...(r.case_ids !== undefined ? { case_ids: r.case_ids } : {}),
  };
}
