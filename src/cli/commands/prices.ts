/**
 * `omega-pr prices import FILE [--out PRICES]`: reads a LiteLLM
 * `model_prices_and_context_window.json` (the real one ships in the `litellm` wheel as
 * `litellm/model_prices_and_context_window_backup.json`), validates every entry it would use and
 * prints what it imports. With `--out` it writes the pruned price file (LiteLLM format: the
 * chat/responses/completion entries with per-token prices, their price keys only, keys sorted;
 * deterministic) that calibration `budget.prices_file` can name. Exit 0 when valid, 2 otherwise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { importPrices, resolveModel } from '../../../native';
import type { CalibrationDocument } from '../../../report-types';
import { EXIT, UsageError, rel } from '../util';

/**
 * The model `stress` / `chaos` use with a real provider when `--model` is not given: a current
 * one (LiteLLM 1.110.2 gives it no deprecation date; claude-sonnet-4-5 retired on 2026-11-30).
 */
export const DEFAULT_REAL_MODEL = 'claude-sonnet-5-5';

/** What `prices import` found. */
export interface PriceImportSummary {
  file: string;
  total_entries: number;
  imported: number;
  aliases: number;
  skipped: Record<string, number>;
}

/** Imports a price file; writes the pruned copy to `out` when given. */
export function runPricesImport(file: string, o: { out?: string; print?: boolean }): PriceImportSummary {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read price file \`${path.basename(file)}\`: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, 'ERR_OMEGA_IO');
  }
  const imp = importPrices(text, path.basename(file));
  const summary: PriceImportSummary = {
    file: path.basename(file),
    total_entries: imp.totalEntries,
    imported: imp.imported,
    aliases: Object.keys(imp.aliases as Record<string, string>).length,
    skipped: imp.skipped as Record<string, number>,
  };
  if (o.out !== undefined) fs.writeFileSync(o.out, imp.prunedJson);
  if (o.print ?? true) {
    const skipped = Object.entries(summary.skipped)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    console.log(`${summary.file}: ${summary.imported} of ${summary.total_entries} entries priced, ${summary.aliases} aliases; skipped: ${skipped || 'none'}`);
    if (o.out !== undefined) console.log(`Wrote ${rel(o.out)} (set calibration budget.prices_file to it, relative to the calibration file)`);
  }
  return summary;
}

/**
 * Checks `model` has a price **before any call** (`ERR_OMEGA_UNKNOWN_MODEL`, exit 2, otherwise)
 * and warns on stderr when its `deprecation_date` is past (`today` is `YYYY-MM-DD`).
 * Returns the warning, if any.
 */
export function checkModel(model: string, calibration: CalibrationDocument, today: string): string | null {
  let m;
  try {
    m = resolveModel(model, calibration);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new UsageError(e.message ?? String(err), e.code ?? 'ERR_OMEGA_UNKNOWN_MODEL');
  }
  if (m.deprecationDate !== undefined && m.deprecationDate !== null && m.deprecationDate <= today) {
    const warning = `model \`${model}\`${m.matched === model ? '' : ` (priced as \`${m.matched}\`)`} is deprecated since ${m.deprecationDate} (LiteLLM deprecation_date): move to a current model`;
    process.stderr.write(`omega-pr: warning: ${warning}\n`);
    return warning;
  }
  return null;
}

export function register(program: Command, setExit: (code: number) => void): void {
  const prices = program.command('prices').description('LiteLLM price maps: import / validate a model_prices_and_context_window.json');
  prices
    .command('import <file>')
    .description('validate a LiteLLM price file and print what it prices; --out writes the pruned file budget.prices_file can name')
    .option('--out <file>', 'write the pruned price file (LiteLLM format, price keys only)')
    .action((file: string, opts: { out?: string }) => {
      runPricesImport(file, { out: opts.out });
      setExit(EXIT.PASS);
    });
}
