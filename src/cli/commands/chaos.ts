/**
 * `omega-pr chaos` — runbook phase 4 (PR-3), gate PR-G3: drive the provider through
 * `RetryProvider(ChaosProvider(provider))` with a `BudgetTracker`, write `chaos-log.json` and
 * `run-cost.json`, and check that faults are injected at the profile's rate and that no injected
 * fault ends in a silent success.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BudgetTracker } from '../../../native';
import type { ChaosLogDocument } from '../../../native';
import { loadCalibration } from '../../index';
import { SimulatedProvider } from '../../sim';
import { runPool } from '../../stress/pool';
import { buildStack } from '../../stress/stack';
import { loadProvider } from '../../stress/modules';
import type { GenerateRequest, LlmProvider } from '../../providers/types';
import type { RegisterCommand } from './index';
import { EXIT, RunDir, UsageError, intOption, optionalInt, isoNow, rel, runStamp } from '../util';
import { DEFAULT_REAL_MODEL, checkModel } from './prices';

/** Two-sided 99.9 % normal quantile: the rate tolerance is this many standard errors. */
const Z_999 = 3.290526731491926;

/** `chaos-summary.json`: the PR-G3 gate. */
export interface ChaosSummary {
  schema_version: 'OMEGA-CHAOS-SUMMARY-1.0';
  provider: string;
  profile: string;
  seed: number;
  calls: number;
  attempts: number;
  injected: number;
  expected_rate: number;
  observed_rate: number;
  /** |observed − expected| allowed: 3.29 standard errors of a binomial proportion (99.9 %). */
  rate_tolerance: number;
  rate_ok: boolean;
  calls_succeeded: number;
  calls_failed: number;
  faults_recovered_by_retry: number;
  faults_surfaced_to_caller: number;
  /** Injected (non-latency) faults whose attempt returned a success: must be 0. */
  silent_successes: number;
  /** Calls that "succeeded" with empty text: must be 0. */
  empty_successes: number;
  json_valid: boolean;
  budget_verdict: 'PASS' | 'FAIL';
  verdict: 'PASS' | 'FAIL';
  generated: string;
}

/** Options of {@link runChaosCommand}. */
export interface ChaosCommandOptions {
  profile: string;
  seed?: number;
  calls?: number;
  concurrency?: number;
  provider?: string;
  calibrationFile?: string;
  model?: string;
  timeScale?: number;
  callTimeoutMs?: number;
  out?: string;
  print?: boolean;
}

