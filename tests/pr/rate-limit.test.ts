/**
 * Rate limits (issue 13, item 2): calibration `rate_limits` validated with field paths (library
 * and the REAL CLI: exit 2), the native `RateLimiter` driven by an injected clock
 * (deterministic, never more than the limit in any minute, AIMD bounds), and the whole stack —
 * `runStress` with the official `openai` SDK through `omega-pr/openai` — against a local server
 * that enforces a small RPM with 429 + retry-after: 0 calls failed by rate limiting, throughput
 * near the limit, the `rate_limit` block of `PR_REPORT.json` valid against its schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { RateLimiter, rateLimitsFor } from '../../native';
import { openaiProvider } from '../../src/adapters/openai';
import { RateLimitProvider, loadCalibration, mergeRateLimitReports, runStress, type CalibrationDocument, type RateLimitReport, type Scorer } from '../../src/index';
import { thrown } from './errors';
// @ts-expect-error a plain .mjs helper (shared with bench/rate-limit.bench.mjs)
import { RateLimitedServer } from './helpers/rate-limited-server.mjs';
import { ROOT, binEnv, runBin } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const SHIPPED = path.join(ROOT, 'budgets', 'calibration.json');

const tmp = tempDirs('omega-ratelimit-');

function shipped(): CalibrationDocument {
  const c = JSON.parse(fs.readFileSync(SHIPPED, 'utf8'));
  delete c.$schema;
  return c;
}

function writeCalibration(dir: string, edit: (c: any) => void): string {
  const c = shipped();
  edit(c);
  const file = path.join(dir, 'calibration.json');
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

function omega(cwd: string, args: string[]) {
  return runBin(cwd, args, binEnv());
}

/** A schema of `schemas/`, compiled as the CLI suite does (strict). */
function schemaOf(name: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', `${name}.schema.json`), 'utf8')));
}

const scorer: Scorer = { name: 'accept', score: () => ({ hardScore: 1, softScore: 1, hardPass: true, softPass: true }) };

describe('calibration rate_limits', () => {
  it('is optional; valid limits load; a bad one is ERR_OMEGA_CALIBRATION naming the field', () => {
    const dir = tmp();
    const good = writeCalibration(dir, (c) => {
      c.rate_limits = { 'gpt-4o': { requests_per_minute: 500, tokens_per_minute: 30_000 }, 'claude-*': { input_tokens_per_minute: 30_000, output_tokens_per_minute: 8_000 } };
    });
    const cal = loadCalibration(good);
    expect(rateLimitsFor(cal, 'openai/gpt-4o-2024-08-06')).toMatchObject({ name: 'gpt-4o', requestsPerMinute: 500, tokensPerMinute: 30_000 });
    expect(rateLimitsFor(cal, 'claude-sonnet-4-5')).toMatchObject({ name: 'claude-*', inputTokensPerMinute: 30_000, outputTokensPerMinute: 8_000 });
    expect(rateLimitsFor(cal, 'o4-mini')).toBeNull();
    expect(rateLimitsFor(loadCalibration(SHIPPED), 'gpt-4o')).toBeNull();
    // The schema agrees: the good document validates, one without any limit does not.
    const validate = schemaOf('calibration');
    expect(validate(cal), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...cal, rate_limits: { 'gpt-4o': { max_in_flight: 4 } } })).toBe(false);
    expect(validate({ ...cal, rate_limits: { 'gpt-4o': { requests_per_minute: 0 } } })).toBe(false);

    const bad = writeCalibration(dir, (c) => {
      c.rate_limits = { 'gpt-4o': { requests_per_minute: 0 }, 'o4-mini': { tokens_per_minute: 'lots' } };
    });
    const err = thrown(() => loadCalibration(bad)) as Error & { code: string };
    expect(err.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(err.message).toContain('$.rate_limits.gpt-4o.requests_per_minute: must be in [1, 1000000000], got 0');
    expect(err.message).toContain('$.rate_limits.o4-mini.tokens_per_minute: must be a whole number');
  });

  it('the CLI refuses a bad rate_limits with exit 2 and the field path', () => {
    const dir = tmp();
    writeCalibration(dir, (c) => {
      c.rate_limits = { 'simulated-scribe': { request_per_minute: 60 } };
    });
    const r = omega(dir, ['stress', '--count', '2', '--calibration', 'calibration.json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_CALIBRATION');
    expect(r.stderr).toContain('$.rate_limits.simulated-scribe.request_per_minute: unknown key (did you mean `requests_per_minute`?)');
    expect(r.stderr).toContain('$.rate_limits.simulated-scribe: must set at least one of requests_per_minute');
  });
});

