// `omega-pr proofpack replay` (issue 15) next to `omega-pr proofpack verify` of the same pack:
// what it costs an auditor to check that the recorded verdict follows from the recorded outputs,
// against the integrity check alone. Simulated stress packs of 100 and 1,000 runs (medium chaos,
// SOURCE_DATE_EPOCH fixed): within budget, re-run whole from the seed; a 1,000-run pack over the
// shipped run cap, re-scored from its journal (the path of every real provider). Both commands through the real bin (a fresh Node process each, as an
// auditor runs them); median of 3 after a warm run. ratio = verify / replay (how many times
// slower replay is: < 1). Runnable standalone: `node bench/replay.bench.mjs`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'omega-pr.js');
const ENV = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', FORCE_COLOR: '0', NO_COLOR: '1' };

function omega(cwd, args, ok = [0, 1]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: ENV, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (!ok.includes(r.status)) throw new Error(`omega-pr ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn, runs = 3) {
  fn();
  const t = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

export async function run() {
  const rows = [];
  // [runs, how]: re-run whole from the seed (a run cap they fit in), or re-scored from the journal
  // (the shipped cap: 1,000 runs go over budget, and which calls the cap refused depends on the
  // order they were made — the path every pack of a real provider takes).
  for (const [count, rerun] of [[100, true], [1000, true], [1000, false]]) {
    const dir = mkdtempSync(join(os.tmpdir(), 'omega-bench-replay-'));
    try {
      // A run cap the 1,000 runs fit in: within budget, a simulated pack is re-run whole from the
      // seed (over budget it is re-scored from the journal, much faster: not what is measured here).
      const cal = JSON.parse(readFileSync(join(here, '..', 'budgets', 'calibration.json'), 'utf8'));
      if (rerun) cal.budget.max_per_run_usd = 1000;
      writeFileSync(join(dir, 'calibration.json'), JSON.stringify(cal, null, 2));
      omega(dir, ['stress', '--count', String(count), '--chaos', 'medium', '--calibration', 'calibration.json']);
      const runs = join(dir, 'metrics', 'pr', 'PR_RUNS');
      const name = readdirSync(runs).find((n) => n.startsWith('stress') && !n.endsWith('_latest'));
      omega(dir, ['proofpack', 'build', '--source', join('metrics', 'pr', 'PR_RUNS', name), '--output', 'pack', '--type', `stress${count}`, '--verdict', 'PASS'], [0]);
      const tReplay = time(() => omega(dir, ['proofpack', 'replay', 'pack'], [0]));
      const tVerify = time(() => omega(dir, ['proofpack', 'verify', 'pack', '--allow-fail-verdict'], [0]));
      rows.push({
        name: `proofpack replay, simulated ${count}-run pack (medium chaos, ${rerun ? 're-run from the seed' : 'over budget: re-scored from journal.jsonl'}) vs proofpack verify of it`,
        ours: tReplay,
        peer: tVerify,
        peerName: 'proofpack verify',
        unit: 'ms',
        ratio: tVerify / tReplay,
        goal: 'report',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  console.table(rows.map((r) => ({ ...r, ours: r.ours.toFixed(0), peer: r.peer.toFixed(0), ratio: `${r.ratio.toFixed(2)}×` })));
}
