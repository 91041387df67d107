/**
 * A local `node:http` server that speaks the providers' wire formats from a script: each request
 * takes the next step (a JSON answer with a status and headers, an SSE stream — optionally cut
 * by destroying the socket after N events — or a stall). Requests are recorded.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Step =
  | { status?: number; headers?: Record<string, string>; json: unknown }
  | { sse: Array<{ event?: string; data: unknown }>; resetAfter?: number; headers?: Record<string, string> }
  | { stall: true };

export interface Recorded {
  method: string;
  url: string;
  body: any;
}

export class WireServer {
  readonly requests: Recorded[] = [];
  private readonly steps: Step[] = [];
  private fallback: ((req: Recorded) => Step) | undefined;
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();

  constructor() {
    this.server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString('utf8')));
      req.on('end', () => {
        const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', body: data === '' ? null : JSON.parse(data) };
        this.requests.push(rec);
        const step = this.steps.shift() ?? this.fallback?.(rec) ?? { status: 500, json: { error: { message: 'script exhausted' } } };
        this.answer(step, req, res);
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  private answer(step: Step, req: http.IncomingMessage, res: http.ServerResponse): void {
    if ('stall' in step) return;
    if ('json' in step) {
      const body = JSON.stringify(step.json);
      res.writeHead(step.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(step.headers ?? {}) });
      res.end(body);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...(step.headers ?? {}) });
    let i = 0;
    for (const ev of step.sse) {
      if (step.resetAfter !== undefined && i >= step.resetAfter) {
        // Cut the connection mid-stream, as a reset would.
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
      res.write(`${ev.event ? `event: ${ev.event}\n` : ''}data: ${data}\n\n`);
      i++;
    }
    res.end();
  }

  /** Queues steps (answered in order). */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  /** What to answer once the script is used up. */
  otherwise(fn: (req: Recorded) => Step): this {
    this.fallback = fn;
    return this;
  }

  reset(): void {
    this.steps.length = 0;
    this.requests.length = 0;
    this.fallback = undefined;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
