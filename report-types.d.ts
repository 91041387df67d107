/**
 * Types of the snake_case documents omega-pr reads and writes (calibration, run-cost.json,
 * PR_REPORT.json, chaos-log.json, …). Field names follow the runbook exactly. Kept in sync with
 * the JSON Schemas under `schemas/`.
 */

/** A chaos profile of the calibration. */
export interface CalibrationChaosProfile {
  rate: number
  failure_types: string[]
  description?: string
  /**
   * Outcome faults (answers that arrive corrupted instead of throwing): the probability that an
   * attempt without a thrown fault gets one, and relative weights per fault.
   */
  outcome_faults?: {
    rate: number
    weights: Partial<Record<'truncated' | 'refusal' | 'malformed_json' | 'renamed_key' | 'empty_billed' | 'latency_spike', number>>
  }
}

/** The price of one model, USD per token (LiteLLM's field names). */
export interface CalibrationModelPrice {
  input_cost_per_token: number
  cache_read_input_token_cost: number
  cache_creation_input_token_cost: number
  output_cost_per_token: number
  output_cost_per_reasoning_token?: number
  /** 1-hour cache writes (LiteLLM `cache_creation_input_token_cost_above_1hr`). */
  cache_creation_input_token_cost_above_1hr?: number
  /** LiteLLM `YYYY-MM-DD`: a run using the model afterwards warns. */
  deprecation_date?: string
  /** Other LiteLLM price keys: `*_above_<N>k_tokens` tiers, `*_batches`, … (USD per token). */
  [key: string]: number | string | undefined
}

/** A variance envelope: `statistic(metric) <= max`. */
export interface CalibrationEnvelope {
  statistic: 'std' | 'cv' | 'range'
  max: number
  description?: string
}

/** `budgets/calibration.json`. */
export interface CalibrationDocument {
  $schema?: string
  $comment?: string
  schema_version: 'OMEGA-CALIBRATION-1.0'
  SEED: number
  STRESS_COUNT: number
  PASS_RATIO_MIN: number
  PASS_K: number[]
  /** Optional per-case floor of gate PR-G4: a case whose pass rate is below it is a variance violation. */
  CASE_PASS_MIN?: number
  LOCK_TIMEOUT_MS: number
  CACHE_DURABILITY: 'full' | 'none'
  CHAOS_RATE: number
  chaos_profiles: Record<string, CalibrationChaosProfile>
  chaos_faults: {
    latency_ms_min: number
    latency_ms_max: number
    retry_after_ms_min: number
    retry_after_ms_max: number
  }
  retry: {
    max_attempts: number
    base_delay_ms: number
    max_delay_ms: number
    max_retry_after_ms: number
    deadline_ms: number
  }
  budget: {
    max_per_call_usd: number
    max_per_run_usd: number
    max_output_tokens: number
    models: Record<string, CalibrationModelPrice>
    /** LiteLLM price file, relative to the calibration file (merged into `models` by `loadCalibration`). */
    prices_file?: string
    /** Model name (or prefix pattern ending in `*`) → priced model name. */
    aliases?: Record<string, string>
  }
  VARIANCE_ENVELOPES: Record<string, CalibrationEnvelope>
  proofpack: { forbidden_path_patterns: string[] }
  /** Largest provider answer accepted (bytes of UTF-8 text); larger: `ERR_OMEGA_RESPONSE_TOO_LARGE`. */
  max_response_bytes: number
}

/** One budget violation of `run-cost.json`. */
export interface BudgetViolation {
  kind: 'per_call' | 'per_run' | 'unpriced_model' | 'invalid_usage'
  phase: 'reserve' | 'settle'
  call_id: string
  scene_id: string | null
  model: string
  amount_usd: number
  limit_usd: number
}

/** Totals of one model in `run-cost.json`. */
export interface ModelCostTotals {
  calls: number
  input_tokens: number
  cached_input_tokens: number
  cache_write_tokens: number
  /** Of the cache writes, 1-hour ones (absent when 0). */
  cache_write_1h_tokens?: number
  output_tokens: number
  reasoning_tokens: number
  cost_usd: number
  cost_micro_usd: number
}

