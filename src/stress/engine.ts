/**
 * The stress harness (runbook phase 5, PR-4): N runs of S scenes each through the provider stack,
 * K runs in flight at once, each scored by the scorer. This file only awaits providers and makes
 * the run journal's lines; every document (statistics, calls, money, chaos log) is `derive`d from
 * them (`./derive`, called by `./api`).
 */
import { AtomicCache, BudgetTracker } from '../../native';
import type { CalibrationDocument } from '../../report-types';
import { OmegaError, isOmegaErrorCode, type OmegaErrorCode } from '../errors';
import type { CallCounts, CaseResult, CaseRunRecord, OutcomeFaultRecord, RunRecord } from '../../report-types';
import type { EngineCheckInput } from '../../native';
import type { BudgetLedgerEntry, JournalCall, JournalCaseOutput, JournalChaos, JournalEndLine, JournalLateLine, JournalOutputs, JournalRunLine } from '../../report-types';
import type { ChaosLogEntryInput } from '../../native';
import type { DeliveredFault } from '../providers/chaos';
import type { GenerateRequest, GenerateResponse, LlmProvider } from '../providers/types';
import { evaluateCase, type CaseJudge, type LoadedCases } from './cases';
import { runPool } from './pool';
import type { RateLimitReport } from '../providers/ratelimit';
import { buildStack } from './stack';
import type { EngineCheck, EngineContext, EngineModule, EngineOutputs, EngineRequest, EngineResponse, RunScore, SceneResult, Scorer } from './types';

// The shapes of a run, its cases and outcome faults, and the call counts as `PR_REPORT.json`
// lists them: generated from the core's `pr_report` structs.
export type { CallCounts, CaseRunRecord, OutcomeFaultRecord, RunRecord };

// ---- The lines of the run journal (docs/JOURNAL.md; reader and writer in ./journal) ----------

// Generated from the core's `journal` structs (schemas `journal-run-line`, `journal-late-line`,
// `journal-end-line`: the format's one definition).
export type { JournalCall, JournalCaseOutput, JournalChaos, JournalEndLine, JournalLateLine, JournalOutputs, JournalRunLine };

/** Any line after the header. */
export type JournalLine = JournalRunLine | JournalLateLine | JournalEndLine;

/** Configuration of one stress run (or one shard of it). */
export interface StressConfig {
  count: number;
  concurrency: number;
  seed: number;
  chaosProfile: string | null;
  calibration: CalibrationDocument;
  provider: LlmProvider;
  scorer: Scorer;
  scenesPerRun: number;
  model: string;
  /** 1-based shard index and shard count; null for the whole run. */
  shard: { index: number; total: number } | null;
  callTimeoutMs: number;
  timeScale: number;
  clock: () => string;
  /**
   * Latency comes only from the provider's own figure (`latencyMs`): a failed call counts 0 ms
   * instead of wall-clock time, so reports of a seeded provider (the simulated one) stay
   * byte-identical. Default false (wall clock for failed calls and unreporting providers).
   */
  providerLatencyOnly?: boolean;
  /** Prompt tokens of a request, when the engine knows them (budget reservations use them). */
  promptTokens?: (request: GenerateRequest) => number;
  /** Atomic cache the answers are written through (PR-G4 counts its corruption), or null. */
  cachePath: string | null;
  /** Called after each run completes. */
  onRun?: (done: number, total: number, record: RunRecord) => void;
  /** The cases file: each case is one call per run (without `engine`), or the engine's input. */
  cases?: LoadedCases | null;
  /** The user's engine module: `run(ctx)` once per run. */
  engine?: EngineModule | null;
  /** Whether `scorer` is the user's (else the runs are scored by the cases' checks). */
  userScorer?: boolean;
  /** Timeout of one engine run, ms (default 600 000). */
  runTimeoutMs?: number;
  /**
   * When aborted (an interrupt), no new run and no new scene starts; runs in flight are told
   * through `ctx.signal`, and the runs completed so far are returned with `complete: false`.
   */
  signal?: AbortSignal;
  /**
   * Called with each journal line as it is made (a `run` line when a run finishes, `late` lines
   * and the `end` line at the end); a durable writer appends it before the run counts as done.
   */
  onJournal?: (line: JournalLine) => void;
  /**
   * Lines of a journal being resumed: their runs are finished (not run again), their money is
   * restored into the budget (the caps hold for the rest), their cache writes are checked at the end.
   */
  resumed?: JournalLine[];
}

/** Call indices of `llm-judge` calls start here, far above every engine or case call. */
export const JUDGE_CALL_BASE = 2 ** 50;

