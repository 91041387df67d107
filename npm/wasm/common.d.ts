/// <reference lib="esnext.disposable" />
// (the lib reference: wasm-bindgen's classes declare `[Symbol.dispose]`, which ES2022 libs lack)
// Typed surface of omega-pr-wasm, shared by the browser (web.d.ts) and Node (node.d.ts) entries.
// The wasm-bindgen output types its JS-object results as `any`; these declarations (which take
// precedence over the `export *` below) give them the snake_case shapes the core returns.
export * from './pkg/node/omega_pr_wasm';

/** One line of `SHA256SUMS.txt`. */
export interface Sha256SumEntry {
  path: string;
  sha256: string;
}

/** One file as the caller observed it in the pack folder. */
export interface ObservedEntry {
  /** Relative path, `/` separators. */
  path: string;
  kind: 'file' | 'symlink' | 'other';
  bytes: number;
  /** Lowercase hex SHA-256, or `null` when not hashed (e.g. an unlisted file). */
  sha256: string | null;
}

/** One problem found by verification. */
export interface PackProblem {
  kind:
    | 'missing' | 'extra' | 'mismatch' | 'size_mismatch' | 'unsafe_path' | 'symlink' | 'not_a_file'
    | 'sums_missing' | 'sums_invalid' | 'manifest_missing' | 'manifest_invalid' | 'manifest_mismatch';
  path: string;
  message: string;
}

/** The verdict of `verifyPack` (same as the native `verifyProofpack`, snake_case). */
export interface PackVerification {
  verdict: 'PASS' | 'FAIL';
  complete: boolean;
  valid: boolean;
  pack_id?: string | null;
  files: Array<{ path: string; ok: boolean }>;
  file_count: number;
  total_bytes: number;
  problems: PackProblem[];
}

/** Parses `SHA256SUMS.txt` bytes; throws `ERR_OMEGA_PARSE` (line and reason code). */
export declare function parseSha256Sums(data: Uint8Array): Sha256SumEntry[];

/**
 * Verifies a pack from its two documents (`undefined` when absent) and the entries observed
 * (every file of the folder but `SHA256SUMS.txt` and `MANIFEST.json`).
 */
export declare function verifyPack(
  sums: Uint8Array | null | undefined,
  manifest: Uint8Array | null | undefined,
  observed: ObservedEntry[],
): PackVerification;
