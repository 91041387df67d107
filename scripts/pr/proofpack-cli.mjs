#!/usr/bin/env node
// Runbook phase 6 (PR-5) and the final integration test:
//   node proofpack-cli.mjs --source ../../metrics/pr/PR_RUNS/stress100_latest \
//     --output ../../proofpacks/final --type stress100 --verdict PASS
// A thin forwarder to `omega-pr proofpack build` with the same flags, run from the directory you
// are in (the paths are yours, relative to it). A `PR_RUNS/<x>_latest` source is packed as the
// run folder it points to. `node proofpack-cli.mjs verify <dir>` forwards to `proofpack verify`.
// Exit code: the CLI's (0 built / verified, 1 FAIL, 2 usage error).
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
const args = process.argv.slice(2);
const sub = args[0] === 'verify' || args[0] === 'build' || args[0] === 'sign' ? [args.shift()] : ['build'];
const r = spawnSync(process.execPath, [cli, 'proofpack', ...sub, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
