// Resume (issue 13 item 1): a 1,000-run simulated stress (`omega-pr stress`, real child
// processes) killed with SIGKILL at a random point and resumed with `--resume`, vs the same run
// uninterrupted and vs what a crash cost before the journal (start over from run 0). Figures:
// total wall time (goal ≤ 1.1× the uninterrupted run), finished runs executed twice (goal 0, from
// a call log of the provider), the runs in flight at the kill that were redone, and whether the
// resumed documents are byte-identical to the uninterrupted ones. The uninterrupted run is timed
// twice and the faster kept; the kill point is random (10–90 % of the runs), printed.
//
// The provider is the simulated one (seeded, ~1.5 s of simulated latency per call at time scale
// 0.004: ~6 ms real), subclassed in a module that logs each call index; the simulated scorer judges.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const BIN = path.join(ROOT, 'bin', 'omega-pr.js');
const COUNT = 1000;
const CONCURRENCY = 8;
const TIME_SCALE = '0.004';

function modules(dir) {
  const dist = JSON.stringify(path.join(ROOT, 'dist', 'index.js'));
  // The shipped calibration with room for 1,000 runs ($20 caps ~400 of them: which calls a cap
  // refuses depends on timing, and the runs would not be comparable).
  const cal = JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8'));
  cal.budget.max_per_run_usd = 1000;
  fs.writeFileSync(path.join(dir, 'calibration.json'), JSON.stringify(cal, null, 2));
  // A subclass of the simulated provider (so the run is treated as simulated: provider latency
  // only, byte-identical reports) that logs each call index it serves.
  fs.writeFileSync(
    path.join(dir, 'logged-sim.mjs'),
    `import { createRequire } from 'node:module';
import * as fs from 'node:fs';
const { SimulatedProvider } = createRequire(import.meta.url)(${dist});
class LoggedSimulatedProvider extends SimulatedProvider {
  async generate(request, options) {
    const log = process.env.OMEGA_BENCH_CALL_LOG;
    if (log) fs.appendFileSync(log, request.callIndex + '\\n');
    return super.generate(request, options);
  }
}
export default function createProvider(ctx) {
  return new LoggedSimulatedProvider({ seed: ctx.seed, timeScale: ${TIME_SCALE} });
}
`,
  );
}

const ARGS = ['stress', '--count', String(COUNT), '--concurrency', String(CONCURRENCY), '--chaos', 'light', '--seed', '5', '--provider', 'logged-sim.mjs', '--scenes', '3', '--calibration', 'calibration.json'];
const env = (log) => ({ ...process.env, SOURCE_DATE_EPOCH: '1700000000', FORCE_COLOR: '0', NO_COLOR: '1', OMEGA_BENCH_CALL_LOG: log });

