/**
 * `omega-pr concurrency` — runbook phase 2 (PR-1), gate PR-G1: N real OS processes write their own keys
 * into one `AtomicCache` at the same time; then the cache must be valid JSON, hold every update
 * each worker reported as written, and leave no `.lock` / `.tmp` file behind. Writes
 * `<out>/PR_RUNS/concurrency<N>_<ts>/concurrency<N>-report.json`.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nearestRankPercentile } from '../../../native';
import { writeGateNcr } from '../ncr';
import type { RegisterCommand } from '../util';
import type { ConcurrencyReport } from '../../report/types';
import { EXIT, RunDir, UsageError, intOption, optionalInt, isoNow, rel, runStamp, updateLatest } from '../util';
import { InterruptedError, interrupted, interruptedBy, trackChild } from '../lifecycle';

export type { ConcurrencyReport };

/** Options of {@link runConcurrency}. */
export interface ConcurrencyOptions {
  workers: number;
  updates: number;
  durability: 'full' | 'none';
  /** Lock timeout of the workers (calibration `LOCK_TIMEOUT_MS` when omitted). */
  lockTimeoutMs?: number;
  /** Directory the cache file and the report go to. */
  dir: string;
  /** Use `setAsync` in the workers. */
  async?: boolean;
  /** The worker script (default: {@link WORKER_SCRIPT}, the compiled one next to this file). */
  workerScript?: string;
}

/** Result of one worker process. */
interface WorkerResult {
  exitCode: number | null;
  written: string[];
  failures: number;
  errors: string[];
  lockWaits: number[];
  start: number;
  end: number;
}

/** The worker script (compiled next to this CLI). */
export const WORKER_SCRIPT = path.join(__dirname, '..', 'concurrency-worker.js');

/** Nearest-rank percentile (the core's rule). */
export function percentile(sorted: number[], p: number): number {
  return nearestRankPercentile(sorted, p);
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/** Counts `.lock` and `.tmp` files in `dir`. */
export function residuals(dir: string): { locks: number; tmps: number } {
  let locks = 0;
  let tmps = 0;
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.lock')) locks++;
    else if (f.endsWith('.tmp')) tmps++;
  }
  return { locks, tmps };
}

/**
 * Spawns `workers` node processes running the worker script on `<dir>/cache.json`, starts them
 * together, waits for all, and checks the result.
 */
