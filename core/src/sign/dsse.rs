//! DSSE envelopes (`{payloadType, payload, signatures: [{keyid, sig}]}`, padded standard base64)
//! signed with Ed25519 over the PAE, and the in-toto Statement v1 with the test-result v0.1
//! predicate that a proofpack's `attestation.intoto.json` carries.
//!
//! The `keyid` is securesystemslib's default key id (SHA-256 of the canonical JSON of the key),
//! so `securesystemslib.dsse.Envelope.verify` accepts the envelope with
//! `SSlibKey(keyid, "ed25519", "ed25519", {"public": <hex>})`.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE as B64URL};
use base64::Engine as _;
use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::minisign::{PublicKey, SecretKey};
use crate::error::{Error, Result};
use crate::proofpack::manifest::{sha256_hex, to_hex};

/// payloadType of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// predicateType of the test-result predicate.
pub const TEST_RESULT_PREDICATE: &str = "https://in-toto.io/attestation/test-result/v0.1";

/// DSSE pre-authentication encoding: `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// securesystemslib's default key id of an Ed25519 key: SHA-256 (hex) of
/// `{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`.
pub fn sslib_keyid(public: &[u8; 32]) -> String {
    sha256_hex(
        format!(
            "{{\"keytype\":\"ed25519\",\"keyval\":{{\"public\":\"{}\"}},\"scheme\":\"ed25519\"}}",
            to_hex(public)
        )
        .as_bytes(),
    )
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id (securesystemslib default key id).
    #[serde(default)]
    pub keyid: String,
    /// Base64 Ed25519 signature of the PAE.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Media type of the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the payload.
    pub payload: String,
    /// Signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

fn sig_err(file: &str, reason: &str, message: impl Into<String>) -> Error {
    Error::Signature {
        file: file.into(),
        reason: reason.into(),
        message: message.into(),
    }
}

fn b64_any(s: &str) -> Option<Vec<u8>> {
    B64.decode(s)
        .ok()
        .or_else(|| B64URL.decode(s).ok())
        .or_else(|| {
            let t = s.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(t)
                .ok()
                .or_else(|| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(t)
                        .ok()
                })
        })
}

/// Signs `payload` into an envelope (one signature, padded standard base64).
pub fn sign_envelope(key: &SecretKey, payload_type: &str, payload: &[u8]) -> Envelope {
    let sig = key.sign_raw(&pae(payload_type, payload));
    Envelope {
        payload_type: payload_type.to_owned(),
        payload: B64.encode(payload),
        signatures: vec![EnvelopeSignature {
            keyid: sslib_keyid(&key.public_key().key),
            sig: B64.encode(sig),
        }],
    }
}

/// Parses and verifies an envelope with `key`: at least one signature must verify over the PAE.
/// Returns the payload bytes. Errors are `ERR_OMEGA_SIGNATURE` naming `file` (reasons
/// `malformed`, `key_id_mismatch`, `payload_changed`).
pub fn verify_envelope(key: &PublicKey, bytes: &[u8], file: &str) -> Result<(Envelope, Vec<u8>)> {
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| sig_err(file, "malformed", format!("not a DSSE envelope: {e}")))?;
    let payload =
        b64_any(&env.payload).ok_or_else(|| sig_err(file, "malformed", "payload is not base64"))?;
    let vk = VerifyingKey::from_bytes(&key.key)
        .map_err(|_| sig_err(file, "malformed", "invalid public key"))?;
    let keyid = sslib_keyid(&key.key);
    let message = pae(&env.payload_type, &payload);
    let mut ours = 0usize;
    for s in &env.signatures {
        if !s.keyid.is_empty() && s.keyid != keyid {
            continue;
        }
        ours += 1;
        let Some(raw) = b64_any(&s.sig) else { continue };
        let Ok(arr) = <[u8; 64]>::try_from(raw.as_slice()) else {
            continue;
        };
        if vk
            .verify_strict(&message, &EdSignature::from_bytes(&arr))
            .is_ok()
        {
            return Ok((env, payload));
        }
    }
    if ours == 0 {
        return Err(sig_err(
            file,
            "key_id_mismatch",
            format!("no signature by key id {keyid} (the pinned public key)"),
        ));
    }
    Err(sig_err(
        file,
        "payload_changed",
        "the DSSE signature does not verify: the payload or its type was changed after signing",
    ))
}

