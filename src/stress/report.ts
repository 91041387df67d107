/**
 * `PR_REPORT.json` (runbook phase 5, gate PR-G4) from a stress run's records. The layout, the
 * statistics and the verdict are the core's (`core/src/pr_report.rs` `build_pr_report`, over
 * `gate_g4::judge_stress`), and so is merging shard documents (`core/src/derive.rs`
 * `merge_shards`); this file only forwards (JSON text in and out: `stressDocumentsJson`).
 */
import { judgeOutcomeDetection, stressDocumentsJson } from '../../native';
import type { CalibrationDocument, ChaosLogDocument, DetectionViolation, OutcomeChaosReport, PrReport, RunCost } from '../../report-types';
import type { CallCounts, RunRecord } from './engine';
import type { RateLimitReport } from '../providers/ratelimit';

/** Schema version of `PR_REPORT.json`. */
export const PR_REPORT_SCHEMA_VERSION = 'OMEGA-PR-REPORT-1.0';

/** `PR_REPORT.json` (generated from the core's `pr_report::PrReport`). */
export type { PrReport, OutcomeChaosReport };

/** How a stress run was made (recorded in the report and in the journal header). */
export type StressMeta = Pick<
  PrReport,
  'provider' | 'scorer' | 'seed' | 'chaos_profile' | 'concurrency' | 'scenes_per_run' | 'model' | 'planned_runs' | 'shard' | 'hard_pass_score' | 'engine' | 'cases_file' | 'case_ids'
>;

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
  const request = {
    report: {
      meta: args.meta,
      runs: args.runs,
      run_cost: args.runCost,
      calls: args.calls,
      cache_corruption: args.cacheCorruption,
      generated: args.generated,
      rate_limit: args.rateLimit,
    },
  };
  return JSON.parse(stressDocumentsJson(args.calibration, JSON.stringify(request))) as PrReport;
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

/** What one shard directory holds. */
export interface ShardParts {
  report: PrReport;
  runCost: RunCost;
  chaosLog: ChaosLogDocument | null;
}

/**
 * Merges shard results into the report of one machine (the core's `merge_shards`): runs in run
 * order, costs added up, chaos logs rebuilt from all entries. Throws `ERR_OMEGA_MERGE` when the
 * shards do not belong to one run (different seed, provider, profile, …) or overlap / leave gaps.
 */
export function mergeShards(parts: ShardParts[], calibration: CalibrationDocument, generated: string): { report: PrReport; runCost: RunCost; chaosLog: ChaosLogDocument | null } {
  const request = { merge_shards: { parts: parts.map((p) => ({ report: p.report, run_cost: p.runCost, chaos_log: p.chaosLog })), generated } };
  const d = JSON.parse(stressDocumentsJson(calibration, JSON.stringify(request))) as { report: PrReport; run_cost: RunCost; chaos_log: ChaosLogDocument | null };
  return { report: d.report, runCost: d.run_cost, chaosLog: d.chaos_log };
}
