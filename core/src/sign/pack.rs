//! Signed proofpacks: what is signed (`MANIFEST.json`, which pins `SHA256SUMS.txt`, which pins
//! every file), the two signature files a signed pack holds next to it (not listed in
//! `SHA256SUMS.txt`), and the full verification (integrity + recorded verdict + signature +
//! attestation + a digest published elsewhere) shared by the CLI, the addon and the page.
//!
//! The result object is serialised in **snake_case** (like the reports) by both bindings.

use serde::{Deserialize, Serialize};

use super::dsse::{self, Subject, TestResult};
use super::minisign::{self, PublicKey, SecretKey, Signature};
use crate::error::{Error, Result};
use crate::proofpack::manifest::{sha256_hex, Manifest, MANIFEST_FILE};
use crate::proofpack::sums::SUMS_FILE;
use crate::proofpack::verify::{verify_parsed, FileStatus, ObservedFile, VerifyProblem};

/// The minisign signature of `MANIFEST.json`.
pub const MINISIG_FILE: &str = "MANIFEST.json.minisig";
/// The DSSE envelope with the in-toto statement.
pub const ATTESTATION_FILE: &str = "attestation.intoto.json";
/// The only files a pack may hold beyond its listing and `MANIFEST.json`/`SHA256SUMS.txt`.
pub const SIGNATURE_FILES: [&str; 2] = [MINISIG_FILE, ATTESTATION_FILE];

/// Placeholder of `verify.html` replaced at build time by [`embed_pack_info`].
pub const PACK_INFO_PLACEHOLDER: &str = "__OMEGA_PACK_INFO__";

/// Replaces [`PACK_INFO_PLACEHOLDER`] in the page by `{pack_id, type, verdict, created, files}`
/// (JSON, `<` escaped), so the page says what the pack claims to be before files are chosen.
/// The same values the manifest will hold; the page checks them against it once files are given.
pub fn embed_pack_info(
    html: &str,
    input: &crate::proofpack::manifest::ManifestInput,
    file_count: u64,
) -> String {
    use crate::proofpack::manifest::{iso8601, MIN_EPOCH_SECS};
    let secs = input
        .created_epoch_secs
        .clamp(MIN_EPOCH_SECS, 253_402_300_799);
    let info = serde_json::json!({
        "pack_id": format!("{}-{}", input.pack_type, secs * 1000),
        "type": input.pack_type,
        "verdict": input.verdict,
        "created": iso8601(secs),
        "files": file_count,
    });
    html.replacen(
        PACK_INFO_PLACEHOLDER,
        &info.to_string().replace('<', "\\u003c"),
        1,
    )
}

/// One gate outcome, for the attestation's passed/failed tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// Gate id, e.g. `PR-G1`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
}

/// What to put in the signatures besides the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignOptions {
    /// `timestamp:` of the trusted comment (the caller reads `SOURCE_DATE_EPOCH` or a clock).
    pub timestamp: u64,
    /// SHA-256 of the calibration used, if known.
    pub calibration_sha256: Option<String>,
    /// Gate outcomes, if known (else the verdict stands for the pack type).
    pub gates: Vec<Gate>,
}

/// The two signature files of a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFiles {
    /// `MANIFEST.json.minisig` text.
    pub minisig: String,
    /// `attestation.intoto.json` text.
    pub attestation: String,
    /// Signer key id (minisign display).
    pub key_id: String,
    /// The trusted comment.
    pub trusted_comment: String,
}

/// The trusted comment of a pack signature (minisign prints it after verifying):
/// `timestamp:<t>\tfile:MANIFEST.json\thashed\tpack:<id>\ttype:<type>\tverdict:<verdict>`.
pub fn trusted_comment(m: &Manifest, timestamp: u64) -> String {
    format!(
        "timestamp:{timestamp}\tfile:{MANIFEST_FILE}\thashed\tpack:{}\ttype:{}\tverdict:{}",
        m.pack_id, m.pack_type, m.verdict
    )
}

fn comment_field<'a>(comment: &'a str, key: &str) -> Option<&'a str> {
    comment
        .split('\t')
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
}

