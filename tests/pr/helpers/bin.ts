/**
 * Running the REAL bin (`bin/omega-pr.js`, over `dist/`) from a suite: synchronously
 * ({@link runBin}), or in the background and interrupted once its output says so
 * ({@link interruptWhen}).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'omega-pr.js');
export const FIX = path.join(ROOT, 'tests', 'pr', 'fixtures');
/** `SOURCE_DATE_EPOCH` of the suites: 2023-11-14T22:13:20Z. */
export const EPOCH = '1700000000';

/** How a run of the bin ended. */
export interface Run {
  code: number | null;
  /** The signal that ended the process, if any. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a run: this process's, `SOURCE_DATE_EPOCH` = {@link EPOCH}, no colours, then
 * `extra` (a value `undefined` removes the variable).
 */
export function binEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, SOURCE_DATE_EPOCH: EPOCH, FORCE_COLOR: '0', NO_COLOR: '1', ...extra };
}

/** Runs `omega-pr <args>` in `cwd` and waits (killed after `timeout` ms). */
export function runBin(cwd: string, args: string[], env: NodeJS.ProcessEnv = binEnv(), timeout = 120_000): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env, timeout, maxBuffer: 64 << 20 });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs `omega-pr <args>` in `cwd` in the background (SIGKILLed after 120 s); resolves when it exits. */
export function startBin(cwd: string, args: string[], env: NodeJS.ProcessEnv = binEnv()): Promise<Run> {
  return interruptWhen(cwd, args, () => false, { env });
}

/**
 * Starts `omega-pr <args>` in `cwd`; sends `signal` (default SIGINT) once `ready(stdout)` holds;
 * resolves when it exits (SIGKILLed after 120 s), with the ms from start to the signal (-1: not sent).
 */
export function interruptWhen(
  cwd: string,
  args: string[],
  ready: (out: string) => boolean,
  o: { signal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {},
): Promise<Run & { sentAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: o.env ?? binEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const started = Date.now();
    let stdout = '';
    let stderr = '';
    let sent = -1;
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      if (sent < 0 && ready(stdout)) {
        sent = Date.now() - started;
        child.kill(o.signal ?? 'SIGINT');
      }
    });
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(kill);
      resolve({ code, signal: sig, stdout, stderr, sentAfterMs: sent });
    });
  });
}