describe('RateLimiter (native) with an injected clock', () => {
  const limits = { name: 'm', requestsPerMinute: 120, tokensPerMinute: 6_000 };

  /** Drives a limiter over `minutes` of fake time; returns the admission times. */
  function drive(minutes: number, shares = 1): number[] {
    const l = new RateLimiter({ limits, nowMs: 0, shares, initialOutputEstimate: 50 });
    const admitted: number[] = [];
    let now = 0;
    let i = 0;
    while (now < minutes * 60_000) {
      const a = l.acquire(now, 10 + (i % 7) * 5);
      if (a.ready) {
        admitted.push(now);
        l.settle(a.ticket, now, { outcome: 'success', inputTokens: 10 + (i % 7) * 5, outputTokens: 15 + (i % 3) * 10 });
        i++;
      } else {
        expect(a.waitMs).toBeGreaterThan(0);
        now += a.waitMs;
      }
    }
    return admitted;
  }

  it('is deterministic and never admits more than the limit in any minute', () => {
    const a = drive(10);
    expect(drive(10)).toEqual(a);
    let max = 0;
    for (let i = 0, j = 0; i < a.length; i++) {
      while (j < a.length && (a[j] as number) < (a[i] as number) + 60_000) j++;
      max = Math.max(max, j - i);
    }
    // Tokens bind here (60 tokens a call on average, 6 000 TPM): ~98 calls a minute, never above.
    expect(max).toBeLessThanOrEqual(120);
    const perMinute = (a.length * 60_000) / 600_000;
    expect(perMinute).toBeGreaterThan(90);
    // Two shards each get half.
    expect(drive(10, 2).length).toBeLessThan(a.length * 0.55);
  });

  it('AIMD: halves on 429 (once per round trip), honours retry-after, grows back on success', () => {
    const l = new RateLimiter({ limits: { name: 'm', requestsPerMinute: 1_000_000, maxInFlight: 16, initialInFlight: 4 }, nowMs: 0 });
    expect(l.concurrency).toBe(4);
    const open = [1, 2, 3].map(() => l.acquire(0, 1).ticket);
    for (const t of open) l.settle(t, 10, { outcome: 'throttled', status: 429, retryAfterMs: 2_000 });
    expect(l.concurrency).toBe(2);
    expect(l.acquire(1_000, 1)).toEqual({ ready: false, ticket: 0, waitMs: 1_010 });
    for (let i = 0; i < 40; i++) {
      const a = l.acquire(2_010 + i, 1);
      expect(a.ready).toBe(true);
      l.settle(a.ticket, 2_010 + i, { outcome: 'success' });
    }
    expect(l.concurrency).toBeGreaterThan(2);
    expect(l.concurrency).toBeLessThanOrEqual(16);
    expect(l.stats()).toMatchObject({ responses429: 3, decreases: 1, minInFlight: 2 });
    expect(thrown(() => new RateLimiter({ limits: { name: 'x' } }))).toMatchObject({ code: 'ERR_OMEGA_INVALID_ARGUMENT' });
    expect(thrown(() => new RateLimiter({ limits: { name: 'x', requestsPerMinute: 0 } }))).toMatchObject({ code: 'ERR_OMEGA_INVALID_ARGUMENT' });
  });
});

describe('the stack against a server that enforces 120 RPM with 429 + retry-after', () => {
  // One logical minute = 6 s of real time (the server, the limiter and the retry sleeps share it).
  const SCALE = 1 / 10;
  const RPM = 120;

  async function stress(rateLimited: boolean, count: number, concurrency: number, scale = SCALE) {
    const server = new RateLimitedServer({ rpm: RPM, scale, latencyMs: 1_000 });
    const baseURL = await server.start();
    try {
      const calibration = shipped();
      if (rateLimited) calibration.rate_limits = { 'gpt-4o': { requests_per_minute: RPM } };
      const provider = openaiProvider(new OpenAI({ apiKey: 'test', baseURL, maxRetries: 0 }));
      const { report } = await runStress({ provider, scorer, calibration, model: 'gpt-4o', count, concurrency, timeScale: scale, clock: () => '2023-11-14T22:13:20.000Z', names: { provider: 'local' } });
      return { report, server };
    } finally {
      await server.close();
    }
  }

  it('limited: 0 calls failed, near the limit, the rate_limit block reported (and valid)', async () => {
    // 40 runs × 3 calls = 120 calls = 1 minute at the limit.
    const { report, server } = await stress(true, 40, 8);
    expect(report.calls.failed, JSON.stringify(report.calls)).toBe(0);
    expect(report.calls.total).toBe(120);
    const rl = report.rate_limit;
    expect(rl).toBeDefined();
    const e = rl?.limits['gpt-4o'];
    expect(e).toMatchObject({ requests_per_minute: RPM });
    // Paced, not hammering: the server refused at most a few (clock jitter at the window's edge;
    // without the limiter it refuses dozens, see the control below).
    expect(server.refused).toBeLessThanOrEqual(4);
    expect(rl?.responses_429).toBe(server.refused);
    // Near the limit (the bench measures it precisely; this box may be loaded). The hard ceiling
    // — at most RPM in any sliding minute — is the server's own refusals, counted above; this
    // average over first-to-last admission overshoots a little when a loaded event loop delays
    // the first arrivals (seen: 1.04× with 8 other processes on 2 cores), hence 5 %.
    expect(server.rpmAdmitted()).toBeGreaterThanOrEqual(0.85 * RPM);
    expect(server.rpmAdmitted()).toBeLessThanOrEqual(RPM * 1.05);
    expect(e?.effective_rpm).toBeGreaterThanOrEqual(0.8 * RPM);
    expect(e?.throttled_calls).toBeGreaterThan(0);
    expect(e?.in_flight.min).toBeGreaterThanOrEqual(1);
    const validate = schemaOf('pr-report');
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('control: the same server with a fixed K of 16 and no limits answers 429s (no rate_limit block)', async () => {
    // 150 calls, 16 at once, answers in 1 s: the server's 120 a minute are gone in 7.5 s.
    const { report, server } = await stress(false, 50, 16, 1 / 20);
    expect(server.refused).toBeGreaterThan(10);
    expect(report.rate_limit).toBeUndefined();
    expect(Object.keys(report)).not.toContain('rate_limit');
  });
});

describe('RateLimitProvider', () => {
  it('a settle wakes the call waiting for a refund (a pessimistic first output estimate costs one round trip, not the debt)', async () => {
    const calibration = shipped();
    // 6 000 output tokens a minute: a bucket of 100; the first call is charged max_output_tokens
    // (4 096), a debt of ~41 s of refill — until its billed 10 tokens refund it.
    calibration.rate_limits = { m: { output_tokens_per_minute: 6_000 } };
    calibration.budget.models.m = calibration.budget.models['gpt-4o'] as CalibrationDocument['budget']['models'][string];
    const inner = {
      generate: async () => {
        await new Promise((r) => setTimeout(r, 30));
        return { text: 'ok', usage: { inputTokens: 5, outputTokens: 10 } };
      },
    };
    const p = new RateLimitProvider(inner, { calibration });
    const started = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => p.generate({ model: 'm', prompt: 'hi' })));
    expect(Date.now() - started).toBeLessThan(3_000);
    const r = p.report();
    expect(r?.limits.m).toMatchObject({ output_tokens_per_minute: 6_000, calls: 4, responses_429: 0 });
    expect(r?.throttled_calls).toBeGreaterThan(0);
    // A model without limits passes straight through and is not reported.
    await p.generate({ model: 'other', prompt: 'hi' });
    expect(Object.keys(p.report()?.limits ?? {})).toEqual(['m']);
  });
});

