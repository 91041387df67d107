#!/usr/bin/env bash
# The main job: the whole PR sprint runbook on the shipped defaults, from a fresh clone.
# Installs what the machine lacks, builds the addon, the wasm verifier and the CLI, then runs
# `omega-pr sprint` (preflight → concurrency → chaos → stress → proofpack → verify). The preflight
# runs the whole vitest suite (PR-G0), browser test included, so Chromium is installed too.
# Extra arguments go to `omega-pr sprint` (e.g. --count 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm install --no-audit --no-fund --loglevel=error
npm run --silent build:native
npm run --silent build:wasm
npm run --silent build:ts
exec node bin/omega-pr.js sprint "$@"
