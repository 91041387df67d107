//! The generated files of a pack besides the two documents: `toolchain.json`, `replay.sh`
//! (POSIX sh) and `verify.ps1` (PowerShell 5.1 built-ins). Pure text rendering, deterministic.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// File name of the toolchain record.
pub const TOOLCHAIN_FILE: &str = "toolchain.json";
/// File name of the POSIX replay/verify script.
pub const REPLAY_FILE: &str = "replay.sh";
/// File name of the PowerShell verifier.
pub const VERIFY_PS1_FILE: &str = "verify.ps1";
/// File name of the self-contained browser verifier.
pub const VERIFY_HTML_FILE: &str = "verify.html";
/// Schema version of `toolchain.json`.
pub const TOOLCHAIN_SCHEMA_VERSION: &str = "OMEGA-TOOLCHAIN-1.0";

/// A proofpack's `toolchain.json` (gate PR-G5): versions of the tools that made the run and the
/// pack; null when a tool is not installed. Never host names, user names or paths
/// ([`Toolchain::render`] refuses a value with `/`, `\`, a line break or over 120 characters).
/// The TS layer probes node, npm, tsc, rustc and cargo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackToolchain", deny_unknown_fields)
)]
pub struct Toolchain {
    /// Always `OMEGA-TOOLCHAIN-1.0` ([`TOOLCHAIN_SCHEMA_VERSION`]) once rendered.
    #[cfg_attr(feature = "schema", schemars(extend("const" = TOOLCHAIN_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// Version of omega-pr.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 120), regex(pattern = r"^[^/\\\r\n]+$"))
    )]
    pub omega_pr: String,
    /// `node --version`.
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 120), regex(pattern = r"^[^/\\\r\n]*$"))
    )]
    pub node: Option<String>,
    /// `npm --version`.
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 120), regex(pattern = r"^[^/\\\r\n]*$"))
    )]
    pub npm: Option<String>,
    /// TypeScript (`tsc`) version.
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 120), regex(pattern = r"^[^/\\\r\n]*$"))
    )]
    pub tsc: Option<String>,
    /// `rustc --version` (first line).
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 120), regex(pattern = r"^[^/\\\r\n]*$"))
    )]
    pub rustc: Option<String>,
    /// `cargo --version` (first line).
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 120), regex(pattern = r"^[^/\\\r\n]*$"))
    )]
    pub cargo: Option<String>,
    /// Operating system family (`linux`, `darwin`, `win32`, …).
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 120), regex(pattern = r"^[^/\\\r\n]+$"))
    )]
    pub os: String,
    /// CPU architecture (`x64`, `arm64`, …).
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 120), regex(pattern = r"^[^/\\\r\n]+$"))
    )]
    pub arch: String,
}

impl Toolchain {
    /// Checks no value looks like a path or is absurdly long, then renders pretty JSON.
    pub fn render(&self) -> Result<String> {
        let fields = [
            ("omega_pr", Some(&self.omega_pr)),
            ("node", self.node.as_ref()),
            ("npm", self.npm.as_ref()),
            ("tsc", self.tsc.as_ref()),
            ("rustc", self.rustc.as_ref()),
            ("cargo", self.cargo.as_ref()),
            ("os", Some(&self.os)),
            ("arch", Some(&self.arch)),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                if v.contains(['/', '\\', '\n', '\r']) || v.len() > 120 {
                    return Err(Error::invalid(
                        format!("toolchain.{name}"),
                        format!("{v:?} must be a version string (no path, ≤ 120 characters)"),
                    ));
                }
            }
        }
        let mut t = self.clone();
        t.schema_version = TOOLCHAIN_SCHEMA_VERSION.into();
        let mut s = serde_json::to_string_pretty(&t)
            .map_err(|e| Error::invalid("toolchain", e.to_string()))?;
        s.push('\n');
        Ok(s)
    }
}

