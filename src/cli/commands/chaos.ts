/**
 * `omega-pr chaos` — runbook phase 4 (PR-3), gate PR-G3: drive the provider through
 * `RetryProvider(ChaosProvider(provider))` with a `BudgetTracker`, write `chaos-log.json` and
 * `run-cost.json`, and check that faults are injected at the profile's rate and that no injected
 * fault ends in a silent success.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BudgetTracker, judgeChaosGate } from '../../../native';
import type { ChaosLogDocument } from '../../../report-types';
import { loadCalibration } from '../../index';
import { SimulatedProvider } from '../../sim';
import { runPool } from '../../stress/pool';
import { buildStack } from '../../stress/stack';
import { loadProvider } from '../../stress/modules';
import { loadCases } from '../../stress/cases';
import { StressAbortedError, resolveStress, runStress } from '../../stress/api';
import { detectionViolationsOf } from '../../stress/report';
import type { EngineContext, EngineModule } from '../../stress/types';
import type { CalibrationDocument, DetectionViolation } from '../../../report-types';
import type { GenerateRequest, LlmProvider } from '../../providers/types';
import type { RegisterCommand } from '../util';
import type { ChaosConfigFile, ChaosSummary } from '../../report/types';
import { EXIT, RunDir, UsageError, formatUsd, intOption, optionalInt, isoNow, rel, runStamp, writeInterrupted, updateLatest } from '../util';
import { InterruptedError, shutdownSignal } from '../lifecycle';
import { writeGateNcr } from '../ncr';

export type { ChaosConfigFile, ChaosSummary };
import { DEFAULT_REAL_MODEL, checkModel } from '../../models';

/** Two-sided 99.9 % normal quantile: the rate tolerance is this many standard errors. */
const Z_999 = 3.290526731491926;

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
  /** Cases file: call i sends case i mod n (its prompt, model, completion cap); with `engine`, the engine's cases. */
  input?: string;
  /** The user's engine module: PR-G3 is judged on `runs` runs of it under the chaos profile. */
  engine?: string;
  /** Runs of the engine (with `engine`; default 20). */
  runs?: number;
  /** Timeout of one engine run, ms (with `engine`). */
  runTimeoutMs?: number;
  /** Scorer module (with `engine`: judges the runs, for the detection rate). */
  scorer?: string;
}

/** Counts of the calls of a chaos run, the input of PR-G3 besides the chaos log. */
interface ChaosCounts {
  calls: number;
  succeeded: number;
  empty: number;
  /** Whether logical call `i` ended in a success. */
  ok: (callIndex: number) => boolean;
}

/** Injected (thrown) faults of the log: the faulted call indices, and those whose injected attempt still passed. */
function faultsOf(log: ChaosLogDocument): { faultedCalls: Set<number>; silent: number } {
  const faultedCalls = new Set<number>();
  let silent = 0;
  for (const e of log.entries) {
    if (e.injected && e.failure_type !== 'latency') {
      faultedCalls.add(e.call_index);
      if (e.outcome === 'passed' || e.outcome === 'recovered') silent++;
    }
  }
  return { faultedCalls, silent };
}