/// One subject of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// File name, relative to the pack.
    pub name: String,
    /// SHA-256 hex.
    pub sha256: String,
}

/// What the test-result predicate says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestResult {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// Gates that passed.
    pub passed: Vec<String>,
    /// Gates that failed.
    pub failed: Vec<String>,
    /// SHA-256 of the calibration file, if known.
    pub calibration_sha256: Option<String>,
    /// The command that produced the run, if recorded.
    pub command: Option<String>,
}

/// The in-toto Statement v1 JSON (compact, keys in a fixed order).
pub fn statement(subjects: &[Subject], t: &TestResult) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let subject: Vec<Value> = subjects
        .iter()
        .map(|s| json!({"name": s.name, "digest": {"sha256": s.sha256}}))
        .collect();
    let mut configuration = Vec::new();
    if let Some(c) = &t.calibration_sha256 {
        configuration.push(json!({"name": "calibration", "digest": {"sha256": c}}));
    }
    if let Some(cmd) = &t.command {
        configuration.push(json!({
            "name": "command",
            "content": B64.encode(cmd.as_bytes()),
            "mediaType": "text/plain",
            "annotations": {"command": cmd},
        }));
    }
    if configuration.is_empty() {
        if let Some(m) = subjects.first() {
            configuration.push(json!({"name": m.name, "digest": {"sha256": m.sha256}}));
        }
    }
    let mut predicate = Map::new();
    predicate.insert("result".into(), Value::String(t.result.clone()));
    predicate.insert("configuration".into(), Value::Array(configuration));
    predicate.insert("passedTests".into(), json!(t.passed));
    predicate.insert("failedTests".into(), json!(t.failed));
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": TEST_RESULT_PREDICATE,
        "predicate": Value::Object(predicate),
    })
}

/// Reads the subjects of a statement payload (`name` → sha256), checking `_type`.
pub fn statement_subjects(payload: &[u8], file: &str) -> Result<(Vec<Subject>, serde_json::Value)> {
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| sig_err(file, "malformed", format!("payload is not JSON: {e}")))?;
    if v.get("_type").and_then(|t| t.as_str()) != Some(STATEMENT_TYPE) {
        return Err(sig_err(
            file,
            "malformed",
            format!("payload is not an in-toto statement (`_type` ≠ {STATEMENT_TYPE})"),
        ));
    }
    let mut out = Vec::new();
    for s in v
        .get("subject")
        .and_then(|s| s.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = s.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let sha = s
            .get("digest")
            .and_then(|d| d.get("sha256"))
            .and_then(|d| d.as_str())
            .unwrap_or_default();
        out.push(Subject {
            name: name.to_owned(),
            sha256: sha.to_owned(),
        });
    }
    Ok((out, v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelope_roundtrip_and_tamper() {
        let k = SecretKey::from_seed([3u8; 32], [0; 8]);
        let pk = k.public_key();
        let env = sign_envelope(&k, INTOTO_PAYLOAD_TYPE, b"{\"a\":1}");
        assert_eq!(env.signatures[0].keyid.len(), 64);
        let bytes = serde_json::to_vec(&env).unwrap();
        let (_, p) = verify_envelope(&pk, &bytes, "att").unwrap();
        assert_eq!(p, b"{\"a\":1}");
        let mut bad = env.clone();
        bad.payload = B64.encode(b"{\"a\":2}");
        let e = verify_envelope(&pk, &serde_json::to_vec(&bad).unwrap(), "att").unwrap_err();
        assert_eq!(e.code(), "ERR_OMEGA_SIGNATURE");
        assert!(e.to_string().contains("payload_changed"));
        let other = SecretKey::from_seed([4u8; 32], [0; 8]).public_key();
        assert!(verify_envelope(&other, &bytes, "att")
            .unwrap_err()
            .to_string()
            .contains("key_id_mismatch"));
    }

    #[test]
    fn sslib_keyid_is_sha256_of_canonical_key() {
        let id = sslib_keyid(&[0u8; 32]);
        let want = sha256_hex(
            b"{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"0000000000000000000000000000000000000000000000000000000000000000\"},\"scheme\":\"ed25519\"}",
        );
        assert_eq!(id, want);
    }
}