/** Call indices of one engine run: run r uses `r * ENGINE_CALLS_PER_RUN + k` for its k-th call. */
export const ENGINE_CALLS_PER_RUN = 1000;

function codedError(code: OmegaErrorCode, message: string): OmegaError {
  return new OmegaError(code, message);
}

function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' && e.code !== '' ? `${e.code}: ${msg}` : msg;
}

/** `counts` with its keys in sorted order (deterministic JSON). */
export function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(counts).sort()) out[k] = counts[k] as number;
  return out;
}

/**
 * What the harness did: the journal lines it made. It keeps no counts of its own — the runs, the
 * call counts, the money and the chaos log of a run (whole or interrupted) are `derive`d from the
 * journal (`./api`), so every report is what the journal holds.
 */
export interface StressExecution {
  /** The journal lines of this process (`run`, `late`, `end`), in the order they were made. */
  journal: JournalLine[];
  /** False when an abort stopped the run early (no `end` line): the journal holds the finished runs only. */
  complete: boolean;
  /** Calibration `rate_limits` at work (only when a limit applied): the limiter's own wall-clock figures. */
  rateLimit?: RateLimitReport;
}

/** The run indices a shard owns: `r % total == index - 1`. */
export function shardRuns(count: number, shard: StressConfig['shard']): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  return shard === null ? all : all.filter((r) => r % shard.total === shard.index - 1);
}

function sceneId(s: number): string {
  return `SCN-${String(s + 1).padStart(2, '0')}`;
}

function isFiniteScore(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1;
}

function checkScore(score: RunScore, runIndex: number): RunScore {
  const bad = (field: string, v: unknown) => {
    const message = `scorer returned an invalid ${field} for run ${runIndex}: ${JSON.stringify(v)} (expected a number in [0, 1] / a boolean)`;
    return new OmegaError('ERR_OMEGA_SCORER', message, { field });
  };
  if (score === null || typeof score !== 'object') throw bad('result', score);
  if (!isFiniteScore(score.hardScore)) throw bad('hardScore', score.hardScore);
  if (!isFiniteScore(score.softScore)) throw bad('softScore', score.softScore);
  if (typeof score.hardPass !== 'boolean') throw bad('hardPass', score.hardPass);
  if (typeof score.softPass !== 'boolean') throw bad('softPass', score.softPass);
  return score;
}

/**
 * The record of a run of `scenes` scored `score`: latency summed, cost summed in integer µUSD.
 * (The live run and a replay's re-scoring both lay a run out through this.)
 */
export function runRecordOf(runIndex: number, score: RunScore, scenes: SceneResult[]): RunRecord {
  const latency = scenes.reduce((a, s) => a + s.latencyMs, 0);
  // Integer µUSD inside (each scene's cost is an exact µUSD amount from the core), dollars at the edge.
  const cost = scenes.reduce((a, s) => a + s.costMicroUsd, 0) / 1e6;
  return {
    run_index: runIndex,
    hard_score: score.hardScore,
    soft_score: score.softScore,
    hard_pass: score.hardPass,
    soft_pass: score.softPass,
    failed_scenes: scenes.filter((s) => !s.ok).length,
    attempts: scenes.reduce((a, s) => a + s.attempts, 0),
    latency_ms: latency,
    cost_usd: cost,
    metrics: { latency_ms: latency, cost_usd: cost, ...(score.metrics ?? {}) },
  };
}

function caseOutput(id: string, answer: { text: string | null; error: string | null; latencyMs: number; costUsd: number }, external: JournalCaseOutput['external'], engineChecks: EngineCheckInput[]): JournalCaseOutput {
  return { id, text: answer.text, error: answer.error, latency_ms: answer.latencyMs, cost_usd: answer.costUsd, external, engine_checks: engineChecks };
}

/**
 * The cases of one run as `PR_REPORT.json` lists them: a failed run (`error`) fails every case
 * (`run_failed` first among its failed checks); failed checks' messages as `type: message`.
 * (The live run and a replay's re-scoring both use this.)
 */
export function caseRunRecords(results: CaseResult[], error: string | null): CaseRunRecord[] {
  return results.map((r) => {
    const c: CaseRunRecord = {
      id: r.id,
      ok: r.ok,
      hard_pass: error === null && r.hard_pass,
      soft_pass: error === null && r.soft_pass,
      hard_score: r.hard_score,
      soft_score: r.soft_score,
      failed_checks: error === null ? r.failed_checks : ['run_failed', ...r.failed_checks],
    };
    const failures = r.checks.filter((k) => !k.pass).map((k) => `${k.type}: ${k.message ?? 'failed'}`);
    if (failures.length > 0) c.failures = failures;
    return c;
  });
}

