//! Proofpacks for JS: build a pack from a run directory, verify a pack on disk (sync and async
//! twins), plus the pure pieces (`SHA256SUMS.txt` parse/render, SHA-256, absolute-path scan).
//! All logic is in `omega_pr_core::proofpack`; this file converts arguments and results.

// napi-derive registers exports only outside `cfg(test)`: in test builds everything looks unused.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::{AsyncTask, Uint8Array};
use napi::{Env, JsError, Task};
use napi_derive::napi;
use omega_pr_core::proofpack::{fs as pfs, manifest, pathscan, sums};

use crate::error::{from_core, Code};
use napi::Result;

/// Tool versions recorded in `toolchain.json`. Probe node/npm/tsc in JS (`probeToolchain()` of the
/// TS layer); anything omitted is written as `null`.
#[napi(object)]
#[derive(Clone, Default)]
pub struct ToolchainVersions {
    /// `process.version`.
    pub node: Option<String>,
    /// `npm --version`.
    pub npm: Option<String>,
    /// TypeScript version.
    pub tsc: Option<String>,
    /// `rustc --version`.
    pub rustc: Option<String>,
    /// `cargo --version`.
    pub cargo: Option<String>,
}

/// Options of `buildProofpack`.
#[napi(object, object_to_js = false)]
pub struct BuildProofpackOptions {
    /// The run directory to pack (e.g. `metrics/pr/PR_RUNS/stress100_20260212_143000`).
    pub source: String,
    /// The pack directory to create; must not exist or be empty.
    pub output: String,
    /// Run type, `[a-z0-9_-]{1,64}` (e.g. `stress100`).
    #[napi(js_name = "type")]
    pub pack_type: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// Command that produced the run (shown by `replay.sh`).
    pub command: Option<String>,
    /// Creation time, seconds since the Unix epoch; defaults to `SOURCE_DATE_EPOCH`, then the
    /// clock. Clamped to ≥ 1980-01-01.
    pub source_date_epoch: Option<f64>,
    /// Tool versions for `toolchain.json`.
    pub toolchain: Option<ToolchainVersions>,
    /// The self-contained browser verifier to ship as `verify.html` (empty or omitted: none).
    pub verify_html: Option<String>,
    /// Calibration (for `proofpack.forbidden_path_patterns`); the shipped defaults when omitted.
    #[napi(ts_type = "Calibration | CalibrationDocument")]
    pub calibration: Option<crate::calibration::CalibrationArg>,
}

/// A built pack.
#[napi(object)]
pub struct ProofpackBuildResult {
    /// `<type>-<created ms>`, e.g. `stress100-1707743400000`.
    pub pack_id: String,
    /// The output directory, as given.
    pub output: String,
    /// Every file in the pack, `SHA256SUMS.txt` and `MANIFEST.json` included.
    pub file_count: u32,
    /// Files listed in `SHA256SUMS.txt`.
    pub listed_count: u32,
    /// Bytes of the listed files.
    pub total_bytes: f64,
    /// Creation time written in the manifest (ISO 8601 UTC).
    pub created: String,
    /// Generated files present (`toolchain.json`, `replay.sh`, `verify.ps1`, maybe `verify.html`).
    pub generated: Vec<String>,
    /// Generic absolute paths found (not this machine's), at most one line per file: packed,
    /// reported. This machine's own paths and names are refused (`ERR_OMEGA_ABSOLUTE_PATH`).
    pub warnings: Vec<String>,
}

fn build_options(o: BuildProofpackOptions) -> Result<pfs::BuildOptions, Code> {
    let created = o
        .source_date_epoch
        .map(|v| crate::error::whole("sourceDateEpoch", v))
        .transpose()?;
    let cal = crate::calibration::parse(o.calibration)?;
    let tc = o.toolchain.unwrap_or_default();
    pfs::BuildRequest {
        source: o.source,
        output: o.output,
        pack_type: o.pack_type,
        verdict: o.verdict,
        command: o.command,
        created_epoch_secs: created,
        node: tc.node,
        npm: tc.npm,
        tsc: tc.tsc,
        rustc: tc.rustc,
        cargo: tc.cargo,
        forbidden_patterns: cal.forbidden_path_patterns.clone(),
        verify_html: o.verify_html,
    }
    .into_options()
    .map_err(from_core)
}

fn to_result(output: &str, r: pfs::BuildReport) -> ProofpackBuildResult {
    ProofpackBuildResult {
        pack_id: r.pack_id,
        output: output.to_owned(),
        file_count: r.file_count as u32,
        listed_count: r.listed_count as u32,
        total_bytes: r.total_bytes as f64,
        created: r.manifest.created,
        generated: r.generated,
        warnings: r.warnings,
    }
}

