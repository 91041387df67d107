/**
 * Small helpers shared by the CLI commands: deterministic timestamps, atomic JSON writes,
 * relative paths for output, exit codes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseSourceDateEpoch } from '../../native';
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
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}_` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`
  );
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
 * folder. When the name is taken (two runs in the same second, or a fixed `SOURCE_DATE_EPOCH`),
 * `-2`, `-3`, … is appended.
 */
export class RunDir {
  /** Where the folder will be once committed. */
  readonly path: string;
  private readonly staging: string;

  constructor(metricsRoot: string, name: string) {
    const runs = path.join(metricsRoot, 'PR_RUNS');
    fs.mkdirSync(runs, { recursive: true });
    let candidate = path.join(runs, name);
    for (let i = 2; fs.existsSync(candidate); i++) candidate = path.join(runs, `${name}-${i}`);
    this.path = candidate;
    this.staging = `${candidate}.partial-${process.pid}`;
    fs.mkdirSync(this.staging, { recursive: true });
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

  /** Moves the folder into place; returns its final path. */
  commit(): string {
    fs.renameSync(this.staging, this.path);
    return this.path;
  }

  /** Removes the staging folder (after a failure). */
  abort(): void {
    fs.rmSync(this.staging, { recursive: true, force: true });
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