/// File name of the run journal whose presence makes a pack replayable (`proofpack replay`).
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Quotes a string for POSIX sh (single quotes).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Names a pack may hold beside `SHA256SUMS.txt`, `MANIFEST.json` and the files they list: the
/// signature of `MANIFEST.json` and the in-toto attestation (both made after the listing).
pub const UNLISTED_EXTRAS: [&str; 2] = ["MANIFEST.json.minisig", "attestation.intoto.json"];

/// The entry-name rule of a pack, as the generated scripts apply it (the same set as
/// [`super::sums::check_relative_path`] and the build): refused are an empty name, an absolute
/// name (leading `/` or a drive letter), a `.`, `..` or empty segment, a backslash, a `:`, a
/// control character (0x00–0x1f, 0x7f), and a name listed twice. Reason words the scripts print.
pub const SCRIPT_REFUSALS: [&str; 9] = [
    "empty name",
    "absolute name",
    "drive letter",
    "dot segment",
    "empty segment",
    "backslash",
    "colon",
    "control character",
    "listed twice",
];

/// `replay.sh`: checks what `omega-pr proofpack verify` checks except signatures — the
/// manifest's own digest, `SHA256SUMS.txt` against `MANIFEST.json`, the entry-name rule, no
/// symlink / special / extra file (beyond [`UNLISTED_EXTRAS`]) — then one `sha256sum -c` (or
/// `shasum -a 256 -c`) over the validated list: linear in the number of files. Prints the
/// `minisign -Vm` command for a signed pack, then how to re-run the recorded command. Then, for
/// a pack that lists a [`JOURNAL_FILE`], `omega-pr proofpack replay .` through the omega-pr
/// version recorded in `toolchain.json` (`omega-pr` on PATH when it is that version, else
/// `npx --yes omega-pr@<version>` unless `OMEGA_REPLAY_NPX=0`); without either, replay is
/// reported unavailable with what to install, and the integrity verdict stands unless
/// `--require-replay` was given. Exit 0 when everything verifies (and replays, when it can), 1
/// otherwise, 2 without a hasher or on a bad argument.
pub fn replay_sh(command: Option<&str>) -> String {
    let cmd_line = match command {
        Some(c) => format!("RECORDED_COMMAND={}\n", sh_quote(c)),
        None => "RECORDED_COMMAND=''\n".to_owned(),
    };
    let mut s = String::from(
        r##"#!/bin/sh
# Verifies this proofpack with POSIX tools only (sh, awk, sed, find, cmp, sha256sum or shasum),
# then shows how to re-run the recorded command. Checks what `omega-pr proofpack verify` checks:
#  - MANIFEST.json's manifest_sha256 (SHA-256 of MANIFEST.json with that value set to 64 zeros);
#  - SHA256SUMS.txt's digest against MANIFEST.json, and the file list of both documents;
#  - every name in SHA256SUMS.txt against the pack's entry-name rule: refused are an empty name,
#    an absolute name (leading `/` or a drive letter), a `.`, `..` or empty segment, a backslash,
#    a `:`, a control character (0x00-0x1f, 0x7f), a name listed twice;
#  - no symbolic link, special file or unlisted file (beyond MANIFEST.json.minisig and
#    attestation.intoto.json, which sign MANIFEST.json and are not listed);
#  - every listed file with one `sha256sum -c` over the validated list (linear time).
# It cannot check signatures: it prints the minisign command to run.
# Then, when the pack carries recorded outputs (journal.jsonl), it replays them: `omega-pr
# proofpack replay .` re-derives PR_REPORT.json, run-cost.json, chaos-log.json and the verdict
# (no LLM call, no network) through the omega-pr version recorded in toolchain.json: `omega-pr`
# on PATH when it is that version, else `npx --yes omega-pr@<version>` (OMEGA_REPLAY_NPX=0
# forbids npx). Without either, replay is reported unavailable (what to install is printed) and
# the integrity verdict stands, unless --require-replay is given.
# Usage: sh replay.sh [--no-replay | --require-replay]
# Exit: 0 verified (and reproduced when replayed), 1 a check failed or the replay differs,
#       2 no SHA-256 tool or a bad argument.
set -u
NO_REPLAY=0
REQUIRE_REPLAY=0
for arg in "$@"; do
  case $arg in
    --no-replay) NO_REPLAY=1 ;;
    --require-replay) REQUIRE_REPLAY=1 ;;
    *) echo "usage: sh replay.sh [--no-replay | --require-replay]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")" || exit 2
