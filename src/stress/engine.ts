/**
 * The stress harness (runbook phase 5, PR-4): N runs of S scenes each through the provider stack,
 * K runs in flight at once, each scored by the scorer. All statistics come from the Rust core
 * (`analyzeVariance`); this file only awaits providers and collects results.
 */
import { AtomicCache, BudgetTracker } from '../../native';
import type { CalibrationDocument, RunCost } from '../../report-types';
import type { ChaosLogDocument } from '../../native';
import type { GenerateRequest, GenerateResponse, LlmProvider } from '../providers/types';
import { runPool } from './pool';
import { buildStack } from './stack';
import type { RunScore, SceneResult, Scorer } from './types';

/** One run as `PR_REPORT.json` lists it. */
export interface RunRecord {
  run_index: number;
  hard_score: number;
  soft_score: number;
  hard_pass: boolean;
  soft_pass: boolean;
  failed_scenes: number;
  attempts: number;
  latency_ms: number;
  cost_usd: number;
  metrics: Record<string, number>;
}

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
}

/** Provider calls of a stress run: failed ones counted per error code (keys sorted). */
export interface CallCounts {
  total: number;
  failed: number;
  retries: number;
  by_error: Record<string, number>;
  /** One message per error code in `by_error` (the first seen, by call index): what the provider said. */
  error_samples?: Record<string, string>;
  /** The model asked for, and the model names the provider answered with (sorted). */
  models?: { requested: string; returned: string[] };
}

/** `counts` with its keys in sorted order (deterministic JSON). */
export function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(counts).sort()) out[k] = counts[k] as number;
  return out;
}

/** What a stress run produced. */
export interface StressOutcome {
  runs: RunRecord[];
  runCost: RunCost;
  chaosLog: ChaosLogDocument | null;
  calls: CallCounts;
  cacheCorruption: number;
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
    const e = new Error(`scorer returned an invalid ${field} for run ${runIndex}: ${JSON.stringify(v)} (expected a number in [0, 1] / a boolean)`) as Error & {
      code: string;
    };
    e.code = 'ERR_OMEGA_SCORER';
    return e;
  };
  if (score === null || typeof score !== 'object') throw bad('result', score);
  if (!isFiniteScore(score.hardScore)) throw bad('hardScore', score.hardScore);
  if (!isFiniteScore(score.softScore)) throw bad('softScore', score.softScore);
  if (typeof score.hardPass !== 'boolean') throw bad('hardPass', score.hardPass);
  if (typeof score.softPass !== 'boolean') throw bad('softPass', score.softPass);
  return score;
}

/** Runs the stress harness. */
export async function runStress(cfg: StressConfig): Promise<StressOutcome> {
  const budget = new BudgetTracker(cfg.calibration, { shards: cfg.shard?.total ?? 1 });
  let retries = 0;
  // Retries per call index: the attempts of a call that succeeded after retrying.
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
    onRetry: (info) => {
      retries++;
      retriesByCall.set(info.callIndex, (retriesByCall.get(info.callIndex) ?? 0) + 1);
    },
  });
  const cache = cfg.cachePath === null ? null : AtomicCache.open(cfg.cachePath, { calibration: cfg.calibration });
  let cacheErrors = 0;
  const indices = shardRuns(cfg.count, cfg.shard);
  const records = new Map<number, RunRecord>();
  let failedCalls = 0;
  const errorCounts: Record<string, number> = {};
  const errorSamples = new Map<string, { callIndex: number; message: string }>();
  const returnedModels = new Set<string>();
  let totalCalls = 0;
  // The cost of an answer, priced as the model the provider named (dated snapshots resolve to
  // their base model); a name no price matches is priced as the requested model, which the
  // budget already settled.
  const costOf = (model: string | undefined, usage: GenerateResponse['usage']): number => {
    if (typeof model === 'string' && model !== '') {
      returnedModels.add(model);
      try {
        return budget.cost(model, usage).costUsd;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ERR_OMEGA_UNKNOWN_MODEL') throw err;
      }
    }
    return budget.cost(cfg.model, usage).costUsd;
  };

  const oneScene = async (runIndex: number, s: number): Promise<SceneResult> => {
    const callIndex = runIndex * cfg.scenesPerRun + s;
    const id = sceneId(s);
    const started = performance.now();
    let attempts = 1;
    totalCalls++;
    try {
      const request: GenerateRequest = {
        model: cfg.model,
        prompt: `Write scene ${id} of run ${runIndex}.`,
        sceneId: id,
        callIndex,
      };
      const inputTokens = cfg.promptTokens?.(request);
      if (inputTokens !== undefined) request.inputTokens = inputTokens;
      const res = await stack.provider.generate(request);
      const reported = (res as { latencyMs?: unknown }).latencyMs;
      const latencyMs = typeof reported === 'number' ? reported : cfg.providerLatencyOnly ? 0 : Math.round(performance.now() - started);
      const cost = costOf(res.model, res.usage);
      attempts = 1 + (retriesByCall.get(callIndex) ?? 0);
      if (cache !== null) {
        try {
          await cache.setAsync(`run-${runIndex}/${id}`, { call_index: callIndex, text: res.text });
        } catch {
          cacheErrors++;
        }
      }
      return { sceneId: id, callIndex, ok: true, text: res.text, attempts, latencyMs, costUsd: cost };
    } catch (err) {
      failedCalls++;
      const e = err as { code?: string; message?: string; attempts?: number };
      const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'ERR_OMEGA_PROVIDER';
      errorCounts[code] = (errorCounts[code] ?? 0) + 1;
      const message = e?.message ?? String(err);
      const seen = errorSamples.get(code);
      if (seen === undefined || callIndex < seen.callIndex) errorSamples.set(code, { callIndex, message });
      return {
        sceneId: id,
        callIndex,
        ok: false,
        errorCode: code,
        errorMessage: e?.message ?? String(err),
        attempts: e.attempts ?? 1 + (retriesByCall.get(callIndex) ?? 0),
        latencyMs: cfg.providerLatencyOnly ? 0 : Math.round(performance.now() - started),
        costUsd: 0,
      };
    }
  };

  const oneRun = async (runIndex: number): Promise<RunRecord> => {
    const scenes: SceneResult[] = [];
    for (let s = 0; s < cfg.scenesPerRun; s++) scenes.push(await oneScene(runIndex, s));
    const score = checkScore(await cfg.scorer.score({ runIndex, seed: cfg.seed, scenes }), runIndex);
    const latency = scenes.reduce((a, s) => a + s.latencyMs, 0);
    const cost = Math.round(scenes.reduce((a, s) => a + s.costUsd, 0) * 1e6) / 1e6;
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
  };

  let done = 0;
  // The first error (e.g. an invalid score) stops new runs; the runs in flight finish first.
  await runPool(indices, cfg.concurrency, async (runIndex) => {
    const record = await oneRun(runIndex);
    records.set(runIndex, record);
    done++;
    cfg.onRun?.(done, indices.length, record);
  });

  const runs = indices.map((r) => records.get(r) as RunRecord);
  let cacheCorruption = cacheErrors;
  if (cache !== null) {
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
  }
  return {
    runs,
    runCost: budget.finalize(),
    chaosLog: stack.chaos?.chaosLog() ?? null,
    calls: {
      total: totalCalls,
      failed: failedCalls,
      retries,
      by_error: sortedCounts(errorCounts),
      error_samples: Object.fromEntries([...errorSamples.keys()].sort().map((k) => [k, (errorSamples.get(k) as { message: string }).message])),
      models: { requested: cfg.model, returned: [...returnedModels].sort() },
    },
    cacheCorruption,
  };
}