describe('shard merge', () => {
  it('adds up the rate_limit blocks of shards (counters, rates, limits shares); none → none', () => {
    const part = (rpm: number, throttled: number, n429: number, eff: number | null, min: number, max: number): RateLimitReport => ({
      throttled_ms: throttled,
      throttled_calls: 2,
      responses_429: n429,
      responses_529: 0,
      effective_rpm: eff,
      limits: {
        'gpt-4o': { requests_per_minute: rpm, calls: 10, throttled_ms: throttled, throttled_calls: 2, responses_429: n429, responses_529: 0, effective_rpm: eff, effective_input_tpm: null, effective_output_tpm: 5, in_flight: { min, max, final: max } },
      },
    });
    const m = mergeRateLimitReports([part(300, 100, 1, 290.5, 2, 8), undefined, part(300, 50, 0, null, 4, 6)]);
    expect(m).toEqual({
      throttled_ms: 150,
      throttled_calls: 4,
      responses_429: 1,
      responses_529: 0,
      effective_rpm: 290.5,
      limits: {
        'gpt-4o': { requests_per_minute: 600, calls: 20, throttled_ms: 150, throttled_calls: 4, responses_429: 1, responses_529: 0, effective_rpm: 290.5, effective_input_tpm: null, effective_output_tpm: 10, in_flight: { min: 2, max: 8, final: 14 } },
      },
    });
    expect(mergeRateLimitReports([undefined, undefined])).toBeUndefined();
  });
});

describe('omega-pr stress with rate_limits (the REAL CLI)', () => {
  it('prints the rate-limit line and writes the rate_limit block', () => {
    const dir = tmp();
    writeCalibration(dir, (c) => {
      c.rate_limits = { 'simulated-*': { requests_per_minute: 600, max_in_flight: 4, initial_in_flight: 2 } };
    });
    const r = omega(dir, ['stress', '--count', '6', '--calibration', 'calibration.json', '--out', 'out']);
    // The verdict of 6 simulated runs does not matter here (exit 0 PASS or 1 FAIL): the lines do.
    expect(r.code, r.stderr).toBeLessThanOrEqual(1);
    expect(r.stdout).toContain('VERDICT:');
    expect(r.stdout).toMatch(/Rate limits simulated-\* \(600 RPM\): effective [\d.]+ RPM, throttled [\d.]+ s over \d+ of 18 calls, 429 × 0, 529 × 0, in flight 2–[234]/);
    const reports = (fs.readdirSync(path.join(dir, 'out'), { recursive: true }) as string[]).filter((f) => f.endsWith('PR_REPORT.json') && !f.includes('_latest'));
    expect(reports).toHaveLength(1);
    const rep = JSON.parse(fs.readFileSync(path.join(dir, 'out', reports[0] as string), 'utf8'));
    expect(Object.keys(rep).indexOf('rate_limit')).toBe(Object.keys(rep).indexOf('calls') + 1);
    expect(rep.rate_limit.limits['simulated-*'].calls).toBe(18);
  });
});
