// A local OpenAI-compatible endpoint (`POST /v1/chat/completions`, node:http) that enforces
// per-minute limits the way a provider does: a sliding window over the last minute of admitted
// requests and tokens (input + output); over a limit → HTTP 429 with `retry-after-ms` (the time
// until enough of the window frees) and `retry-after` (seconds), an OpenAI-style error body.
// Admitted requests answer after `latencyMs` with a usage block.
//
// Time is logical so a test or a bench can compress a minute: the server's clock is
// `performance.now() / scale` (scale = real ms per logical ms), its window `windowMs` logical ms,
// its latency and retry-after logical too (the stack under test runs with the same time scale).
// Used by tests/pr/rate-limit.test.ts and bench/rate-limit.bench.mjs.
import * as http from 'node:http';

/**
 * @typedef {object} ServerOptions
 * @property {number} [rpm] requests per window
 * @property {number} [tpm] input + output tokens per window
 * @property {number} [windowMs] window, logical ms (default 60 000)
 * @property {number} [scale] real ms per logical ms (default 1)
 * @property {number} [latencyMs] answer latency, logical ms (default 1 000)
 * @property {(i: number) => number} [outputTokens] completion tokens of the i-th admitted request (default 20)
 */

export class RateLimitedServer {
  /** @param {ServerOptions} o */
  constructor(o = {}) {
    this.rpm = o.rpm ?? Infinity;
    this.tpm = o.tpm ?? Infinity;
    this.windowMs = o.windowMs ?? 60_000;
    this.scale = o.scale ?? 1;
    this.latencyMs = o.latencyMs ?? 1_000;
    this.outputTokens = o.outputTokens ?? (() => 20);
    this.origin = performance.now();
    /** @type {{ t: number, tokens: number }[]} admitted requests in the window, oldest first */
    this.log = [];
    /** @type {{ t: number, tokens: number }[]} every admitted request */
    this.history = [];
    this.admitted = 0;
    this.refused = 0;
    this.tokens = 0;
    this.firstAt = null;
    this.lastAt = null;
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  now() {
    return (performance.now() - this.origin) / this.scale;
  }

  /** @returns {Promise<string>} the base URL (`http://127.0.0.1:<port>/v1`) */
  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${this.server.address().port}/v1`;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Requests admitted per logical minute, first to last admission. */
  rpmAdmitted() {
    if (this.firstAt === null || this.lastAt === null || this.lastAt <= this.firstAt) return 0;
    return ((this.admitted - 1) * 60_000) / (this.lastAt - this.firstAt);
  }

  /** Requests and tokens admitted in [from, to) (logical ms). */
  between(from, to) {
    const hits = this.history.filter((e) => e.t >= from && e.t < to);
    return { requests: hits.length, tokens: hits.reduce((a, e) => a + e.tokens, 0) };
  }

  handle(req, res) {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const t = this.now();
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error' } }));
        return;
      }
      const text = (parsed.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
      const input = Math.max(1, Math.ceil(Buffer.byteLength(text, 'utf8') / 4));
      const output = this.outputTokens(this.admitted);
      // Sliding window (t − W, t].
      while (this.log.length > 0 && this.log[0].t <= t - this.windowMs) this.log.shift();
      let n = this.log.length;
      let used = this.log.reduce((a, e) => a + e.tokens, 0);
      if (n + 1 > this.rpm || used + input + output > this.tpm) {
        // Retry after the oldest entries that must leave the window have left it.
        let k = 0;
        while (k < this.log.length && (n + 1 > this.rpm || used + input + output > this.tpm)) {
          n--;
          used -= this.log[k].tokens;
          k++;
        }
        const entry = this.log[Math.max(0, k - 1)];
        const wait = Math.max(1, Math.ceil((entry ? entry.t + this.windowMs : t + this.windowMs) - t));
        this.refused++;
        const payload = JSON.stringify({ error: { message: `Rate limit reached: ${this.rpm} RPM / ${this.tpm} TPM`, type: 'requests', code: 'rate_limit_exceeded' } });
        res.writeHead(429, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'retry-after-ms': String(wait),
          'retry-after': String(Math.ceil(wait / 1000)),
        });
        res.end(payload);
        return;
      }
      this.log.push({ t, tokens: input + output });
      this.history.push({ t, tokens: input + output });
      this.admitted++;
      this.tokens += input + output;
      this.firstAt ??= t;
      this.lastAt = t;
      const reply = JSON.stringify({
        id: `chatcmpl-${this.admitted}`,
        object: 'chat.completion',
        created: 1700000000,
        model: parsed.model ?? 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: `answer ${this.admitted}` }, finish_reason: 'stop' }],
        usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
      });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
        res.end(reply);
      }, this.latencyMs * this.scale);
    });
  }
}
