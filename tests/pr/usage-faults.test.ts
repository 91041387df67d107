/**
 * Issue 12, items 4 and 5, end to end through the REAL CLI: usage that cannot be trusted is
 * charged at the reservation (never $0, never napi's raw `NumberExpected`), and a plain `Error`
 * from a user provider is classified (network-ish → retried) with its message kept in the chaos
 * log and in `PR_REPORT.json` (`calls.error_samples`). A dated model name the provider returns is
 * priced as its base model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { BudgetTracker, RetryProvider, toProviderError, type OmegaProviderError } from '../../src/index';

import { FIX, ROOT, binEnv, runBin } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const tmp = tempDirs('omega-usage-');

function omega(cwd: string, args: string[]) {
  return runBin(cwd, args, binEnv());
}

function runDir(dir: string): string {
  const root = path.join(dir, 'metrics', 'pr', 'PR_RUNS');
  const name = fs.readdirSync(root).find((n) => n.startsWith('stress') && !n.endsWith('.cache'));
  if (name === undefined) throw new Error('no run folder');
  return path.join(root, name);
}

const json = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
/** Validates a report file against `schemas/<name>.schema.json`. */
function expectValid(file: string, name: string): void {
  const v = ajv.getSchema(name) ?? (ajv.addSchema(json(path.join(ROOT, 'schemas', `${name}.schema.json`)), name), ajv.getSchema(name));
  const ok = v?.(json(file));
  expect(ok, `${path.basename(file)}: ${ajv.errorsText(v?.errors)}`).toBe(true);
}

describe('untrusted usage is charged, not forgiven (item 5)', () => {
  it('NaN, string, negative and fractional counts: ERR_OMEGA_INVALID_USAGE naming the field, booked at the reservation, violations in run-cost.json', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '4', '--scenes', '1', '--model', 'gpt-4o', '--provider', path.join(FIX, 'cli-bad-usage-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js')]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(/NumberExpected|InvalidArg/);
    const run = runDir(dir);
    const report = json(path.join(run, 'PR_REPORT.json'));
    expect(report.calls.by_error).toEqual({ ERR_OMEGA_INVALID_USAGE: 4 });
    expect(report.calls.error_samples.ERR_OMEGA_INVALID_USAGE).toBe('invalid usage `usage.inputTokens`: must be a finite number of tokens, got NaN');
    const cost = json(path.join(run, 'run-cost.json'));
    expectValid(path.join(run, 'run-cost.json'), 'run-cost');
    expectValid(path.join(run, 'PR_REPORT.json'), 'pr-report');
    expect(cost.budget_verdict).toBe('FAIL');
    expect(cost.open_reservations).toBe(0);
    expect(cost.call_count).toBe(4);
    expect(cost.violations.map((v: { kind: string }) => v.kind)).toEqual(['invalid_usage', 'invalid_usage', 'invalid_usage', 'invalid_usage']);
    // Each call is booked at its worst case: the prompt's bytes at $2.50/M + 4,096 output tokens at $10/M.
    expect(cost.total_cost_usd).toBeGreaterThan(4 * 4096 * 10e-6);
    expect(cost.violations.every((v: { amount_usd: number }) => v.amount_usd > 0.04)).toBe(true);
  });

  it('names each field in the API', () => {
    const t = new BudgetTracker();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ inputTokens: 10, outputTokens: '12' }, 'usage.outputTokens`: must be a number of tokens, got the string "12"'],
      [{ inputTokens: -5, outputTokens: 1 }, 'usage.inputTokens`: must not be negative'],
      [{ inputTokens: 10, outputTokens: 2.5 }, 'usage.outputTokens`: must be a whole number'],
      [{ inputTokens: 10, outputTokens: 1, cachedInputTokens: true }, 'usage.cachedInputTokens`: must be a number of tokens, got boolean'],
      [{ outputTokens: 1 }, 'usage.inputTokens`: is missing'],
    ];
    for (const [usage, text] of cases) {
      const res = t.reserve({ callId: 'c', model: 'gpt-4o', inputTokens: 10, maxOutputTokens: 10 });
      let err: { code?: string; message?: string } = {};
      try {
        t.settle(res.id, usage as never);
      } catch (e) {
        err = e as typeof err;
      }
      expect(err.code).toBe('ERR_OMEGA_INVALID_USAGE');
      expect(err.message).toContain(text);
    }
    let notObject: { code?: string } = {};
    try {
      t.record({ callId: 'x', model: 'gpt-4o' }, 'lots' as never);
    } catch (e) {
      notObject = e as typeof notObject;
    }
    expect(notObject.code).toBe('ERR_OMEGA_INVALID_USAGE');
    const f = t.finalize();
    // 5 reservations of 10 input + 10 output tokens of gpt-4o: 5 × ceil(25 + 100 µUSD).
    expect(f.total_cost_micro_usd).toBe(5 * 125);
    expect(f.violations.filter((v) => v.kind === 'invalid_usage')).toHaveLength(6);
  });
});

