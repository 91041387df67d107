/**
 * Types of the snake_case documents omega-pr reads and writes (calibration, run-cost.json,
 * chaos-log.json, the variance and case analyses of PR_REPORT.json, a proofpack verification, …).
 * Field names follow the runbook exactly.
 *
 * The shapes the core owns are GENERATED from its Rust structs (`omega_pr_core::schema` →
 * `schemas/*.schema.json` → `report-types.generated.d.ts`; regenerate with
 * `bash scripts/gen-schemas.sh`). Only the normalized cases document below is written by hand:
 * the core builds it as a JSON value (`CaseSet::to_value`), not from a struct.
 */

export * from './report-types.generated'

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