/// Subjects of the attestation: `MANIFEST.json`, `SHA256SUMS.txt`, then every listed file.
pub fn subjects(m: &Manifest, manifest_bytes: &[u8]) -> Vec<Subject> {
    let mut out = vec![
        Subject {
            name: MANIFEST_FILE.into(),
            sha256: sha256_hex(manifest_bytes),
        },
        Subject {
            name: SUMS_FILE.into(),
            sha256: m.sha256sums_sha256.clone(),
        },
    ];
    out.extend(m.files.iter().map(|f| Subject {
        name: f.path.clone(),
        sha256: f.sha256.clone(),
    }));
    out
}

/// Signs a pack whose `MANIFEST.json` is `manifest_bytes` (parsed and self-checked first).
pub fn sign_pack(
    key: &SecretKey,
    manifest_bytes: &[u8],
    opts: &SignOptions,
) -> Result<SignedFiles> {
    let m = Manifest::parse(manifest_bytes)?;
    if m.expected_self_digest()? != m.manifest_sha256 {
        return Err(Error::invalid(
            MANIFEST_FILE,
            "manifest_sha256 does not match its content: refusing to sign an edited manifest",
        ));
    }
    let comment = trusted_comment(&m, opts.timestamp);
    let key_id = key.public_key().key_id_hex();
    let sig = minisign::sign(
        key,
        manifest_bytes,
        &format!("omega-pr signature of {MANIFEST_FILE} by key {key_id}"),
        &comment,
    )?;
    let (passed, failed) = if opts.gates.is_empty() {
        if m.verdict == "PASS" {
            (vec![m.pack_type.clone()], vec![])
        } else {
            (vec![], vec![m.pack_type.clone()])
        }
    } else {
        (
            opts.gates
                .iter()
                .filter(|g| g.passed)
                .map(|g| g.name.clone())
                .collect(),
            opts.gates
                .iter()
                .filter(|g| !g.passed)
                .map(|g| g.name.clone())
                .collect(),
        )
    };
    let st = dsse::statement(
        &subjects(&m, manifest_bytes),
        &TestResult {
            result: if m.verdict == "PASS" {
                "PASSED"
            } else {
                "FAILED"
            }
            .into(),
            passed,
            failed,
            calibration_sha256: opts.calibration_sha256.clone(),
            command: m.command.clone(),
        },
    );
    let payload =
        serde_json::to_vec(&st).map_err(|e| Error::invalid("statement", e.to_string()))?;
    let env = dsse::sign_envelope(key, dsse::INTOTO_PAYLOAD_TYPE, &payload);
    let mut attestation = serde_json::to_string_pretty(&env)
        .map_err(|e| Error::invalid("envelope", e.to_string()))?;
    attestation.push('\n');
    Ok(SignedFiles {
        minisig: sig.render(),
        attestation,
        key_id,
        trusted_comment: comment,
    })
}

/// Outcome of one signature check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackSignatureCheck", deny_unknown_fields)
)]
pub struct SignatureCheck {
    /// `unsigned` / `absent` (no file), `not_checked` (present, no public key given),
    /// `verified`, `invalid`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["unsigned", "absent", "not_checked", "verified", "invalid"])))]
    pub status: String,
    /// Signer key id (minisign display for the `.minisig`, sslib key id for the attestation).
    pub key_id: Option<String>,
    /// Trusted comment of the `.minisig`.
    pub trusted_comment: Option<String>,
    /// `ERR_OMEGA_…` code when invalid.
    pub code: Option<String>,
    /// In words.
    pub message: String,
}

impl SignatureCheck {
    fn new(status: &str, message: impl Into<String>) -> Self {
        Self {
            status: status.into(),
            key_id: None,
            trusted_comment: None,
            code: None,
            message: message.into(),
        }
    }

    fn invalid(err: &Error) -> Self {
        Self {
            status: "invalid".into(),
            key_id: None,
            trusted_comment: None,
            code: Some(err.code().into()),
            message: err.to_string(),
        }
    }
}

