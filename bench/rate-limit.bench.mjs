// Rate limits (issue 13): a local OpenAI-compatible server (node:http) enforces 600 RPM and
// 60 k TPM (input + output tokens) over a sliding minute, answering 429 + retry-after over
// either. Three contenders drive it through the real stack (`runStress`, the official `openai`
// SDK through `omega-pr/openai`, retries honouring retry-after): omega-pr with calibration
// `rate_limits` (token buckets + AIMD window of runs in flight) vs today's fixed concurrency
// K = 8 and K = 64 (no limiter). Answers take 2 s, completions 50–150 tokens (TPM binds at
// ~545 requests/min). Time is compressed 6×: one minute of the server, the limiter and the
// retry sleeps is 10 s of wall time; each contender runs 90 s (15 s of wall time) and the
// throughput is what the server admitted in the minute [30 s, 90 s) (the server never admits
// more than the limit in a minute, so 100 % is the ceiling), as % of the binding limit
// (max of requests/600 and tokens/60 000). "Failed" = calls that gave up on ERR_OMEGA_RATE_LIMIT.
// Goal (issue 13): ≥ 90 % of the limit and 0 calls failed, vs K = 8 and K = 64.
//
// Standalone: `node bench/rate-limit.bench.mjs`. Needs `npm run build:native` and `npm run build:ts`.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RateLimitedServer } from '../tests/pr/helpers/rate-limited-server.mjs';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const OpenAI = require('openai').default ?? require('openai');
const { openaiProvider } = require('../dist/adapters/openai.js');
const { runStress } = require('../dist/index.js');

const SCALE = 1 / 6; // real ms per logical ms
const RPM = 600;
const TPM = 60_000;
const RUN_MS = 90_000; // logical
const MEASURE = [30_000, 90_000];
const LATENCY_MS = 2_000;

async function contender(label, { rateLimited, concurrency }) {
  // Completions 50–150 tokens, a fixed sequence (the same for every contender).
  const server = new RateLimitedServer({ rpm: RPM, tpm: TPM, scale: SCALE, latencyMs: LATENCY_MS, outputTokens: (i) => 50 + ((i * 37) % 101) });
  const baseURL = await server.start();
  const calibration = JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8'));
  if (rateLimited) calibration.rate_limits = { 'gpt-4o': { requests_per_minute: RPM, tokens_per_minute: TPM } };
  const provider = openaiProvider(new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0 }));
  const scorer = { name: 'accept', score: () => ({ hardScore: 1, softScore: 1, hardPass: true, softPass: true }) };
  const controller = new AbortController();
  const t0 = server.now();
  const timer = setTimeout(() => controller.abort(), RUN_MS * SCALE);
  let outcome;
  let report;
  try {
    ({ outcome, report } = await runStress({ provider, scorer, calibration, model: 'gpt-4o', count: 100_000, concurrency, timeScale: SCALE, signal: controller.signal, names: { provider: 'local' } }));
  } catch (err) {
    if (err?.outcome === undefined) throw err;
    outcome = err.outcome;
  } finally {
    clearTimeout(timer);
    await server.close();
  }
  const w = server.between(t0 + MEASURE[0], t0 + MEASURE[1]);
  const minutes = (MEASURE[1] - MEASURE[0]) / 60_000;
  const share = Math.max(w.requests / (RPM * minutes), w.tokens / (TPM * minutes));
  const failed = outcome.calls.by_error.ERR_OMEGA_RATE_LIMIT ?? 0;
  const rl = outcome.rateLimit?.limits?.['gpt-4o'];
  console.log(
    `  ${label}: ${w.requests} requests, ${w.tokens} tokens in the measured minute = ${(share * 100).toFixed(1)} % of the limit; ` +
      `${outcome.calls.total} calls, ${outcome.calls.failed} failed (${failed} on rate limiting), server 429s: ${server.refused}` +
      (rl ? `; limiter: in flight ${rl.in_flight.min}–${rl.in_flight.max}, 429 × ${rl.responses_429}, effective ${rl.effective_rpm} RPM` : ''),
  );
  void report;
  return { share, failed, refused: server.refused, calls: outcome.calls.total };
}

export async function run() {
  const ours = await contender('omega-pr rate_limits', { rateLimited: true, concurrency: 8 });
  const k8 = await contender('fixed K = 8', { rateLimited: false, concurrency: 8 });
  const k64 = await contender('fixed K = 64', { rateLimited: false, concurrency: 64 });
  const pct = (x) => x * 100;
  return [
    { name: 'rate limit 600 RPM / 60k TPM: throughput (vs K = 8)', ours: pct(ours.share), peer: pct(k8.share), peerName: 'K=8', unit: '% of limit', ratio: ours.share / k8.share, goal: '≥ 90 %' },
    { name: 'rate limit: throughput (vs K = 64)', ours: pct(ours.share), peer: pct(k64.share), peerName: 'K=64', unit: '% of limit', ratio: ours.share / k64.share, goal: '≥ 90 %' },
    { name: 'rate limit: calls failed on 429 (vs K = 8)', ours: ours.failed, peer: k8.failed, peerName: 'K=8', unit: 'calls', ratio: undefined, goal: '0' },
    { name: 'rate limit: calls failed on 429 (vs K = 64)', ours: ours.failed, peer: k64.failed, peerName: 'K=64', unit: 'calls', ratio: undefined, goal: '0' },
    { name: 'rate limit: 429 answers (vs K = 64)', ours: ours.refused, peer: k64.refused, peerName: 'K=64', unit: 'answers', ratio: undefined, goal: 'figure' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await run());
}
