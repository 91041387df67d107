/**
 * Small helpers shared by the CLI commands: deterministic timestamps, atomic JSON writes,
 * relative paths for output, exit codes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Exit codes of every `omega-pr` command. */
export const EXIT = { PASS: 0, FAIL: 1, USAGE: 2 } as const;

/**
 * "Now" for reports: `SOURCE_DATE_EPOCH` (seconds) when set, so runs are reproducible; the
 * wall clock otherwise.
 */
export function reportDate(): Date {
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== '') {
    const secs = Number(sde);
    if (Number.isInteger(secs) && secs >= 0) return new Date(secs * 1000);
  }
  return new Date();
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

/** An error the CLI reports as a usage/input problem (exit 2), with a stable code. */
export class UsageError extends Error {
  /** Stable error code. */
  readonly code: string;
  constructor(message: string, code = 'ERR_OMEGA_USAGE') {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
