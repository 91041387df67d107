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
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
cargo test --workspace 2>&1 | tee "$results/cargo.log"

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
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json"

# One closing line for every runner together.
node -e '
  const fs = require("fs");
  const [cargoLog, vitestJson] = process.argv.slice(1);
  let passed = 0, failed = 0;
  for (const m of fs.readFileSync(cargoLog, "utf8").matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  const v = JSON.parse(fs.readFileSync(vitestJson, "utf8"));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  console.log(`\ntotal: ${passed} passed, ${failed} failed`);
' "$results/cargo.log" "$results/vitest.json"
