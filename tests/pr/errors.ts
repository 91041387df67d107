/** Shared assertions on coded errors (`err.code`), for the vitest suites. */
import { expect } from 'vitest';

/** A coded error as omega-pr throws it. */
export type CodedError = Error & { code?: string };

/** The error `fn` throws; fails the test when it does not throw. */
export function thrown(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (err) {
    return err as CodedError;
  }
  throw new Error('expected a throw');
}

/** Asserts `fn` throws an `Error` with `code`, whose message contains `text` when given. */
export function expectCode(fn: () => unknown, code: string, text?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  const e = caught as CodedError;
  expect(e.code).toBe(code);
  if (text !== undefined) expect(e.message).toContain(text);
}
