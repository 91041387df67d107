/**
 * What a verdict depends on, beside the reports, in a stress run folder (and so in its pack):
 * `calibration.json` (the calibration document the run used, prices merged), `cases.json` (a
 * copy of the `--input` cases file) and `modules.json` (sha256 digests and relative names of
 * the engine, provider and scorer modules, the cases file and its `js` check modules and schema
 * files), with the module files themselves under `modules/` when each is a single file under
 * {@link MAX_PACKED_MODULE_BYTES}. No absolute path is ever written.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CalibrationDocument, ModuleRecord, ModulesDocument } from '../../report-types';

/** File name of the packed calibration (the page's PR-G4 check reads it beside `PR_REPORT.json`). */
export const CALIBRATION_FILE = 'calibration.json';
/** File name of the packed cases file. */
export const CASES_FILE = 'cases.json';
/** File name of the module digests. */
export const MODULES_FILE = 'modules.json';
/** Folder of the packed module files. */
export const MODULES_DIR = 'modules';
/** Schema version of `modules.json` (`MODULES_SCHEMA_VERSION` in `core/src/modules.rs`). */
export const MODULES_SCHEMA_VERSION = 'OMEGA-MODULES-1.0';
/** A module file is packed when it is at most this big (and imports no sibling file). */
export const MAX_PACKED_MODULE_BYTES = 256 * 1024;

/** `modules.json` and one of its records: shapes owned by the core (`core/src/modules.rs`). */
export type { ModuleRecord, ModulesDocument };

/** Hex SHA-256 of bytes. */
export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `p` relative to the working directory when inside it (`/` separators), else its base name. */
export function shownPath(p: string): string {
  const r = path.relative(process.cwd(), path.resolve(p));
  if (r !== '' && !r.startsWith('..') && !path.isAbsolute(r)) return r.split(path.sep).join('/');
  return path.basename(p);
}

/** A relative specifier (`./x`, `../x`) in an import, export-from, `import()` or `require()`. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]\.\.?\//;

function moduleRecord(role: ModuleRecord['role'], file: string, files: Map<string, Buffer>): ModuleRecord {
  const bytes = fs.readFileSync(file);
  const name = path.basename(file);
  const rec: ModuleRecord = { role, name, path: shownPath(file), sha256: sha256Hex(bytes), bytes: bytes.length, packed: null };
  if (bytes.length > MAX_PACKED_MODULE_BYTES) rec.not_packed_reason = `larger than ${MAX_PACKED_MODULE_BYTES} bytes`;
  else if (/\.[cm]?[jt]sx?$/.test(name) && RELATIVE_IMPORT.test(bytes.toString('utf8'))) rec.not_packed_reason = 'imports other files (not a single file)';
  else {
    let packed = `${MODULES_DIR}/${role}/${name}`;
    for (let i = 2; files.has(packed); i++) packed = `${MODULES_DIR}/${role}/${i}-${name}`;
    files.set(packed, bytes);
    rec.packed = packed;
  }
  return rec;
}

/** The inputs of a stress run, as given to `runStress`/the CLI (paths; objects are not files). */
export interface EvidenceInputs {
  calibration: CalibrationDocument;
  /** The provider's name in the report (`simulated` for the built-in one). */
  providerName: string;
  engine?: string | null;
  provider?: string | null;
  scorer?: string | null;
  /** The cases file path (`--input`), when it is a file. */
  cases?: string | null;
  /** Assertion files the cases reference (`js` check modules, `json-schema` files), absolute. */
  caseFiles?: { role: 'check' | 'schema'; file: string }[];
}

/**
 * The calibration as packed: the loaded document exactly (prices of `budget.prices_file` merged
 * into `budget.models`; the `prices_file` name kept as a record, never read again by replay), so
 * that its digest is the one the run journal records.
 */
export function packedCalibration(calibration: CalibrationDocument): string {
  return `${JSON.stringify(calibration, null, 2)}\n`;
}

/**
 * The evidence files of a run: path in the run folder → bytes (`calibration.json`, `cases.json`,
 * `modules.json`, `modules/<role>/<name>`). Deterministic for the same inputs.
 */
export function evidenceFiles(o: EvidenceInputs): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set(CALIBRATION_FILE, Buffer.from(packedCalibration(o.calibration)));
  const modules: ModuleRecord[] = [];
  for (const [role, file] of [['engine', o.engine], ['provider', o.provider], ['scorer', o.scorer]] as const) {
    if (typeof file === 'string') modules.push(moduleRecord(role, file, files));
  }
  if (typeof o.cases === 'string') {
    const bytes = fs.readFileSync(o.cases);
    files.set(CASES_FILE, bytes);
    modules.push({ role: 'cases', name: path.basename(o.cases), path: shownPath(o.cases), sha256: sha256Hex(bytes), bytes: bytes.length, packed: CASES_FILE });
  }
  const seen = new Set<string>();
  for (const { role, file } of o.caseFiles ?? []) {
    if (seen.has(file)) continue;
    seen.add(file);
    modules.push(moduleRecord(role, file, files));
  }
  const doc: ModulesDocument = {
    schema_version: MODULES_SCHEMA_VERSION,
    provider: o.providerName,
    modules,
  };
  files.set(MODULES_FILE, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`));
  return files;
}

/**
 * The files the checks of a cases document load (`js` check modules, `json-schema` files given by
 * path), resolved against the cases file's folder, in case and check order.
 */
export function caseAssertionFiles(casesFile: string, doc: { cases: { assert: { type: string; value?: unknown }[] }[] }): { role: 'check' | 'schema'; file: string }[] {
  const dir = path.dirname(path.resolve(casesFile));
  const out: { role: 'check' | 'schema'; file: string }[] = [];
  for (const c of doc.cases) {
    for (const a of c.assert) {
      if (a.type === 'js' && typeof a.value === 'string') out.push({ role: 'check', file: path.resolve(dir, a.value.split('#')[0] as string) });
      else if (a.type === 'json-schema' && typeof a.value === 'string') out.push({ role: 'schema', file: path.resolve(dir, a.value) });
    }
  }
  return out;
}
