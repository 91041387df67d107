/**
 * scribe-engine: generates N scenes through omega-pr's provider stack
 * `RetryProvider(ChaosProvider(provider))`, with every attempt reserved and settled on a
 * `BudgetTracker`, answers cached in an `AtomicCache` keyed by the SHA-256 of the request, then
 * scores the scenes, runs `analyzeVariance`, writes `run-cost.json` + `PR_REPORT.json` and builds
 * and verifies a proofpack of the run.
 *
 *   node dist/main.js [--scenes 20] [--profile medium] [--budget-usd 2] [--out out]
 *                     [--cache FILE | --no-cache] [--seed 42] [--time-scale 0.001] [--calibration FILE]
 *
 * Exit codes: 0 PASS; 1 variance FAIL or a scene failed; 2 budget FAIL (fails closed at the first
 * refused reservation: ERR_OMEGA_BUDGET_EXCEEDED); 3 the proofpack does not verify; 64 bad usage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AtomicCache,
  BudgetTracker,
  ChaosProvider,
  RetryProvider,
  SimulatedProvider,
  analyzeVariance,
  buildProofpack,
  loadCalibration,
  sha256Hex,
  sleep,
  validateCalibration,
  verifyProofpack,
} from 'omega-pr';
import type { CalibrationDocument, GenerateRequest, GenerateResponse, LlmProvider, RunInput, VarianceReport } from 'omega-pr';
import { HttpProvider } from './http-provider';
import { FAILED_SCORE, scoreScene } from './scorer';

interface Options {
  scenes: number;
  profile: string;
  budgetUsd: number;
  out: string;
  cache: string | null;
  seed: number;
  timeScale: number;
  calibration?: string;
}

function usage(message: string): never {
  console.error(`scribe-engine: ${message}`);
  process.exit(64);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { scenes: 20, profile: 'medium', budgetUsd: 2, out: 'out', cache: '', seed: 42, timeScale: 0.001 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => argv[++i] ?? usage(`${flag} needs a value`);
    const num = (): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) usage(`${flag} needs a non-negative number`);
      return v;
    };
    switch (flag) {
      case '--scenes': o.scenes = Math.floor(num()); break;
      case '--profile': o.profile = value(); break;
      case '--budget-usd': o.budgetUsd = num(); break;
      case '--out': o.out = value(); break;
      case '--cache': o.cache = value(); break;
      case '--no-cache': o.cache = null; break;
      case '--seed': o.seed = Math.floor(num()); break;
      case '--time-scale': o.timeScale = num(); break;
      case '--calibration': o.calibration = value(); break;
      default: usage(`unknown option ${flag}`);
    }
  }
  if (o.scenes < 1) usage('--scenes must be ≥ 1');
  if (o.cache === '') o.cache = path.join(o.out, 'scribe-cache.json');
  return o;
}

/** The calibration with the run cap set to the budget (the per-call cap never above it). */
function withBudget(calibration: CalibrationDocument, usd: number): CalibrationDocument {
  const b = calibration.budget;
  return validateCalibration({
    ...calibration,
    budget: { ...b, max_per_run_usd: usd, max_per_call_usd: Math.min(b.max_per_call_usd, usd) },
  });
}

const BEATS = [
  'the courier arrives at the flooded archive',
  'an old map contradicts the captain',
  'the signal fire is lit too early',
  'a letter is found in the iron bridge',
  'the harbour master lies about the winter ships',
  'two rivals share a compass and a secret',
  'the echo in the vault answers back',
  'a door opens onto the northern field',
];

/** Counts the calls that reach the model (after chaos, before the network). */
class CountingProvider implements LlmProvider {
  calls = 0;
  constructor(private readonly inner: LlmProvider) {}
  generate(request: GenerateRequest, options?: { signal?: AbortSignal }): Promise<GenerateResponse> {
    this.calls++;
    return this.inner.generate(request, options);
  }
}

interface CachedAnswer {
  text: string;
  model: string;
  latencyMs: number;
}

function codeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const started = Date.now();
  const calibration = withBudget(loadCalibration(o.calibration), o.budgetUsd);
  const endpoint = process.env.OMEGA_LLM_ENDPOINT;
  const model = endpoint ? (process.env.OMEGA_LLM_MODEL ?? 'gpt-4o') : 'simulated-scribe';
  const base: LlmProvider = endpoint
    ? new HttpProvider({ endpoint, apiKey: process.env.OMEGA_LLM_API_KEY, model })
    : new SimulatedProvider({ seed: o.seed, timeScale: o.timeScale });
  const timeScale = endpoint ? 1 : o.timeScale;
  const scaledSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms * timeScale, signal);

  const counted = new CountingProvider(base);
  const chaos = new ChaosProvider(counted, { profile: o.profile, seed: o.seed, calibration, sleep: scaledSleep });
  const budget = new BudgetTracker(calibration);
  const llm = new RetryProvider(chaos, { calibration, seed: o.seed, budget, sleep: scaledSleep });

  fs.mkdirSync(o.out, { recursive: true });
  const runDir = path.join(o.out, 'run');
  const packDir = path.join(o.out, 'proofpack');
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.rmSync(packDir, { recursive: true, force: true });
  const cache = o.cache === null ? null : AtomicCache.open(o.cache, { durability: 'full' });

  const runs: RunInput[] = [];
  let cacheHits = 0;
  let failedScenes = 0;
  let budgetError: string | null = null;
  for (let i = 0; i < o.scenes; i++) {
    const sceneId = `SCN-${String(i + 1).padStart(2, '0')}`;
    const prompt = `Write scene ${sceneId} of "The Winter Archive": ${BEATS[i % BEATS.length]}. 150 words, present tense.`;
    const request: GenerateRequest = { model, prompt, sceneId, callIndex: i, maxOutputTokens: 1024, inputTokens: 2200 };
    const key = sha256Hex(Buffer.from(JSON.stringify({ model, prompt, maxOutputTokens: request.maxOutputTokens })));
    const spentBefore = budget.spentUsd;
    let answer = cache?.get(key) as CachedAnswer | undefined;
    const hit = answer !== undefined;
    if (!hit) {
      try {
        const res = await llm.generate(request);
        answer = { text: res.text, model: res.model ?? model, latencyMs: (res as { latencyMs?: number }).latencyMs ?? 0 };
        cache?.set(key, { ...answer });
      } catch (err) {
        if (codeOf(err) === 'ERR_OMEGA_BUDGET_EXCEEDED') {
          // Fail closed: no further calls once a reservation is refused.
          budgetError = `${sceneId}: ${(err as Error).message}`;
          console.error(`scribe-engine: ERR_OMEGA_BUDGET_EXCEEDED at ${sceneId}: ${(err as Error).message}`);
          break;
        }
        failedScenes++;
        console.error(`scribe-engine: ${sceneId} failed (${codeOf(err) ?? 'error'}): ${(err as Error).message}`);
      }
    } else {
      cacheHits++;
    }
    const score = answer === undefined ? FAILED_SCORE : scoreScene(sceneId, answer.text);
    const costUsd = Math.round((budget.spentUsd - spentBefore) * 1e6) / 1e6;
    runs.push({ ...score, metrics: { cost_usd: costUsd, latency_ms: hit ? 0 : (answer?.latencyMs ?? 0) } });
    writeJson(path.join(runDir, 'scenes', `${sceneId}.json`), {
      scene_id: sceneId,
      cache: hit ? 'hit' : 'miss',
      ok: answer !== undefined,
      text: answer?.text ?? null,
      ...score,
      cost_usd: costUsd,
    });
  }

  const runCost = budget.finalize();
  let variance: VarianceReport | null = null;
  if (runs.length > 0) variance = analyzeVariance(runs, calibration);
  const verdict =
    runCost.budget_verdict === 'PASS' && variance?.variance_verdict === 'PASS' && failedScenes === 0 ? 'PASS' : 'FAIL';
  writeJson(path.join(runDir, 'run-cost.json'), runCost);
  fs.writeFileSync(path.join(runDir, 'chaos-log.json'), chaos.chaosLogJson());
  const report = {
    engine: 'scribe-engine',
    provider: endpoint ? 'openai-compatible' : 'simulated',
    model,
    chaos_profile: o.profile,
    seed: o.seed,
    scenes_requested: o.scenes,
    scenes_run: runs.length,
    scenes_failed: failedScenes,
    cache_hits: cacheHits,
    provider_calls: counted.calls,
    attempts: chaos.callCount,
    total_cost_usd: runCost.total_cost_usd,
    max_per_run_usd: runCost.max_per_run_usd,
    budget_verdict: runCost.budget_verdict,
    budget_error: budgetError === null ? null : 'ERR_OMEGA_BUDGET_EXCEEDED',
    verdict,
    ...(variance ?? {}),
  };
  writeJson(path.join(runDir, 'PR_REPORT.json'), report);

  const built = buildProofpack({
    source: runDir,
    output: packDir,
    type: 'scribe',
    verdict,
    command: `node dist/main.js ${argv.join(' ')}`.trim(),
    toolchain: { node: process.version },
    calibration,
  });
  const check = verifyProofpack(packDir);
  const seconds = (Date.now() - started) / 1000;
  const summary = {
    verdict,
    budget_verdict: runCost.budget_verdict,
    variance_verdict: variance?.variance_verdict ?? null,
    scenes_run: runs.length,
    scenes_failed: failedScenes,
    cache_hits: cacheHits,
    provider_calls: counted.calls,
    attempts: chaos.callCount,
    total_cost_usd: runCost.total_cost_usd,
    proofpack: { id: built.packId, files: built.fileCount, verdict: check.verdict },
    seconds,
  };
  console.log(`scribe-engine: ${runs.length}/${o.scenes} scenes, ${cacheHits} cache hits, ${counted.calls} provider calls, ` +
    `$${runCost.total_cost_usd.toFixed(4)} of $${runCost.max_per_run_usd} (${runCost.budget_verdict}), ` +
    `variance ${summary.variance_verdict}, proofpack ${check.verdict}, ${seconds.toFixed(2)} s`);
  console.log(`SUMMARY ${JSON.stringify(summary)}`);
  if (runCost.budget_verdict === 'FAIL') return 2;
  if (check.verdict !== 'PASS') return 3;
  return verdict === 'PASS' ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`scribe-engine: ${codeOf(err) ?? 'error'}: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = 1;
  },
);
