// Atomic cache under contention, real OS processes on both sides: omega-pr `AtomicCache` (the
// `omega-pr concurrency` worker, dist/cli/concurrency-worker.js) vs `proper-lockfile` +
// `write-file-atomic` (this file run as a worker: `--peer-worker`), on 10 × 100 and 50 × 20,
// durability "full" (ours: fsync temp file + directory; peer: write-file-atomic's fsync of the
// temp file) and "none". Every worker starts writing at the same moment (ready/go over
// stdin), so process start-up is not measured. Figures: updates/s, p99 lock wait, lost updates,
// residual files. Needs `npm run build:native` and `npm run build:ts` (dist/).
//
// Standalone: `node bench/cache.bench.mjs`.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const SELF = fileURLToPath(import.meta.url);

/** The peer's retries, tuned as the issue says (with its defaults > 93 % of updates fail). */
const PEER_RETRIES = { retries: 1000, factor: 1.2, minTimeout: 1, maxTimeout: 25, randomize: true };

// ---------------------------------------------------------------------------------------------
// Peer worker: same protocol as dist/cli/concurrency-worker.js (`ready`, wait for a stdin line,
// one JSON summary line at the end).
async function peerWorker(argv) {
  const arg = (k, d) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : d;
  };
  const cache = arg('--cache');
  const worker = Number(arg('--worker', '0'));
  const updates = Number(arg('--updates', '100'));
  const durability = arg('--durability', 'full');
  const lockfile = require('proper-lockfile');
  const writeFileAtomic = require('write-file-atomic');
  const say = (line) => fs.writeSync(1, line + '\n');
  say('ready');
  await new Promise((resolve) => {
    process.stdin.once('data', resolve);
    process.stdin.once('end', resolve);
  });
  process.stdin.pause();
  const written = [];
  const errors = [];
  const waits = [];
  let failures = 0;
  const start = performance.timeOrigin + performance.now();
  for (let i = 0; i < updates; i++) {
    const key = `w${worker}-${i}`;
    try {
      const t = performance.now();
      const release = await lockfile.lock(cache, { realpath: false, retries: PEER_RETRIES });
      waits.push(performance.now() - t);
      try {
        let data = {};
        try {
          data = JSON.parse(fs.readFileSync(cache, 'utf8'));
        } catch (e) {
          if (e.code !== 'ENOENT') throw e;
        }
        data[key] = { w: worker, i };
        await writeFileAtomic(cache, JSON.stringify(data) + '\n', { fsync: durability === 'full' });
      } finally {
        await release();
      }
      written.push(key);
    } catch (e) {
      failures++;
      if (errors.length < 5) errors.push(`${e.code ?? 'ERR'}: ${e.message}`);
    }
  }
  const end = performance.timeOrigin + performance.now();
  say(JSON.stringify({ summary: { worker, written, failures, errors, lock_waits_ms: waits, start_ms: start, end_ms: end } }));
  process.exitCode = failures === 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
/** Files left beside the cache (lock files/dirs, temp files of any naming). */
function leftovers(dir) {
  return fs.readdirSync(dir).filter((f) => f !== 'cache.json').length;
}

/** fsync cost on this disk: small write + fsync + rename (+ directory fsync), ms per update. */
function fsyncCost(dir, n = 200) {
  const file = path.join(dir, 'probe.json');
  const body = JSON.stringify({ x: 'y'.repeat(20_000) });
  const run = (mode) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const tmp = `${file}.${i}.tmp`;
      const fd = fs.openSync(tmp, 'wx');
      fs.writeSync(fd, body);
      if (mode !== 'none') fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, file);
      if (mode === 'file+dir') {
        const d = fs.openSync(dir, 'r');
        fs.fsyncSync(d);
        fs.closeSync(d);
      }
    }
    return (performance.now() - t) / n;
  };
  const out = { none: run('none'), file: run('file'), fileDir: run('file+dir') };
  fs.rmSync(file, { force: true });
  return out;
}

export async function run() {
  const distWorker = path.join(ROOT, 'dist', 'cli', 'concurrency-worker.js');
  if (!fs.existsSync(distWorker)) throw new Error('dist/ is missing: run `npm run build:ts` first');
  const { runConcurrency } = require(path.join(ROOT, 'dist', 'cli', 'commands', 'concurrency.js'));
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-cache-bench-'));
  const rows = [];
  try {
    const cost = fsyncCost(base);
    console.log(
      `  disk: write+rename ${cost.none.toFixed(3)} ms, + fsync file ${cost.file.toFixed(3)} ms, + fsync dir ${cost.fileDir.toFixed(3)} ms per update`,
    );
    let k = 0;
    for (const durability of ['full', 'none']) {
      for (const [workers, updates] of [
        [10, 100],
        [50, 20],
      ]) {
        const res = {};
        for (const side of ['ours', 'peer']) {
          const dir = path.join(base, `r${k++}`);
          const r = await runConcurrency({
            workers,
            updates,
            durability,
            dir,
            workerScript: side === 'ours' ? distWorker : SELF,
          });
          r.leftovers = leftovers(dir);
          res[side] = r;
          console.log(
            `  ${side === 'ours' ? 'omega-pr' : 'peer    '} ${workers}×${updates} ${durability}: ${r.updates_per_sec} updates/s, ` +
              `p50/p99 lock wait ${r.lock_wait_ms.p50}/${r.lock_wait_ms.p99} ms, lost ${r.lost_updates}, ` +
              `failed updates ${workers * updates - r.total_updates}, leftover files ${r.leftovers}`,
          );
          for (const e of r.worker_errors.slice(0, 3)) console.log(`    ${e}`);
        }
        const { ours, peer } = res;
        const tag = `cache ${workers}×${updates} ${durability}`;
        const goal = durability === 'none' ? '≥ 10×' : workers === 10 ? '≥ 2×' : '≥ 3×';
        rows.push({
          name: `${tag}: updates/s`,
          ours: ours.updates_per_sec,
          peer: peer.updates_per_sec,
          peerName: 'proper-lockfile+write-file-atomic',
          unit: 'updates/s',
          ratio: peer.updates_per_sec > 0 ? ours.updates_per_sec / peer.updates_per_sec : null,
          goal,
        });
        rows.push({
          name: `${tag}: p99 lock wait`,
          ours: ours.lock_wait_ms.p99,
          peer: peer.lock_wait_ms.p99,
          unit: 'ms (ratio = peer/ours)',
          ratio: ours.lock_wait_ms.p99 > 0 ? peer.lock_wait_ms.p99 / ours.lock_wait_ms.p99 : null,
          goal: '≥ 4× (≤ ¼ of peer)',
        });
        rows.push({
          name: `${tag}: lost + failed updates`,
          ours: ours.lost_updates + (workers * updates - ours.total_updates),
          peer: peer.lost_updates + (workers * updates - peer.total_updates),
          unit: 'updates',
          ratio: null,
          goal: '0',
        });
        rows.push({
          name: `${tag}: residual files`,
          ours: ours.leftovers,
          peer: peer.leftovers,
          unit: 'files',
          ratio: null,
          goal: '0',
        });
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv.includes('--peer-worker') || process.argv.includes('--cache')) {
  await peerWorker(process.argv.slice(2));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await run();
  console.table(
    rows.map((r) => ({
      benchmark: r.name,
      'omega-pr': r.ours,
      peer: r.peer,
      unit: r.unit,
      ratio: typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}×` : '—',
      goal: r.goal,
    })),
  );
}
