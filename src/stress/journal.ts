/**
 * The run journal (`journal.jsonl`, docs/JOURNAL.md): what a stress run did, one JSON line per
 * finished run, appended and fsynced as each run finishes. A header line first (the options and
 * digests that determine the result), then `run` lines, `late` lines (calls of a finished run that
 * ended after it), and one `end` line (the final cache check). {@link derive} turns it into the
 * three documents; resume reads it back, skips the finished runs and goes on appending.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CalibrationDocument, JournalDigests, JournalHeader } from '../../report-types';
import { OmegaError } from '../errors';
import type { JournalLine } from './engine';
import type { StressMeta } from './report';

/** Schema id of the journal's header line. */
export const JOURNAL_SCHEMA = 'OMEGA-PR-JOURNAL-1';

/** File name of the journal inside a run folder. */
export const JOURNAL_FILE = 'journal.jsonl';

// The header line and its digests: generated from the core's `journal` structs (schema
// `journal-header`, the format's definition with `journal-run-line`, … : docs/JOURNAL.md).
export type { JournalDigests, JournalHeader };

export type { JournalCall, JournalCaseOutput, JournalChaos, JournalEndLine, JournalLateLine, JournalLine, JournalOutputs, JournalRunLine } from './engine';

/** A journal as read back (concatenated shard journals hold more header lines: {@link splitJournals}). */
export interface Journal {
  header: JournalHeader;
  lines: (JournalLine | JournalHeader)[];
  /** Bytes of complete lines (a torn last line is after them). */
  validBytes: number;
  /** A torn or unparsable last line was dropped. */
  torn: boolean;
}

/** `sha256:<hex>` of `data`. */
export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `sha256:<hex>` of a file's bytes, or undefined when `p` is not a readable file. */
export function fileDigest(p: string | null | undefined): string | undefined {
  if (typeof p !== 'string' || p === '') return undefined;
  try {
    if (!fs.statSync(p).isFile()) return undefined;
    return sha256(fs.readFileSync(p));
  } catch {
    return undefined;
  }
}

/** Digest of a calibration document (its JSON text as loaded). */
export function calibrationDigest(calibration: CalibrationDocument): string {
  return sha256(JSON.stringify(calibration));
}

function resumeError(message: string): OmegaError {
  return new OmegaError('ERR_OMEGA_RESUME', message);
}

/** The journal file of a run folder (or `p` itself when it is a file). */
export function journalPathOf(p: string): string {
  try {
    if (fs.statSync(p).isDirectory()) return path.join(p, JOURNAL_FILE);
  } catch {
    // Not there: reported by readJournal.
  }
  return p;
}

/**
 * Parses journal text. A last line without its newline, or one that is not JSON, is a torn
 * write (a crash mid-append) and is dropped; any other bad line is `ERR_OMEGA_RESUME`.
 */
export function parseJournal(text: string, name = JOURNAL_FILE): Journal {
  const parts = text.split('\n');
  // The segment after the last newline is complete only when empty.
  const tail = parts.pop() as string;
  let torn = tail !== '';
  let validBytes = Buffer.byteLength(text, 'utf8') - Buffer.byteLength(tail, 'utf8');
  const parsed: unknown[] = [];
  for (const [i, line] of parts.entries()) {
    try {
      parsed.push(JSON.parse(line) as unknown);
    } catch {
      if (i === parts.length - 1 && !torn) {
        torn = true;
        validBytes -= Buffer.byteLength(line, 'utf8') + 1;
        break;
      }
      throw resumeError(`${name}: line ${i + 1} is not valid JSON (the journal is damaged)`);
    }
  }
  const header = parsed.shift() as Partial<JournalHeader> | undefined;
  if (header === undefined) throw resumeError(`${name}: empty journal (no header line): nothing to resume`);
  if (header.type !== 'header' || header.schema !== JOURNAL_SCHEMA) {
    throw resumeError(`${name}: not an omega-pr run journal (its first line is not a ${JOURNAL_SCHEMA} header)`);
  }
  const lines = parsed as (JournalLine | JournalHeader)[];
  for (const [i, l] of lines.entries()) {
    if (l === null || typeof l !== 'object' || !['run', 'late', 'end', 'header'].includes((l as { type?: string }).type as string)) {
      throw resumeError(`${name}: line ${i + 2} is not a journal line`);
    }
  }
  return { header: header as JournalHeader, lines, validBytes, torn };
}

