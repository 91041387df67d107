// Runbook phase 5 as the runbook spells it: `node stress100.ts --count=50`.
// Plain `node` runs a .ts file only when it strips TypeScript types: Node >= 23.6 by default
// (22.6 - 23.5 need `--experimental-strip-types`). On older Node use `node stress100.mjs`, the
// same forwarder (this file only loads it, so both behave identically).
import './stress100.mjs';