/** Two-sided tolerance of the injection rate over `attempts` (99.9 %). */
function rateCheck(log: ChaosLogDocument): { attempts: number; expected: number; observed: number; tolerance: number; rateOk: boolean } {
  const attempts = log.total_calls;
  const expected = log.rate;
  const observed = attempts === 0 ? 0 : log.injected_count / attempts;
  const tolerance = attempts === 0 ? 0 : Z_999 * Math.sqrt((expected * (1 - expected)) / attempts);
  return { attempts, expected, observed, tolerance, rateOk: Math.abs(observed - expected) <= tolerance + 1e-12 };
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
  if (o.engine !== undefined) return runEngineChaos(o, calibration, seed, metricsRoot, print);
  let provider: LlmProvider;
  let providerName = 'simulated';
  if (o.provider) ({ provider, name: providerName } = await loadProvider(o.provider, { seed, calibration }));
  else provider = new SimulatedProvider({ seed, timeScale: o.timeScale ?? 0.001 });
  const simulated = o.provider === undefined;
  const model = o.model ?? (simulated ? 'simulated-scribe' : DEFAULT_REAL_MODEL);
  const cases = o.input === undefined ? null : (await loadCases(o.input)).doc.cases;
  // Every model priced before any call (ERR_OMEGA_UNKNOWN_MODEL otherwise); a deprecated one warns.
  for (const m of new Set([model, ...(cases ?? []).map((c) => c.model).filter((x): x is string => x !== undefined)])) {
    checkModel(m, calibration, isoNow().slice(0, 10));
  }
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
      const c = cases === null ? null : cases[i % cases.length];
      const request: GenerateRequest = c
        ? { model: c.model ?? model, prompt: c.prompt, sceneId: c.id, callIndex: i }
        : { model, prompt: `chaos call ${i}`, sceneId: `SCN-${String((i % 10) + 1).padStart(2, '0')}`, callIndex: i };
      if (c?.max_output_tokens !== undefined) request.maxOutputTokens = c.max_output_tokens;
      // The simulated model bills a system prompt too: reserve what it will really bill.
      if (provider instanceof SimulatedProvider) request.inputTokens = provider.promptTokens(request);
      const res = await stack.provider.generate(request);
      results[i] = { ok: true, empty: res.text.trim() === '' };
    } catch {
      results[i] = { ok: false, empty: false };
    }
    done++;
    if (print && (done % 100 === 0 || done === calls)) console.log(`Call ${done}/${calls}...`);
  }, shutdownSignal);
  if (done < calls) {
    // Interrupted: the calls made so far, marked incomplete; never a verdict.
    const dir = writeInterrupted(
      metricsRoot,
      `chaos_${runStamp()}`,
      { phase: 'chaos', planned: calls, completed: done, profile: o.profile, seed },
      { 'chaos-log.json': stack.chaos?.chaosLog() ?? null, 'run-cost.json': budget.finalize() },
    );
    if (print) console.log(`Interrupted after ${done}/${calls} calls: ${rel(path.join(dir, 'interrupted-report.json'))} (complete: false)`);
    throw new InterruptedError(`chaos (${done}/${calls} calls done)`);
  }

  const log = stack.chaos?.chaosLog() as ChaosLogDocument;
  const runCost = budget.finalize();
  const counts: ChaosCounts = {
    calls,
    succeeded: results.filter((r) => r.ok).length,
    empty: results.filter((r) => r.ok && r.empty).length,
    ok: (i) => results[i]?.ok === true,
  };
  return writeChaosRun({ metricsRoot, print, providerName, seed, log, runCost, counts });
}