/// Builds a proofpack from a run directory: copies every file (refusing symlinks, special files
/// and absolute paths in any content — `ERR_OMEGA_ABSOLUTE_PATH` lists `file:line`), writes
/// `toolchain.json`, `replay.sh`, `verify.ps1`, `verify.html` (when given), `SHA256SUMS.txt`
/// and `MANIFEST.json`, in a temporary directory renamed into place at the end. Same source and
/// same `SOURCE_DATE_EPOCH` → byte-identical pack. Throws `ERR_OMEGA_OUTPUT_NOT_EMPTY`,
/// `ERR_OMEGA_UNSAFE_PATH`, `ERR_OMEGA_INVALID_ARGUMENT`, `ERR_OMEGA_IO`.
#[napi]
pub fn build_proofpack(options: BuildProofpackOptions) -> Result<ProofpackBuildResult, Code> {
    let output = options.output.clone();
    let opts = build_options(options)?;
    pfs::build(&opts)
        .map(|r| to_result(&output, r))
        .map_err(from_core)
}

/// Cancels every running and future proofpack build of this process (the CLI calls it on
/// SIGINT / SIGTERM): each stops at its next 1 MiB chunk, removes its temporary directory and
/// fails with `ERR_OMEGA_INTERRUPTED`; none is renamed into place.
#[napi]
pub fn cancel_proofpack_builds() {
    pfs::cancel_builds();
}

/// Async task of `buildProofpackAsync`.
pub struct BuildTask {
    output: String,
    opts: pfs::BuildOptions,
}

impl Task for BuildTask {
    type Output = omega_pr_core::Result<pfs::BuildReport>;
    type JsValue = ProofpackBuildResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(pfs::build(&self.opts))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output {
            Ok(r) => Ok(to_result(&self.output, r)),
            Err(e) => Err(napi::Error::from(
                JsError::from(from_core(e)).into_unknown(env),
            )),
        }
    }
}

/// `buildProofpack` on the libuv thread pool (the event loop stays free).
#[napi(ts_return_type = "Promise<ProofpackBuildResult>")]
pub fn build_proofpack_async(options: BuildProofpackOptions) -> Result<AsyncTask<BuildTask>, Code> {
    let output = options.output.clone();
    let opts = build_options(options)?;
    Ok(AsyncTask::new(BuildTask { output, opts }))
}

/// One line of `SHA256SUMS.txt`.
#[napi(object)]
pub struct Sha256SumEntry {
    /// Relative path, `/` separators.
    pub path: String,
    /// SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// Parses `SHA256SUMS.txt` (GNU format). Throws `ERR_OMEGA_PARSE` with the line and a reason
/// code: `malformed_line`, `bad_hex`, `duplicate_path`, `absolute_path`, `dot_segment`,
/// `empty_segment`, `empty_path`, `nul`, `crlf`, `invalid_utf8`, `nfc_collision`.
#[napi]
pub fn parse_sha256_sums(text: Uint8Array) -> Result<Vec<Sha256SumEntry>, Code> {
    sums::parse(&text, sums::SUMS_FILE)
        .map(|l| {
            l.into_iter()
                .map(|e| Sha256SumEntry {
                    path: e.path,
                    sha256: e.sha256,
                })
                .collect()
        })
        .map_err(from_core)
}

/// Renders `SHA256SUMS.txt`: sorted by byte order, GNU escaping; same validation as the parser.
#[napi]
pub fn render_sha256_sums(entries: Vec<Sha256SumEntry>) -> Result<String, Code> {
    let list: Vec<sums::SumEntry> = entries
        .into_iter()
        .map(|e| sums::SumEntry {
            path: e.path,
            sha256: e.sha256,
        })
        .collect();
    sums::render(&list).map_err(from_core)
}

/// SHA-256 of bytes, lowercase hex.
#[napi]
pub fn sha256_hex(data: Uint8Array) -> String {
    manifest::sha256_hex(&data)
}

/// One absolute path found by `scanAbsolutePaths`.
#[napi(object)]
pub struct AbsolutePathHit {
    /// The file name given.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The pattern that matched.
    pub pattern: String,
}

/// Scans bytes for absolute paths (patterns of calibration `proofpack.forbidden_path_patterns`,
/// the shipped defaults when omitted). A bare pattern (`"/home/"`) is not a hit; `/home/alice`
/// and `C:\\Users` are.
#[napi]
pub fn scan_absolute_paths(
    file: String,
    data: Uint8Array,
    patterns: Option<Vec<String>>,
) -> Result<Vec<AbsolutePathHit>, Code> {
    let patterns = match patterns {
        Some(p) => p,
        None => crate::calibration::parse(None)?
            .forbidden_path_patterns
            .clone(),
    };
    Ok(pathscan::scan_bytes(&file, &data, &patterns)
        .into_iter()
        .map(|h| AbsolutePathHit {
            file: h.file,
            line: h.line.min(u32::MAX as u64) as u32,
            pattern: h.pattern,
        })
        .collect())
}
