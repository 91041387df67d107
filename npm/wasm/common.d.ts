/// <reference lib="esnext.disposable" />
// (the lib reference: wasm-bindgen's classes declare `[Symbol.dispose]`, which ES2022 libs lack)
// Typed surface of omega-pr-wasm, shared by the browser (web.d.ts) and Node (node.d.ts) entries.
// The wasm-bindgen output types its JS-object results as `any`; these declarations (which take
// precedence over the `export *` below) give them the snake_case shapes the core returns.
export * from './pkg/node/omega_pr_wasm';

/** One line of `SHA256SUMS.txt`. */
export interface Sha256SumEntry {
  path: string;
  sha256: string;
}

/** One file as the caller observed it in the pack folder. */
export interface ObservedEntry {
  /** Relative path, `/` separators. */
  path: string;
  kind: 'file' | 'symlink' | 'other';
  bytes: number;
  /** Lowercase hex SHA-256, or `null` when not hashed (e.g. an unlisted file). */
  sha256: string | null;
}

/** One problem found by verification. */
export interface PackProblem {
  kind:
    | 'missing' | 'extra' | 'mismatch' | 'size_mismatch' | 'unsafe_path' | 'symlink' | 'not_a_file'
    | 'sums_missing' | 'sums_invalid' | 'manifest_missing' | 'manifest_invalid' | 'manifest_mismatch';
  path: string;
  message: string;
}

/** The verdict of `verifyPack` (same as the native `verifyProofpack`, snake_case). */
export interface PackVerification {
  verdict: 'PASS' | 'FAIL';
  complete: boolean;
  valid: boolean;
  pack_id?: string | null;
  files: Array<{ path: string; ok: boolean }>;
  file_count: number;
  total_bytes: number;
  problems: PackProblem[];
}

/** Parses `SHA256SUMS.txt` bytes; throws `ERR_OMEGA_PARSE` (line and reason code). */
export declare function parseSha256Sums(data: Uint8Array): Sha256SumEntry[];

/**
 * Verifies a pack from its two documents (`undefined` when absent) and the entries observed
 * (every file of the folder but `SHA256SUMS.txt` and `MANIFEST.json`).
 */
export declare function verifyPack(
  sums: Uint8Array | null | undefined,
  manifest: Uint8Array | null | undefined,
  observed: ObservedEntry[],
): PackVerification;

/** One statistic per metric (sample std, type-7 percentiles; cv null when undefined). */
export interface MetricStats { n: number; mean: number; std: number; min: number; max: number; p50: number; p95: number; cv: number | null }

/** The PR-G4 fields of `PR_REPORT.json`, derived from the runs (snake_case, as the native addon). */
export interface StressVerdict {
  verdict: 'PASS' | 'FAIL';
  total_runs: number;
  hard_pass_rate: number;
  variance_verdict: 'PASS' | 'FAIL';
  /** Envelope violations (`max`), then cases under `CASE_PASS_MIN` (`min`). */
  variance_violations: Array<{ metric: string; statistic: string; value: number | null; max?: number; min?: number; reason: string }>;
  downgrade_flag: 'DOWNGRADE_VARIANCE' | null;
  cache_corruption: number;
  analysis: {
    total_runs: number; hard_pass_rate: number; variance_verdict: 'PASS' | 'FAIL';
    variance_violations: Array<{ metric: string; statistic: 'std' | 'cv' | 'range'; value: number | null; max: number; reason: string }>;
    downgrade_flag: 'DOWNGRADE_VARIANCE' | null; soft_pass_rate: number;
    hard_pass_ci95: { low: number; high: number }; soft_pass_ci95: { low: number; high: number };
    hard_passes: number; soft_passes: number; pass_k: Record<string, number>; pass_ratio_min: number;
    metrics: Record<string, MetricStats>;
  };
  /** Per-case statistics (runs of a cases file), as the native `analyzeCases`. */
  case_analysis?: Record<string, unknown>;
}

/** The PR-G4 verdict re-derived from a recorded `PR_REPORT.json`. */
export interface StressRederivation {
  status: 'reproduced' | 'differs' | 'not_rederivable';
  recorded_verdict: string | null;
  derived_verdict: 'PASS' | 'FAIL' | null;
  total_runs: number | null;
  /** First JSON path where recorded and derived differ. */
  first_difference: string | null;
  /** `verdict reproduced: …`, `verdict differs: recorded PASS, derived FAIL (…)`, `not re-derivable: …`. */
  line: string;
  derived: StressVerdict | null;
}

/** One run as `PR_REPORT.json` lists it (other fields are ignored). */
export interface StressRunInput {
  hard_score: number;
  soft_score: number;
  hard_pass: boolean;
  soft_pass: boolean;
  metrics?: Record<string, number>;
  cases?: Array<{ id: string; hard_pass: boolean; failed_checks: string[] }>;
}

/** The PR-G4 fields from the runs — the same object as the native `judgeStress`. */
export declare function judgeStress(runs: StressRunInput[], caseIds: string[] | null | undefined, calibration: unknown, cacheCorruption: number): StressVerdict;

/**
 * Re-derives the PR-G4 verdict of a recorded `PR_REPORT.json` (parsed) from its per-run scores with
 * the run folder's `calibration.json` (parsed, or undefined) — the same object as the native
 * `rederiveStressVerdict`.
 */
export declare function rederiveStressVerdict(report: unknown, calibration?: unknown): StressRederivation;