/** `run-cost.json` (runbook phase 3, gate PR-G2). */
export interface RunCost {
  schema_version: 'OMEGA-RUN-COST-1.0'
  total_cost_usd: number
  total_cost_micro_usd: number
  budget_verdict: 'PASS' | 'FAIL'
  violations: BudgetViolation[]
  call_count: number
  refused_calls: number
  open_reservations: number
  max_per_call_usd: number
  max_per_run_usd: number
  per_model: Record<string, ModelCostTotals>
}

/** The variance analysis (the statistical part of `PR_REPORT.json`, gate PR-G4). */
export interface VarianceReport {
  total_runs: number
  hard_pass_rate: number
  /** `FAIL` when `hard_pass_rate < pass_ratio_min`. */
  variance_verdict: 'PASS' | 'FAIL'
  /** Envelope violations, in metric order; `value` is null when the metric has no data
   * (`reason: 'no_data'`) or the statistic is undefined (cv with mean 0: `reason: 'undefined'`). */
  variance_violations: Array<{
    metric: string
    statistic: 'std' | 'cv' | 'range'
    value: number | null
    max: number
    reason: 'exceeds_max' | 'no_data' | 'undefined'
  }>
  /** `DOWNGRADE_VARIANCE` when the verdict is PASS and an envelope is violated. */
  downgrade_flag: 'DOWNGRADE_VARIANCE' | null
  soft_pass_rate: number
  /** Wilson 95 % score interval. */
  hard_pass_ci95: { low: number; high: number }
  soft_pass_ci95: { low: number; high: number }
  hard_passes: number
  soft_passes: number
  /** Unbiased pass^k of the hard gate, C(c,k)/C(n,k), for each calibration `PASS_K` k ≤ total_runs. */
  pass_k: Record<string, number>
  pass_ratio_min: number
  /** Per metric: sample std (n − 1; 0 for one run), type-7 percentiles, cv = std / |mean|
   * (null when undefined: mean 0, std > 0). */
  metrics: Record<
    string,
    { n: number; mean: number; std: number; min: number; max: number; p50: number; p95: number; cv: number | null }
  >
}

/** One signature check of a proofpack (`MANIFEST.json.minisig` or `attestation.intoto.json`). */
export interface ProofpackSignatureCheck {
  /** `unsigned` (no `.minisig`) / `absent` (no attestation), `not_checked` (present, no pinned
   * public key given), `verified`, `invalid`. */
  status: 'unsigned' | 'absent' | 'not_checked' | 'verified' | 'invalid'
  /** Signer key id: minisign's 16 hex digits for the signature, securesystemslib's key id for the attestation. */
  key_id: string | null
  /** The minisign trusted comment (`timestamp:…\tfile:MANIFEST.json\thashed\tpack:…\ttype:…\tverdict:…`). */
  trusted_comment: string | null
  /** `ERR_OMEGA_SIGNATURE` / `ERR_OMEGA_KEY` when invalid. */
  code: string | null
  message: string
}

/** Verification of a proofpack — the same object (snake_case, like the reports) from the native
 * `verifyProofpack` and the wasm `verifySignedPack`. */
export interface ProofpackVerification {
  /** Integrity: `PASS` when `valid` (NOT the verdict of the run: see `recorded_verdict`). */
  verdict: 'PASS' | 'FAIL'
  /** Every listed file present, every present file listed. */
  complete: boolean
  /** Complete, every digest and size matches, MANIFEST.json agrees with SHA256SUMS.txt. */
  valid: boolean
  pack_id: string | null
  pack_type: string | null
  /** The verdict the run recorded in MANIFEST.json. */
  recorded_verdict: 'PASS' | 'FAIL' | null
  manifest_sha256: string | null
  expected_manifest_sha256: string | null
  /** Whether the expected digest equals `manifest_sha256` or the SHA-256 of MANIFEST.json (null: not asked). */
  manifest_sha256_matches: boolean | null
  files: Array<{ path: string; ok: boolean }>
  file_count: number
  total_bytes: number
  problems: Array<{
    kind:
      | 'missing'
      | 'extra'
      | 'mismatch'
      | 'size_mismatch'
      | 'unsafe_path'
      | 'symlink'
      | 'not_a_file'
      | 'sums_missing'
      | 'sums_invalid'
      | 'manifest_missing'
      | 'manifest_invalid'
      | 'manifest_mismatch'
      | 'unreadable'
    path: string
    message: string
  }>
  signature: ProofpackSignatureCheck
  attestation: ProofpackSignatureCheck
  /** Integrity valid, no invalid signature or attestation, expected digest (if any) matches. */
  ok: boolean
}

