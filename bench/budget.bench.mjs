// reserve + settle through N-API: how many budgeted calls per second the tracker accounts.
// No npm peer does reserve/settle accounting, so this is a figure, not a ratio: it shows the
// N-API crossing cost is negligible next to an LLM call (~1 s).
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';

const require = createRequire(import.meta.url);
const { BudgetTracker } = require('../native.js');

const N = 10_000;

function ours() {
  const t = new BudgetTracker();
  for (let i = 0; i < N; i++) {
    const r = t.reserve({ callId: 'c', model: 'gpt-4o', inputTokens: 100, maxOutputTokens: 50 });
    t.settle(r.id, { inputTokens: 100, outputTokens: 20 });
  }
  return t.finalize();
}

export async function run() {
  const bench = new Bench({ time: 1500 });
  bench.add('omega-pr reserve+settle', ours);
  await bench.run();
  const perSec = (N * 1000) / bench.tasks[0].result.latency.p50;
  console.log(`  omega-pr: ${(perSec / 1e6).toFixed(2)} M reserve+settle pairs/s`);
  return [{ name: 'budget reserve+settle', ours: perSec, peer: null, unit: 'pairs/s', ratio: null, goal: 'figure (no peer)' }];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await run());
}
