/**
 * One writer process of `omega-pr concurrency` (and of the cache tests): opens the shared cache
 * through the package (`dist/index.js` → the native addon) and writes its own keys.
 *
 * Usage: `node dist/cli/concurrency-worker.js --cache FILE --worker ID --updates N
 *   [--durability full|none] [--lock-timeout-ms MS] [--async] [--wait-go] [--report-each]`
 *
 * - `--updates 0` writes until killed (crash harness).
 * - `--wait-go`: print `ready` and wait for a line on stdin before writing, so a parent can start
 *   every worker at the same moment (throughput is then measured without process start-up).
 * - `--report-each`: print `ok <key>` (synchronously) after each update has returned, i.e. is
 *   durable and visible: the crash harness checks every reported key survives a SIGKILL.
 *
 * Key `w<ID>-<i>` gets the value `{ "w": ID, "i": i }`; the worker ends with `close()` (folds the
 * journal into the cache file). The last stdout line is a JSON summary:
 * `{"summary":{worker, written, failures, errors, lock_waits_ms, start_ms, end_ms}}`.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { AtomicCache } from '../index';

interface Args {
  cache: string;
  worker: number;
  updates: number;
  durability: 'full' | 'none';
  lockTimeoutMs?: number;
  async: boolean;
  waitGo: boolean;
  reportEach: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { cache: '', worker: 0, updates: 100, durability: 'full', async: false, waitGo: false, reportEach: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`missing value after ${k}`);
      return x;
    };
    if (k === '--cache') a.cache = v();
    else if (k === '--worker') a.worker = Number(v());
    else if (k === '--updates') a.updates = Number(v());
    else if (k === '--durability') a.durability = v() === 'none' ? 'none' : 'full';
    else if (k === '--lock-timeout-ms') a.lockTimeoutMs = Number(v());
    else if (k === '--async') a.async = true;
    else if (k === '--wait-go') a.waitGo = true;
    else if (k === '--report-each') a.reportEach = true;
    else throw new Error(`unknown argument ${k}`);
  }
  if (a.cache === '') throw new Error('--cache is required');
  return a;
}

function say(line: string): void {
  // Synchronous: the line is in the pipe before the next update starts (survives a SIGKILL).
  fs.writeSync(1, line + '\n');
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        process.stdin.pause();
        resolve();
      }
    };
    process.stdin.once('data', finish);
    process.stdin.once('end', finish);
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const cache = AtomicCache.open(args.cache, {
    durability: args.durability,
    ...(args.lockTimeoutMs !== undefined ? { lockTimeoutMs: args.lockTimeoutMs } : {}),
  });
  if (args.waitGo) {
    say('ready');
    await waitForGo();
  }
  const written: string[] = [];
  const errors: string[] = [];
  let failures = 0;
  const start = performance.timeOrigin + performance.now();
  for (let i = 0; args.updates === 0 || i < args.updates; i++) {
    const key = `w${args.worker}-${i}`;
    const value = { w: args.worker, i };
    try {
      if (args.async) await cache.setAsync(key, value);
      else cache.set(key, value);
      written.push(key);
      if (args.reportEach) say(`ok ${key}`);
    } catch (err) {
      failures++;
      const e = err as { code?: string; message?: string };
      if (errors.length < 5) errors.push(`${e.code ?? 'ERR'}: ${e.message ?? String(err)}`);
    }
  }
  try {
    // Folds the journal into the cache file: once every worker has closed, the file alone is
    // the whole content (one JSON document). Part of the measured time.
    if (args.async) await cache.closeAsync();
    else cache.close();
  } catch (err) {
    failures++;
    const e = err as { code?: string; message?: string };
    if (errors.length < 5) errors.push(`${e.code ?? 'ERR'}: ${e.message ?? String(err)}`);
  }
  const end = performance.timeOrigin + performance.now();
  say(
    JSON.stringify({
      summary: {
        worker: args.worker,
        written,
        failures,
        errors,
        lock_waits_ms: cache.lockWaitSamples(),
        start_ms: start,
        end_ms: end,
      },
    }),
  );
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`concurrency-worker: ${e.code ?? 'ERR'}: ${e.message ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