export async function runConcurrency(opts: ConcurrencyOptions): Promise<ConcurrencyReport> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const cacheFile = path.join(opts.dir, 'cache.json');
  // A fresh cache for every run (a rerun with the same SOURCE_DATE_EPOCH reuses the folder).
  fs.rmSync(cacheFile, { force: true });
  fs.rmSync(`${cacheFile}.journal`, { force: true });
  const args = ['--cache', cacheFile, '--updates', String(opts.updates), '--durability', opts.durability, '--wait-go'];
  if (opts.lockTimeoutMs !== undefined) args.push('--lock-timeout-ms', String(opts.lockTimeoutMs));
  if (opts.async) args.push('--async');

  let readyCount = 0;
  let releaseGo: () => void = () => {};
  const allReady = new Promise<void>((resolve) => {
    releaseGo = resolve;
  });
  const children = Array.from({ length: opts.workers }, (_, id) => {
    // Each worker leads its own process group, killed as a group on an interrupt.
    const child = spawn(process.execPath, [opts.workerScript ?? WORKER_SCRIPT, ...args, '--worker', String(id)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    trackChild(child);
    let out = '';
    let err = '';
    let ready = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!ready && out.includes('ready\n')) {
        ready = true;
        if (++readyCount === opts.workers) releaseGo();
      }
    });
    child.stderr.on('data', (d: string) => {
      err += d;
    });
    const done = new Promise<WorkerResult>((resolve) => {
      child.on('close', (code) => {
        if (!ready && ++readyCount === opts.workers) releaseGo();
        const last = out.trim().split('\n').pop() ?? '';
        let summary: Partial<{
          written: string[];
          failures: number;
          errors: string[];
          lock_waits_ms: number[];
          start_ms: number;
          end_ms: number;
        }> = {};
        try {
          summary = (JSON.parse(last) as { summary: typeof summary }).summary ?? {};
        } catch {
          summary = { errors: [err.trim().split('\n').pop() ?? `worker ${id} exited ${code}`] };
        }
        resolve({
          exitCode: code,
          written: summary.written ?? [],
          failures: summary.failures ?? 0,
          errors: summary.errors ?? [],
          lockWaits: summary.lock_waits_ms ?? [],
          start: summary.start_ms ?? Number.NaN,
          end: summary.end_ms ?? Number.NaN,
        });
      });
    });
    return { child, done };
  });
  await allReady;
  for (const { child } of children) child.stdin.end('go\n');
  const results = await Promise.all(children.map((c) => c.done));

  let successes = 0;
  for (const r of results) {
    if (r.exitCode === 0 && r.failures === 0 && r.written.length === opts.updates) successes++;
  }
  let cacheValid = false;
  let content: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      content = parsed as Record<string, unknown>;
      cacheValid = true;
    }
  } catch {
    cacheValid = false;
  }
  let lost = 0;
  results.forEach((r) => {
    for (const key of r.written) {
      const v = content[key] as { w?: number; i?: number } | undefined;
      const m = /^w(\d+)-(\d+)$/.exec(key);
      if (v === undefined || m === null || v.w !== Number(m[1]) || v.i !== Number(m[2])) lost++;
    }
  });
  const { locks, tmps } = residuals(opts.dir);
  const waits = results.flatMap((r) => r.lockWaits).sort((a, b) => a - b);
  const starts = results.map((r) => r.start).filter(Number.isFinite);
  const ends = results.map((r) => r.end).filter(Number.isFinite);
  const duration = starts.length > 0 ? Math.max(...ends) - Math.min(...starts) : 0;
  const total = results.reduce((s, r) => s + r.written.length, 0);
  const failures = opts.workers - successes;
  const pass = successes === opts.workers && locks === 0 && tmps === 0 && cacheValid && lost === 0;
  const errors = results
    .flatMap((r, i) => r.errors.map((e) => `worker ${i}: ${e}`))
    .map((e) => e.split(path.resolve(opts.dir) + path.sep).join(''))
    .slice(0, 20);
  return {
    workers: opts.workers,
    successes,
    failures,
    residual_locks: locks,
    residual_tmps: tmps,
    cache_valid: cacheValid,
    verdict: pass ? 'PASS' : 'FAIL',
    lost_updates: lost,
    updates_per_worker: opts.updates,
    total_updates: total,
    durability: opts.durability,
    lock_timeout_ms: opts.lockTimeoutMs ?? null,
    lock_wait_ms: { p50: round(percentile(waits, 50)), p99: round(percentile(waits, 99)), max: round(waits[waits.length - 1] ?? 0) },
    updates_per_sec: duration > 0 ? round(total / (duration / 1000), 1) : 0,
    duration_ms: round(duration, 1),
    cache_file: path.basename(cacheFile),
    worker_errors: errors,
    timestamp: isoNow(),
  };
}

/**
 * Runs the PR-1 phase as the CLI does: `<out>/PR_RUNS/concurrency<N>_<ts>/concurrency<N>-report.json`,
 * with the runbook's lines printed. Used by `concurrency` and `sprint`.
 */
