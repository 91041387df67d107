/**
 * Interrupts and exit, one place for every command.
 *
 * On SIGINT / SIGTERM (`installSignalHandlers`, called by `bin/omega-pr.js` only — never inside a
 * test runner's process): the shared {@link shutdownSignal} aborts, so the commands start no new
 * work; the child process groups they registered ({@link trackChild}: preflight's test command,
 * concurrency's workers) get SIGTERM; the calls in flight may finish for at most
 * {@link graceMs} (`OMEGA_INTERRUPT_GRACE_MS`, default 10 s) — then, or on a second signal, the
 * process exits at once. Either way the registered cleanups run (staging folders removed), the
 * terminal cursor is shown again (cli-progress hides it) and the exit code is 130.
 *
 * After its final report a command exits with its gate code even when user modules keep handles
 * open (a provider with a keep-alive agent or a `setInterval`): {@link exitAfterFlush}.
 */
import type { ChildProcess } from 'node:child_process';

/** Exit code of an interrupted command (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

const controller = new AbortController();
/** Aborted on the first SIGINT / SIGTERM. */
export const shutdownSignal: AbortSignal = controller.signal;
let received: NodeJS.Signals | null = null;

/** The signal that interrupted this process, or null. */
export function interruptedBy(): NodeJS.Signals | null {
  return received;
}

/** True once a SIGINT / SIGTERM was received. */
export function interrupted(): boolean {
  return received !== null;
}

/** How long the calls in flight may take to finish after an interrupt. */
export function graceMs(): number {
  const v = Number(process.env.OMEGA_INTERRUPT_GRACE_MS);
  return Number.isFinite(v) && v >= 0 ? v : 10_000;
}

/** Thrown by a command that stopped because of an interrupt; the CLI exits 130. */
export class InterruptedError extends Error {
  /** Stable error code. */
  readonly code = 'ERR_OMEGA_INTERRUPTED';
  constructor(what: string) {
    super(`${what} interrupted by ${received ?? 'a signal'}`);
    this.name = 'InterruptedError';
  }
}

/** Throws {@link InterruptedError} when interrupted. */
export function throwIfInterrupted(what: string): void {
  if (received !== null) throw new InterruptedError(what);
}

const cleanups = new Map<number, () => void>();
let nextCleanup = 1;

/**
 * Registers a synchronous cleanup (remove a staging folder…) run on every exit path: normal
 * exit, interrupt, hard exit after the grace period. Returns the function that unregisters it.
 */
export function onCleanup(fn: () => void): () => void {
  const id = nextCleanup++;
  cleanups.set(id, fn);
  return () => {
    cleanups.delete(id);
  };
}

/** Runs (and forgets) every registered cleanup, latest first; never throws. */
export function runCleanups(): void {
  const fns = [...cleanups.values()].reverse();
  cleanups.clear();
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // A cleanup that fails must not stop the others.
    }
  }
}

const interruptHooks = new Set<() => void>();

/**
 * Registers `fn` to run at once on the first SIGINT / SIGTERM (cancel native work that would
 * otherwise run to its end: a proofpack build). Returns the function that unregisters it.
 */
export function onInterrupt(fn: () => void): () => void {
  interruptHooks.add(fn);
  return () => {
    interruptHooks.delete(fn);
  };
}

function runInterruptHooks(): void {
  for (const fn of [...interruptHooks]) {
    try {
      fn();
    } catch {
      // One failing hook must not stop the others.
    }
  }
}

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Spawned `detached`, the child leads its own process group: `-pid` reaches its children too
    // (a shell's test runner, its workers).
    process.kill(process.platform === 'win32' ? child.pid : -child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Tracks a child spawned with `detached: true`: its whole process group is killed on an
 * interrupt and when this process exits.
 */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (received !== null) killGroup(child, 'SIGTERM');
}

/** Sends `signal` to the process group of every tracked child. */
export function killChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const c of children) killGroup(c, signal);
}

/** Shows the cursor again (cli-progress hides it) when stdout is a terminal. */
export function restoreTerminal(): void {
  if (process.stdout.isTTY) {
    try {
      process.stdout.write('\u001b[?25h');
    } catch {
      // Terminal gone.
    }
  }
}

function hardExit(): never {
  killChildren('SIGKILL');
  runCleanups();
  restoreTerminal();
  process.exit(EXIT_INTERRUPTED);
}

let installed = false;

/** Installs the SIGINT / SIGTERM handlers and the exit-time cleanup (the CLI binary only). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: NodeJS.Signals): void => {
    if (received !== null) hardExit();
    received = signal;
    const grace = graceMs();
    process.stderr.write(
      `\nomega-pr: ${signal}: no new work is started; the calls in flight get ${(grace / 1000).toFixed(1)} s to finish (signal again to stop now)\n`,
    );
    controller.abort(new InterruptedError('the command'));
    runInterruptHooks();
    killChildren('SIGTERM');
    setTimeout(hardExit, grace);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', () => {
    killChildren('SIGKILL');
    runCleanups();
    if (received !== null) restoreTerminal();
  });
}

/**
 * Flushes stdout and stderr, then exits with `code` — also when user modules keep the event
 * loop alive (timers, keep-alive sockets). At most 2 s is spent waiting for the flush.
 */
export function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  setTimeout(() => process.exit(code), 2000).unref();
  process.stdout.write('', done);
  process.stderr.write('', done);
}
