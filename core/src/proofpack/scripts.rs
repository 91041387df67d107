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

/// Versions of the tools that made the run and the pack. Never host names, user names or paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// Always [`TOOLCHAIN_SCHEMA_VERSION`] once rendered.
    pub schema_version: String,
    /// Version of omega-pr.
    pub omega_pr: String,
    /// `node --version`.
    pub node: Option<String>,
    /// `npm --version`.
    pub npm: Option<String>,
    /// TypeScript (`tsc`) version.
    pub tsc: Option<String>,
    /// `rustc --version` (first line).
    pub rustc: Option<String>,
    /// `cargo --version` (first line).
    pub cargo: Option<String>,
    /// Operating system family (`linux`, `darwin`, `win32`, …).
    pub os: String,
    /// CPU architecture (`x64`, `arm64`, …).
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

/// Quotes a string for POSIX sh (single quotes).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `replay.sh`: verifies `SHA256SUMS.txt` against `MANIFEST.json`, every listed file with
/// `sha256sum -c` (or `shasum -a 256 -c`), refuses extra files and symlinks, then shows how to
/// re-run the recorded command. Exit 0 when everything verifies, 1 otherwise, 2 without a hasher.
pub fn replay_sh(command: Option<&str>) -> String {
    let cmd_line = match command {
        Some(c) => format!("RECORDED_COMMAND={}\n", sh_quote(c)),
        None => "RECORDED_COMMAND=''\n".to_owned(),
    };
    let mut s = String::from(
        r#"#!/bin/sh
# Verifies this proofpack with POSIX tools only, then shows how to re-run the recorded command.
# Usage: sh replay.sh
set -u
cd "$(dirname "$0")" || exit 2
if command -v sha256sum >/dev/null 2>&1; then
  SHA='sha256sum'
elif command -v shasum >/dev/null 2>&1; then
  SHA='shasum -a 256'
else
  echo 'x neither sha256sum nor shasum found' >&2
  exit 2
fi
fail=0
want=$(sed -n 's/^  "sha256sums_sha256": "\([0-9a-f]\{64\}\)",\{0,1\}$/\1/p' MANIFEST.json 2>/dev/null)
got=$($SHA SHA256SUMS.txt 2>/dev/null | cut -c1-64)
if [ -n "$want" ] && [ "$want" = "$got" ]; then
  echo '✓ SHA256SUMS.txt matches MANIFEST.json'
else
  echo '✗ SHA256SUMS.txt does not match MANIFEST.json'
  fail=1
fi
out=$($SHA -c SHA256SUMS.txt 2>&1) || fail=1
printf '%s\n' "$out" | sed -e 's/^\(.*\): OK$/✓ \1/' -e 's/^\(.*\): FAILED.*$/✗ \1/'
listed=$(sed -n 's/^[0-9a-f]\{64\}  //p' SHA256SUMS.txt)
extra=$(find . ! -type d | sed 's|^\./||' | while IFS= read -r f; do
  case "$f" in SHA256SUMS.txt|MANIFEST.json) continue ;; esac
  if [ -L "$f" ]; then echo "✗ $f (symbolic link)"; continue; fi
  printf '%s\n' "$listed" | grep -qxF -- "$f" || echo "✗ $f (extra file, not listed)"
done)
if [ -n "$extra" ]; then
  printf '%s\n' "$extra"
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  echo '✗ Verification FAILED'
  exit 1
fi
echo '✓ All files verified successfully'
"#,
    );
    s.push_str(&cmd_line);
    s.push_str(
        r#"if [ -n "$RECORDED_COMMAND" ]; then
  echo 'To re-run the recorded command (from the project root):'
  printf '  %s\n' "$RECORDED_COMMAND"
fi
exit 0
"#,
    );
    s
}

/// `verify.ps1`: PowerShell 5.1 built-ins only (`Get-FileHash`, `ConvertFrom-Json`). ASCII text;
/// the ✓/✗ marks are written with `[char]` so the file's encoding does not matter.
pub fn verify_ps1() -> String {
    r#"# Verifies this proofpack with PowerShell 5.1 built-ins only (Get-FileHash).
# Usage: powershell -ExecutionPolicy Bypass -File .\verify.ps1
$ErrorActionPreference = 'Stop'
try { [Console]::OutputEncoding = [System.Text.Encoding]::UTF8 } catch { }
$ok = [char]0x2713
$ko = [char]0x2717
$root = $PSScriptRoot
$fail = 0
$sumsPath = Join-Path $root 'SHA256SUMS.txt'
$manifestPath = Join-Path $root 'MANIFEST.json'
if (-not (Test-Path -LiteralPath $sumsPath -PathType Leaf)) { Write-Output "$ko SHA256SUMS.txt missing"; exit 1 }
if (-not (Test-Path -LiteralPath $manifestPath -PathType Leaf)) { Write-Output "$ko MANIFEST.json missing"; exit 1 }
$manifest = [System.IO.File]::ReadAllText($manifestPath) | ConvertFrom-Json
$sumsHash = (Get-FileHash -LiteralPath $sumsPath -Algorithm SHA256).Hash.ToLowerInvariant()
if ($sumsHash -ne $manifest.sha256sums_sha256) {
  Write-Output "$ko SHA256SUMS.txt does not match MANIFEST.json"
  $fail++
} else {
  Write-Output "$ok SHA256SUMS.txt matches MANIFEST.json"
}
$listed = @{}
$text = [System.IO.File]::ReadAllText($sumsPath)
foreach ($line in $text.Split([char]10)) {
  if ($line -eq '') { continue }
  if ($line -cnotmatch '^(\\?)([0-9a-f]{64})  (.+)$') { Write-Output "$ko malformed line in SHA256SUMS.txt"; $fail++; continue }
  $hash = $Matches[2]
  $name = $Matches[3]
  if ($Matches[1] -eq '\') { $name = $name.Replace('\\', [string][char]0).Replace('\n', [string][char]10).Replace('\r', [string][char]13).Replace([string][char]0, '\') }
  if ($name.StartsWith('/') -or $name.StartsWith('\') -or $name.Contains(':') -or (($name -split '[/\\]') -contains '..')) { Write-Output "$ko $name (unsafe path)"; $fail++; continue }
  $listed[$name] = $true
  $path = Join-Path $root $name
  if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { Write-Output "$ko $name (missing)"; $fail++; continue }
  $item = Get-Item -LiteralPath $path -Force
  if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) { Write-Output "$ko $name (symbolic link)"; $fail++; continue }
  $got = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
  if ($got -eq $hash) { Write-Output "$ok $name" } else { Write-Output "$ko $name (SHA-256 mismatch)"; $fail++ }
}
$prefix = (Get-Item -LiteralPath $root).FullName.TrimEnd('\', '/').Length + 1
Get-ChildItem -LiteralPath $root -Recurse -Force | Where-Object { -not $_.PSIsContainer -or ($_.Attributes -band [System.IO.FileAttributes]::ReparsePoint) } | ForEach-Object {
  $rel = $_.FullName.Substring($prefix).Replace('\', '/')
  if ($rel -ne 'SHA256SUMS.txt' -and $rel -ne 'MANIFEST.json' -and -not $listed.ContainsKey($rel)) {
    Write-Output "$ko $rel (extra file, not listed)"
    $fail++
  }
}
if ($fail -eq 0) {
  Write-Output "$ok All files verified successfully"
  exit 0
}
Write-Output "$ko Verification FAILED: $fail problem(s)"
exit 1
"#
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
}
