// Runbook phase 6 as the runbook spells it: `node proofpack-cli.ts --source … --output … --type … --verdict …`.
// Plain `node` runs a .ts file only when it strips TypeScript types: Node >= 23.6 by default
// (22.6 - 23.5 need `--experimental-strip-types`). On older Node use `node proofpack-cli.mjs`,
// the same forwarder (this file only loads it).
import './proofpack-cli.mjs';