/// Full verification of a proofpack: the same snake_case object from the native
/// `verifyProofpack` and the wasm `verifySignedPack` (`omega-pr proofpack verify --json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ProofpackVerification", deny_unknown_fields)
)]
pub struct PackVerification {
    /// Integrity: `PASS` when `valid`, else `FAIL` (not the recorded verdict!).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// Every listed file present, every present file listed.
    pub complete: bool,
    /// Complete, every digest matches, manifest consistent.
    pub valid: bool,
    /// Pack id from the manifest.
    pub pack_id: Option<String>,
    /// Run type from the manifest.
    pub pack_type: Option<String>,
    /// The verdict recorded in the manifest (`PASS`/`FAIL`): what the run concluded.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL", null])))]
    pub recorded_verdict: Option<String>,
    /// `manifest_sha256` of the manifest.
    pub manifest_sha256: Option<String>,
    /// The digest the caller expected (`--expect-manifest-sha256`), if any.
    pub expected_manifest_sha256: Option<String>,
    /// Whether it equals `manifest_sha256` or the SHA-256 of `MANIFEST.json` (None: not asked).
    pub manifest_sha256_matches: Option<bool>,
    /// Listed files with their status.
    pub files: Vec<FileStatus>,
    /// Number of listed files.
    pub file_count: u64,
    /// Bytes of the listed files observed.
    pub total_bytes: u64,
    /// Integrity problems.
    pub problems: Vec<VerifyProblem>,
    /// The minisign signature of `MANIFEST.json`.
    pub signature: SignatureCheck,
    /// The DSSE attestation.
    pub attestation: SignatureCheck,
    /// Integrity valid, no invalid signature/attestation, expected digest (if any) matches.
    /// Says nothing of the recorded verdict.
    pub ok: bool,
}

/// Inputs of [`verify_pack`].
#[derive(Debug, Clone, Default)]
pub struct PackInputs<'a> {
    /// `SHA256SUMS.txt` bytes.
    pub sums: Option<&'a [u8]>,
    /// `MANIFEST.json` bytes.
    pub manifest: Option<&'a [u8]>,
    /// `MANIFEST.json.minisig` bytes.
    pub minisig: Option<&'a [u8]>,
    /// `attestation.intoto.json` bytes.
    pub attestation: Option<&'a [u8]>,
    /// Every entry observed in the pack.
    pub observed: &'a [ObservedFile],
    /// The pinned public key.
    pub pubkey: Option<&'a PublicKey>,
    /// A digest of the manifest published elsewhere.
    pub expect_manifest_sha256: Option<&'a str>,
}

fn check_minisig(inp: &PackInputs<'_>, m: Option<&Manifest>) -> SignatureCheck {
    let Some(bytes) = inp.minisig else {
        return SignatureCheck::new(
            "unsigned",
            "UNSIGNED — integrity only: anyone who can write these files could have produced them",
        );
    };
    let sig = match Signature::parse(bytes, MINISIG_FILE) {
        Ok(s) => s,
        Err(e) => return SignatureCheck::invalid(&e),
    };
    let mut c = SignatureCheck::new("not_checked", "");
    c.key_id = Some(sig.key_id_hex());
    c.trusted_comment = Some(sig.trusted_comment.clone());
    let Some(pk) = inp.pubkey else {
        c.message = format!(
            "signed by key {} but NOT checked: give the pinned public key (--pubkey)",
            sig.key_id_hex()
        );
        return c;
    };
    let Some(mb) = inp.manifest else {
        let e = Error::Signature {
            file: MINISIG_FILE.into(),
            reason: "bad_signature".into(),
            message: "MANIFEST.json is missing".into(),
        };
        return SignatureCheck {
            key_id: c.key_id,
            trusted_comment: c.trusted_comment,
            ..SignatureCheck::invalid(&e)
        };
    };
    if let Err(e) = minisign::verify(pk, &sig, mb, MINISIG_FILE) {
        return SignatureCheck {
            key_id: c.key_id,
            trusted_comment: c.trusted_comment,
            ..SignatureCheck::invalid(&e)
        };
    }
    if let Some(m) = m {
        for (k, want) in [
            ("pack", &m.pack_id),
            ("type", &m.pack_type),
            ("verdict", &m.verdict),
        ] {
            if let Some(got) = comment_field(&sig.trusted_comment, k) {
                if got != want {
                    let e = Error::Signature {
                        file: MINISIG_FILE.into(),
                        reason: "comment_mismatch".into(),
                        message: format!(
                            "the signed comment says {k}:{got} but MANIFEST.json says {want}"
                        ),
                    };
                    return SignatureCheck {
                        key_id: c.key_id,
                        trusted_comment: c.trusted_comment,
                        ..SignatureCheck::invalid(&e)
                    };
                }
            }
        }
    }
    c.status = "verified".into();
    c.message = format!(
        "signature of MANIFEST.json verified with the pinned key {}",
        pk.key_id_hex()
    );
    c
}

