// Chaos decisions: 10 M seeded "inject or not" decisions (medium, 15 %), omega-pr's batch API
// (ChaCha8 in Rust, typed arrays back through N-API) vs seedrandom's default ARC4 generator and
// its fast alea generator doing `rng() < 0.15` in a JS loop. omega-pr also draws the failure type
// and its parameter for each injected call; the peers draw only the coin.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ChaosEngine } = require('../native.js');
const seedrandom = require('seedrandom');

const N = 10_000_000;
const REPS = 5;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn) {
  const samples = [];
  let out;
  for (let i = 0; i < REPS; i++) {
    const t = process.hrtime.bigint();
    out = fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { ms: median(samples), out };
}

export async function run() {
  const engine = new ChaosEngine({ profile: 'medium', seed: 42 });
  const ours = time(() => {
    const b = engine.decideBatch(0, N);
    let n = 0;
    for (let i = 0; i < b.injected.length; i++) n += b.injected[i];
    return n;
  });
  const coin = (rng) => () => {
    let n = 0;
    for (let i = 0; i < N; i++) if (rng() < 0.15) n++;
    return n;
  };
  const arc4 = time(coin(seedrandom('42')));
  const alea = time(coin(seedrandom.alea('42')));
  const rate = (ms) => N / (ms / 1000);
  console.log(`  omega-pr batch: ${ours.ms.toFixed(0)} ms (${ours.out} injected), seedrandom ARC4: ${arc4.ms.toFixed(0)} ms, alea: ${alea.ms.toFixed(0)} ms`);
  return [
    { name: 'chaos decisions, 10 M (vs seedrandom ARC4 default)', ours: rate(ours.ms), peer: rate(arc4.ms), peerName: 'seedrandom', unit: 'decisions/s', ratio: arc4.ms / ours.ms, goal: '≥ 1×' },
    { name: 'chaos decisions, 10 M (vs seedrandom alea)', ours: rate(ours.ms), peer: rate(alea.ms), peerName: 'seedrandom.alea', unit: 'decisions/s', ratio: alea.ms / ours.ms, goal: 'figure' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await run());
}
