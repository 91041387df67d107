// Resume (issue 13 item 1): a 1,000-run simulated stress (`omega-pr stress`, real child
// processes) killed with SIGKILL at a random point and resumed with `--resume`, vs the same run
// uninterrupted and vs what a crash cost before the journal (start over from run 0). Figures:
// total wall time (goal ≤ 1.1× the uninterrupted run), finished runs executed twice (goal 0, from
// a call log of the provider), the runs in flight at the kill that were redone, and whether the
// resumed documents are byte-identical to the uninterrupted ones. Three trials (uninterrupted, then
// killed at a random point between 10 and 90 % of the runs and resumed), each printed; the table
// has the median (OMEGA_BENCH_RESUME_TRIALS to change the count).
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
    // Reads only what was appended since the last look (the journal grows to megabytes: rereading
    // it every few ms would steal the CPU the run under test needs).
    let fd = null;
    let offset = 0;
    let count = 0;
    let carry = '';
    const buf = Buffer.alloc(1 << 20);
    const poll = setInterval(() => {
      if (staging === null && fs.existsSync(runs)) {
        const d = fs.readdirSync(runs).find((n) => /\.cache\.partial-\d+$/.test(n));
        if (d) staging = path.join(runs, d);
      }
      if (staging === null) return;
      if (fd === null) {
        try {
          fd = fs.openSync(path.join(staging, 'journal.jsonl'), 'r');
        } catch {
          return;
        }
      }
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) break;
        offset += n;
        const text = carry + buf.toString('latin1', 0, n);
        const lines = text.split('\n');
        carry = lines.pop();
        for (const l of lines) if (l.startsWith('{"type":"run"')) count++;
      }
      if (count >= after) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 10);
    child.on('error', reject);
    child.on('close', () => {
      clearInterval(poll);
      if (fd !== null) fs.closeSync(fd);
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

/** One trial: the uninterrupted run, then the same run killed at a random point and resumed (fresh folders). */
async function trial(base, i) {
  const full = path.join(base, `full-${i}`);
  const crash = path.join(base, `crash-${i}`);
  for (const d of [full, crash]) {
    fs.mkdirSync(d);
    modules(d);
  }
  const uninterrupted = timed(full, ARGS, path.join(full, 'calls.log'));
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
  if (differing.length > 0) {
    console.log(`  differ: ${differing.join(', ')}`);
    if (process.env.OMEGA_BENCH_KEEP) fs.cpSync(base, process.env.OMEGA_BENCH_KEEP, { recursive: true });
  }
  const total = killed.s + resumed.s;
  const t = { uninterrupted: uninterrupted.s, killedAt: finished.size, killed: killed.s, resumed: resumed.s, total, ratio: total / uninterrupted.s, startOver: killed.s + uninterrupted.s, finishedTwice, inflightRedone, identical: differing.length === 0 };
  console.log(
    `  trial ${i + 1}: uninterrupted ${t.uninterrupted.toFixed(2)} s; killed after ${t.killedAt} journaled runs (${t.killed.toFixed(2)} s) + resume ${t.resumed.toFixed(2)} s = ${total.toFixed(2)} s ` +
      `(${t.ratio.toFixed(3)}×); start over ${t.startOver.toFixed(2)} s; finished runs run twice ${finishedTwice}; in flight redone ${inflightRedone}; byte-identical ${t.identical}`,
  );
  return t;
}

const TRIALS = Number(process.env.OMEGA_BENCH_RESUME_TRIALS ?? 3);

export async function run() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-resume-bench-'));
  try {
    const trials = [];
    for (let i = 0; i < TRIALS; i++) trials.push(await trial(base, i));
    // The median trial by ratio (the machine is shared: one trial can be unlucky either way).
    const m = [...trials].sort((a, b) => a.ratio - b.ratio)[Math.floor(trials.length / 2)];
    const identical = trials.every((t) => t.identical);
    return [
      {
        name: `resume: ${COUNT}-run stress killed at run ${m.killedAt}, resumed (total wall, median of ${TRIALS})`,
        ours: m.total,
        peer: m.startOver,
        peerName: 'start over',
        unit: 's (ratio = peer/ours)',
        ratio: m.startOver / m.total,
        goal: '',
      },
      {
        name: `resume: killed + resumed / uninterrupted run (median of ${TRIALS})`,
        ours: m.ratio,
        peer: m.uninterrupted,
        peerName: 'uninterrupted, s',
        unit: `× wall time (all: ${trials.map((t) => t.ratio.toFixed(2)).join(', ')})`,
        ratio: null,
        goal: '≤ 1.1×',
      },
      { name: 'resume: finished runs executed twice (all trials)', ours: trials.reduce((a, t) => a + t.finishedTwice, 0), peer: trials.reduce((a, t) => a + t.killedAt, 0), peerName: 'start over', unit: 'runs', ratio: null, goal: '0' },
      { name: 'resume: runs in flight at the kill, redone (max)', ours: Math.max(...trials.map((t) => t.inflightRedone)), peer: null, unit: `runs (≤ concurrency ${CONCURRENCY})`, ratio: null, goal: '' },
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
