/**
 * Types of the report files the phases write (snake_case, the runbook's names). They belong to the
 * library, not to the CLI that writes them: `src/index.ts` re-exports them, and the library never
 * imports `src/cli/`.
 *
 * Their shapes are core structs (`omega_pr_core::preflight::PreflightReport`,
 * `concurrency::ConcurrencyReport`, `chaos::ChaosSummary`): the JSON Schemas in `schemas/` and these
 * types are generated from them (`bash scripts/gen-schemas.sh` → `report-types.generated.d.ts`).
 * The CLI assembles each document as a value of its type, so `tsc` checks it against the schema.
 */

export type {
  /** The runbook's `PR_PREFLIGHT.json` (gate PR-G0). */
  PreflightReport,
  /** The runbook's `concurrency10-report.json` (gate PR-G1, plus throughput and lock-wait figures). */
  ConcurrencyReport,
  /** `chaos-summary.json`: the PR-G3 gate. */
  ChaosSummary,
  /** `chaos-summary.json` `outcome_chaos` (with `--engine`). */
  ChaosSummaryOutcomes,
  /** A chaos settings file (`omega-pr chaos --chaos FILE`). */
  ChaosConfigFile,
} from '../../report-types';
