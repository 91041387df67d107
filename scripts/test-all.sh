#!/usr/bin/env bash
# Every test of omega-pr, from a fresh clone: installs what the machine lacks, builds the native
# addon, the wasm package and the TypeScript layer, then runs lint, cargo tests, the d.ts check
# and every vitest suite (including the real-Chromium browser test).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s ===\n' "$*"; }

step "prerequisites"
bash scripts/bootstrap.sh

step "npm install"
npm install --no-audit --no-fund

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "core builds for wasm32-unknown-unknown"
cargo build -p omega-pr-core --target wasm32-unknown-unknown

step "cargo test"
cargo test --workspace

step "native addon (napi) + generated index d.ts is committed"
npm run build:native
if ! git diff --exit-code -- native.d.ts native.js; then
  echo "native.d.ts / native.js differ from the committed ones: run 'npm run build:native' and commit them" >&2
  exit 1
fi

step "wasm package"
npm run build:wasm

step "TypeScript layer (strict) + a strict consumer of the public types"
npm run build:ts
npx tsc -p tests/types/tsconfig.json

step "vitest (JS API, CLI, real processes, browser)"
npx vitest run
