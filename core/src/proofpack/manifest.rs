//! `MANIFEST.json`: what the pack is (id, type, verdict, creation time, source run), every file
//! with its size and digest, totals (like BagIt's Payload-Oxum), the digest of `SHA256SUMS.txt`
//! (so neither document can be edited alone) and the digest of the manifest itself.
//!
//! The manifest is rendered canonically (pretty JSON, fixed key order, trailing newline). Its
//! `manifest_sha256` is the SHA-256 of the rendering with that field set to 64 zeros, so an edit of
//! any byte of `MANIFEST.json` is detected. This is tamper-*evidence* against edits of one
//! document, not a signature: whoever rewrites every file consistently is not detected.

use serde::{Deserialize, Serialize};

// Hashing lives in `hash`; re-exported here for the paths callers already use.
pub use super::hash::{sha256_hex, to_hex};
use super::sums::{self, SumEntry};
use crate::error::{Error, Result};

/// File name of the manifest inside a pack.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// Schema version written and read.
pub const MANIFEST_SCHEMA_VERSION: &str = "OMEGA-PROOFPACK-1.0";
/// 1980-01-01T00:00:00Z: `created` is never earlier (ZIP/DOS epoch, as reproducible builds clamp).
pub const MIN_EPOCH_SECS: u64 = 315_532_800;

const ZERO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One file of the pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackManifestFile", deny_unknown_fields)
)]
pub struct ManifestFile {
    /// Relative path, `/` separators, no `..` segment.
    #[cfg_attr(
        feature = "schema",
        schemars(
            length(min = 1),
            regex(pattern = r"^(?![/\\])(?!.*(^|/)\.\.(/|$))[^\\]+$")
        )
    )]
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub sha256: String,
}

/// Totals of the listed files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackManifestTotals", deny_unknown_fields)
)]
pub struct ManifestTotals {
    /// Number of listed files.
    pub files: u64,
    /// Sum of their sizes.
    pub bytes: u64,
    /// BagIt-style Payload-Oxum, `<bytes>.<files>`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9]+\.[0-9]+$")))]
    pub oxum: String,
}

/// A proofpack's `MANIFEST.json` (runbook phase 6, gate PR-G5), rendered canonically by the
/// core ([`Manifest::render`]). `manifest_sha256` is the SHA-256 of this document with that
/// field set to 64 zeros; `sha256sums_sha256` binds `SHA256SUMS.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackManifest", deny_unknown_fields)
)]
pub struct Manifest {
    /// Always `OMEGA-PROOFPACK-1.0` ([`MANIFEST_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = MANIFEST_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// `<type>-<created ms>`, e.g. `stress100-1707743400000`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[a-z0-9_-]{1,64}-[0-9]+$"))
    )]
    pub pack_id: String,
    /// Run type, e.g. `stress100`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[a-z0-9_-]{1,64}$")))]
    pub pack_type: String,
    /// Verdict of the run: `PASS` or `FAIL`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// Creation time, ISO 8601 UTC (from `SOURCE_DATE_EPOCH` when set), never before 1980.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
    )]
    pub created: String,
    /// Name of the source run directory (its last component only, never a path).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[^/\\]*$")))]
    pub source_run: String,
    /// Command that produced the run, if recorded.
    pub command: Option<String>,
    /// Every file listed in `SHA256SUMS.txt`, sorted by byte order of the path.
    pub files: Vec<ManifestFile>,
    /// Totals of `files`.
    pub totals: ManifestTotals,
    /// SHA-256 of `SHA256SUMS.txt`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub sha256sums_sha256: String,
    /// SHA-256 of this document rendered with this field set to 64 zeros.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub manifest_sha256: String,
}

/// What the caller says about the pack being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInput {
    /// Run type (`[a-z0-9_-]{1,64}`).
    pub pack_type: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// Creation time, seconds since the Unix epoch (the caller reads `SOURCE_DATE_EPOCH` or a
    /// clock; the core stays clock-free). Clamped to ≥ 1980-01-01.
    pub created_epoch_secs: u64,
    /// Last component of the source directory.
    pub source_run: String,
    /// Command that produced the run.
    pub command: Option<String>,
}