describe('plain Errors and HTTP faults are classified (item 4)', () => {
  it('ECONNRESET is retried; a plain Error surfaces at once with its message in the chaos log and PR_REPORT.json; a dated model name is priced', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '2', '--scenes', '2', '--model', 'gpt-4o', '--chaos', 'light', '--seed', '7', '--provider', path.join(FIX, 'cli-plain-error-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js'), '--time-scale', '0.01']);
    expect(r.code).toBe(1);
    const run = runDir(dir);
    const report = json(path.join(run, 'PR_REPORT.json'));
    expect(report.calls.by_error).toEqual({ ERR_OMEGA_PROVIDER: 2 });
    expect(report.calls.retries).toBeGreaterThanOrEqual(2);
    expect(report.calls.error_samples).toEqual({ ERR_OMEGA_PROVIDER: 'upstream refused scene SCN-02: content policy' });
    expect(report.calls.models).toEqual({ requested: 'gpt-4o', returned: ['gpt-4o-2024-08-06'] });
    // The successful calls are priced as gpt-4o: 1,000 × $2.50/M + 100 × $10/M = $0.0035 each.
    expect(report.runs.map((x: { cost_usd: number }) => x.cost_usd)).toEqual([0.0035, 0.0035]);
    const log = json(path.join(run, 'chaos-log.json'));
    expectValid(path.join(run, 'chaos-log.json'), 'chaos-log');
    expectValid(path.join(run, 'PR_REPORT.json'), 'pr-report');
    const failed = log.entries.filter((e: { outcome?: string }) => e.outcome === 'failed');
    expect(failed.map((e: { error_code: string }) => e.error_code).sort()).toContain('ERR_OMEGA_CONNECTION_RESET');
    expect(failed.find((e: { error_code: string }) => e.error_code === 'ERR_OMEGA_PROVIDER').error_message).toMatch(/^upstream refused scene SCN-02: content policy$/);
    expect(failed.find((e: { error_code: string }) => e.error_code === 'ERR_OMEGA_CONNECTION_RESET').error_message).toBe('read ECONNRESET');
  });

  it('HTTP statuses: 429 with retry-after(-ms), 529 and 5xx retryable; 400/401/403/404 at once with the message', async () => {
    const http = (status: number, headers: Record<string, string> = {}) =>
      Object.assign(new Error(`${status} {"error":{"message":"api says ${status}"}}`), { status, headers: new Headers(headers) });
    const c = (e: unknown) => toProviderError(e) as OmegaProviderError;
    expect(c(http(429, { 'retry-after': '2' }))).toMatchObject({ code: 'ERR_OMEGA_RATE_LIMIT', retryable: true, retryAfterMs: 2000 });
    expect(c(http(429, { 'retry-after-ms': '150', 'retry-after': '2' }))).toMatchObject({ retryAfterMs: 150 });
    expect(c(http(529))).toMatchObject({ code: 'ERR_OMEGA_OVERLOADED', retryable: true });
    for (const s of [500, 502, 503]) expect(c(http(s))).toMatchObject({ code: 'ERR_OMEGA_SERVER_ERROR', retryable: true });
    for (const [s, code] of [
      [400, 'ERR_OMEGA_PROVIDER_BAD_REQUEST'],
      [401, 'ERR_OMEGA_PROVIDER_AUTH'],
      [403, 'ERR_OMEGA_PROVIDER_FORBIDDEN'],
      [404, 'ERR_OMEGA_PROVIDER_NOT_FOUND'],
    ] as const) {
      const e = c(http(s));
      expect(e).toMatchObject({ code, retryable: false, status: s });
      expect(e.message).toContain(`api says ${s}`);
    }
    const fetchFailed = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo EAI_AGAIN api'), { code: 'EAI_AGAIN' }) });
    expect(c(fetchFailed)).toMatchObject({ code: 'ERR_OMEGA_NETWORK', retryable: true });
    // A 401 is not retried: one attempt, the API's message.
    let calls = 0;
    const p = new RetryProvider({ generate: async () => { calls++; throw http(401); } }, { sleep: async () => {} });
    const err = (await p.generate({ model: 'gpt-4o', prompt: 'x' }).catch((e: unknown) => e)) as OmegaProviderError;
    expect([calls, err.code, err.message]).toEqual([1, 'ERR_OMEGA_PROVIDER_AUTH', '401 {"error":{"message":"api says 401"}}']);
  });
});