fn check_attestation(inp: &PackInputs<'_>, m: Option<&Manifest>) -> SignatureCheck {
    let Some(bytes) = inp.attestation else {
        return SignatureCheck::new("absent", "no attestation.intoto.json");
    };
    let Some(pk) = inp.pubkey else {
        let mut c = SignatureCheck::new(
            "not_checked",
            "attestation present but NOT checked: give the pinned public key",
        );
        c.key_id = serde_json::from_slice::<dsse::Envelope>(bytes)
            .ok()
            .and_then(|e| e.signatures.first().map(|s| s.keyid.clone()));
        return c;
    };
    let keyid = dsse::sslib_keyid(&pk.key);
    let result = dsse::verify_envelope(pk, bytes, ATTESTATION_FILE).and_then(|(env, payload)| {
        if env.payload_type != dsse::INTOTO_PAYLOAD_TYPE {
            return Err(Error::Signature {
                file: ATTESTATION_FILE.into(),
                reason: "malformed".into(),
                message: format!("payloadType is {:?}", env.payload_type),
            });
        }
        let (subs, _) = dsse::statement_subjects(&payload, ATTESTATION_FILE)?;
        if let (Some(m), Some(mb)) = (m, inp.manifest) {
            let want = subjects(m, mb);
            if subs != want {
                return Err(Error::Signature {
                    file: ATTESTATION_FILE.into(),
                    reason: "subject_mismatch".into(),
                    message: "the attested subjects are not this pack's files and digests".into(),
                });
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            let mut c = SignatureCheck::new(
                "verified",
                "in-toto statement verified; its subjects are this pack's files",
            );
            c.key_id = Some(keyid);
            c
        }
        Err(e) => SignatureCheck {
            key_id: Some(keyid),
            ..SignatureCheck::invalid(&e)
        },
    }
}

/// Verifies a pack: integrity (as [`verify`](crate::proofpack::verify::verify), the two signature files excepted), the recorded
/// verdict, the minisign signature and the attestation with the pinned key, and an expected digest.
pub fn verify_pack(inp: &PackInputs<'_>) -> PackVerification {
    let observed: Vec<ObservedFile> = inp
        .observed
        .iter()
        .filter(|o| !SIGNATURE_FILES.contains(&o.path.as_str()))
        .cloned()
        .collect();
    let (v, m) = verify_parsed(inp.sums, inp.manifest, &observed);
    let signature = check_minisig(inp, m.as_ref());
    let attestation = check_attestation(inp, m.as_ref());
    let expected = inp
        .expect_manifest_sha256
        .map(|s| s.trim().to_ascii_lowercase());
    let matches = expected.as_ref().map(|e| {
        m.as_ref().is_some_and(|m| &m.manifest_sha256 == e)
            || inp.manifest.is_some_and(|b| &sha256_hex(b) == e)
    });
    let ok = v.valid
        && signature.status != "invalid"
        && attestation.status != "invalid"
        && matches != Some(false);
    PackVerification {
        verdict: v.verdict,
        complete: v.complete,
        valid: v.valid,
        pack_id: v.pack_id,
        pack_type: m.as_ref().map(|m| m.pack_type.clone()),
        recorded_verdict: m.as_ref().map(|m| m.verdict.clone()),
        manifest_sha256: m.as_ref().map(|m| m.manifest_sha256.clone()),
        expected_manifest_sha256: expected,
        manifest_sha256_matches: matches,
        files: v.files,
        file_count: v.file_count,
        total_bytes: v.total_bytes,
        problems: v.problems,
        signature,
        attestation,
        ok,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use crate::proofpack::manifest::{ManifestFile, ManifestInput};
    use crate::proofpack::sums::{render, SumEntry};
    use crate::proofpack::verify::EntryKind;

    fn pack(verdict: &str) -> (String, String, Vec<ObservedFile>) {
        let body = b"{\"ok\":true}\n";
        let d = sha256_hex(body);
        let sums = render(&[SumEntry {
            path: "PR_REPORT.json".into(),
            sha256: d.clone(),
        }])
        .unwrap();
        let m = Manifest::build(
            &ManifestInput {
                pack_type: "stress100".into(),
                verdict: verdict.into(),
                created_epoch_secs: 1_700_000_000,
                source_run: "run".into(),
                command: Some("omega-pr stress".into()),
            },
            &[ManifestFile {
                path: "PR_REPORT.json".into(),
                bytes: body.len() as u64,
                sha256: d.clone(),
            }],
            &sums,
        )
        .unwrap();
        let obs = vec![ObservedFile {
            path: "PR_REPORT.json".into(),
            kind: EntryKind::File,
            bytes: body.len() as u64,
            sha256: Some(d),
            read_error: None,
        }];
        (sums, m.render().unwrap(), obs)
    }

    fn key() -> SecretKey {
        SecretKey::from_seed([5u8; 32], [9; 8])
    }

    #[test]
    fn signed_pack_verifies_and_forgery_fails() {
        let (sums, man, obs) = pack("FAIL");
        let k = key();
        let pk = k.public_key();
        let s = sign_pack(&k, man.as_bytes(), &SignOptions::default()).unwrap();
        assert!(s.trusted_comment.contains("\tverdict:FAIL"));
        let mut observed = obs.clone();
        for f in SIGNATURE_FILES {
            observed.push(ObservedFile {
                path: f.into(),
                kind: EntryKind::File,
                bytes: 1,
                sha256: None,
                read_error: None,
            });
        }
        let inp = PackInputs {
            sums: Some(sums.as_bytes()),
            manifest: Some(man.as_bytes()),
            minisig: Some(s.minisig.as_bytes()),
            attestation: Some(s.attestation.as_bytes()),
            observed: &observed,
            pubkey: Some(&pk),
            expect_manifest_sha256: None,
        };
        let v = verify_pack(&inp);
        assert!(v.ok, "{v:?}");
        assert_eq!(v.recorded_verdict.as_deref(), Some("FAIL"));
        assert_eq!(v.signature.status, "verified");
        assert_eq!(v.attestation.status, "verified");

        // The forgery: verdict flipped, every digest recomputed → integrity fine, signature not.
        let mut fm = Manifest::parse(man.as_bytes()).unwrap();
        fm.verdict = "PASS".into();
        fm.manifest_sha256 = fm.expected_self_digest().unwrap();
        let forged = fm.render().unwrap();
        let v = verify_pack(&PackInputs {
            manifest: Some(forged.as_bytes()),
            ..inp.clone()
        });
        assert!(v.valid);
        assert!(!v.ok);
        assert_eq!(v.signature.status, "invalid");
        assert_eq!(v.signature.code.as_deref(), Some("ERR_OMEGA_SIGNATURE"));
        assert_eq!(v.attestation.status, "invalid");

        // No key: not checked, still ok (integrity only).
        let v = verify_pack(&PackInputs {
            pubkey: None,
            ..inp.clone()
        });
        assert!(v.ok);
        assert_eq!(v.signature.status, "not_checked");

        // Expected digest.
        let v = verify_pack(&PackInputs {
            expect_manifest_sha256: Some(&"0".repeat(64)),
            ..inp.clone()
        });
        assert_eq!(v.manifest_sha256_matches, Some(false));
        assert!(!v.ok);
        let d = sha256_hex(man.as_bytes());
        let v = verify_pack(&PackInputs {
            expect_manifest_sha256: Some(&d),
            ..inp
        });
        assert_eq!(v.manifest_sha256_matches, Some(true));
    }
}