/** PR-G3 on the user's engine: `runs` runs of it under the profile, through the stack. */
async function runEngineChaos(o: ChaosCommandOptions, calibration: CalibrationDocument, seed: number, metricsRoot: string, print: boolean): Promise<{ summary: ChaosSummary; dir: string }> {
  const runs = o.runs ?? 20;
  const options = {
    engine: o.engine ?? null,
    cases: o.input ?? null,
    provider: o.provider ?? null,
    scorer: o.scorer ?? null,
    calibration,
    count: runs,
    chaos: o.profile,
    concurrency: o.concurrency ?? 8,
    seed,
    model: o.model,
    callTimeoutMs: o.callTimeoutMs ?? 30_000,
    runTimeoutMs: o.runTimeoutMs,
    timeScale: o.timeScale,
    clock: isoNow,
  };
  // Input errors (engine, cases, models, no scorer) surface before any call.
  const resolved = await resolveStress(options);
  // Successes the engine received with empty text (the stack turns an empty answer into an error: 0 expected).
  let empty = 0;
  // Logical calls that reached the engine as a success (after the stack's retries).
  const succeeded = new Set<number>();
  const inner = resolved.engine as EngineModule;
  const engine: EngineModule = {
    name: inner.name,
    run: (ctx: EngineContext) =>
      inner.run({
        ...ctx,
        llm: {
          generate: async (req) => {
            const res = await ctx.llm.generate(req);
            succeeded.add(res.callIndex);
            if (typeof res.text !== 'string' || res.text.trim() === '') empty++;
            return res;
          },
        },
      }),
  };
  let done = 0;
  let result;
  try {
    result = await runStress(
      {
        ...options,
        cachePath: null,
        signal: shutdownSignal,
        onProgress: (n, all) => {
          done = n;
          if (print && (n % 10 === 0 || n === all)) console.log(`Run ${n}/${all}...`);
        },
      },
      { ...resolved, engine },
    );
  } catch (err) {
    if (!(err instanceof StressAbortedError)) throw err;
    const outcome = err.outcome;
    const dir = writeInterrupted(
      metricsRoot,
      `chaos_${runStamp()}`,
      { phase: 'chaos', planned: runs, completed: outcome.runs.length, profile: o.profile, seed },
      // Derived from the journal of the finished runs (no chaos log when none finished).
      { ...(outcome.chaosLog !== null ? { 'chaos-log.json': outcome.chaosLog } : {}), 'run-cost.json': outcome.runCost },
    );
    if (print) console.log(`Interrupted after ${done}/${runs} runs: ${rel(path.join(dir, 'interrupted-report.json'))} (complete: false)`);
    throw new InterruptedError(`chaos (${outcome.runs.length}/${runs} engine runs done)`);
  }
  const { outcome, report } = result;
  const log = outcome.chaosLog as ChaosLogDocument;
  const counts: ChaosCounts = { calls: outcome.calls.total, succeeded: outcome.calls.total - outcome.calls.failed, empty, ok: (i) => succeeded.has(i) };
  const oc = report.outcome_chaos;
  const engineFacts: EngineChaos = {
    engine: resolved.engineName ?? 'engine',
    runs: report.total_runs,
    runs_failed: report.runs.filter((r) => r.error !== undefined).length,
    outcome_chaos: oc === undefined ? null : { delivered: oc.delivered, caught: oc.caught, detection_rate: oc.detection_rate, by_fault: oc.by_fault },
    detection_violations: oc === undefined ? [] : detectionViolationsOf(oc, calibration),
  };
  return writeChaosRun({ metricsRoot, print, providerName: resolved.providerName, seed, log, runCost: outcome.runCost, counts, engine: engineFacts });
}

/** What PR-G3 adds on an engine's runs. */
interface EngineChaos {
  engine: string;
  runs: number;
  runs_failed: number;
  outcome_chaos: NonNullable<ChaosSummary['outcome_chaos']> | null;
  detection_violations: DetectionViolation[];
}

/** Judges PR-G3 and writes the run folder (`chaos-log.json`, `run-cost.json`, `chaos-summary.json`). */
function writeChaosRun(a: {
  metricsRoot: string;
  print: boolean;
  providerName: string;
  seed: number;
  log: ChaosLogDocument;
  runCost: ReturnType<BudgetTracker['finalize']>;
  counts: ChaosCounts;
  engine?: EngineChaos;
}): { summary: ChaosSummary; dir: string } {
  const { metricsRoot, print, providerName, seed, log, runCost, counts } = a;
  const calls = counts.calls;
  const { faultedCalls, silent } = faultsOf(log);
  let recovered = 0;
  let surfaced = 0;
  for (const i of faultedCalls) {
    if (counts.ok(i)) recovered++;
    else surfaced++;
  }
  const { attempts, expected, observed, tolerance, rateOk } = rateCheck(log);

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
    const succeeded = counts.succeeded;
    const empty = counts.empty;
    // PR-G3 is judged by the core: a run in which no logical call succeeded cannot pass; on an
    // engine, each outcome fault type caught less often than OUTCOME_DETECTION_MIN fails it too.
    const gate = judgeChaosGate({ calls, callsSucceeded: succeeded, rateOk, silentSuccesses: silent, emptySuccesses: empty, jsonValid });
    const reasons = [...gate.reasons, ...(a.engine?.detection_violations ?? []).map((v) => v.message)];
    const verdict = reasons.length === 0 ? 'PASS' : 'FAIL';
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
      verdict_reasons: reasons,
      generated: isoNow(),
    };
    if (a.engine !== undefined) {
      // Keep `generated` last.
      delete (summary as Partial<ChaosSummary>).generated;
      Object.assign(summary, a.engine, { generated: isoNow() });
    }
    dir.json('chaos-summary.json', summary);
    final = dir.commit();
    updateLatest(final, 'chaos_latest');
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
    if (a.engine !== undefined) {
      const e = a.engine;
      console.log(`Engine ${e.engine}: ${e.runs} runs, ${e.runs_failed} failed`);
      const oc = e.outcome_chaos;
      if (oc !== null) {
        console.log(`Outcome chaos: ${oc.caught} of ${oc.delivered} corrupted answers caught${oc.detection_rate === null ? '' : ` (detection rate ${(oc.detection_rate * 100).toFixed(1)}%)`}`);
        for (const [fault, f] of Object.entries(oc.by_fault)) console.log(`  ${fault}: caught ${f.caught} of ${f.delivered}${f.delivered > f.caught ? ` — accepted ${f.delivered - f.caught}` : ''}`);
      }
    }
    console.log(`Silent successes: ${silent}  Empty successes: ${summary.empty_successes}`);
    console.log(`chaos-log.json: ${rel(path.join(final, 'chaos-log.json'))} (${summary.json_valid ? 'valid JSON' : 'INVALID JSON'})`);
    console.log(
      `Budget: $${formatUsd(runCost.total_cost_usd)} ${runCost.budget_verdict}${runCost.budget_verdict === 'PASS' ? '' : ` (${runCost.violations.length} violation(s), ${runCost.refused_calls} call(s) refused)`}`,
    );
    console.log(`VERDICT: ${summary.verdict}${summary.verdict_reasons.length > 0 ? ` (${summary.verdict_reasons.join('; ')})` : ''}`);
  }
  return { summary, dir: final };
}