if command -v sha256sum >/dev/null 2>&1; then
  SHA='sha256sum'
  CHECK='sha256sum -c --strict'
elif command -v shasum >/dev/null 2>&1; then
  SHA='shasum -a 256'
  CHECK='shasum -a 256 -c'
else
  echo 'x neither sha256sum nor shasum found' >&2
  exit 2
fi
LC_ALL=C
export LC_ALL
TMP=$(mktemp -d 2>/dev/null || mktemp -d -t omega-replay) || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'rm -rf "$TMP"; exit 130' INT TERM
fail=0
for doc in MANIFEST.json SHA256SUMS.txt; do
  if [ ! -f "$doc" ] || [ -L "$doc" ]; then
    echo "✗ $doc is missing (or not a regular file)"
    echo '✗ Verification FAILED'
    exit 1
  fi
done
ZERO=0000000000000000000000000000000000000000000000000000000000000000
# 1. MANIFEST.json pins itself: exactly one top-level manifest_sha256 line, and its value.
mline='^  "manifest_sha256": "[0-9a-f]*"$'
n=$(grep -c "$mline" MANIFEST.json)
want=$(sed -n 's/^  "manifest_sha256": "\([0-9a-f]*\)"$/\1/p' MANIFEST.json)
got=$(sed "s/^  \"manifest_sha256\": \"[0-9a-f]*\"\$/  \"manifest_sha256\": \"$ZERO\"/" MANIFEST.json | $SHA | cut -c1-64)
if [ "$n" = 1 ] && [ "${#want}" = 64 ] && [ "$want" = "$got" ]; then
  echo '✓ MANIFEST.json matches its manifest_sha256'
else
  echo '✗ MANIFEST.json does not match its manifest_sha256 (MANIFEST.json was edited)'
  fail=1
fi
# 2. MANIFEST.json pins SHA256SUMS.txt, and both list the same files with the same digests.
n=$(grep -c '^  "sha256sums_sha256": "[0-9a-f]*",$' MANIFEST.json)
want=$(sed -n 's/^  "sha256sums_sha256": "\([0-9a-f]*\)",$/\1/p' MANIFEST.json)
got=$($SHA SHA256SUMS.txt | cut -c1-64)
if [ "$n" = 1 ] && [ "${#want}" = 64 ] && [ "$want" = "$got" ]; then
  echo '✓ SHA256SUMS.txt matches MANIFEST.json'
else
  echo '✗ SHA256SUMS.txt does not match MANIFEST.json'
  fail=1