/// ISO 8601 UTC (`YYYY-MM-DDTHH:MM:SSZ`) of seconds since the Unix epoch.
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn valid_type(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

impl Manifest {
    /// Builds the manifest of `files` (any order; they are sorted) whose listing renders as
    /// `sums_text`. Validates the input.
    pub fn build(input: &ManifestInput, files: &[ManifestFile], sums_text: &str) -> Result<Self> {
        if !valid_type(&input.pack_type) {
            return Err(Error::invalid(
                "type",
                format!(
                    "{:?} must be 1–64 characters of [a-z0-9_-]",
                    input.pack_type
                ),
            ));
        }
        if input.verdict != "PASS" && input.verdict != "FAIL" {
            return Err(Error::invalid(
                "verdict",
                format!("{:?} must be PASS or FAIL", input.verdict),
            ));
        }
        if input.source_run.contains(['/', '\\']) {
            return Err(Error::invalid(
                "source_run",
                "must be a directory name, not a path",
            ));
        }
        let secs = input
            .created_epoch_secs
            .clamp(MIN_EPOCH_SECS, 253_402_300_799);
        let mut files = files.to_vec();
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let mut m = Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION.into(),
            pack_id: format!("{}-{}", input.pack_type, secs * 1000),
            pack_type: input.pack_type.clone(),
            verdict: input.verdict.clone(),
            created: iso8601(secs),
            source_run: input.source_run.clone(),
            command: input.command.clone(),
            totals: ManifestTotals {
                files: files.len() as u64,
                bytes,
                oxum: format!("{bytes}.{}", files.len()),
            },
            files,
            sha256sums_sha256: sha256_hex(sums_text.as_bytes()),
            manifest_sha256: ZERO_DIGEST.into(),
        };
        m.manifest_sha256 = sha256_hex(m.render_raw()?.as_bytes());
        Ok(m)
    }

    fn render_raw(&self) -> Result<String> {
        let mut s = serde_json::to_string_pretty(self).map_err(|e| Error::Parse {
            file: MANIFEST_FILE.into(),
            line: 0,
            reason: "serialize".into(),
            message: e.to_string(),
        })?;
        s.push('\n');
        Ok(s)
    }

    /// The canonical text of `MANIFEST.json`.
    pub fn render(&self) -> Result<String> {
        self.render_raw()
    }

    /// The digest `manifest_sha256` must have.
    pub fn expected_self_digest(&self) -> Result<String> {
        let mut copy = self.clone();
        copy.manifest_sha256 = ZERO_DIGEST.into();
        Ok(sha256_hex(copy.render_raw()?.as_bytes()))
    }

    /// The listing the manifest describes, as `SHA256SUMS.txt` entries.
    pub fn sum_entries(&self) -> Vec<SumEntry> {
        self.files
            .iter()
            .map(|f| SumEntry {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            })
            .collect()
    }

    /// Parses `MANIFEST.json` bytes. Rejects (reason codes): `invalid_json` (syntax, types, unknown
    /// or missing keys), `schema_version`, an unsafe or duplicate path or bad digest (the
    /// `SHA256SUMS.txt` reasons), `totals` that do not add up.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let perr = |reason: &str, message: String| Error::Parse {
            file: MANIFEST_FILE.into(),
            line: 0,
            reason: reason.into(),
            message,
        };
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| Error::Parse {
            file: MANIFEST_FILE.into(),
            line: e.line(),
            reason: "invalid_json".into(),
            message: e.to_string(),
        })?;
        if m.schema_version != MANIFEST_SCHEMA_VERSION {
            return Err(perr(
                "schema_version",
                format!(
                    "schema_version {:?} is not {MANIFEST_SCHEMA_VERSION}",
                    m.schema_version
                ),
            ));
        }
        // Same path and digest rules as SHA256SUMS.txt (rendering checks them).
        sums::render(&m.sum_entries()).map_err(|e| match e {
            Error::Parse {
                reason, message, ..
            } => perr(&reason, message),
            other => other,
        })?;
        let bytes_sum = m
            .files
            .iter()
            .try_fold(0u64, |acc, f| acc.checked_add(f.bytes));
        if m.totals.files != m.files.len() as u64
            || bytes_sum != Some(m.totals.bytes)
            || m.totals.oxum != format!("{}.{}", m.totals.bytes, m.totals.files)
        {
            return Err(perr(
                "totals",
                "totals do not match the listed files".into(),
            ));
        }
        for (field, v) in [
            ("sha256sums_sha256", &m.sha256sums_sha256),
            ("manifest_sha256", &m.manifest_sha256),
        ] {
            if !sums::is_sha256_hex(v) {
                return Err(perr(
                    "bad_hex",
                    format!("{field} is not 64 lowercase hex digits"),
                ));
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> ManifestInput {
        ManifestInput {
            pack_type: "stress100".into(),
            verdict: "PASS".into(),
            created_epoch_secs: 1_707_748_200,
            source_run: "stress100_20260212_143000".into(),
            command: Some("omega-pr stress --count=100".into()),
        }
    }

    fn files() -> Vec<ManifestFile> {
        vec![
            ManifestFile {
                path: "b.json".into(),
                bytes: 3,
                sha256: "b".repeat(64),
            },
            ManifestFile {
                path: "a.json".into(),
                bytes: 4,
                sha256: "a".repeat(64),
            },
        ]
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(MIN_EPOCH_SECS), "1980-01-01T00:00:00Z");
        assert_eq!(iso8601(1_707_748_200), "2024-02-12T14:30:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn builds_renders_and_parses_back() {
        let m = Manifest::build(&input(), &files(), "sums").unwrap();
        assert_eq!(m.pack_id, "stress100-1707748200000");
        assert_eq!(m.files[0].path, "a.json");
        assert_eq!(m.totals.oxum, "7.2");
        assert_eq!(m.sha256sums_sha256, sha256_hex(b"sums"));
        let text = m.render().unwrap();
        let back = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.expected_self_digest().unwrap(), m.manifest_sha256);
        assert_eq!(back.render().unwrap(), text);
    }

    #[test]
    fn created_is_clamped_to_1980() {
        let mut i = input();
        i.created_epoch_secs = 5;
        let m = Manifest::build(&i, &files(), "").unwrap();
        assert_eq!(m.created, "1980-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_bad_input() {
        let mut i = input();
        i.verdict = "MAYBE".into();
        assert_eq!(
            Manifest::build(&i, &files(), "").unwrap_err().code(),
            "ERR_OMEGA_INVALID_ARGUMENT"
        );
        let mut i = input();
        i.pack_type = "Stress 100".into();
        let err = Manifest::build(&i, &files(), "").unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_INVALID_ARGUMENT");
        assert!(err.to_string().contains("invalid argument `type`"), "{err}");
    }

    #[test]
    fn parse_rejects_edits() {
        let m = Manifest::build(&input(), &files(), "sums").unwrap();
        let text = m.render().unwrap();
        let bad_totals = text.replace("\"oxum\": \"7.2\"", "\"oxum\": \"8.2\"");
        assert!(
            matches!(Manifest::parse(bad_totals.as_bytes()), Err(Error::Parse { reason, .. }) if reason == "totals")
        );
        let traversal = text.replace("a.json", "../a.json");
        assert!(
            matches!(Manifest::parse(traversal.as_bytes()), Err(Error::Parse { reason, .. }) if reason == "dot_segment")
        );
        let extra_key = text.replacen('{', "{\"x\": 1,", 1);
        let err = Manifest::parse(extra_key.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_PARSE");
        assert!(
            matches!(&err, Error::Parse { reason, message, .. } if reason == "invalid_json" && message.contains("unknown field `x`")),
            "{err:?}"
        );
        // An edit of a field keeps it parseable but breaks the self digest.
        let edited = Manifest::parse(text.replace("PASS", "FAIL").as_bytes()).unwrap();
        assert_ne!(
            edited.expected_self_digest().unwrap(),
            edited.manifest_sha256
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Manifest::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_mutations(pos in 0usize..2000, byte in any::<u8>()) {
            let m = Manifest::build(&input(), &files(), "sums").unwrap();
            let mut text = m.render().unwrap().into_bytes();
            let i = pos % text.len();
            text[i] = byte;
            let _ = Manifest::parse(&text);
        }
    }
}
