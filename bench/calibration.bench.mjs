// A calibration parsed once (the native `Calibration` handle) vs the plain document converted and
// re-validated at each FFI call (what every call did before the handle). The "peer" is our own
// document path: the figure is what parsing once saves per call.
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';

const require = createRequire(import.meta.url);
const { Calibration, ChaosEngine, callCost, defaultCalibrationJson } = require('../native.js');

const doc = JSON.parse(defaultCalibrationJson());
const cal = Calibration.parse(doc);
const usage = { inputTokens: 1000, outputTokens: 200 };

export async function run() {
  const bench = new Bench({ time: 1000 });
  bench.add('callCost(handle)', () => callCost('claude-sonnet-4-5', usage, cal));
  bench.add('callCost(document)', () => callCost('claude-sonnet-4-5', usage, doc));
  bench.add('new ChaosEngine(handle)', () => new ChaosEngine({ profile: 'medium', seed: 1, calibration: cal }));
  bench.add('new ChaosEngine(document)', () => new ChaosEngine({ profile: 'medium', seed: 1, calibration: doc }));
  await bench.run();
  const p50 = (name) => bench.tasks.find((t) => t.name === name).result.latency.p50 * 1000; // µs
  const rows = [];
  for (const what of ['callCost', 'new ChaosEngine']) {
    const ours = p50(`${what}(handle)`);
    const peer = p50(`${what}(document)`);
    console.log(`  ${what}: handle ${ours.toFixed(1)} µs, document ${peer.toFixed(1)} µs (${(peer / ours).toFixed(1)}×)`);
    rows.push({ name: `${what}: Calibration handle`, ours, peer, peerName: 'document per call', unit: 'µs/call', ratio: peer / ours, goal: '> 1 (parse once)' });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await run());
}