fi
awk '
/^      "path": "/ { p = $0; sub(/^      "path": "/, "", p); sub(/",$/, "", p); gsub(/\\"/, "\"", p); next }
/^      "sha256": "/ { h = $0; sub(/^      "sha256": "/, "", h); sub(/"$/, "", h); print h "  " p }
' MANIFEST.json > "$TMP/manifest-list"
if cmp -s "$TMP/manifest-list" SHA256SUMS.txt; then
  echo '✓ MANIFEST.json and SHA256SUMS.txt list the same files'
else
  echo '✗ MANIFEST.json and SHA256SUMS.txt list different files or digests'
  fail=1
fi
# 3. What is on disk: regular files, symbolic links, anything else (never followed).
{
  find . -type f | sed 's|^\./|F |'
  find . -type l | sed 's|^\./|L |'
  find . ! -type d ! -type f ! -type l | sed 's|^\./|O |'
} > "$TMP/present"
# 4. Every line of SHA256SUMS.txt: well formed, an allowed name, listed once, a regular file.
#    Only the lines that pass go to the hasher; unlisted files are extra.
awk -v out="$TMP/list" '
function bad(name, why) { printf "✗ %s (%s)\n", name, why; nbad++ }
FILENAME != "SHA256SUMS.txt" { kind[substr($0, 3)] = substr($0, 1, 1); next }
{
  if (substr($0, 1, 1) == "\\") { bad("SHA256SUMS.txt line " FNR, "escaped name: a backslash or control character"); next }
  h = substr($0, 1, 64); name = substr($0, 67)
  if (length($0) < 66 || h ~ /[^0-9a-f]/ || substr($0, 65, 2) != "  ") { bad("SHA256SUMS.txt line " FNR, "malformed line"); next }
  why = ""
  if (name == "") why = "empty name"
  else if (substr(name, 1, 1) == "/") why = "absolute name"
  else if (name ~ /^[A-Za-z]:/) why = "drive letter"
  else if (index(name, "\\") > 0) why = "backslash"
  else if (index(name, ":") > 0) why = "colon"
  else if (name ~ /[\001-\037\177]/) why = "control character"
  else {
    k = split(name, seg, "/")
    for (i = 1; i <= k; i++) {
      if (seg[i] == "." || seg[i] == "..") { why = "dot segment"; break }
      if (seg[i] == "") { why = "empty segment"; break }
    }
  }
  if (why != "") { bad(name, "refused name: " why); next }
  if (name in seen) { bad(name, "listed twice"); next }
  seen[name] = 1
  if (name == "SHA256SUMS.txt" || name == "MANIFEST.json") { bad(name, "lists a document of the pack"); next }
  t = kind[name]
  if (t == "") { bad(name, "missing"); next }
  if (t == "L") { bad(name, "symbolic link"); next }
  if (t == "O") { bad(name, "not a regular file"); next }
  print > out
  listed++
}
END {
  for (p in kind) {
    if (p in seen || p == "SHA256SUMS.txt" || p == "MANIFEST.json" || p == "MANIFEST.json.minisig" || p == "attestation.intoto.json") {
      if (kind[p] != "F") bad(p, "not a regular file")
      continue
    }
    bad(p, kind[p] == "L" ? "symbolic link, not listed" : "extra file, not listed")
  }
  printf "%d\n", listed + 0 > (out ".count")
  exit (nbad > 0 ? 1 : 0)
}
' "$TMP/present" SHA256SUMS.txt || fail=1
: >> "$TMP/list"
# 5. One hasher run over the validated list.
if [ -s "$TMP/list" ]; then
  if $CHECK "$TMP/list" > "$TMP/check" 2>&1; then
    echo "✓ $(cat "$TMP/list.count") listed files match their SHA-256"
  else
    fail=1
    grep -v ': OK$' "$TMP/check" | sed -e 's/^\(.*\): FAILED.*$/✗ \1 (SHA-256 mismatch)/'
  fi
fi
if [ -f MANIFEST.json.minisig ]; then
  echo '! This script cannot check the signature MANIFEST.json.minisig. Check it with the signer'"'"'s'
  echo '  public key you trust (a copy you got from the signer, not one from this folder):'
  echo '    minisign -Vm MANIFEST.json -p <signer.pub>'
else
  echo '! UNSIGNED — integrity only: anyone who can write these files could have produced them.'
fi
if [ "$fail" -ne 0 ]; then
  echo '✗ Verification FAILED'
  exit 1
fi
echo '✓ All files verified successfully'
"##,
    );
    s.push_str(&cmd_line);
    s.push_str(
        r#"if [ -n "$RECORDED_COMMAND" ]; then
  echo 'To re-run the recorded command (from the project root):'
  printf '  %s\n' "$RECORDED_COMMAND"
fi
# 6. Replay: does the recorded verdict follow from the recorded outputs?
if [ "$NO_REPLAY" = 1 ]; then
  echo '! Replay skipped (--no-replay): integrity only'
  exit 0
fi
if ! grep -q '[ /]journal\.jsonl$' SHA256SUMS.txt; then
  echo '! Replay unavailable: this pack carries no recorded outputs (no journal.jsonl; packs made before omega-pr replay)'
  if [ "$REQUIRE_REPLAY" = 1 ]; then echo '✗ --require-replay: nothing to replay'; exit 1; fi
  exit 0
fi
VERSION=$(sed -n 's/^  "omega_pr": "\([0-9A-Za-z.+-]*\)",$/\1/p' toolchain.json 2>/dev/null | head -n 1)
RUNNER=''
if [ -n "$VERSION" ] && command -v omega-pr >/dev/null 2>&1 && [ "$(omega-pr --version 2>/dev/null)" = "$VERSION" ]; then
  RUNNER='omega-pr'
elif [ -n "$VERSION" ] && [ "${OMEGA_REPLAY_NPX:-1}" != 0 ] && command -v npx >/dev/null 2>&1 &&
  [ "$(npx --yes "omega-pr@$VERSION" --version 2>/dev/null)" = "$VERSION" ]; then
  RUNNER="npx --yes omega-pr@$VERSION"
fi
if [ -z "$RUNNER" ]; then
  echo "! Replay unavailable: omega-pr ${VERSION:-(version not recorded)} is not on PATH and npx could not run it."
  echo "  Install it (npm install -g omega-pr@${VERSION:-<version>}), then: omega-pr proofpack replay ."
  if [ "$REQUIRE_REPLAY" = 1 ]; then echo '✗ --require-replay: replay unavailable'; exit 1; fi
  exit 0
fi
echo "Replay: $RUNNER proofpack replay . (no LLM call, no network)"
$RUNNER proofpack replay .
rc=$?
if [ "$rc" = 0 ]; then exit 0; fi
if [ "$rc" = 2 ]; then
  echo '✗ Replay refused (exit 2): the pack lists journal.jsonl but cannot be replayed (see above)'
  exit 1
fi
echo '✗ Replay: the recorded verdict does not follow from the recorded outputs'
exit 1
"#,
    );
    s
}