/** One check of a case, normalized (`level` and `weight` filled in). */
export interface CaseCheck {
  type: string
  level: 'hard' | 'soft'
  weight: number
  value: unknown
}

/** One case of a cases file, normalized (prompt rendered with its `vars`). */
export interface CaseDocument {
  id: string
  prompt: string
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[]
  vars: Record<string, unknown>
  model?: string
  max_output_tokens?: number
  assert: CaseCheck[]
}

/** A validated cases file (`--input cases.json`), normalized. */
export interface CasesDocument {
  hard_pass_score: number
  soft_pass_score: number
  cases: CaseDocument[]
}

/** The result of one check of one case. */
export interface CheckResult {
  type: string
  level: 'hard' | 'soft'
  weight: number
  pass: boolean
  message?: string
}

/** The result of one case in one run. */
export interface CaseResult {
  id: string
  ok: boolean
  hard_pass: boolean
  soft_pass: boolean
  hard_score: number
  soft_score: number
  failed_checks: string[]
  checks: CheckResult[]
}

/** The scores of one run from its case results. */
export interface CaseRunScore {
  hard_score: number
  soft_score: number
  hard_pass: boolean
  soft_pass: boolean
}

/** Statistics of one case over the runs of a stress run. */
export interface CaseStats {
  id: string
  runs: number
  passes: number
  pass_rate: number
  pass_ci95: { low: number; high: number }
  pass_k: Record<string, number>
  status: 'always_passes' | 'flaky' | 'always_fails'
  failing_checks: Record<string, number>
}

/** A case below the calibration's `CASE_PASS_MIN`. */
export interface CaseViolation {
  metric: string
  statistic: 'case_pass_rate'
  value: number
  min: number
  reason: 'below_min'
}

/** Per-case statistics of a stress run (`PR_REPORT.json` `case_analysis`). */
export interface CaseReport {
  cases: CaseStats[]
  pass_k_mean: Record<string, number>
  flaky: string[]
  always_failing: string[]
  case_pass_min: number | null
  violations: CaseViolation[]
  failing_checks: Record<string, number>
}

/** The PR-G4 fields of `PR_REPORT.json`, as the core derives them from the runs (`judgeStress`). */
export interface StressVerdict {
  /** Gate PR-G4: `variance_verdict` PASS and 0 cache corruption. */
  verdict: 'PASS' | 'FAIL'
  total_runs: number
  hard_pass_rate: number
  /** PASS when `hard_pass_rate ≥ PASS_RATIO_MIN` and no case is under `CASE_PASS_MIN`. */
  variance_verdict: 'PASS' | 'FAIL'
  /** Envelope violations, then (with a cases file and `CASE_PASS_MIN`) the cases below the floor. */
  variance_violations: (VarianceReport['variance_violations'][number] | CaseViolation)[]
  downgrade_flag: 'DOWNGRADE_VARIANCE' | null
  cache_corruption: number
  analysis: VarianceReport
  /** Present for runs of a cases file or an engine (`case_ids` given). */
  case_analysis?: CaseReport
}

/** The PR-G4 verdict re-derived from a recorded `PR_REPORT.json` and its `calibration.json`. */
export interface StressRederivation {
  /** `reproduced` (every PR-G4 field equal), `differs`, `not_rederivable` (reason in `line`). */
  status: 'reproduced' | 'differs' | 'not_rederivable'
  recorded_verdict: string | null
  derived_verdict: 'PASS' | 'FAIL' | null
  total_runs: number | null
  /** First JSON path where recorded and derived differ, e.g. `$.analysis.metrics.hard_score.mean`. */
  first_difference: string | null
  /** `verdict reproduced: …`, `verdict differs: recorded PASS, derived FAIL (…)`, `not re-derivable: …`. */
  line: string
  derived: StressVerdict | null
}