function timed(cwd, args, log) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: env(log), encoding: 'utf8', maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && r.status !== 1) throw new Error(`omega-pr ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = /Report: (.*)\/PR_REPORT\.json/.exec(r.stdout);
  return { s, dir: m ? path.resolve(cwd, m[1]) : null };
}

/** Runs until the journal holds `after` runs, then SIGKILL; resolves with the wall time and the staging folder. */
function killAfter(cwd, after, log) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...ARGS], { cwd, env: env(log), stdio: 'ignore' });
    const runs = path.join(cwd, 'metrics', 'pr', 'PR_RUNS');
    let staging = null;
    const poll = setInterval(() => {
      if (staging === null && fs.existsSync(runs)) {
        const d = fs.readdirSync(runs).find((n) => /\.cache\.partial-\d+$/.test(n));
        if (d) staging = path.join(runs, d);
      }
      if (staging === null) return;
      const j = path.join(staging, 'journal.jsonl');
      if (!fs.existsSync(j)) return;
      const n = (fs.readFileSync(j, 'utf8').match(/^\{"type":"run"/gm) ?? []).length;
      if (n >= after) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 2);
    child.on('error', reject);
    child.on('close', () => {
      clearInterval(poll);
      resolve({ s: Number(process.hrtime.bigint() - t) / 1e9, staging });
    });
  });
}

function callsPerRun(log) {
  const per = new Map();
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    if (line === '') continue;
    const run = Math.floor(Number(line) / 3);
    per.set(run, (per.get(run) ?? 0) + 1);
  }
  return per;
}

export async function run() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-resume-bench-'));
  try {
    const full = path.join(base, 'full');
    const crash = path.join(base, 'crash');
    for (const d of [full, crash]) {
      fs.mkdirSync(d);
      modules(d);
    }
    // The uninterrupted run twice, the faster one kept (conservative on a shared machine).
    const first = timed(full, ARGS, path.join(full, 'calls.log'));
    const second = timed(full, ARGS, path.join(full, 'calls.log'));
    const uninterrupted = first.s <= second.s ? first : second;
    // A random point between 10 % and 90 % of the runs.
    const killAt = Math.floor(COUNT * (0.1 + 0.8 * Math.random()));
    const log = path.join(crash, 'calls.log');
    const killed = await killAfter(crash, killAt, log);
    const journal = path.join(killed.staging, 'journal.jsonl');
    const finished = new Set(
      fs
        .readFileSync(journal, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"type":"run"'))
        .map((l) => JSON.parse(l).run_index),
    );
    const before = callsPerRun(log);
    const resumed = timed(crash, [...ARGS, '--resume', path.relative(crash, killed.staging)], log);
    const after = callsPerRun(log);
    // Calls logged in the resumed process per run = after − before.
    let finishedTwice = 0;
    let inflightRedone = 0;
    for (const [r, n] of after) {
      const again = n - (before.get(r) ?? 0);
      if (again > 0 && finished.has(r)) finishedTwice++;
      if (again > 0 && !finished.has(r) && (before.get(r) ?? 0) > 0) inflightRedone++;
    }
    const differing = ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json'].filter(
      (f) => fs.readFileSync(path.join(uninterrupted.dir, f), 'utf8') !== fs.readFileSync(path.join(resumed.dir, f), 'utf8'),
    );
    const identical = differing.length === 0;
    if (!identical) {
      console.log(`  differ: ${differing.join(', ')}`);
      if (process.env.OMEGA_BENCH_KEEP) fs.cpSync(base, process.env.OMEGA_BENCH_KEEP, { recursive: true });
    }
    const total = killed.s + resumed.s;
    const startOver = killed.s + uninterrupted.s;
    console.log(
      `  uninterrupted ${uninterrupted.s.toFixed(2)} s; killed after ${finished.size} journaled runs (${killed.s.toFixed(2)} s) + resume ${resumed.s.toFixed(2)} s = ${total.toFixed(2)} s ` +
        `(${(total / uninterrupted.s).toFixed(3)}×); start over would be ${startOver.toFixed(2)} s; documents byte-identical: ${identical}`,
    );
    return [
      {
        name: `resume: ${COUNT}-run stress killed at run ${finished.size}, resumed (total wall)`,
        ours: total,
        peer: startOver,
        peerName: 'start over',
        unit: 's (ratio = peer/ours)',
        ratio: startOver / total,
        goal: '',
      },
      {
        name: 'resume: killed + resumed / uninterrupted run',
        ours: total / uninterrupted.s,
        peer: uninterrupted.s,
        peerName: 'uninterrupted, s',
        unit: '× wall time',
        ratio: null,
        goal: '≤ 1.1×',
      },
      { name: 'resume: finished runs executed twice', ours: finishedTwice, peer: finished.size, peerName: 'start over', unit: 'runs', ratio: null, goal: '0' },
      { name: 'resume: runs in flight at the kill, redone', ours: inflightRedone, peer: null, unit: `runs (≤ concurrency ${CONCURRENCY})`, ratio: null, goal: '' },
      { name: 'resume: documents byte-identical to uninterrupted', ours: identical ? 'yes' : 'NO', peer: null, unit: '', ratio: null, goal: 'yes' },
    ];
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await run();
  console.table(rows.map((r) => ({ benchmark: r.name, 'omega-pr': r.ours, peer: r.peer, unit: r.unit, ratio: typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}×` : '—', goal: r.goal })));
}
