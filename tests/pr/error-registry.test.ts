/**
 * One registry of error codes: the core's `ERROR_CODES` (read through the addon's `errorCodes()`),
 * `src/error-codes.ts`, the README's error table and every `ERR_OMEGA_…` literal of the sources
 * agree; errors of the TS layer and of the addon are both `OmegaError`s.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BudgetTracker, errorCodes, parseCalibrationJson } from '../../native';
import { ERROR_CODES, OmegaError, OmegaProviderError, isOmegaError, loadCalibration } from '../../src/index';
import { UsageError } from '../../src/cli/util';
import { thrown } from './errors';

const ROOT = path.resolve(__dirname, '..', '..');

/** Codes named in the README's `## Error codes` table (first column). */
function readmeCodes(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Error codes\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = section.split('\n').filter((l) => l.startsWith('| `ERR_OMEGA_'));
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(ERR_OMEGA_[A-Z0-9_]+)`/g)].map((m) => m[1] as string));
}

/** Every `ERR_OMEGA_…` literal in the sources of the package (TS layer, addon, core). */
function sourceCodes(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|rs)$/.test(e.name)) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/ERR_OMEGA_[A-Z0-9_]*[A-Z0-9]/g)) {
          if (!found.has(m[0])) found.set(m[0], path.relative(ROOT, p));
        }
      }
    }
  };
  for (const d of ['src', 'bindings-node/src', 'bindings-wasm/src', 'core/src']) walk(path.join(ROOT, d));
  return found;
}

describe('error code registry', () => {
  it('src/error-codes.ts is the core registry (errorCodes() of the addon), in order', () => {
    expect(errorCodes().length).toBeGreaterThan(20);
    expect([...ERROR_CODES]).toEqual(errorCodes());
  });

  it('the README error table documents every registered code, and no other', () => {
    const documented = readmeCodes();
    const registered = errorCodes();
    expect(documented.filter((c) => !registered.includes(c)), 'stale codes in README').toEqual([]);
    expect(registered.filter((c) => !documented.includes(c)), 'codes missing from README').toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('every ERR_OMEGA_ code in the sources is registered', () => {
    const registered = new Set(errorCodes());
    const unregistered = [...sourceCodes()].filter(([code]) => !registered.has(code)).map(([c, f]) => `${c} (${f})`);
    expect(unregistered).toEqual([]);
  });
});

describe('OmegaError', () => {
  it('errors of the TS layer are OmegaErrors with code and path', () => {
    const e = thrown(() => loadCalibration(path.join(ROOT, 'no-such-calibration.json')));
    expect(e).toBeInstanceOf(OmegaError);
    expect(e.code).toBe('ERR_OMEGA_IO');
    expect((e as OmegaError).path).toBe('no-such-calibration.json');
    expect(new UsageError('bad flag')).toBeInstanceOf(OmegaError);
    expect(new UsageError('bad flag').code).toBe('ERR_OMEGA_USAGE');
    const p = new OmegaProviderError('ERR_OMEGA_RATE_LIMIT', 'slow down', { injected: true, retryable: true });
    expect(p).toBeInstanceOf(OmegaError);
    expect(p.code).toBe('ERR_OMEGA_RATE_LIMIT');
    expect(p.name).toBe('OmegaProviderError');
  });

  it('errors of the native addon pass instanceof OmegaError, and only registered codes do', () => {
    const e = thrown(() => parseCalibrationJson('{}', 'c.json'));
    expect(e.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(e).toBeInstanceOf(OmegaError);
    expect(isOmegaError(e)).toBe(true);
    const budget = thrown(() => new BudgetTracker(loadCalibration()).settle(999, { inputTokens: 1, outputTokens: 1 }));
    expect(budget).toBeInstanceOf(OmegaError);
    expect(budget).not.toBeInstanceOf(OmegaProviderError);
    expect(Object.assign(new Error('x'), { code: 'ENOENT' })).not.toBeInstanceOf(OmegaError);
    expect(Object.assign(new Error('x'), { code: 'ERR_OMEGA_NOT_A_CODE' })).not.toBeInstanceOf(OmegaError);
    expect({ code: 'ERR_OMEGA_IO', message: 'x' }).not.toBeInstanceOf(OmegaError);
  });
});
