#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.mjs in one process run, each measuring omega-pr next
// to its peer on the same machine, and prints one table of figures and ratios (ours / peer,
// higher is better for us). `npm run bench -- cache` runs only the files whose name matches.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => !filter || f.includes(filter))
  .sort();

console.log(`omega-pr benchmarks — ${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, node ${process.version}`);
const rows = [];
for (const file of files) {
  console.log(`\n▶ ${file}`);
  const mod = await import(pathToFileURL(join(here, file)).href);
  const started = Date.now();
  const got = await mod.run();
  console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  rows.push(...got);
}

const fmt = (n) =>
  typeof n !== 'number' ? String(n ?? '—') : n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(3);
const table = rows.map((r) => ({
  benchmark: r.name,
  'omega-pr': fmt(r.ours),
  peer: r.peerName ? `${fmt(r.peer)} (${r.peerName})` : fmt(r.peer),
  unit: r.unit,
  ratio: typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}×` : '—',
  goal: r.goal ?? '',
}));
console.log('\n=== SUMMARY (ratio = omega-pr vs peer, >1 means omega-pr is better) ===');
// Aligned, ≤ 100 columns, no `(index)` column: the CLI's table (needs `npm run build:ts`).
const { renderObjects } = createRequire(import.meta.url)('../dist/cli/table.js');
console.log(renderObjects(table));
