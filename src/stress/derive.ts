/**
 * `derive`: the three documents of a stress run — `PR_REPORT.json`, `run-cost.json`,
 * `chaos-log.json` — as one pure function of the calibration, the run journal(s) and the report
 * time. The live run, a resumed run, merged shards and a replay all get their documents here, so
 * they agree byte for byte. Independent of line order: runs sort by run index, calls by call
 * index, the money and chaos log are rebuilt by the core (`runCostFromLedger`,
 * `ChaosEngine.buildLogJson`), the statistics are the core's (`buildPrReport`).
 */
import { ChaosEngine, checkShards, runCostFromLedger, type ChaosLogEntryInput } from '../../native';
import type { BudgetLedgerEntry, CalibrationDocument, ChaosLogDocument, RunCost } from '../../report-types';
import { OmegaError } from '../errors';
import { sortDelivered, type DeliveredFault } from '../providers/chaos';
import { sortedCounts, type CallCounts, type RunRecord } from './engine';
import type { JournalCall, JournalHeader, JournalLine, JournalRunLine } from './journal';
import { buildPrReport, type PrReport, type StressMeta } from './report';
import { mergeRateLimitReports, type RateLimitReport } from '../providers/ratelimit';

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

function mergeError(message: string): OmegaError {
  return new OmegaError('ERR_OMEGA_MERGE', message);
}

/** Provider call counts of the runs' calls (keys sorted; samples: the lowest call index per code). */
export function callCounts(calls: JournalCall[], requestedModel: string): CallCounts {
  const byError: Record<string, number> = {};
  const samples = new Map<string, { callIndex: number; message: string }>();
  const returned = new Set<string>();
  let failed = 0;
  let retries = 0;
  for (const c of calls) {
    retries += c.retries;
    if (c.ok) {
      if (typeof c.model === 'string' && c.model !== '') returned.add(c.model);
      continue;
    }
    failed++;
    const code = c.error_code ?? 'ERR_OMEGA_PROVIDER';
    byError[code] = (byError[code] ?? 0) + 1;
    const seen = samples.get(code);
    if (seen === undefined || c.call_index < seen.callIndex) samples.set(code, { callIndex: c.call_index, message: c.error_message ?? '' });
  }
  return {
    total: calls.length,
    failed,
    retries,
    by_error: sortedCounts(byError),
    error_samples: Object.fromEntries([...samples.keys()].sort().map((k) => [k, (samples.get(k) as { message: string }).message])),
    models: { requested: requestedModel, returned: [...returned].sort() },
  };
}

/**
 * The journals of one stress run — the whole run, or every shard of it once — after the checks
 * that they belong together (`ERR_OMEGA_MERGE`): the meta of the report (`shard: null` for merged
 * shards) and the shard count the budget was split by.
 */
function combinedMeta(journals: JournalInput[], merge: boolean): { meta: StressMeta; shards: number } {
  const first = journals[0];
  if (first === undefined) throw mergeError('no journal to derive from');
  if (journals.length === 1 && !merge) return { meta: first.header.meta, shards: first.header.meta.shard?.total ?? 1 };
  // Every shard once, one run (the core's rule, shared with `stress merge` of report folders).
  checkShards(
    journals.map((j) => ({ meta: j.header.meta as unknown as Record<string, unknown>, calibrationDigest: j.header.digests.calibration })),
    'journal header',
  );
  return { meta: { ...first.header.meta, shard: null }, shards: 1 };
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
  const { meta, shards } = combinedMeta(journals, opts.merge === true);
  const runLines = new Map<number, JournalRunLine>();
  const calls: JournalCall[] = [];
  const ledger: BudgetLedgerEntry[] = [];
  const chaosEntries: ChaosLogEntryInput[] = [];
  const delivered: DeliveredFault[] = [];
  let cacheCorruption = 0;
  const judgeCalls = { total: 0, failed: 0 };
  let judged = false;
  const rateLimits: (RateLimitReport | undefined)[] = [];
  for (const j of journals) {
    for (const line of j.lines) {
      if (line.type === 'end') {
        cacheCorruption += line.cache_corruption;
        rateLimits.push(line.rate_limit);
        continue;
      }
      if (line.type === 'run') {
        if (runLines.has(line.run_index)) throw mergeError(`run ${line.run_index} is recorded twice`);
        runLines.set(line.run_index, line);
        if (line.judge_calls !== undefined) {
          judged = true;
          judgeCalls.total += line.judge_calls.total;
          judgeCalls.failed += line.judge_calls.failed;
        }
      }
      calls.push(...line.calls);
      ledger.push(...line.ledger);
      if (line.chaos !== undefined) {
        chaosEntries.push(...line.chaos.entries);
        delivered.push(...line.chaos.delivered);
      }
    }
  }
  const runs: RunRecord[] = [...runLines.keys()].sort((a, b) => a - b).map((r) => (runLines.get(r) as JournalRunLine).record);
  calls.sort((a, b) => a.call_index - b.call_index);
  // The core sums the money (sorted violations, commutative totals): order does not matter.
  const runCost = runCostFromLedger(ledger, calibration, { shards }) as RunCost;
  const counts = callCounts(calls, meta.model);
  if (judged) counts.judge_calls = judgeCalls;
  const rateLimit = mergeRateLimitReports(rateLimits);
  const report = buildPrReport({
    meta,
    runs,
    runCost,
    calls: counts,
    cacheCorruption,
    calibration,
    generated,
    ...(rateLimit !== undefined ? { rateLimit } : {}),
  });
  let chaosLog: ChaosLogDocument | null = null;
  const profile = meta.chaos_profile;
  if (profile !== null) {
    const engine = new ChaosEngine({ profile: profile === 'default' ? undefined : profile, seed: meta.seed, calibration });
    // Entries sorted by the core (call index, attempt); the text form, as ChaosProvider.chaosLog() reads it.
    chaosLog = JSON.parse(engine.buildLogJson(chaosEntries)) as ChaosLogDocument;
    const hasOutcome = profile !== 'default' && calibration.chaos_profiles[profile]?.outcome_faults != null;
    if (hasOutcome) (chaosLog as ChaosLogDocument & { delivered_faults?: DeliveredFault[] }).delivered_faults = sortDelivered(delivered);
  }
  return { report, runCost, chaosLog };
}