/**
 * Reads a chaos settings file (schemas/chaos-config.schema.json): `{ "profile": "medium",
 * "calls": 1000, "seed": 42 }`, every key optional, no other key. Errors name the file and field
 * (exit 2).
 */
export function readChaosConfig(file: string): ChaosConfigFile {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new UsageError(`--chaos ${rel(file)}: no such file`, 'ERR_OMEGA_IO');
    throw new UsageError(`--chaos ${rel(file)}: not valid JSON (${e.message})`, 'ERR_OMEGA_MALFORMED_JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new UsageError(`--chaos ${rel(file)}: must be a JSON object`, 'ERR_OMEGA_INVALID_ARGUMENT');
  }
  const out: ChaosConfigFile = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const bad = (want: string) => new UsageError(`--chaos ${rel(file)}: field "${key}" must be ${want}, got ${JSON.stringify(value)}`, 'ERR_OMEGA_INVALID_ARGUMENT');
    const int = (min: number) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw bad(`a whole number ≥ ${min}`);
      return value;
    };
    if (key === '$schema' || key === 'description') continue;
    else if (key === 'profile') {
      if (typeof value !== 'string' || value === '') throw bad('a profile name');
      out.profile = value;
    } else if (key === 'calls') out.calls = int(1);
    else if (key === 'seed') out.seed = int(0);
    else if (key === 'concurrency') out.concurrency = int(1);
    else throw new UsageError(`--chaos ${rel(file)}: unknown field "${key}" (known: profile, calls, seed, concurrency)`, 'ERR_OMEGA_INVALID_ARGUMENT');
  }
  return out;
}

