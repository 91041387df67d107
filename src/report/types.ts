/**
 * Types of the report files the phases write (snake_case, the runbook's names). They belong to the
 * library, not to the CLI that writes them: `src/index.ts` re-exports them, and the library never
 * imports `src/cli/`.
 */

/** The runbook's `PR_PREFLIGHT.json`. */
export interface PreflightReport {
  schema_version: 'PR-PREFLIGHT-1.0';
  branch: string;
  head: string;
  vitest_pass: boolean;
  vitest_total: number;
  vitest_failed: number;
  verdict: 'PASS' | 'FAIL';
  test_command: string;
  expected_total: number | null;
}

/** The runbook's `concurrency10-report.json` (plus throughput and lock-wait figures). */
export interface ConcurrencyReport {
  workers: number;
  successes: number;
  failures: number;
  residual_locks: number;
  residual_tmps: number;
  cache_valid: boolean;
  verdict: 'PASS' | 'FAIL';
  lost_updates: number;
  updates_per_worker: number;
  total_updates: number;
  durability: 'full' | 'none';
  lock_timeout_ms: number | null;
  lock_wait_ms: { p50: number; p99: number; max: number };
  updates_per_sec: number;
  duration_ms: number;
  cache_file: string;
  worker_errors: string[];
  timestamp: string;
}

/** `chaos-summary.json`: the PR-G3 gate. */
export interface ChaosSummary {
  schema_version: 'OMEGA-CHAOS-SUMMARY-1.0';
  provider: string;
  profile: string;
  seed: number;
  calls: number;
  attempts: number;
  injected: number;
  expected_rate: number;
  observed_rate: number;
  /** |observed − expected| allowed: 3.29 standard errors of a binomial proportion (99.9 %). */
  rate_tolerance: number;
  rate_ok: boolean;
  calls_succeeded: number;
  calls_failed: number;
  faults_recovered_by_retry: number;
  faults_surfaced_to_caller: number;
  /** Injected (non-latency) faults whose attempt returned a success: must be 0. */
  silent_successes: number;
  /** Calls that "succeeded" with empty text: must be 0. */
  empty_successes: number;
  json_valid: boolean;
  budget_verdict: 'PASS' | 'FAIL';
  verdict: 'PASS' | 'FAIL';
  /** Why PR-G3 failed (empty on PASS): judged by the core (`judgeChaosGate`, and `judgeOutcomeDetection` on an engine). */
  verdict_reasons: string[];
  /** With `--engine`: the engine module's name. */
  engine?: string;
  /** With `--engine`: runs of the engine made under the profile. */
  runs?: number;
  /** With `--engine`: runs that failed as a whole (engine threw, timed out, budget, …). */
  runs_failed?: number;
  /** With `--engine`: outcome faults delivered and caught (null when the profile has none). */
  outcome_chaos?: {
    delivered: number;
    caught: number;
    detection_rate: number | null;
    by_fault: Record<string, { delivered: number; caught: number; detection_rate: number | null }>;
  } | null;
  /** With `--engine`: fault types caught less often than the calibration's `OUTCOME_DETECTION_MIN` (each a reason of FAIL). */
  detection_violations?: import('../../report-types').DetectionViolation[];
  generated: string;
}
