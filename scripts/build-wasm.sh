#!/usr/bin/env bash
# npm run build:wasm — browser build of the proofpack verifier.
#   1. cargo build -p omega-pr-wasm --target wasm32-unknown-unknown --release (SIMD128 on: the
#      sha2 crate then uses its wasm32 SIMD backend; every current browser supports it)
#   2. wasm-bindgen --target web → npm/wasm/pkg/ (and --target nodejs → npm/wasm/pkg/node/), each
#      with its generated .d.ts, typed with the report types generated from the core's schemas
#      (report-types.generated.d.ts, copied next to each .d.ts as report-types.d.ts)
#   3. wasm-opt -O3 from node_modules/binaryen (TOOLCHAIN.md flags), when available
#   4. web/build-page.mjs → npm/wasm/pkg/verify.html, self-contained (glue + deflated wasm inlined)
# Installs the wasm32 target and wasm-bindgen-cli 0.2.129 (pinned, = the crate) only if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

WB_VERSION=0.2.129
OUT=npm/wasm/pkg

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked
fi

# Strip machine paths (panic locations) from the binary: the page ships inside proofpacks.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128 --remap-path-prefix=$PWD=omega-pr --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=cargo --remap-path-prefix=$HOME=~"
cargo build -p omega-pr-wasm --target wasm32-unknown-unknown --release
WASM=target/wasm32-unknown-unknown/release/omega_pr_wasm.wasm

rm -rf "$OUT"
mkdir -p "$OUT/node"
wasm-bindgen --target web --out-dir "$OUT" "$WASM"
wasm-bindgen --target nodejs --out-dir "$OUT/node" "$WASM"
for d in "$OUT" "$OUT/node"; do
  cp report-types.generated.d.ts "$d/report-types.d.ts"
done

WASM_OPT=node_modules/.bin/wasm-opt
if [ -x "$WASM_OPT" ]; then
  for f in "$OUT/omega_pr_wasm_bg.wasm" "$OUT/node/omega_pr_wasm_bg.wasm"; do
    "$WASM_OPT" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-reference-types --enable-multivalue --enable-simd "$f" -o "$f.opt"
    mv "$f.opt" "$f"
  done
else
  echo "build-wasm: wasm-opt not found in node_modules (npm install binaryen); skipping" >&2
fi

node web/build-page.mjs "$OUT"
ls -l "$OUT" "$OUT/node" | sed 's/^/build-wasm: /'
