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
import { importPrices } from '../../../native';
import { EXIT, UsageError, rel } from '../util';

export { DEFAULT_REAL_MODEL, checkModel } from '../../models';

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
