/**
 * `derive`: the three documents of a stress run — `PR_REPORT.json`, `run-cost.json`,
 * `chaos-log.json` — as one pure function of the calibration, the run journal(s) and the report
 * time: the core's `derive::derive` (`core/src/derive.rs`). The live run, a resumed run, merged
 * shards and a replay all get their documents here, so they agree byte for byte. Independent of
 * line order. This file only forwards (JSON text in and out: `stressDocumentsJson`).
 */
import { stressDocumentsJson } from '../../native';
import type { CalibrationDocument, ChaosLogDocument, RunCost } from '../../report-types';
import type { CallCounts } from './engine';
import type { JournalCall, JournalHeader, JournalLine } from './journal';
import type { PrReport } from './report';

/** One journal: its header and its lines (any order). */
export interface JournalInput {
  header: JournalHeader;
  lines: JournalLine[];
}

/** What {@link derive} produces. */
export interface Derived {
  report: PrReport;
  runCost: RunCost;
  chaosLog: ChaosLogDocument | null;
}

/** Provider call counts of the runs' calls (keys sorted; samples: the lowest call index per code). */
export function callCounts(calls: JournalCall[], requestedModel: string): CallCounts {
  const request = { call_counts: { calls, requested_model: requestedModel } };
  return JSON.parse(stressDocumentsJson(null, JSON.stringify(request))) as CallCounts;
}

/**
 * Derives `PR_REPORT.json`, `run-cost.json` and `chaos-log.json` from the journals of one stress
 * run: one journal (a whole run or one shard), or the journals of all its shards (then the
 * documents are those of the whole run, `shard: null`). Pure: the same inputs give the same
 * bytes, whatever the order of the lines or of the journals. Each run counts once (a run line
 * repeated, e.g. a journal concatenated twice, is `ERR_OMEGA_MERGE`). With `merge` (`stress
 * merge`), the journals must be every shard of one run, once each, even when there is one.
 */
export function derive(calibration: CalibrationDocument, journals: JournalInput[], generated: string, opts: { merge?: boolean } = {}): Derived {
  const request = { derive: { journals, generated, merge: opts.merge === true } };
  const d = JSON.parse(stressDocumentsJson(calibration, JSON.stringify(request))) as { report: PrReport; run_cost: RunCost; chaos_log: ChaosLogDocument | null };
  return { report: d.report, runCost: d.run_cost, chaosLog: d.chaos_log };
}
