/**
 * The one error class of omega-pr. Every error the package throws carries a stable `code` from
 * the registry (`ERROR_CODES`, the core's `core/src/error.rs`), a message naming the offending
 * field or file, and — when it is about one — `path` (a file, relative) or `field` (an option or
 * JSON path).
 *
 * Errors thrown by the native addon are plain `Error`s with a registered `code` (napi-rs creates
 * them); `err instanceof OmegaError` is true for them too (see `Symbol.hasInstance` below), so one
 * check covers both. Subclasses (`OmegaProviderError`, the CLI's `UsageError`) keep the ordinary
 * `instanceof` semantics.
 */
import { ERROR_CODES, type OmegaErrorCode } from './error-codes';

export { ERROR_CODES, type OmegaErrorCode };

const REGISTERED: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is a registered omega-pr error code. */
export function isOmegaErrorCode(code: unknown): code is OmegaErrorCode {
  return typeof code === 'string' && REGISTERED.has(code);
}

/** Details of an {@link OmegaError}. */
export interface OmegaErrorOptions {
  /** The file the error is about (relative, as shown to people). */
  path?: string;
  /** The option, argument or JSON path the error is about. */
  field?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** An omega-pr error: a stable `code`, and the offending `path`/`field` when there is one. */
export class OmegaError extends Error {
  /** Stable code (`ERR_OMEGA_…`). */
  readonly code: OmegaErrorCode;
  /** The file the error is about, when there is one. */
  declare readonly path?: string;
  /** The option, argument or JSON path the error is about, when there is one. */
  declare readonly field?: string;

  constructor(code: OmegaErrorCode, message: string, options: OmegaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OmegaError';
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
    if (options.field !== undefined) this.field = options.field;
  }

  /**
   * `x instanceof OmegaError`: instances of the class, and any `Error` with a registered code
   * (those the native addon throws). Subclasses test their own prototype chain only.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === OmegaError && value instanceof Error && isOmegaErrorCode((value as { code?: unknown }).code);
  }
}

/** Whether `err` is an omega-pr error (thrown by the TS layer or the native addon). */
export function isOmegaError(err: unknown): err is OmegaError {
  return err instanceof OmegaError;
}
