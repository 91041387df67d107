#!/usr/bin/env bash
# Regenerates what derives from the core's report structs: the JSON Schemas the core owns
# (schemas/<name>.schema.json, from `omega_pr_core::schema` with the `schema` feature) and the
# TS types generated from them (report-types.generated.d.ts). Run after changing a report struct
# (or merging a change to one) and commit the result; CI runs it and fails on a diff.
# `--check`: regenerate, then fail if anything differs from the committed files.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo run --quiet -p omega-pr-core --features schema --example gen-schemas -- schemas
node scripts/gen-report-types.mjs

if [ "${1:-}" = "--check" ]; then
  # Untracked files count too (a schema the core owns now but nobody committed).
  if [ -n "$(git status --porcelain -- schemas/ report-types.generated.d.ts)" ]; then
    git status --short -- schemas/ report-types.generated.d.ts >&2
    git diff -- schemas/ report-types.generated.d.ts >&2
    echo "schemas/ or report-types.generated.d.ts differ from the core's structs: run 'bash scripts/gen-schemas.sh' and commit them" >&2
    exit 1
  fi
fi
