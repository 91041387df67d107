/**
 * Small helpers shared by the CLI commands: deterministic timestamps, atomic JSON writes,
 * relative paths for output, exit codes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { interruptedBy, onCleanup, shutdownSignal } from './lifecycle';
import type { BuildProofpackOptions, ProofpackBuildResult } from '../../native';
import { buildProofpackAsync, removePartials } from '../proofpack';
import type { Command } from 'commander';
import { latestAlias as nativeLatestAlias, parseSourceDateEpoch, runStamp as nativeRunStamp } from '../../native';
import { OmegaError, type OmegaErrorCode } from '../errors';

/** Exit codes of every `omega-pr` command. */
export const EXIT = { PASS: 0, FAIL: 1, USAGE: 2 } as const;

/**
 * "Now" for reports: `SOURCE_DATE_EPOCH` (seconds) when set, so runs are reproducible; the
 * wall clock otherwise.
 */
export function reportDate(): Date {
  const secs = parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
  return secs === null ? new Date() : new Date(secs * 1000);
}

/** ISO-8601 timestamp of {@link reportDate}. */
export function isoNow(): string {
  return reportDate().toISOString();
}

/** Run-directory timestamp, `YYYYMMDD_HHMMSS` (UTC), as the runbook names run folders. */
export function runStamp(date: Date = reportDate()): string {
  return nativeRunStamp(Math.max(0, Math.floor(date.getTime() / 1000)));
}

/**
 * Dollars for people: 4 decimals, but a non-zero amount below $0.0001 shows its µUSD (6 decimals)
 * instead of a misleading `$0.0000`.
 */
export function formatUsd(usd: number, digits = 4): string {
  const fixed = usd.toFixed(digits);
  return usd > 0 && Number(fixed) === 0 ? usd.toFixed(6) : fixed;
}

/** A path as shown to people and written into reports: relative to the working directory, `/` separators. */
export function rel(p: string): string {
  const r = path.relative(process.cwd(), path.resolve(p)) || '.';
  return r.split(path.sep).join('/');
}

/**
 * Writes `data` as pretty JSON (2 spaces, trailing newline) atomically: a temp file in the same
 * directory, then rename. Never leaves a half-written file.
 */
export function writeJsonAtomic(file: string, data: unknown): void {
  writeFileAtomic(file, JSON.stringify(data, null, 2) + '\n');
}