/// `verify.ps1`: the checks of [`replay_sh`] with PowerShell 5.1 built-ins only
/// (`Get-FileHash`, `ConvertFrom-Json`, .NET SHA-256). ASCII text; the ✓/✗ marks are written
/// with `[char]` so the file's encoding does not matter.
pub fn verify_ps1() -> String {
    r##"# Verifies this proofpack with PowerShell 5.1 built-ins only (Get-FileHash, ConvertFrom-Json).
# Checks what `omega-pr proofpack verify` checks:
#  - MANIFEST.json's manifest_sha256 (SHA-256 of MANIFEST.json with that value set to 64 zeros);
#  - SHA256SUMS.txt's digest against MANIFEST.json, and the file list of both documents;
#  - every name in SHA256SUMS.txt against the pack's entry-name rule: refused are an empty name,
#    an absolute name (leading / or a drive letter), a '.', '..' or empty segment, a backslash,
#    a ':', a control character (0x00-0x1f, 0x7f), a name listed twice;
#  - no symbolic link or unlisted file (beyond MANIFEST.json.minisig and attestation.intoto.json,
#    which sign MANIFEST.json and are not listed); every listed file's SHA-256.
# It cannot check signatures: it prints the minisign command to run.
# Usage: powershell -ExecutionPolicy Bypass -File .\verify.ps1
$ErrorActionPreference = 'Stop'
try { [Console]::OutputEncoding = [System.Text.Encoding]::UTF8 } catch { }
$ok = [char]0x2713
$ko = [char]0x2717
$root = $PSScriptRoot
$fail = 0
$zero = '0' * 64
$sumsPath = Join-Path $root 'SHA256SUMS.txt'
$manifestPath = Join-Path $root 'MANIFEST.json'
if (-not (Test-Path -LiteralPath $sumsPath -PathType Leaf)) { Write-Output "$ko SHA256SUMS.txt missing"; exit 1 }
if (-not (Test-Path -LiteralPath $manifestPath -PathType Leaf)) { Write-Output "$ko MANIFEST.json missing"; exit 1 }
$utf8 = New-Object System.Text.UTF8Encoding $false
$sha = [System.Security.Cryptography.SHA256]::Create()
function Get-HexDigest([byte[]] $bytes) { return (($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') }) -join '') }
$manifestBytes = [System.IO.File]::ReadAllBytes($manifestPath)
$manifestText = $utf8.GetString($manifestBytes)
$manifest = $manifestText | ConvertFrom-Json
# MANIFEST.json pins itself: exactly one top-level manifest_sha256 line.
$selfLine = '(?m)^  "manifest_sha256": "([0-9a-f]{64})"$'
$selfMatches = [regex]::Matches($manifestText, $selfLine)
$zeroed = [regex]::Replace($manifestText, $selfLine, ('  "manifest_sha256": "' + $zero + '"'))
if ($selfMatches.Count -eq 1 -and (Get-HexDigest $utf8.GetBytes($zeroed)) -ceq $selfMatches[0].Groups[1].Value) {
  Write-Output "$ok MANIFEST.json matches its manifest_sha256"
} else {
  Write-Output "$ko MANIFEST.json does not match its manifest_sha256 (MANIFEST.json was edited)"
  $fail++
}
$sumsBytes = [System.IO.File]::ReadAllBytes($sumsPath)
if ((Get-HexDigest $sumsBytes) -ceq [string]$manifest.sha256sums_sha256) {
  Write-Output "$ok SHA256SUMS.txt matches MANIFEST.json"
} else {
  Write-Output "$ko SHA256SUMS.txt does not match MANIFEST.json"
  $fail++
}
$fromManifest = (@($manifest.files) | ForEach-Object { [string]$_.sha256 + '  ' + [string]$_.path + [char]10 }) -join ''
if ($fromManifest -cne $utf8.GetString($sumsBytes)) {
  Write-Output "$ko MANIFEST.json and SHA256SUMS.txt list different files or digests"
  $fail++
} else {
  Write-Output "$ok MANIFEST.json and SHA256SUMS.txt list the same files"
}
$listed = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::Ordinal)
$text = $utf8.GetString($sumsBytes)
$lineNo = 0
foreach ($line in $text.Split([char]10)) {
  $lineNo++
  if ($line -eq '') { continue }
  if ($line.StartsWith('\')) { Write-Output "$ko SHA256SUMS.txt line $lineNo (escaped name: a backslash or control character)"; $fail++; continue }
  if ($line -cnotmatch '^([0-9a-f]{64})  (.*)$') { Write-Output "$ko SHA256SUMS.txt line $lineNo (malformed line)"; $fail++; continue }
  $hash = $Matches[1]
  $name = $Matches[2]
  $why = ''
  if ($name -eq '') { $why = 'empty name' }
  elseif ($name.StartsWith('/')) { $why = 'absolute name' }
  elseif ($name -cmatch '^[A-Za-z]:') { $why = 'drive letter' }
  elseif ($name.Contains('\')) { $why = 'backslash' }
  elseif ($name.Contains(':')) { $why = 'colon' }
  elseif ($name -cmatch '[\x00-\x1f\x7f]') { $why = 'control character' }
  else {
    foreach ($seg in $name.Split('/')) {
      if ($seg -eq '.' -or $seg -eq '..') { $why = 'dot segment'; break }
      if ($seg -eq '') { $why = 'empty segment'; break }
    }
  }
  if ($why -ne '') { Write-Output "$ko $name (refused name: $why)"; $fail++; continue }
  if (-not $listed.Add($name)) { Write-Output "$ko $name (listed twice)"; $fail++; continue }
  if ($name -ceq 'SHA256SUMS.txt' -or $name -ceq 'MANIFEST.json') { Write-Output "$ko $name (lists a document of the pack)"; $fail++; continue }
  $path = Join-Path $root $name
  if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { Write-Output "$ko $name (missing)"; $fail++; continue }
  $item = Get-Item -LiteralPath $path -Force
  if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) { Write-Output "$ko $name (symbolic link)"; $fail++; continue }
  $got = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
  if ($got -ceq $hash) { Write-Output "$ok $name" } else { Write-Output "$ko $name (SHA-256 mismatch)"; $fail++ }
}
$unlisted = @('SHA256SUMS.txt', 'MANIFEST.json', 'MANIFEST.json.minisig', 'attestation.intoto.json')
$prefix = (Get-Item -LiteralPath $root).FullName.TrimEnd('\', '/').Length + 1
Get-ChildItem -LiteralPath $root -Recurse -Force | Where-Object { -not $_.PSIsContainer -or ($_.Attributes -band [System.IO.FileAttributes]::ReparsePoint) } | ForEach-Object {
  $rel = $_.FullName.Substring($prefix).Replace('\', '/')
  if ($_.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
    if (-not $listed.Contains($rel)) { Write-Output "$ko $rel (symbolic link, not listed)"; $fail++ }
  } elseif (-not ($unlisted -ccontains $rel) -and -not $listed.Contains($rel)) {
    Write-Output "$ko $rel (extra file, not listed)"
    $fail++
  }
}
if (Test-Path -LiteralPath (Join-Path $root 'MANIFEST.json.minisig') -PathType Leaf) {
  Write-Output "! This script cannot check the signature MANIFEST.json.minisig. Check it with the signer's"
  Write-Output '  public key you trust (a copy you got from the signer, not one from this folder):'
  Write-Output '    minisign -Vm MANIFEST.json -p <signer.pub>'
} else {
  Write-Output '! UNSIGNED - integrity only: anyone who can write these files could have produced them.'
}
if ($fail -eq 0) {
  Write-Output "$ok All files verified successfully"
  exit 0
}
Write-Output "$ko Verification FAILED: $fail problem(s)"
exit 1
"##
    .to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn toolchain_refuses_paths() {
        let t = Toolchain {
            omega_pr: "0.1.0".into(),
            node: Some("v20.20.2".into()),
            os: "linux".into(),
            arch: "x64".into(),
            ..Default::default()
        };
        let text = t.render().unwrap();
        assert!(text.contains("\"schema_version\": \"OMEGA-TOOLCHAIN-1.0\""));
        assert!(text.contains("\"npm\": null"));
        let mut bad = t.clone();
        bad.rustc = Some("/home/u/.cargo/bin/rustc".into());
        assert_eq!(
            bad.render().unwrap_err().code(),
            "ERR_OMEGA_INVALID_ARGUMENT"
        );
    }

    #[test]
    fn scripts_quote_and_stay_ascii() {
        let s = replay_sh(Some("omega-pr stress --note it's"));
        assert!(s.contains(r"RECORDED_COMMAND='omega-pr stress --note it'\''s'"));
        assert!(verify_ps1().is_ascii());
    }

    #[test]
    fn both_scripts_carry_the_one_rule_set_and_the_two_extras() {
        let (sh, ps) = (replay_sh(None), verify_ps1());
        for word in SCRIPT_REFUSALS {
            assert!(sh.contains(word), "replay.sh lacks {word}");
            assert!(ps.contains(word), "verify.ps1 lacks {word}");
        }
        for extra in UNLISTED_EXTRAS {
            assert!(sh.contains(extra) && ps.contains(extra), "{extra}");
        }
        for s in [&sh, &ps] {
            assert!(s.contains("manifest_sha256"));
            assert!(s.contains("minisign -Vm MANIFEST.json -p <signer.pub>"));
        }
        // Replay through the recorded version, unavailable without it, opt-in failure.
        for needle in [
            "proofpack replay .",
            "npx --yes omega-pr@$VERSION",
            "--require-replay",
            "OMEGA_REPLAY_NPX",
            JOURNAL_FILE,
        ] {
            assert!(sh.contains(needle), "replay.sh lacks {needle}");
        }
        // Linear: one hasher run over the validated list, no per-file grep.
        assert!(sh.contains("sha256sum -c --strict"));
        assert!(!sh.contains("grep -qxF"));
    }
}
