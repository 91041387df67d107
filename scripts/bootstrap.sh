#!/usr/bin/env bash
# Installs what a fresh machine of this kind lacks: the wasm32 target, wasm-bindgen-cli at exactly
# the wasm-bindgen crate's version, Debian's Chromium (browser test; skipped with OMEGA_NO_BROWSER=1),
# and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.129

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

if [ -z "${OMEGA_NO_BROWSER:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "bootstrap: Debian's chromium is missing; install it (sudo apt-get install chromium)" >&2
    exit 1
  fi
fi

if [ ! -d node_modules/@napi-rs/cli ]; then
  npm install --no-audit --no-fund
fi

# Signed proofpacks (tests/pr/proofpack-signing.test.ts): Debian's minisign, and PyPI's
# securesystemslib (the DSSE verifier) in a git-ignored venv.
if ! command -v minisign >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq minisign >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq minisign >/dev/null; }
  else
    echo "bootstrap: minisign is missing; install it (sudo apt-get install minisign)" >&2
    exit 1
  fi
fi
if ! .venv-sslib/bin/python -c 'import securesystemslib.dsse, cryptography' >/dev/null 2>&1; then
  rm -rf .venv-sslib
  python3 -m venv .venv-sslib
  .venv-sslib/bin/pip install -q --disable-pip-version-check 'securesystemslib[crypto]==1.6.0'
fi
