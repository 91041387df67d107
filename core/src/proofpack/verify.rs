//! Verification of a pack as a pure function over (the two documents, the files observed).
//!
//! The walker (native `fs` module, or the browser page) lists every entry of the pack directory
//! without following symlinks and hashes the regular files; [`verify`] compares. The result
//! distinguishes **complete** (every listed file present as a regular file, every present file
//! listed) from **valid** (complete, every digest and size matches, and `MANIFEST.json` agrees with
//! `SHA256SUMS.txt`), and lists each problem.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::manifest::{sha256_hex, Manifest, MANIFEST_FILE};
use super::names::{name_problem, refused_names, RefusedName};
use super::sums::{self, check_relative_path, SumEntry, SUMS_FILE};
use crate::error::Error;

/// What kind of directory entry was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else (socket, device, …). Directories are not reported.
    Other,
}

/// One entry observed in the pack (paths relative to the pack root, `/` separators).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedFile {
    /// Relative path.
    pub path: String,
    /// Kind of entry.
    pub kind: EntryKind,
    /// Size in bytes (0 when not a regular file).
    pub bytes: u64,
    /// SHA-256 (lowercase hex) of a regular file; `None` when not hashed or not a file.
    pub sha256: Option<String>,
    /// Why a regular file could not be read (e.g. `permission denied`): an I/O problem, not
    /// tampering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

/// Kinds of problem, as stable snake_case strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "ProofpackProblemKind"))]
pub enum ProblemKind {
    /// Listed but absent.
    Missing,
    /// Present but not listed.
    Extra,
    /// Digest differs from the listing.
    Mismatch,
    /// Size differs from the manifest.
    SizeMismatch,
    /// A path that is absolute, has `..`/empty segments, or otherwise escapes the pack.
    UnsafePath,
    /// A symbolic link inside the pack.
    Symlink,
    /// Neither a regular file nor a directory.
    NotAFile,
    /// `SHA256SUMS.txt` missing.
    SumsMissing,
    /// `SHA256SUMS.txt` cannot be parsed (reason in the message).
    SumsInvalid,
    /// `MANIFEST.json` missing.
    ManifestMissing,
    /// `MANIFEST.json` cannot be parsed (reason in the message).
    ManifestInvalid,
    /// `MANIFEST.json` and `SHA256SUMS.txt` disagree, or the manifest's own digest is wrong.
    ManifestMismatch,
    /// A listed file could not be read (permission denied, I/O error): the pack cannot be
    /// judged, which is not the same as a digest mismatch.
    Unreadable,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackProblem", deny_unknown_fields)
)]
pub struct VerifyProblem {
    /// Kind, e.g. `missing`.
    pub kind: ProblemKind,
    /// Relative path involved (the document name for document problems).
    pub path: String,
    /// Details.
    pub message: String,
}

/// Per-file status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackFileStatus", deny_unknown_fields)
)]
pub struct FileStatus {
    /// Relative path.
    pub path: String,
    /// `true` when present and the digest matches.
    pub ok: bool,
}

/// Result of an integrity verification (files, digests, manifest; no signatures): what the wasm
/// `verifyPack` returns. The full verdict is `sign::pack::PackVerification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackIntegrity", deny_unknown_fields)
)]
pub struct Verification {
    /// `PASS` when valid, else `FAIL`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// Every listed file present, every present file listed.
    pub complete: bool,
    /// Complete, every digest matches, manifest consistent.
    pub valid: bool,
    /// Pack id from the manifest, when it parsed.
    pub pack_id: Option<String>,
    /// Files listed in `SHA256SUMS.txt`, in its order, with their status.
    pub files: Vec<FileStatus>,
    /// Number of listed files.
    pub file_count: u64,
    /// Bytes of the listed files that were observed.
    pub total_bytes: u64,
    /// Every problem, sorted by (path, kind).
    pub problems: Vec<VerifyProblem>,
}

fn problem(kind: ProblemKind, path: &str, message: impl Into<String>) -> VerifyProblem {
    VerifyProblem {
        kind,
        path: path.to_owned(),
        message: message.into(),
    }
}

fn parse_message(err: Error) -> String {
    match err {
        Error::Parse {
            line,
            reason,
            message,
            ..
        } if line > 0 => format!("line {line}: {reason}: {message}"),
        Error::Parse {
            reason, message, ..
        } => format!("{reason}: {message}"),
        other => other.to_string(),
    }
}