/** Reads a journal file (or the `journal.jsonl` of a run folder). */
export function readJournal(p: string): Journal {
  const file = journalPathOf(p);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw resumeError(`cannot read ${path.basename(file)} in ${path.basename(path.dirname(path.resolve(file)))}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'} (not a stress run folder with a journal)`);
  }
  return parseJournal(text, path.basename(file));
}

/**
 * Splits concatenated journals (shards: `cat a b c`) at their header lines: one journal per
 * header, each with its own lines.
 */
export function splitJournals(j: Pick<Journal, 'header' | 'lines'>): { header: JournalHeader; lines: JournalLine[] }[] {
  const out: { header: JournalHeader; lines: JournalLine[] }[] = [{ header: j.header, lines: [] }];
  for (const l of j.lines) {
    if (l.type === 'header') out.push({ header: l, lines: [] });
    else (out[out.length - 1] as { lines: JournalLine[] }).lines.push(l);
  }
  return out;
}

/**
 * What differs between the header of a journal and the header of the run that wants to resume
 * it (the options and digests that determine the result; concurrency may change).
 */
export function headerDifferences(recorded: JournalHeader, current: JournalHeader): string[] {
  const diffs: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v));
  const keys: (keyof StressMeta)[] = ['seed', 'planned_runs', 'chaos_profile', 'model', 'scenes_per_run', 'shard', 'provider', 'scorer', 'engine', 'cases_file', 'case_ids', 'hard_pass_score'];
  const names: Partial<Record<keyof StressMeta, string>> = { planned_runs: 'count', chaos_profile: 'chaos profile', scenes_per_run: 'scenes per run', cases_file: 'cases file', case_ids: 'case ids', hard_pass_score: 'hard pass score' };
  for (const k of keys) {
    const a = recorded.meta[k] ?? null;
    const b = current.meta[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${names[k] ?? k}: journal ${show(a)}, now ${show(b)}`);
  }
  if (recorded.mode !== current.mode) diffs.push(`mode: journal ${recorded.mode}, now ${current.mode}`);
  if (recorded.user_scorer !== current.user_scorer) diffs.push(`user scorer: journal ${recorded.user_scorer}, now ${current.user_scorer}`);
  for (const k of ['calibration', 'cases', 'engine', 'provider', 'scorer'] as const) {
    if (recorded.digests[k] !== current.digests[k]) diffs.push(`${k} ${k === 'calibration' || k === 'cases' ? 'document' : 'module'} digest: journal ${recorded.digests[k] ?? 'none'}, now ${current.digests[k] ?? 'none'}`);
  }
  return diffs;
}

/** Throws `ERR_OMEGA_RESUME` naming every difference between the journal's header and this run's. */
export function checkResumable(recorded: JournalHeader, current: JournalHeader, where: string): void {
  const diffs = headerDifferences(recorded, current);
  if (diffs.length > 0) {
    throw resumeError(`cannot resume ${where}: it was run with other inputs (${diffs.join('; ')}). Resume with the same calibration, seed, count, chaos profile, cases and modules, or start a new run`);
  }
}

/**
 * Appends lines to a journal file durably: each `append` writes one line and fsyncs before it
 * returns, so a line acknowledged survives kill -9 and power loss; a crash mid-write leaves at
 * most a torn last line, which readers drop.
 */
export class JournalWriter {
  private fd: number | null;
  /** Lines written through this writer. */
  written = 0;

  /**
   * Opens `file` for appending. With `keepBytes`, the file is first cut to that length (drops a
   * torn last line before new lines are appended); with `header`, the file is created afresh
   * with that header line.
   */
  constructor(
    readonly file: string,
    opts: { header?: JournalHeader; keepBytes?: number },
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (opts.header !== undefined) {
      this.fd = fs.openSync(file, 'w');
      this.write(opts.header);
      // The directory entry too: the new file survives a crash.
      fsyncDir(path.dirname(file));
    } else {
      if (opts.keepBytes !== undefined) fs.truncateSync(file, opts.keepBytes);
      this.fd = fs.openSync(file, 'a');
    }
  }

  private write(value: unknown): void {
    if (this.fd === null) throw new OmegaError('ERR_OMEGA_RESUME', `${path.basename(this.file)} is closed`);
    fs.writeSync(this.fd, JSON.stringify(value) + '\n');
    fs.fsyncSync(this.fd);
    this.written++;
  }

  /** Appends one line (fsynced). */
  append(line: JournalLine): void {
    this.write(line);
  }

  /** Closes the file. */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Windows cannot open a directory; its rename/create is durable enough.
  }
}
