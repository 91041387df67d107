/**
 * Types of the snake_case documents omega-pr reads and writes (calibration, run-cost.json,
 * chaos-log.json, the variance and case analyses of PR_REPORT.json, a proofpack verification, …).
 * Field names follow the runbook exactly.
 *
 * The shapes the core owns are GENERATED from its Rust structs (`omega_pr_core::schema` →
 * `schemas/*.schema.json` → `report-types.generated.d.ts`; regenerate with
 * `bash scripts/gen-schemas.sh`), the normalized cases document (`CasesDocument`) included.
 */

export * from './report-types.generated'
