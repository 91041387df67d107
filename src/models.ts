/**
 * Which model a run prices, checked before any call: the core's name matching (`resolveModel`:
 * exact, provider prefix, alias, dated snapshot, pattern) and LiteLLM's `deprecation_date`.
 */
import { resolveModel } from '../native';
import type { CalibrationDocument } from '../report-types';

/**
 * The model `stress` / `chaos` use with a real provider when `--model` is not given: a current
 * one (LiteLLM 1.110.2 gives it no deprecation date; claude-sonnet-4-5 retired on 2026-11-30).
 */
export const DEFAULT_REAL_MODEL = 'claude-sonnet-5-5';

/**
 * Checks `model` has a price **before any call** (the core's `ERR_OMEGA_UNKNOWN_MODEL` is thrown
 * otherwise) and warns on stderr when its `deprecation_date` is past (`today` is `YYYY-MM-DD`).
 * Returns the warning, if any.
 */
export function checkModel(model: string, calibration: CalibrationDocument, today: string): string | null {
  const m = resolveModel(model, calibration);
  if (m.deprecationDate !== undefined && m.deprecationDate !== null && m.deprecationDate <= today) {
    const warning = `model \`${model}\`${m.matched === model ? '' : ` (priced as \`${m.matched}\`)`} is deprecated since ${m.deprecationDate} (LiteLLM deprecation_date): move to a current model`;
    process.stderr.write(`omega-pr: warning: ${warning}\n`);
    return warning;
  }
  return null;
}