/** Runs the chaos phase; returns the summary and the run folder. */
export async function runChaosCommand(o: ChaosCommandOptions): Promise<{ summary: ChaosSummary; dir: string }> {
  const calibration = loadCalibration(o.calibrationFile);
  if (o.profile !== 'default' && !(o.profile in calibration.chaos_profiles)) {
    throw new UsageError(
      `unknown chaos profile "${o.profile}" (known: ${Object.keys(calibration.chaos_profiles).join(', ')}, default)`,
      'ERR_OMEGA_UNKNOWN_PROFILE',
    );
  }
  const seed = o.seed ?? calibration.SEED;
  const calls = o.calls ?? 1000;
  const metricsRoot = o.out ?? path.join('metrics', 'pr');
  // Fail on an unusable output folder before making any call.
  fs.mkdirSync(path.join(metricsRoot, 'PR_RUNS'), { recursive: true });
  const print = o.print ?? true;
  let provider: LlmProvider;
  let providerName = 'simulated';
  if (o.provider) ({ provider, name: providerName } = await loadProvider(o.provider, { seed, calibration }));
  else provider = new SimulatedProvider({ seed, timeScale: o.timeScale ?? 0.001 });
  const simulated = o.provider === undefined;
  const model = o.model ?? (simulated ? 'simulated-scribe' : DEFAULT_REAL_MODEL);
  checkModel(model, calibration, isoNow().slice(0, 10));
  const budget = new BudgetTracker(calibration);
  const stack = buildStack({
    provider,
    calibration,
    seed,
    chaosProfile: o.profile,
    budget,
    callTimeoutMs: o.callTimeoutMs ?? 30_000,
    timeScale: simulated ? (o.timeScale ?? 0.001) : (o.timeScale ?? 1),
    clock: isoNow,
  });
  const results: { ok: boolean; empty: boolean }[] = new Array(calls);
  let done = 0;
  const indices = Array.from({ length: calls }, (_, i) => i);
  await runPool(indices, o.concurrency ?? 8, async (i) => {
    try {
      const request: GenerateRequest = { model, prompt: `chaos call ${i}`, sceneId: `SCN-${String((i % 10) + 1).padStart(2, '0')}`, callIndex: i };
      // The simulated model bills a system prompt too: reserve what it will really bill.
      if (provider instanceof SimulatedProvider) request.inputTokens = provider.promptTokens(request);
      const res = await stack.provider.generate(request);
      results[i] = { ok: true, empty: res.text.trim() === '' };
    } catch {
      results[i] = { ok: false, empty: false };
    }
    done++;
    if (print && (done % 100 === 0 || done === calls)) console.log(`Call ${done}/${calls}...`);
  });

  const log = stack.chaos?.chaosLog() as ChaosLogDocument;
  const runCost = budget.finalize();
  const faultedCalls = new Set<number>();
  let silent = 0;
  for (const e of log.entries) {
    if (e.injected && e.failure_type !== 'latency') {
      faultedCalls.add(e.call_index);
      if (e.outcome === 'passed' || e.outcome === 'recovered') silent++;
    }
  }
  let recovered = 0;
  let surfaced = 0;
  for (const i of faultedCalls) {
    if (results[i]?.ok) recovered++;
    else surfaced++;
  }
  const attempts = log.total_calls;
  const expected = log.rate;
  const observed = attempts === 0 ? 0 : log.injected_count / attempts;
  const tolerance = attempts === 0 ? 0 : Z_999 * Math.sqrt((expected * (1 - expected)) / attempts);
  const rateOk = Math.abs(observed - expected) <= tolerance + 1e-12;

  const name = `chaos_${runStamp()}`;
  const dir = new RunDir(metricsRoot, name);
  let summary: ChaosSummary;
  let final: string;
  try {
    dir.json('chaos-log.json', log);
    dir.json('run-cost.json', runCost);
    // PR-G3 demands valid JSON: read back what was written.
    let jsonValid = true;
    for (const f of ['chaos-log.json', 'run-cost.json']) {
      try {
        JSON.parse(fs.readFileSync(dir.stagingPath(f), 'utf8'));
      } catch {
        jsonValid = false;
      }
    }
    const succeeded = results.filter((r) => r.ok).length;
    const empty = results.filter((r) => r.ok && r.empty).length;
    const verdict = rateOk && silent === 0 && empty === 0 && jsonValid ? 'PASS' : 'FAIL';
    summary = {
      schema_version: 'OMEGA-CHAOS-SUMMARY-1.0',
      provider: providerName,
      profile: log.profile,
      seed,
      calls,
      attempts,
      injected: log.injected_count,
      expected_rate: expected,
      observed_rate: Math.round(observed * 1e6) / 1e6,
      rate_tolerance: Math.round(tolerance * 1e6) / 1e6,
      rate_ok: rateOk,
      calls_succeeded: succeeded,
      calls_failed: calls - succeeded,
      faults_recovered_by_retry: recovered,
      faults_surfaced_to_caller: surfaced,
      silent_successes: silent,
      empty_successes: empty,
      json_valid: jsonValid,
      budget_verdict: runCost.budget_verdict,
      verdict,
      generated: isoNow(),
    };
    dir.json('chaos-summary.json', summary);
    final = dir.commit();
  } catch (err) {
    dir.abort();
    throw err;
  }
  if (print) {
    console.log(`\nProfile: ${summary.profile} (rate ${expected}), seed ${seed}, provider ${providerName}`);
    console.log(`Calls: ${calls} (${attempts} attempts), succeeded ${summary.calls_succeeded}, failed ${summary.calls_failed}`);
    console.log(
      `Injected: ${summary.injected}/${attempts} = ${(observed * 100).toFixed(2)}% (expected ${(expected * 100).toFixed(1)}% ± ${(tolerance * 100).toFixed(2)} pp) ${rateOk ? '✓' : '✗'}`,
    );
    console.log(`Faulted calls recovered by retry: ${recovered}, surfaced as errors: ${surfaced}`);
    console.log(`Silent successes: ${silent}  Empty successes: ${summary.empty_successes}`);
    console.log(`chaos-log.json: ${rel(path.join(final, 'chaos-log.json'))} (${summary.json_valid ? 'valid JSON' : 'INVALID JSON'})`);
    console.log(
      `Budget: $${runCost.total_cost_usd.toFixed(4)} ${runCost.budget_verdict}${runCost.budget_verdict === 'PASS' ? '' : ` (${runCost.violations.length} violation(s), ${runCost.refused_calls} call(s) refused)`}`,
    );
    console.log(`VERDICT: ${summary.verdict}`);
  }
  return { summary, dir: final };
}

/** Registers `omega-pr chaos`. */
export const register: RegisterCommand = (program, setExit) => {
  program
    .command('chaos')
    .description('Phase 4 (PR-3, gate PR-G3): fault injection through Retry(Chaos(provider)), chaos-log.json + run-cost.json')
    .option('--profile <name>', 'light | medium | heavy | hellfire | default (CHAOS_RATE, all faults)', 'medium')
    .option('--seed <s>', 'seed (default: calibration SEED)')
    .option('--calls <n>', 'logical calls to make', '1000')
    .option('--concurrency <k>', 'calls in flight at once', '8')
    .option('--model <name>', 'model name (priced in calibration)')
    .option('--provider <module>', 'your provider module (default: the built-in simulated provider)')
    .option('--calibration <file>', 'calibration file (default: the shipped one)')
    .option('--call-timeout-ms <ms>', 'timeout of one provider attempt', '30000')
    .option('--time-scale <x>', 'real time per simulated ms (simulated provider; default 0.001)')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .action(async (o: Record<string, string | undefined>) => {
      const timeScale = o.timeScale === undefined ? undefined : Number(o.timeScale);
      if (timeScale !== undefined && !(timeScale >= 0)) throw new UsageError(`--time-scale must be a number ≥ 0, got "${o.timeScale}"`);
      const { summary } = await runChaosCommand({
        profile: o.profile as string,
        seed: optionalInt('--seed', o.seed as string | undefined, 0),
        calls: intOption('--calls', o.calls as string, 1),
        concurrency: intOption('--concurrency', o.concurrency as string, 1),
        model: o.model,
        provider: o.provider,
        calibrationFile: o.calibration,
        callTimeoutMs: intOption('--call-timeout-ms', o.callTimeoutMs as string, 1),
        timeScale,
        out: o.out,
      });
      // Over budget is a FAIL (gate PR-G2), never a warning.
      setExit(summary.verdict === 'PASS' && summary.budget_verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
    });
};
