#!/usr/bin/env bash
# Runbook phase 2 (PR-1, gate PR-G1): `bash concurrency10.sh` from scripts/pr/.
# A thin forwarder to the CLI: `omega-pr concurrency --workers 10` with the metrics written to the
# project's metrics/pr/ (PR_RUNS/concurrency10_<ts>/concurrency10-report.json, and the
# PR_RUNS/concurrency10_latest link). Extra arguments are passed through (e.g. --updates 20).
# Exit code: the CLI's (0 PASS, 1 FAIL — an NCR is written under nexus/proof/ —, 2 usage error).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# The CLI: this repository's bin/, or the omega-pr package installed in the project.
cli="$root/bin/omega-pr.js"
[ -f "$cli" ] || cli="$root/node_modules/omega-pr/bin/omega-pr.js"
if [ ! -f "$cli" ]; then
  echo "omega-pr: ERR_OMEGA_IO: no omega-pr CLI under $root (bin/omega-pr.js or node_modules/omega-pr): npm install omega-pr" >&2
  exit 2
fi
exec node "$cli" concurrency --workers 10 --out metrics/pr "$@"