/** Writes text atomically (temp file + rename); creates the parent directory. */
export function writeFileAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Registers one subcommand on the program (`setExit` records the gate's exit code). */
export type RegisterCommand = (program: Command, setExit: (code: number) => void) => void;

/** An error the CLI reports as a usage/input problem (exit 2), with a stable code. */
export class UsageError extends OmegaError {
  constructor(message: string, code: OmegaErrorCode = 'ERR_OMEGA_USAGE') {
    super(code, message);
    this.name = 'UsageError';
  }
}

/**
 * A run folder `metrics/pr/PR_RUNS/<name>` written all at once: files go to a staging folder
 * beside it and `commit()` renames it into place, so a failed run never leaves a half-written
 * folder. The final name is claimed atomically at once (`mkdir`, which fails when the name is
 * taken): when two runs — in this process or any other — want the same name (the same second,
 * or a fixed `SOURCE_DATE_EPOCH`), the second gets `-2`, `-3`, …, and a committed run is never
 * overwritten. The staging folder is removed on every exit path, interrupts included
 * ({@link onCleanup}).
 */
export class RunDir {
  /** Where the folder will be once committed. */
  readonly path: string;
  private readonly staging: string;
  private readonly unregister: () => void;
  private done = false;

  constructor(metricsRoot: string, name: string) {
    const runs = path.join(metricsRoot, 'PR_RUNS');
    fs.mkdirSync(runs, { recursive: true });
    this.path = claimDir(runs, name);
    this.staging = `${this.path}.partial-${process.pid}`;
    this.unregister = onCleanup(() => this.abort());
    try {
      fs.mkdirSync(this.staging, { recursive: true });
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  /** Path of `file` inside the staging folder (for writers that need a path). */
  stagingPath(file: string): string {
    return path.join(this.staging, file);
  }

  /** Writes JSON into the folder. */
  json(file: string, data: unknown): void {
    fs.writeFileSync(this.stagingPath(file), JSON.stringify(data, null, 2) + '\n');
  }

  /** Writes text into the folder. */
  text(file: string, data: string): void {
    fs.writeFileSync(this.stagingPath(file), data);
  }

  /** Moves the folder into place (onto its claimed, empty name); returns its final path. */
  commit(): string {
    try {
      fs.renameSync(this.staging, this.path);
    } catch {
      // Windows does not rename onto an existing (empty) directory.
      fs.rmdirSync(this.path);
      fs.renameSync(this.staging, this.path);
    }
    this.done = true;
    this.unregister();
    return this.path;
  }

  /** Removes the staging folder and releases the claimed name (after a failure or an interrupt). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.unregister();
    fs.rmSync(this.staging, { recursive: true, force: true });
    try {
      fs.rmdirSync(this.path);
    } catch {
      // Not empty (never ours to delete) or already gone.
    }
  }
}

/**
 * Claims `<parent>/<name>` (or `<name>-2`, `-3`, …: the first free one) by creating it; `mkdir`
 * fails atomically when another run holds the name. Returns the claimed path.
 */
export function claimDir(parent: string, name: string): string {
  for (let i = 1; ; i++) {
    const candidate = path.join(parent, i === 1 ? name : `${name}-${i}`);
    try {
      fs.mkdirSync(candidate);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Parses a whole-number option in `[min, max]`, or throws a usage error
 * (`ERR_OMEGA_INVALID_ARGUMENT`) naming it.
 */
export function intOption(name: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = (raw ?? '').trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${name} must be a whole number ${range}, got "${raw ?? ''}"`, 'ERR_OMEGA_INVALID_ARGUMENT');
  }
  return n;
}

/** {@link intOption} for an option without a default: `undefined` when not given. */
export function optionalInt(name: string, raw: string | undefined, min: number, max?: number): number | undefined {
  return raw === undefined ? undefined : intOption(name, raw, min, max);
}

/**
 * What an interrupted phase writes instead of its report (`interrupted-report.json` in its run
 * folder): the work completed before the signal, marked `complete: false`.
 */
export interface InterruptedReport {
  schema_version: 'OMEGA-INTERRUPTED-1.0';
  phase: string;
  complete: false;
  signal: string;
  planned: number;
  completed: number;
  generated: string;
  [key: string]: unknown;
}

/**
 * Writes an interrupted phase's run folder (`interrupted-report.json` + `extra` JSON files +
 * `copies`: file name → source path, copied when it exists); returns it. `report` may be a
 * function of the folder's final path (a report that names its own folder).
 */
export function writeInterrupted(
  metricsRoot: string,
  name: string,
  report: Omit<InterruptedReport, 'schema_version' | 'complete' | 'signal' | 'generated'> | ((folder: string) => Omit<InterruptedReport, 'schema_version' | 'complete' | 'signal' | 'generated'>),
  extra: Record<string, unknown> = {},
  copies: Record<string, string> = {},
): string {
  const dir = new RunDir(metricsRoot, name);
  if (typeof report === 'function') report = report(dir.path);
  try {
    // Files kept as they are (the run journal, the answers cache): what a resume continues from.
    for (const [file, source] of Object.entries(copies)) if (fs.existsSync(source)) fs.copyFileSync(source, dir.stagingPath(file));
    dir.json('interrupted-report.json', {
      schema_version: 'OMEGA-INTERRUPTED-1.0',
      complete: false,
      signal: interruptedBy() ?? 'unknown',
      generated: isoNow(),
      ...report,
    });
    for (const [file, data] of Object.entries(extra)) dir.json(file, data);
    return dir.commit();
  } catch (err) {
    dir.abort();
    throw err;
  }
}

/**
 * Builds a proofpack for the CLI: cancelled by SIGINT / SIGTERM (the shared shutdown signal), its
 * hidden partial output removed on every exit path.
 */
export async function buildPack(options: BuildProofpackOptions): Promise<ProofpackBuildResult> {
  const unregister = onCleanup(() => removePartials(options.output));
  try {
    return await buildProofpackAsync(options, { signal: shutdownSignal });
  } finally {
    unregister();
  }
}

/**
 * Points `PR_RUNS/<alias>` (e.g. `stress100_latest`) at a COMPLETE, committed run folder: a
 * relative symlink (`stress100_latest -> stress100_20260212_143000`), replaced atomically (a new
 * link under a temporary name, then rename over the old one), so a reader never sees a missing or
 * half-made link. Where symlinks cannot be made (Windows without the privilege), a pointer file
 * `<alias>.txt` holding the folder name is written instead (atomically too). Called only after
 * `RunDir.commit()` of a run with a verdict — never for partial or interrupted runs. The links are
 * never packed: `sprint` stages only the folders its gates judged, and the pack builder refuses
 * symlinks; `proofpack build --source …_latest` resolves the link to the real folder first.
 */
export function updateLatest(runFolder: string, alias: string): string {
  const parent = path.dirname(runFolder);
  const target = path.basename(runFolder);
  const link = path.join(parent, alias);
  const tmp = path.join(parent, `.${alias}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.symlinkSync(target, tmp, 'dir');
    try {
      fs.renameSync(tmp, link);
    } catch (err) {
      // An old pointer of another kind (a real folder is never ours to replace).
      if (fs.lstatSync(link).isSymbolicLink()) throw err;
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.rmSync(`${link}.txt`, { force: true });
    return link;
  } catch {
    fs.rmSync(tmp, { force: true });
    writeFileAtomic(`${link}.txt`, `${target}\n`);
    return `${link}.txt`;
  }
}

/** The `_latest` alias of a run folder name: `stress100_20260212_143000` → `stress100_latest`. */
export function latestAlias(runName: string): string {
  return nativeLatestAlias(path.basename(runName));
}

/**
 * Resolves a `PR_RUNS/<x>_latest` link (or its `<x>_latest.txt` pointer file) to the real run
 * folder; any other path is returned unchanged.
 */
export function resolveLatest(given: string): string {
  const p = given.replace(/[\\/]+$/, '') || given;
  try {
    if (fs.lstatSync(p).isSymbolicLink()) {
      // Our links are relative (`stress100_20260212_143000`): keep the path as relative as given.
      const target = fs.readlinkSync(p);
      return path.isAbsolute(target) ? target : path.join(path.dirname(p), target);
    }
  } catch {
    // Not there: maybe a pointer file.
    const pointer = `${p}.txt`;
    if (/_latest$/.test(p) && fs.existsSync(pointer)) {
      const name = fs.readFileSync(pointer, 'utf8').trim();
      if (name !== '' && !name.includes('/') && !name.includes('\\')) return path.join(path.dirname(p), name);
    }
  }
  return given;
}
