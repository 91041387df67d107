#!/usr/bin/env bash
# Every test of omega-pr, from a fresh clone: installs what the machine lacks, builds the native
# addon, the wasm package and the TypeScript layer, then runs lint, cargo tests, the d.ts check
# and every vitest suite (including the real-Chromium browser test). Generated files (native.d.ts,
# src/error-codes.ts, schemas/ of the core's documents, report-types.generated.d.ts) are
# regenerated and must equal the committed ones.
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
# The schema generator (core feature `schema`, example gen-schemas) is not in the default build.
cargo clippy -p omega-pr-core --features schema --all-targets -- -D warnings

step "core docs build without warnings (rustdoc links)"
RUSTDOCFLAGS="-D warnings" cargo doc -p omega-pr-core --no-deps --quiet

step "core builds for wasm32-unknown-unknown"
cargo build -p omega-pr-core --target wasm32-unknown-unknown

step "schemas/ and report-types.generated.d.ts derive from the core's structs (committed)"
bash scripts/gen-schemas.sh --check

step "cargo test"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
cargo test --workspace 2>&1 | tee "$results/cargo.log"

step "native addon (napi) + generated index d.ts is committed"
npm run build:native
node scripts/gen-error-codes.mjs
if ! git diff --exit-code -- native.d.ts native.js src/error-codes.ts; then
  echo "native.d.ts / native.js / src/error-codes.ts differ from the committed ones: run 'npm run build:native && npm run build:ts' and commit them" >&2
  exit 1
fi

step "wasm package"
npm run build:wasm

step "TypeScript layer (strict) + a strict consumer of the public types"
npm run build:ts
npx tsc -p tests/types/tsconfig.json

# Everything is built above: no test may skip for a missing artefact (the tests fail under CI), and
# vitest's global setup need not run `npm run build:ts` again on each Node line.
export CI="${CI:-true}"
export OMEGA_TS_BUILT=1

# vitest on one Node line: `vitest_on <label> <bin dir first on PATH or ""> <vitest args…>`. A failing
# line is counted in the closing line (and fails the script there), it does not stop the other lines.
vitest_failed=0
vitest_on() {
  local label=$1 bin=$2
  shift 2
  local started=$SECONDS
  if ! PATH="${bin:+$bin:}$PATH" node node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json="$results/vitest-$label.json" "$@"; then
    vitest_failed=1
  fi
  echo "$label: $((SECONDS - started)) s" >>"$results/times"
}

step "vitest on Node $(node --version) (JS API, CLI, real processes, pack, browser)"
vitest_on "node$(node -p 'process.versions.node.split(".")[0]')" ""

# The same built addon (N-API is ABI-stable), CLI and packed tarball on the newer LTS lines (installed
# by scripts/bootstrap.sh from PyPI): the suites that load them, without the Chromium tests.
for line in 22 24; do
  bin="$PWD/.cache/node$line/path"
  step "vitest on Node $("$bin/node" --version) (addon, CLI, real processes, pack; no browser)"
  vitest_on "node$line" "$bin" tests/pr tests/pack --testNamePattern '^(?!.*browser-verify)'
done

# One closing line for every runner together, after one line per Node line.
node -e '
  const fs = require("fs");
  const path = require("path");
  const [cargoLog, dir] = process.argv.slice(1);
  let passed = 0, failed = 0;
  for (const m of fs.readFileSync(cargoLog, "utf8").matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  console.log(`\ncargo: ${passed} passed, ${failed} failed`);
  // One line per Node line, in run order; a line whose JSON report is missing counts as 1 failure.
  const times = fs.readFileSync(path.join(dir, "times"), "utf8").trim().split("\n").map((l) => l.split(": "));
  for (const [label, took] of times) {
    let v;
    try {
      v = JSON.parse(fs.readFileSync(path.join(dir, `vitest-${label}.json`), "utf8"));
    } catch {
      v = { numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numTodoTests: 0 };
    }
    passed += v.numPassedTests;
    failed += v.numFailedTests;
    console.log(`vitest on Node ${label.slice(4)}: ${v.numPassedTests} passed, ${v.numFailedTests} failed, ${v.numPendingTests + v.numTodoTests} skipped (${took})`);
  }
  console.log(`\ntotal: ${passed} passed, ${failed} failed`);
' "$results/cargo.log" "$results"
exit "$vitest_failed"
