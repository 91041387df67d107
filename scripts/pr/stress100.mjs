#!/usr/bin/env node
// Runbook phase 5 (PR-4, gate PR-G4): `node stress100.mjs` or `node stress100.mjs --count=50`
// from scripts/pr/ (any Node the package supports, >= 20).
// A thin forwarder to the CLI: `omega-pr stress [--count=N] [...]`, run from the project root so
// the run lands in metrics/pr/PR_RUNS/stress<N>_<ts>/PR_REPORT.json and
// metrics/pr/PR_RUNS/stress<N>_latest points at it. Without --count the calibration's
// STRESS_COUNT is used. Every argument is passed through (commander accepts `--count=50` and
// `--count 50`). Exit code: the CLI's (0 PASS, 1 FAIL + NCR under nexus/proof/, 2 usage error).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// The project root is two levels up (scripts/pr/). The CLI: this repository's bin/, or the
// omega-pr package installed in the project (scripts/pr/ copied into your own project).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = [path.join(root, 'bin', 'omega-pr.js'), path.join(root, 'node_modules', 'omega-pr', 'bin', 'omega-pr.js')].find((p) => fs.existsSync(p));
if (cli === undefined) {
  process.stderr.write(`omega-pr: ERR_OMEGA_IO: no omega-pr CLI under ${root} (bin/omega-pr.js or node_modules/omega-pr): npm install omega-pr\n`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [cli, 'stress', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