export async function runConcurrencyCommand(
  o: Omit<ConcurrencyOptions, 'dir'> & { out: string },
): Promise<{ report: ConcurrencyReport; file: string }> {
  const name = `concurrency${o.workers}`;
  // A folder of its own, claimed atomically: never another run's, never overwritten.
  const runDir = new RunDir(o.out, `${name}_${runStamp()}`);
  console.log(`${o.workers} writer processes × ${o.updates} updates, durability ${o.durability}…`);
  let report: ConcurrencyReport;
  let file: string;
  try {
    report = await runConcurrency({ ...o, dir: runDir.stagingPath('.') });
    if (interrupted()) {
      runDir.json('interrupted-report.json', {
        schema_version: 'OMEGA-INTERRUPTED-1.0',
        phase: 'concurrency',
        complete: false,
        signal: interruptedBy() ?? 'unknown',
        planned: report.workers * report.updates_per_worker,
        completed: report.total_updates,
        generated: isoNow(),
        report,
      });
      const dir = runDir.commit();
      console.log(`Interrupted: ${rel(path.join(dir, 'interrupted-report.json'))} (complete: false)`);
      throw new InterruptedError(`concurrency (${report.total_updates} updates done)`);
    }
    runDir.json(`${name}-report.json`, report);
    const final = runDir.commit();
    updateLatest(final, `${name}_latest`);
    file = path.join(final, `${name}-report.json`);
  } catch (err) {
    runDir.abort();
    throw err;
  }
  console.log(`Successes: ${report.successes} / ${report.workers}`);
  console.log(`Residual .lock files: ${report.residual_locks}`);
  console.log(`Residual .tmp files: ${report.residual_tmps}`);
  console.log(`Final cache file: ${report.cache_valid ? 'VALID JSON' : 'INVALID'}`);
  console.log(`Lost updates: ${report.lost_updates} of ${report.total_updates} reported written`);
  console.log(`Lock wait p50 / p99: ${report.lock_wait_ms.p50} / ${report.lock_wait_ms.p99} ms`);
  console.log(`Throughput: ${report.updates_per_sec} updates/s`);
  for (const e of report.worker_errors.slice(0, 5)) console.log(`  ${e}`);
  console.log(`Report: ${rel(file)}`);
  console.log(`VERDICT: ${report.verdict}`);
  return { report, file };
}

/** Registers `omega-pr concurrency`. */
export const register: RegisterCommand = (program, setExit) => {
  program
    .command('concurrency')
    .description('Phase 2 (PR-1, gate PR-G1): N writer processes on one atomic cache; 0 lost updates, 0 residual .lock/.tmp')
    .option('--workers <n>', 'writer processes', '10')
    .option('--updates <n>', 'updates per worker', '100')
    .option('--durability <mode>', 'full (fsync file and directory) or none', 'full')
    .option('--lock-timeout-ms <ms>', 'lock timeout of the workers (default: calibration LOCK_TIMEOUT_MS)')
    .option('--async', 'workers use setAsync')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .action(
      async (o: { workers: string; updates: string; durability: string; lockTimeoutMs?: string; async?: boolean; out: string }) => {
        const workers = intOption('--workers', o.workers, 1, 1000);
        const updates = intOption('--updates', o.updates, 1, 1_000_000);
        if (o.durability !== 'full' && o.durability !== 'none') {
          throw new UsageError(`--durability must be "full" or "none", got "${o.durability}"`, 'ERR_OMEGA_INVALID_ARGUMENT');
        }
        const lockTimeoutMs = optionalInt('--lock-timeout-ms', o.lockTimeoutMs, 1, 3_600_000);
        if (!fs.existsSync(WORKER_SCRIPT)) {
          throw new UsageError(`worker script ${rel(WORKER_SCRIPT)} is missing: run \`npm run build:ts\``, 'ERR_OMEGA_IO');
        }
        const { report, file } = await runConcurrencyCommand({ workers, updates, durability: o.durability, lockTimeoutMs, async: o.async, out: o.out });
        if (report.verdict !== 'PASS') {
          const error = [
            'VERDICT: FAIL',
            `successes ${report.successes}/${report.workers}, lost updates ${report.lost_updates}, residual .lock ${report.residual_locks}, residual .tmp ${report.residual_tmps}, cache ${report.cache_valid ? 'valid JSON' : 'INVALID'}`,
            ...report.worker_errors.slice(0, 10),
          ].join('\n');
          writeGateNcr('PR-G1', 'Concurrency (atomic cache)', error, [file]);
        }
        setExit(report.verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
      },
    );
};