/** Runs the stress harness. */
export async function runStress(cfg: StressConfig): Promise<StressExecution> {
  const budget = new BudgetTracker(cfg.calibration, { shards: cfg.shard?.total ?? 1 });
  const resumed = (cfg.resumed ?? []).filter((l): l is Exclude<JournalLine, { type: 'end' }> => l.type !== 'end');
  // What finished before: its money counts against the caps again.
  budget.restoreLedger(resumed.flatMap((l) => l.ledger));
  const finished = new Set(resumed.filter((l) => l.type === 'run').map((l) => l.run_index));
  const journal: JournalLine[] = [];
  const emit = (line: JournalLine): void => {
    cfg.onJournal?.(line);
    journal.push(line);
  };
  const callsPerRun = cfg.engine ? ENGINE_CALLS_PER_RUN : cfg.scenesPerRun;
  const judgeCallsPerRun = (cfg.cases?.doc.cases.length ?? 1) * Math.max(1, ...(cfg.cases?.doc.cases.map((c) => c.assert.length) ?? [1]));
  const runOf = (callIndex: number): number =>
    callIndex >= JUDGE_CALL_BASE ? Math.floor((callIndex - JUDGE_CALL_BASE) / judgeCallsPerRun) : Math.floor(callIndex / callsPerRun);
  // Per run: its calls, ledger entries and chaos records, until its journal line takes them.
  type Pending = { calls: JournalCall[]; ledger: BudgetLedgerEntry[]; entries: ChaosLogEntryInput[]; delivered: DeliveredFault[] };
  const pending = new Map<number, Pending>();
  const bucket = (r: number): Pending => {
    let p = pending.get(r);
    if (p === undefined) pending.set(r, (p = { calls: [], ledger: [], entries: [], delivered: [] }));
    return p;
  };
  /** Files the budget's and the chaos layer's new records under their runs; returns run `r`'s bucket (removed). */
  const takePending = (r: number): Pending => {
    for (const e of budget.takeLedger()) {
      const m = /^call-(\d+)#/.exec(e.call_id);
      bucket(m ? runOf(Number(m[1])) : r).ledger.push(e);
    }
    const drained = stack.chaos?.drain();
    for (const e of drained?.entries ?? []) bucket(runOf(e.callIndex)).entries.push(e);
    for (const d of drained?.delivered ?? []) bucket(runOf(d.call_index)).delivered.push(d);
    const p = bucket(r);
    pending.delete(r);
    return p;
  };
  const chaosOf = (p: Pending): JournalChaos | undefined => (stack.chaos === null ? undefined : { entries: p.entries, delivered: p.delivered });
  // Retries per call index (journaled with the call): the attempts of a call that succeeded after retrying.
  const retriesByCall = new Map<number, number>();
  const stack = buildStack({
    provider: cfg.provider,
    calibration: cfg.calibration,
    seed: cfg.seed,
    chaosProfile: cfg.chaosProfile,
    budget,
    callTimeoutMs: cfg.callTimeoutMs,
    timeScale: cfg.timeScale,
    clock: cfg.clock,
    shares: cfg.shard?.total ?? 1,
    onRetry: (info) => retriesByCall.set(info.callIndex, (retriesByCall.get(info.callIndex) ?? 0) + 1),
  });
  // `llm-judge` checks: the run's provider through Retry(Timeout) — no chaos, the judge is not
  // under test — on the same budget; counted apart from the engine's calls.
  // Per run until its journal line takes them.
  const judgeCalls = new Map<number, { total: number; failed: number }>();
  const judged = cfg.cases?.hasJudge ? cfg.cases : null;
  const judgeStack = judged === null ? null : buildStack({ provider: cfg.provider, calibration: cfg.calibration, seed: cfg.seed, chaosProfile: null, budget, callTimeoutMs: cfg.callTimeoutMs, timeScale: cfg.timeScale, clock: cfg.clock });
  const checksPerCase = judged === null ? 1 : Math.max(1, ...judged.doc.cases.map((c) => c.assert.length));
  const judgeFor = (runIndex: number): CaseJudge | undefined => {
    if (judged === null || judgeStack === null) return undefined;
    return async (req) => {
      const counts = judgeCalls.get(runIndex) ?? { total: 0, failed: 0 };
      judgeCalls.set(runIndex, counts);
      counts.total++;
      const request: GenerateRequest & { messages?: unknown } = {
        model: req.model ?? cfg.model,
        prompt: `${req.system}\n\n${req.user}`,
        sceneId: `judge:${judged.doc.cases[req.caseIndex]?.id ?? req.caseIndex}`,
        callIndex: JUDGE_CALL_BASE + (runIndex * judged.doc.cases.length + req.caseIndex) * checksPerCase + req.checkIndex,
        maxOutputTokens: 256,
      };
      request.messages = [
        { role: 'system', content: req.system },
        { role: 'user', content: req.user },
      ];
      try {
        return (await judgeStack.provider.generate(request)).text;
      } catch (err) {
        counts.failed++;
        throw err;
      }
    };
  };
  const cache = cfg.cachePath === null ? null : AtomicCache.open(cfg.cachePath, { calibration: cfg.calibration });
  const indices = shardRuns(cfg.count, cfg.shard);
  const records = new Map<number, RunRecord>();
  // The cost of an answer, priced as the model the provider named (dated snapshots resolve to
  // their base model); a name no price matches is priced as the requested model, which the
  // budget already settled.
  const costOf = (model: string | undefined, usage: GenerateResponse['usage']): number => {
    if (typeof model === 'string' && model !== '') {
      try {
        return budget.cost(model, usage).costMicroUsd;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ERR_OMEGA_UNKNOWN_MODEL') throw err;
      }
    }
    return budget.cost(cfg.model, usage).costMicroUsd;
  };

  const oneScene = (runIndex: number, s: number): Promise<SceneResult> => {
    const id = sceneId(s);
    return oneCall(runIndex, { model: cfg.model, prompt: `Write scene ${id} of run ${runIndex}.`, sceneId: id, callIndex: runIndex * cfg.scenesPerRun + s }, `run-${runIndex}/${id}`);
  };

  const oneCall = async (runIndex: number, request: GenerateRequest, cacheKey: string | null, signal?: AbortSignal): Promise<SceneResult & { response?: GenerateResponse }> => {
    const callIndex = request.callIndex as number;
    const id = request.sceneId ?? `CALL-${callIndex}`;
    const started = performance.now();
    let attempts = 1;
    const rec: JournalCall = { call_index: callIndex, scene_id: id, attempts: 1, retries: 0, ok: false, cost_micro_usd: 0, latency_ms: 0 };
    const file = (r: SceneResult & { response?: GenerateResponse }) => {
      rec.attempts = r.attempts;
      rec.retries = retriesByCall.get(callIndex) ?? 0;
      rec.ok = r.ok;
      rec.latency_ms = r.latencyMs;
      if (r.ok) {
        rec.cost_micro_usd = r.costMicroUsd;
        if (typeof r.response?.model === 'string') rec.model = r.response.model;
        if (r.response?.usage !== undefined) rec.usage = r.response.usage;
        rec.text = r.text as string;
      } else {
        rec.error_code = r.errorCode as string;
        rec.error_message = r.errorMessage as string;
      }
      bucket(runOf(callIndex)).calls.push(rec);
      return r;
    };
    try {
      const inputTokens = cfg.promptTokens?.(request);
      if (inputTokens !== undefined) request.inputTokens = inputTokens;
      const res = await stack.provider.generate(request, signal ? { signal } : undefined);
      const reported = (res as { latencyMs?: unknown }).latencyMs;
      const latencyMs = typeof reported === 'number' ? reported : cfg.providerLatencyOnly ? 0 : Math.round(performance.now() - started);
      const micro = costOf(res.model, res.usage);
      attempts = 1 + (retriesByCall.get(callIndex) ?? 0);
      if (cache !== null && cacheKey !== null) {
        try {
          await cache.setAsync(cacheKey, { call_index: callIndex, text: res.text });
          rec.cache_key = cacheKey;
        } catch {
          rec.cache_error = true;
        }
      }
      return file({ sceneId: id, callIndex, ok: true, text: res.text, attempts, latencyMs, costUsd: micro / 1e6, costMicroUsd: micro, response: { ...res, latencyMs } as GenerateResponse });
    } catch (err) {
      const e = err as { code?: string; message?: string; attempts?: number };
      const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'ERR_OMEGA_PROVIDER';
      return file({
        sceneId: id,
        callIndex,
        ok: false,
        errorCode: code,
        errorMessage: e?.message ?? String(err),
        attempts: e.attempts ?? 1 + (retriesByCall.get(callIndex) ?? 0),
        latencyMs: cfg.providerLatencyOnly ? 0 : Math.round(performance.now() - started),
        costUsd: 0,
        costMicroUsd: 0,
      });
    }
  };

  /** A run of a cases file or an engine: per-case results, scored by the checks or the user's scorer. */
  const outcomeFaults = (scenes: SceneResult[], results: CaseResult[], runError: string | null): OutcomeFaultRecord[] | undefined => {
    const chaos = stack.chaos;
    if (chaos === null || !chaos.hasOutcomeFaults) return undefined;
    const byCall = new Map(scenes.map((s) => [s.callIndex, s]));
    return chaos.delivered
      .filter((d) => byCall.has(d.call_index))
      .sort((a, b) => a.call_index - b.call_index || a.attempt - b.attempt)
      .map((d) => {
        const s = byCall.get(d.call_index) as SceneResult;
        let caught: OutcomeFaultRecord['caught'] = null;
        if (d.attempt < s.attempts || !s.ok) caught = 'retry';
        else if (runError !== null) caught = 'run_failed';
        else if (scenes.some((o) => o.sceneId === s.sceneId && o.callIndex > s.callIndex)) caught = 'engine';
        else if (results.find((r) => r.id === s.sceneId)?.hard_pass === false) caught = 'case_failed';
        return { call_index: d.call_index, attempt: d.attempt, fault: d.fault, caught };
      });
  };

  const judge = async (runIndex: number, scenes: SceneResult[], results: CaseResult[], runError: string | null, outputs: JournalOutputs): Promise<RunRecord> => {
    let score: RunScore;
    let error = runError;
    if (error !== null) {
      outputs.run_error = error;
      score = { hardScore: 0, softScore: 0, hardPass: false, softPass: false };
    } else if (cfg.userScorer) {
      try {
        const raw = await cfg.scorer.score({ runIndex, seed: cfg.seed, scenes });
        outputs.score = JSON.parse(JSON.stringify(raw ?? null)) as RunScore;
        score = checkScore(raw, runIndex);
      } catch (err) {
        // A scorer that throws for one run fails that run only.
        error = `scorer threw: ${errorText(err)}`;
        score = { hardScore: 0, softScore: 0, hardPass: false, softPass: false };
      }
    } else {
      const s = (cfg.cases as LoadedCases).suite.scoreRun(results);
      score = { hardScore: s.hard_score, softScore: s.soft_score, hardPass: s.hard_pass, softPass: s.soft_pass };
    }
    const record = runRecordOf(runIndex, score, scenes);
    if (error !== null) record.error = error;
    record.cases = caseRunRecords(results, error);
    const faults = outcomeFaults(scenes, results, error);
    if (faults !== undefined) record.outcome_faults = faults;
    return record;
  };

  const casesRun = async (runIndex: number): Promise<{ record: RunRecord; outputs: JournalOutputs }> => {
    const loaded = cfg.cases as LoadedCases;
    const n = loaded.doc.cases.length;
    const scenes: SceneResult[] = [];
    const results: CaseResult[] = [];
    const outputs: JournalOutputs = { cases: [] };
    for (const [i, c] of loaded.doc.cases.entries()) {
      const request: GenerateRequest = { model: c.model ?? cfg.model, prompt: c.prompt, sceneId: c.id, callIndex: runIndex * n + i };
      if (c.max_output_tokens !== undefined) request.maxOutputTokens = c.max_output_tokens;
      if (c.messages !== undefined) (request as GenerateRequest & { messages?: unknown }).messages = c.messages;
      const r = await oneCall(runIndex, request, `run-${runIndex}/${c.id}`);
      delete r.response;
      scenes.push(r);
      const answer = { text: r.ok ? (r.text as string) : null, error: r.ok ? null : `${r.errorCode}: ${r.errorMessage}`, latencyMs: r.latencyMs, costUsd: r.costUsd };
      results.push(await evaluateCase(loaded, i, answer, runIndex, [], judgeFor(runIndex), (external) => outputs.cases?.push(caseOutput(c.id, answer, external, []))));
    }
    return { record: await judge(runIndex, scenes, results, null, outputs), outputs };
  };

  const engineRun = async (runIndex: number): Promise<{ record: RunRecord; outputs: JournalOutputs }> => {
    const engine = cfg.engine as EngineModule;
    const loaded = cfg.cases as LoadedCases;
    const controller = new AbortController();
    const onOuter = () => controller.abort(cfg.signal?.reason);
    cfg.signal?.addEventListener('abort', onOuter, { once: true });
    let ended = false;
    let k = 0;
    const scenes: SceneResult[] = [];
    let budgetError: string | null = null;
    const logs: string[] = [];
    const llm = {
      generate: async (req: EngineRequest): Promise<EngineResponse> => {
        if (ended) {
          throw codedError('ERR_OMEGA_RUN_ENDED', `run ${runIndex} has ended: the engine called llm.generate after its run returned (or timed out)`);
        }
        if (k >= ENGINE_CALLS_PER_RUN) throw codedError('ERR_OMEGA_TOO_MANY_CALLS', `run ${runIndex} made more than ${ENGINE_CALLS_PER_RUN} LLM calls`);
        if (req === null || typeof req !== 'object' || typeof req.prompt !== 'string') throw codedError('ERR_OMEGA_INVALID_ARGUMENT', 'llm.generate(request) needs { prompt: string }');
        const callIndex = runIndex * ENGINE_CALLS_PER_RUN + k++;
        const request: GenerateRequest = { model: req.model ?? cfg.model, prompt: req.prompt, sceneId: req.caseId ?? `CALL-${callIndex - runIndex * ENGINE_CALLS_PER_RUN}`, callIndex };
        if (req.maxOutputTokens !== undefined) request.maxOutputTokens = req.maxOutputTokens;
        if (req.messages !== undefined) (request as GenerateRequest & { messages?: unknown }).messages = req.messages;
        const r = await oneCall(runIndex, request, `run-${runIndex}/call-${callIndex - runIndex * ENGINE_CALLS_PER_RUN}`, controller.signal);
        const res = r.response;
        delete r.response;
        scenes.push(r);
        if (!r.ok || res === undefined) {
          if (r.errorCode === 'ERR_OMEGA_BUDGET_EXCEEDED') budgetError ??= `budget exceeded mid-run: ${r.errorMessage}`;
          const message = r.errorMessage ?? 'call failed';
          // A foreign code (not omega-pr's) keeps its words in the message.
          throw isOmegaErrorCode(r.errorCode) ? codedError(r.errorCode, message) : codedError('ERR_OMEGA_PROVIDER', r.errorCode ? `${r.errorCode}: ${message}` : message);
        }
        return { ...res, callIndex, attempts: r.attempts, latencyMs: r.latencyMs, costUsd: r.costUsd };
      },
    };
    const engineCache = cache === null ? null : {
      get: (key: string): unknown => cache.get(`engine/${key}`),
      set: (key: string, value: unknown): Promise<void> => cache.setAsync(`engine/${key}`, value),
    };
    const ctx: EngineContext = {
      runIndex,
      seed: cfg.seed,
      cases: loaded.doc.cases,
      llm,
      cache: engineCache,
      signal: controller.signal,
      log: (msg: string) => {
        logs.push(String(msg));
      },
    };
    const timeoutMs = cfg.runTimeoutMs ?? 600_000;
    let timer: NodeJS.Timeout | undefined;
    let outputs: unknown;
    let runError: string | null = null;
    try {
      outputs = await Promise.race([
        Promise.resolve().then(() => engine.run(ctx)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const e = codedError('ERR_OMEGA_RUN_TIMEOUT', `engine run ${runIndex} did not finish within ${timeoutMs} ms`);
            controller.abort(e);
            reject(e);
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      runError = `engine threw: ${errorText(err)}`;
    } finally {
      clearTimeout(timer);
      ended = true;
      cfg.signal?.removeEventListener('abort', onOuter);
      if (!controller.signal.aborted) controller.abort(codedError('ERR_OMEGA_RUN_ENDED', `run ${runIndex} has ended`));
    }
    // Over budget fails closed, whatever the engine made of the refusal.
    if (runError === null && budgetError !== null) runError = budgetError;
    let normalized: { texts: Map<string, string>; checks: EngineCheck[] } = { texts: new Map(), checks: [] };
    if (runError === null) {
      try {
        normalized = normalizeOutputs(outputs, loaded);
      } catch (err) {
        runError = (err as Error).message;
      }
    }
    if (runError === null && !cfg.userScorer && !loaded.suite.hasChecks && normalized.checks.length === 0) {
      throw codedError(
        'ERR_OMEGA_NO_SCORER',
        `nothing scores the runs of engine ${engine.name ?? 'module'}: add \`assert\` checks to the cases (--input), a scorer module (--scorer), or return \`checks\` from run(ctx)`,
      );
    }
    const latency = scenes.reduce((a, s) => a + s.latencyMs, 0);
    const cost = scenes.reduce((a, s) => a + s.costMicroUsd, 0) / 1e6;
    const results: CaseResult[] = [];
    const journalOutputs: JournalOutputs = { cases: [] };
    for (const [i, c] of loaded.doc.cases.entries()) {
      const own = scenes.filter((s) => s.sceneId === c.id);
      const attributed = own.length > 0;
      const text = normalized.texts.get(c.id) ?? null;
      const checks: EngineCheckInput[] = normalized.checks
        .filter((x) => x.case === undefined || x.case === c.id)
        .map((x) => ({ name: x.name, pass: x.pass, level: x.level, weight: x.weight, message: x.message }));
      const answer = {
        text: runError === null ? text : null,
        error: runError ?? (text === null ? `engine gave no output for case ${c.id}` : null),
        latencyMs: attributed ? own.reduce((a, s) => a + s.latencyMs, 0) : latency,
        costUsd: attributed ? own.reduce((a, s) => a + s.costMicroUsd, 0) / 1e6 : cost,
      };
      const given = runError === null ? checks : [];
      results.push(await evaluateCase(loaded, i, answer, runIndex, given, judgeFor(runIndex), (external) => journalOutputs.cases?.push(caseOutput(c.id, answer, external, given))));
    }
    return { record: await judge(runIndex, scenes, results, runError, journalOutputs), outputs: journalOutputs };
  };

  const aborted = (): boolean => cfg.signal?.aborted === true;
  const oneRun = async (runIndex: number): Promise<{ record: RunRecord; outputs: JournalOutputs } | null> => {
    // Interrupted: a run not started is not a result.
    if (aborted()) return null;
    if (cfg.engine) return engineRun(runIndex);
    if (cfg.cases) return casesRun(runIndex);
    const scenes: SceneResult[] = [];
    for (let s = 0; s < cfg.scenesPerRun; s++) {
      // Interrupted: a run not finished is not a result.
      if (aborted()) return null;
      scenes.push(await oneScene(runIndex, s));
    }
    const raw = await cfg.scorer.score({ runIndex, seed: cfg.seed, scenes });
    const score = checkScore(raw, runIndex);
    return { record: runRecordOf(runIndex, score, scenes), outputs: { score: JSON.parse(JSON.stringify(raw)) as RunScore } };
  };

  // A resumed journal: its finished runs count as done; answers of the runs it lacks (cut by the
  // crash) are dropped from the cache, so the final check sees exactly what the journal says.
  for (const l of resumed) if (l.type === 'run') records.set(l.run_index, l.record);
  if (cache !== null && finished.size > 0) {
    const owned = new Set(indices);
    for (const key of cache.keys()) {
      const m = /^run-(\d+)\//.exec(key);
      if (m && owned.has(Number(m[1])) && !finished.has(Number(m[1]))) cache.delete(key);
    }
  }
  let done = [...finished].filter((r) => records.has(r)).length;
  const todo = indices.filter((r) => !finished.has(r));
  // The first error (e.g. an invalid score) stops new runs; the runs in flight finish first.
  // With rate limits for the model, runs in flight follow the limiter's AIMD window, not K.
  await runPool(todo, stack.rateLimit?.concurrencyFor(cfg.model) ?? cfg.concurrency, async (runIndex) => {
    const result = await oneRun(runIndex);
    if (result === null) return;
    const p = takePending(runIndex);
    const line: JournalRunLine = {
      type: 'run',
      run_index: runIndex,
      record: result.record,
      calls: p.calls.sort((a, b) => a.call_index - b.call_index),
      outputs: result.outputs,
      ledger: p.ledger,
    };
    const chaos = chaosOf(p);
    if (chaos !== undefined) line.chaos = chaos;
    const judgedRun = judgeCalls.get(runIndex);
    if (judgedRun !== undefined) {
      line.judge_calls = judgedRun;
      judgeCalls.delete(runIndex);
    }
    // Durable before it counts: a crash after this line never runs (or pays for) the run again.
    emit(line);
    records.set(runIndex, result.record);
    done++;
    cfg.onRun?.(done, indices.length, result.record);
  }, cfg.signal);

  // Calls of finished runs that ended after their run's line (an engine that timed out).
  takePending(-1);
  for (const r of [...pending.keys()].sort((a, b) => a - b)) {
    if (!records.has(r)) continue;
    const p = takePending(r);
    const chaos = chaosOf(p);
    emit({ type: 'late', run_index: r, calls: p.calls.sort((a, b) => a.call_index - b.call_index), ledger: p.ledger, ...(chaos ? { chaos } : {}) });
  }

  const runs = indices.filter((r) => records.has(r)).map((r) => records.get(r) as RunRecord);
  // The cache writes of the journaled runs (resumed and new).
  const journaledCalls = [...resumed, ...journal].flatMap((l) => (l.type === 'end' ? [] : l.calls));
  const writtenKeys = new Map<string, number>();
  let cacheErrors = 0;
  for (const c of journaledCalls) {
    if (c.cache_key !== undefined) writtenKeys.set(c.cache_key, c.call_index);
    if (c.cache_error === true) cacheErrors++;
  }
  let cacheCorruption = cacheErrors;
  if (cache !== null && (cfg.cases || cfg.engine)) {
    try {
      const stored = new Map(AtomicCache.open(cfg.cachePath as string).entries());
      for (const [key, callIndex] of writtenKeys) {
        const v = stored.get(key) as { call_index?: number } | undefined;
        if (v === undefined || v.call_index !== callIndex) cacheCorruption++;
      }
      const answers = [...stored.keys()].filter((k) => k.startsWith('run-')).length;
      if (answers !== writtenKeys.size) cacheCorruption += Math.abs(answers - writtenKeys.size);
    } catch {
      cacheCorruption++;
    }
  } else if (cache !== null) {
    try {
      const stored = new Map(AtomicCache.open(cfg.cachePath as string).entries());
      for (const run of runs) {
        // Every answer that was written must be there, intact.
        for (let s = 0; s < cfg.scenesPerRun; s++) {
          const v = stored.get(`run-${run.run_index}/${sceneId(s)}`) as { call_index?: number } | undefined;
          if (v !== undefined && v.call_index !== run.run_index * cfg.scenesPerRun + s) cacheCorruption++;
        }
      }
      const expected = runs.reduce((a, r) => a + cfg.scenesPerRun - r.failed_scenes, 0) - cacheErrors;
      if (stored.size !== expected) cacheCorruption += Math.abs(stored.size - expected);
    } catch {
      cacheCorruption++;
    }
    try {
      // Folds the journal into the cache file, which the run folder keeps as one JSON document.
      cache.close();
    } catch {
      cacheCorruption++;
    }
  }
  const rateLimit = stack.rateLimit?.report();
  const complete = runs.length === indices.length;
  if (complete) emit({ type: 'end', cache_corruption: cacheCorruption, ...(rateLimit !== undefined ? { rate_limit: rateLimit } : {}) });
  return { journal, complete, ...(rateLimit !== undefined ? { rateLimit } : {}) };
}

/**
 * What `run(ctx)` returned, as texts per case id and the engine's own checks. Accepted: a string
 * (the one case's answer), an array of strings aligned with the cases, `{ outputs, checks }`
 * with `outputs` a record by case id (strings or `{ text }`) or such an array.
 */
export function normalizeOutputs(value: unknown, loaded: LoadedCases): { texts: Map<string, string>; checks: EngineCheck[] } {
  const ids = loaded.doc.cases.map((c) => c.id);
  const texts = new Map<string, string>();
  if (value === undefined || value === null) throw codedError('ERR_OMEGA_ENGINE_OUTPUT', 'engine returned nothing (return { outputs: { <case id>: text }, checks? })');
  const asText = (v: unknown): string | null => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { text?: unknown }).text === 'string' ? (v as { text: string }).text : null);
  let outputs: unknown = value;
  let checks: unknown = [];
  if (typeof value === 'object' && !Array.isArray(value) && ('outputs' in value || 'checks' in value)) {
    outputs = (value as EngineOutputs).outputs ?? {};
    checks = (value as EngineOutputs).checks ?? [];
  }
  if (typeof outputs === 'string') {
    if (ids.length !== 1) throw codedError('ERR_OMEGA_ENGINE_OUTPUT', `engine returned one text for ${ids.length} cases (return { outputs: { <case id>: text } })`);
    texts.set(ids[0] as string, outputs);
  } else if (Array.isArray(outputs)) {
    outputs.forEach((v, i) => {
      const t = asText(v);
      if (t !== null && i < ids.length) texts.set(ids[i] as string, t);
    });
  } else if (outputs && typeof outputs === 'object') {
    for (const [id, v] of Object.entries(outputs)) {
      const t = asText(v);
      if (t !== null) texts.set(id, t);
    }
  } else {
    throw codedError('ERR_OMEGA_ENGINE_OUTPUT', `engine returned ${typeof outputs} as outputs (expected a record of texts by case id)`);
  }
  if (!Array.isArray(checks)) throw codedError('ERR_OMEGA_ENGINE_OUTPUT', '`checks` returned by the engine must be an array');
  const out: EngineCheck[] = [];
  for (const [i, c] of (checks as unknown[]).entries()) {
    const x = c as Partial<EngineCheck>;
    if (!x || typeof x !== 'object' || typeof x.pass !== 'boolean') throw codedError('ERR_OMEGA_ENGINE_OUTPUT', `checks[${i}] returned by the engine needs \`pass: boolean\``);
    if (x.case !== undefined && !ids.includes(x.case)) throw codedError('ERR_OMEGA_ENGINE_OUTPUT', `checks[${i}] names unknown case ${JSON.stringify(x.case)}`);
    out.push({ name: typeof x.name === 'string' ? x.name : `check ${i}`, pass: x.pass, case: x.case, level: x.level === 'soft' ? 'soft' : 'hard', weight: typeof x.weight === 'number' && x.weight > 0 ? x.weight : 1, message: typeof x.message === 'string' ? x.message : undefined });
  }
  return { texts, checks: out };
}