/// Compares the documents with what was observed. `sums` / `manifest` are the bytes of
/// `SHA256SUMS.txt` / `MANIFEST.json` (`None` when absent); `observed` lists every other entry of
/// the pack (entries named like the two documents at the root are ignored).
pub fn verify(
    sums_bytes: Option<&[u8]>,
    manifest_bytes: Option<&[u8]>,
    observed: &[ObservedFile],
) -> Verification {
    verify_parsed(sums_bytes, manifest_bytes, observed).0
}

/// [`verify`], also returning `MANIFEST.json` as parsed (when it parsed), so that callers who
/// need it (the signed-pack verdict) do not parse it twice.
pub fn verify_parsed(
    sums_bytes: Option<&[u8]>,
    manifest_bytes: Option<&[u8]>,
    observed: &[ObservedFile],
) -> (Verification, Option<Manifest>) {
    let mut problems = Vec::new();
    let listing: Option<Vec<SumEntry>> = match sums_bytes {
        None => {
            problems.push(problem(
                ProblemKind::SumsMissing,
                SUMS_FILE,
                "SHA256SUMS.txt is missing",
            ));
            None
        }
        Some(b) => match sums::parse(b, SUMS_FILE) {
            Ok(l) => Some(l),
            Err(e) => {
                let kind = match &e {
                    Error::Parse { reason, .. }
                        if matches!(
                            reason.as_str(),
                            "absolute_path"
                                | "dot_segment"
                                | "empty_segment"
                                | "empty_path"
                                | "nul"
                        ) =>
                    {
                        ProblemKind::UnsafePath
                    }
                    _ => ProblemKind::SumsInvalid,
                };
                problems.push(problem(kind, SUMS_FILE, parse_message(e)));
                None
            }
        },
    };

    // The one name rule set (issue 14): every refused name of the listing, even when the
    // listing as a whole does not parse.
    if let Some(b) = sums_bytes {
        let names = sums::parse_names_lenient(b);
        for r in refused_names(names.iter().map(String::as_str)) {
            problems.push(problem(
                ProblemKind::UnsafePath,
                &r.name,
                format!("refused name: {}: {}", r.reason, r.explanation()),
            ));
        }
    }

    let mut pack_id = None;
    let manifest = match manifest_bytes {
        None => {
            problems.push(problem(
                ProblemKind::ManifestMissing,
                MANIFEST_FILE,
                "MANIFEST.json is missing",
            ));
            None
        }
        Some(b) => match Manifest::parse(b) {
            Ok(m) => {
                pack_id = Some(m.pack_id.clone());
                Some(m)
            }
            Err(e) => {
                problems.push(problem(
                    ProblemKind::ManifestInvalid,
                    MANIFEST_FILE,
                    parse_message(e),
                ));
                None
            }
        },
    };

    if let Some(m) = &manifest {
        match m.expected_self_digest() {
            Ok(d) if d == m.manifest_sha256 => {}
            _ => problems.push(problem(
                ProblemKind::ManifestMismatch,
                MANIFEST_FILE,
                "manifest_sha256 does not match the manifest's content (MANIFEST.json was edited)",
            )),
        }
        if let Some(b) = sums_bytes {
            if sha256_hex(b) != m.sha256sums_sha256 {
                problems.push(problem(
                    ProblemKind::ManifestMismatch,
                    SUMS_FILE,
                    "digest of SHA256SUMS.txt differs from MANIFEST.json sha256sums_sha256",
                ));
            }
        }
        if let Some(list) = &listing {
            let from_sums: HashMap<&str, &str> = list
                .iter()
                .map(|e| (e.path.as_str(), e.sha256.as_str()))
                .collect();
            let from_manifest: HashMap<&str, &str> = m
                .files
                .iter()
                .map(|f| (f.path.as_str(), f.sha256.as_str()))
                .collect();
            for (p, d) in &from_manifest {
                match from_sums.get(p) {
                    None => problems.push(problem(
                        ProblemKind::ManifestMismatch,
                        p,
                        "listed in MANIFEST.json but not in SHA256SUMS.txt",
                    )),
                    Some(s) if s != d => problems.push(problem(
                        ProblemKind::ManifestMismatch,
                        p,
                        "digest in MANIFEST.json differs from SHA256SUMS.txt",
                    )),
                    _ => {}
                }
            }
            for p in from_sums.keys() {
                if !from_manifest.contains_key(p) {
                    problems.push(problem(
                        ProblemKind::ManifestMismatch,
                        p,
                        "listed in SHA256SUMS.txt but not in MANIFEST.json",
                    ));
                }
            }
        }
    }

    // Observed entries, keyed by path; the two documents at the root are not payload.
    let mut seen: HashMap<&str, &ObservedFile> = HashMap::with_capacity(observed.len());
    for o in observed {
        if o.path == SUMS_FILE || o.path == MANIFEST_FILE {
            continue;
        }
        if let Err(r) = check_relative_path(&o.path) {
            problems.push(problem(ProblemKind::UnsafePath, &o.path, r.message));
            continue;
        }
        if let Some(reason) = name_problem(&o.path) {
            let r = RefusedName {
                name: o.path.clone(),
                reason,
            };
            problems.push(problem(
                ProblemKind::UnsafePath,
                &o.path,
                format!("refused name: {}: {}", r.reason, r.explanation()),
            ));
            continue;
        }
        seen.insert(o.path.as_str(), o);
    }

    let sizes: HashMap<&str, u64> = manifest
        .as_ref()
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f.bytes)).collect())
        .unwrap_or_default();

    let mut files = Vec::new();
    let mut complete = listing.is_some();
    let mut total_bytes = 0u64;
    let empty = Vec::new();
    let list = listing.as_ref().unwrap_or(&empty);
    for e in list {
        let mut ok = false;
        match seen.get(e.path.as_str()) {
            None => {
                complete = false;
                problems.push(problem(
                    ProblemKind::Missing,
                    &e.path,
                    "listed but not found",
                ));
            }
            Some(o) => {
                match o.kind {
                    EntryKind::Symlink => {
                        complete = false;
                        problems.push(problem(
                            ProblemKind::Symlink,
                            &e.path,
                            "is a symbolic link (never followed)",
                        ));
                    }
                    EntryKind::Other => {
                        complete = false;
                        problems.push(problem(
                            ProblemKind::NotAFile,
                            &e.path,
                            "is not a regular file",
                        ));
                    }
                    EntryKind::File => {
                        total_bytes += o.bytes;
                        if let Some(&want) = sizes.get(e.path.as_str()) {
                            if want != o.bytes {
                                problems.push(problem(
                                    ProblemKind::SizeMismatch,
                                    &e.path,
                                    format!("size {} bytes, manifest says {want}", o.bytes),
                                ));
                            }
                        }
                        match &o.sha256 {
                        Some(d) if *d == e.sha256 => ok = true,
                        Some(_) => problems.push(problem(
                            ProblemKind::Mismatch,
                            &e.path,
                            "SHA-256 does not match SHA256SUMS.txt",
                        )),
                        None => match &o.read_error {
                            Some(err) => problems.push(problem(
                                ProblemKind::Unreadable,
                                &e.path,
                                format!("cannot be read: {err} (an I/O problem, not a digest mismatch)"),
                            )),
                            None => problems.push(problem(
                                ProblemKind::Mismatch,
                                &e.path,
                                "could not be hashed",
                            )),
                        },
                    }
                    }
                }
            }
        }
        files.push(FileStatus {
            path: e.path.clone(),
            ok,
        });
    }
    if listing.is_some() {
        let listed: HashMap<&str, ()> = list.iter().map(|e| (e.path.as_str(), ())).collect();
        for (p, o) in &seen {
            if !listed.contains_key(p) {
                complete = false;
                let kind = if o.kind == EntryKind::Symlink {
                    ProblemKind::Symlink
                } else {
                    ProblemKind::Extra
                };
                problems.push(problem(kind, p, "present but not listed in SHA256SUMS.txt"));
            }
        }
    }
    if problems.iter().any(|p| p.kind == ProblemKind::UnsafePath) {
        complete = false;
    }
    problems.sort_by(|a, b| {
        (a.path.as_str(), a.kind, a.message.as_str()).cmp(&(
            b.path.as_str(),
            b.kind,
            b.message.as_str(),
        ))
    });
    problems.dedup();
    let valid = complete && problems.is_empty();
    let file_count = list.len() as u64;
    (
        Verification {
            verdict: if valid { "PASS" } else { "FAIL" }.into(),
            complete,
            valid,
            pack_id,
            file_count,
            total_bytes,
            files,
            problems,
        },
        manifest,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::super::manifest::{ManifestFile, ManifestInput};
    use super::*;

    fn pack() -> (String, String, Vec<ObservedFile>) {
        let files = [
            ("a.json", b"{}\n".as_slice()),
            ("dir/b.txt", b"hello".as_slice()),
        ];
        let entries: Vec<SumEntry> = files
            .iter()
            .map(|(p, c)| SumEntry {
                path: (*p).into(),
                sha256: sha256_hex(c),
            })
            .collect();
        let sums_text = sums::render(&entries).unwrap();
        let mf: Vec<ManifestFile> = files
            .iter()
            .map(|(p, c)| ManifestFile {
                path: (*p).into(),
                bytes: c.len() as u64,
                sha256: sha256_hex(c),
            })
            .collect();
        let m = Manifest::build(
            &ManifestInput {
                pack_type: "stress100".into(),
                verdict: "PASS".into(),
                created_epoch_secs: 1_700_000_000,
                source_run: "run".into(),
                command: None,
            },
            &mf,
            &sums_text,
        )
        .unwrap();
        let observed = files
            .iter()
            .map(|(p, c)| ObservedFile {
                path: (*p).into(),
                kind: EntryKind::File,
                bytes: c.len() as u64,
                sha256: Some(sha256_hex(c)),
                read_error: None,
            })
            .collect();
        (sums_text, m.render().unwrap(), observed)
    }

    fn kinds(v: &Verification) -> Vec<(ProblemKind, String)> {
        v.problems
            .iter()
            .map(|p| (p.kind, p.path.clone()))
            .collect()
    }

    #[test]
    fn good_pack_passes() {
        let (s, m, o) = pack();
        let v = verify(Some(s.as_bytes()), Some(m.as_bytes()), &o);
        assert_eq!(v.verdict, "PASS", "{:?}", v.problems);
        assert!(v.complete && v.valid);
        assert_eq!(v.file_count, 2);
        assert_eq!(v.total_bytes, 8);
    }

    #[test]
    fn mismatch_is_complete_but_invalid() {
        let (s, m, mut o) = pack();
        o[1].sha256 = Some("0".repeat(64));
        let v = verify(Some(s.as_bytes()), Some(m.as_bytes()), &o);
        assert!(v.complete && !v.valid);
        assert_eq!(kinds(&v), vec![(ProblemKind::Mismatch, "dir/b.txt".into())]);
        assert!(!v.files[1].ok);
    }

    #[test]
    fn missing_extra_symlink_unsafe() {
        let (s, m, mut o) = pack();
        o.remove(0);
        o.push(ObservedFile {
            path: "new.txt".into(),
            kind: EntryKind::File,
            bytes: 1,
            sha256: None,
            read_error: None,
        });
        o.push(ObservedFile {
            path: "link".into(),
            kind: EntryKind::Symlink,
            bytes: 0,
            sha256: None,
            read_error: None,
        });
        o.push(ObservedFile {
            path: "../up".into(),
            kind: EntryKind::File,
            bytes: 0,
            sha256: None,
            read_error: None,
        });
        let v = verify(Some(s.as_bytes()), Some(m.as_bytes()), &o);
        assert!(!v.complete && !v.valid);
        assert_eq!(
            kinds(&v),
            vec![
                (ProblemKind::UnsafePath, "../up".into()),
                (ProblemKind::Missing, "a.json".into()),
                (ProblemKind::Symlink, "link".into()),
                (ProblemKind::Extra, "new.txt".into()),
            ]
        );
    }

    #[test]
    fn document_edits_are_manifest_mismatch() {
        let (s, m, o) = pack();
        // SHA256SUMS edited alone (consistent with the files, but not with the manifest).
        let s2 = s.replace("dir/b.txt", "dir/c.txt");
        let mut o2 = o.clone();
        o2[1].path = "dir/c.txt".into();
        let v = verify(Some(s2.as_bytes()), Some(m.as_bytes()), &o2);
        assert_eq!(
            kinds(&v),
            vec![
                (ProblemKind::ManifestMismatch, SUMS_FILE.into()),
                (ProblemKind::ManifestMismatch, "dir/b.txt".into()),
                (ProblemKind::ManifestMismatch, "dir/c.txt".into()),
            ]
        );
        assert_eq!(v.verdict, "FAIL");
        // MANIFEST edited alone.
        let m2 = m.replace("\"PASS\"", "\"FAIL\"");
        let v = verify(Some(s.as_bytes()), Some(m2.as_bytes()), &o);
        assert_eq!(
            kinds(&v),
            vec![(ProblemKind::ManifestMismatch, MANIFEST_FILE.into())]
        );
        // Documents missing or unparseable.
        let v = verify(None, Some(b"{"), &o);
        assert_eq!(
            kinds(&v),
            vec![
                (ProblemKind::ManifestInvalid, MANIFEST_FILE.into()),
                (ProblemKind::SumsMissing, SUMS_FILE.into()),
            ]
        );
        assert!(!v.complete);
        let v = verify(Some(b"zz  a\n"), None, &o);
        assert_eq!(
            kinds(&v),
            vec![
                (ProblemKind::ManifestMissing, MANIFEST_FILE.into()),
                (ProblemKind::SumsInvalid, SUMS_FILE.into()),
            ]
        );
        assert!(!v.complete && !v.valid);
    }

    #[test]
    fn manifest_missing_alone_is_complete_but_invalid() {
        let (s, _, o) = pack();
        let v = verify(Some(s.as_bytes()), None, &o);
        assert_eq!(
            kinds(&v),
            vec![(ProblemKind::ManifestMissing, MANIFEST_FILE.into())]
        );
        assert_eq!(v.problems[0].message, "MANIFEST.json is missing");
        assert!(v.complete && !v.valid);
        assert_eq!(v.verdict, "FAIL");
        assert_eq!(v.pack_id, None);
    }

    #[test]
    fn not_a_file_listed_or_not() {
        let (s, m, mut o) = pack();
        // A listed path that is a FIFO/socket/device, and an unlisted one.
        o[1].kind = EntryKind::Other;
        o[1].bytes = 0;
        o[1].sha256 = None;
        o.push(ObservedFile {
            path: "pipe".into(),
            kind: EntryKind::Other,
            bytes: 0,
            sha256: None,
            read_error: None,
        });
        let v = verify(Some(s.as_bytes()), Some(m.as_bytes()), &o);
        assert_eq!(
            kinds(&v),
            vec![
                (ProblemKind::NotAFile, "dir/b.txt".into()),
                (ProblemKind::Extra, "pipe".into()),
            ]
        );
        assert!(!v.complete && !v.valid);
        assert!(v.files[0].ok && !v.files[1].ok);
        assert_eq!(v.total_bytes, 3);
    }

    #[test]
    fn papercut_09_unreadable_file_is_not_a_mismatch() {
        let (s, m, mut o) = pack();
        o[1].sha256 = None;
        o[1].read_error = Some("permission denied".into());
        let v = verify(Some(s.as_bytes()), Some(m.as_bytes()), &o);
        assert_eq!(v.verdict, "FAIL");
        assert_eq!(
            kinds(&v),
            vec![(ProblemKind::Unreadable, "dir/b.txt".into())]
        );
        assert!(v.problems[0].message.contains("permission denied"));
        assert!(!v.problems[0].message.contains("mismatch:"));
    }

    #[test]
    fn papercut_07_verifier_refuses_every_name_of_the_rule_set() {
        let (s, m, o) = pack();
        let h = "a".repeat(64);
        let bad = ["co:lon.json", "tab\t.json", "del\u{7f}.json", "C:x.json"];
        let mut text = s.clone();
        for n in bad {
            text.push_str(&format!("{h}  {n}\n"));
        }
        text.push_str(&format!("\\{h}  back\\\\slash.json\n"));
        let v = verify(Some(text.as_bytes()), Some(m.as_bytes()), &o);
        assert_eq!(v.verdict, "FAIL");
        for n in bad.iter().copied().chain(["back\\slash.json"]) {
            assert!(
                v.problems
                    .iter()
                    .any(|p| p.kind == ProblemKind::UnsafePath && p.path == n),
                "{n:?} in {:#?}",
                v.problems
            );
        }
    }
}