/** Registers `omega-pr chaos`. */
export const register: RegisterCommand = (program, setExit) => {
  program
    .command('chaos')
    .description('Phase 4 (PR-3, gate PR-G3): fault injection through Retry(Chaos(provider)), chaos-log.json + run-cost.json')
    .option('--profile <name>', 'light | medium | heavy | hellfire | default (CHAOS_RATE, all faults); default medium')
    .option('--chaos-profile <name>', 'the runbook\'s spelling of --profile')
    .option('--chaos <file>', 'chaos settings file (the runbook\'s scripts/pr/chaos-config.json): {"profile","calls","seed","concurrency"}; flags override it')
    .option('--seed <s>', 'seed (default: calibration SEED)')
    .option('--calls <n>', 'logical calls to make (default 1000)')
    .option('--concurrency <k>', 'calls in flight at once (default 8)')
    .option('--model <name>', 'model name (priced in calibration)')
    .option('--provider <module>', 'your provider module (default: the built-in simulated provider)')
    .option('--calibration <file>', 'calibration file (default: the shipped one)')
    .option('--call-timeout-ms <ms>', 'timeout of one provider attempt', '30000')
    .option('--time-scale <x>', 'real time per simulated ms (simulated provider; default 0.001)')
    .option('--input <cases>', 'cases file (.json, .yaml, .yml): call i sends case i mod n; with --engine, the engine\'s cases')
    .option('--engine <module>', 'your engine module: PR-G3 judged on --runs runs of it under the profile (its calls through the stack)')
    .option('--runs <n>', 'engine runs with --engine (default 20)')
    .option('--scorer <module>', 'with --engine: your scorer module (else the cases\' checks / the engine\'s own)')
    .option('--run-timeout-ms <ms>', 'with --engine: timeout of one engine run', '600000')
    .option('--out <dir>', 'metrics root (the run goes to <dir>/PR_RUNS/chaos_<ts>/)', 'metrics/pr')
    .option('--output <dir>', 'the runbook\'s spelling of --out')
    .action(async (o: Record<string, string | undefined>, cmd: { getOptionValueSource(key: string): string | undefined }) => {
      const timeScale = o.timeScale === undefined ? undefined : Number(o.timeScale);
      if (timeScale !== undefined && !(timeScale >= 0)) throw new UsageError(`--time-scale must be a number ≥ 0, got "${o.timeScale}"`);
      if (o.profile !== undefined && o.chaosProfile !== undefined && o.profile !== o.chaosProfile) {
        throw new UsageError(`--profile "${o.profile}" and --chaos-profile "${o.chaosProfile}" disagree: give one`, 'ERR_OMEGA_INVALID_ARGUMENT');
      }
      if (o.output !== undefined && cmd.getOptionValueSource('out') === 'cli' && o.output !== o.out) {
        throw new UsageError(`--out "${o.out}" and --output "${o.output}" disagree: give one`, 'ERR_OMEGA_INVALID_ARGUMENT');
      }
      if (o.engine === undefined) {
        for (const flag of ['runs', 'scorer'] as const) {
          if (o[flag] !== undefined) throw new UsageError(`--${flag} goes with --engine (without it, --calls sets the number of calls)`, 'ERR_OMEGA_INVALID_ARGUMENT');
        }
      } else if (o.calls !== undefined) {
        throw new UsageError('--calls does not apply with --engine: the engine decides its calls; --runs sets the number of engine runs', 'ERR_OMEGA_INVALID_ARGUMENT');
      }
      // Flags first, then the settings file, then the defaults.
      const file = o.chaos === undefined ? {} : readChaosConfig(o.chaos);
      const { summary, dir } = await runChaosCommand({
        profile: o.profile ?? o.chaosProfile ?? file.profile ?? 'medium',
        seed: o.seed !== undefined ? optionalInt('--seed', o.seed, 0) : file.seed,
        calls: o.calls !== undefined ? intOption('--calls', o.calls, 1) : (file.calls ?? 1000),
        concurrency: o.concurrency !== undefined ? intOption('--concurrency', o.concurrency, 1) : (file.concurrency ?? 8),
        model: o.model,
        provider: o.provider,
        calibrationFile: o.calibration,
        callTimeoutMs: intOption('--call-timeout-ms', o.callTimeoutMs as string, 1),
        timeScale,
        out: o.output ?? o.out,
        input: o.input,
        engine: o.engine,
        runs: optionalInt('--runs', o.runs, 1),
        scorer: o.scorer,
        runTimeoutMs: intOption('--run-timeout-ms', o.runTimeoutMs as string, 1),
      });
      // Over budget is a FAIL (gate PR-G2), never a warning.
      const pass = summary.verdict === 'PASS' && summary.budget_verdict === 'PASS';
      if (!pass) {
        const reasons = [...summary.verdict_reasons];
        if (summary.budget_verdict !== 'PASS') reasons.push(`budget ${summary.budget_verdict} (PR-G2)`);
        writeGateNcr('PR-G3', 'Chaos engineering', `VERDICT: FAIL\n${reasons.join('\n')}`, [
          path.join(dir, 'chaos-summary.json'),
          path.join(dir, 'chaos-log.json'),
          path.join(dir, 'run-cost.json'),
        ]);
      }
      setExit(pass ? EXIT.PASS : EXIT.FAIL);
    });
};
