//! Signatures for JS: minisign key generation, signing a pack, verifying a pack with its
//! signature and attestation. All logic is in `omega_pr_core::sign`; this file converts.

// napi-derive registers exports only outside `cfg(test)`: in test builds everything looks unused.
#![cfg_attr(test, allow(dead_code))]

use std::path::Path;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, JsError, Task};
use napi_derive::napi;
use omega_pr_core::sign::{fs as sfs, minisign, pack};
use serde_json::Value;

use crate::error::{from_core, js_error, Code};
use napi::Result;

/// Options of `minisignKeygen`.
#[napi(object)]
pub struct KeygenOptions {
    /// Password of the secret key (scrypt, as minisign). Required unless `unencrypted`.
    pub password: Option<String>,
    /// Write the secret key unencrypted (like `minisign -G -W`).
    pub unencrypted: Option<bool>,
}

/// A new key pair, as minisign's files.
#[napi(object)]
pub struct MinisignKeyPair {
    /// The `.pub` file text (`untrusted comment: minisign public key <KEYID>` + base64 line).
    pub public_key: String,
    /// The base64 line alone (what `minisign -P` / `--pubkey-string` take).
    pub public_key_string: String,
    /// The secret key file text.
    pub secret_key: String,
    /// Key id, as minisign shows it (16 uppercase hex digits).
    pub key_id: String,
}

/// Generates a minisign key pair (OS randomness). Encrypted with scrypt (N=2^20, r=8, p=1, about
/// a second and 1 GiB) unless `unencrypted`. Throws `ERR_OMEGA_INVALID_ARGUMENT` without a
/// password when encryption is asked.
#[napi]
pub fn minisign_keygen(options: KeygenOptions) -> Result<MinisignKeyPair, Code> {
    let unencrypted = options.unencrypted.unwrap_or(false);
    let f = sfs::new_key_pair(options.password, unencrypted).map_err(from_core)?;
    Ok(MinisignKeyPair {
        public_key: f.public_key,
        public_key_string: f.public_key_string,
        secret_key: f.secret_key,
        key_id: f.key_id,
    })
}

/// Whether a minisign secret key file text is encrypted. Throws `ERR_OMEGA_KEY` when garbled.
#[napi]
pub fn minisign_key_is_encrypted(secret_key: String, file: String) -> Result<bool, Code> {
    minisign::secret_key_is_encrypted(&secret_key, &file).map_err(from_core)
}

/// Decrypts a secret key (checks the password) and returns it as an unencrypted key file text,
/// so a build can fail on a wrong password before it writes anything. Throws `ERR_OMEGA_KEY`
/// (`wrong_password`, `password_required`, `malformed`) naming `file`.
#[napi]
pub fn minisign_unlock_key(
    secret_key: String,
    file: String,
    password: Option<String>,
) -> Result<String, Code> {
    let k =
        minisign::SecretKey::parse(&secret_key, &file, password.as_deref()).map_err(from_core)?;
    k.render(&minisign::Protection::None).map_err(from_core)
}

/// Parses a public key (`.pub` text or the base64 line); returns its key id. Throws
/// `ERR_OMEGA_KEY` naming `file`.
#[napi]
pub fn minisign_public_key_id(public_key: String, file: String) -> Result<String, Code> {
    minisign::PublicKey::parse(&public_key, &file)
        .map(|k| k.key_id_hex())
        .map_err(from_core)
}

/// One gate outcome (attestation passed/failed tests).
#[napi(object)]
pub struct GateOutcome {
    /// Gate id, e.g. `PR-G1`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
}

/// Options of `signProofpack`.
#[napi(object)]
pub struct SignProofpackOptions {
    /// The secret key file text.
    pub secret_key: String,
    /// Its file name (in errors).
    pub key_file: String,
    /// Its password, when encrypted.
    pub password: Option<String>,
    /// `timestamp:` of the trusted comment; defaults to `SOURCE_DATE_EPOCH`, then the clock.
    pub source_date_epoch: Option<f64>,
    /// SHA-256 of the calibration file used, for the attestation's configuration.
    pub calibration_sha256: Option<String>,
    /// Gate outcomes for the attestation (else the recorded verdict stands for the pack type).
    pub gates: Option<Vec<GateOutcome>>,
}

/// A signed pack.
#[napi(object)]
pub struct SignProofpackResult {
    /// Signer key id.
    pub key_id: String,
    /// The trusted comment (pack id, type, verdict).
    pub trusted_comment: String,
    /// The files written: `MANIFEST.json.minisig`, `attestation.intoto.json`.
    pub files: Vec<String>,
}

/// Signs the pack in `dir` (its integrity is checked first): writes `MANIFEST.json.minisig`
/// (minisign, prehashed, trusted comment with pack id, type, verdict) and
/// `attestation.intoto.json` (DSSE, in-toto test-result statement over every file). Throws
/// `ERR_OMEGA_KEY`, `ERR_OMEGA_INVALID_ARGUMENT` (a pack that does not verify), `ERR_OMEGA_IO`.
#[napi]
pub fn sign_proofpack(
    dir: String,
    options: SignProofpackOptions,
) -> Result<SignProofpackResult, Code> {
    let key = minisign::SecretKey::parse(
        &options.secret_key,
        &options.key_file,
        options.password.as_deref(),
    )
    .map_err(from_core)?;
    let timestamp = match options.source_date_epoch {
        Some(v) => crate::error::whole("sourceDateEpoch", v)?,
        None => omega_pr_core::proofpack::fs::epoch_now(),
    };
    let opts = pack::SignOptions {
        timestamp,
        calibration_sha256: options.calibration_sha256,
        gates: options
            .gates
            .unwrap_or_default()
            .into_iter()
            .map(|g| pack::Gate {
                name: g.name,
                passed: g.passed,
            })
            .collect(),
    };
    let s = sfs::sign_dir(Path::new(&dir), &dir, &key, &opts).map_err(from_core)?;
    Ok(SignProofpackResult {
        key_id: s.key_id,
        trusted_comment: s.trusted_comment,
        files: pack::SIGNATURE_FILES.map(String::from).to_vec(),
    })
}

/// Options of `verifyProofpack`.
#[napi(object)]
#[derive(Default, Clone)]
pub struct VerifyProofpackOptions {
    /// The pinned public key: `.pub` file text or the base64 line (`RW…`).
    pub pubkey: Option<String>,
    /// Name of the key in errors (file name or `--pubkey-string`).
    pub pubkey_name: Option<String>,
    /// A digest of the manifest published elsewhere: its `manifest_sha256` or the SHA-256 of
    /// `MANIFEST.json`.
    pub expect_manifest_sha256: Option<String>,
}

fn parse_key(o: &VerifyProofpackOptions) -> Result<Option<minisign::PublicKey>, Code> {
    minisign::PublicKey::parse_pinned(o.pubkey.as_deref(), o.pubkey_name.as_deref())
        .map_err(from_core)
}

fn to_value(v: &pack::PackVerification) -> Result<Value, Code> {
    serde_json::to_value(v).map_err(|e| js_error("ERR_OMEGA_INTERNAL", e.to_string()))
}

/// Verifies the proofpack in `dir`: integrity (never follows symlinks, parallel hashing), the
/// recorded verdict, and with `pubkey` the minisign signature and the attestation. The result is
/// snake_case, identical to the wasm `verifySignedPack`. Throws only when `dir` cannot be read
/// (`ERR_OMEGA_IO`) or the public key is garbled (`ERR_OMEGA_KEY`).
#[napi(ts_return_type = "ProofpackVerification")]
pub fn verify_proofpack(
    dir: String,
    options: Option<VerifyProofpackOptions>,
) -> Result<Value, Code> {
    let o = options.unwrap_or_default();
    let key = parse_key(&o)?;
    let v = sfs::verify_dir(
        Path::new(&dir),
        &dir,
        key.as_ref(),
        o.expect_manifest_sha256.as_deref(),
    )
    .map_err(from_core)?;
    to_value(&v)
}

/// A JSON value handed to JS by an async task (`serde_json::Value` lacks napi's `TypeName`).
pub struct JsonObject(Value);

impl napi::bindgen_prelude::TypeName for JsonObject {
    fn type_name() -> &'static str {
        "Object"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl napi::bindgen_prelude::ToNapiValue for JsonObject {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        // SAFETY: forwards the same env to serde_json::Value's own conversion.
        unsafe { Value::to_napi_value(env, val.0) }
    }
}

/// Async task of `verifyProofpackAsync`.
pub struct VerifyTask {
    dir: String,
    key: Option<minisign::PublicKey>,
    expect: Option<String>,
}

impl Task for VerifyTask {
    type Output = omega_pr_core::Result<pack::PackVerification>;
    type JsValue = JsonObject;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(sfs::verify_dir(
            Path::new(&self.dir),
            &self.dir,
            self.key.as_ref(),
            self.expect.as_deref(),
        ))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output.map_err(from_core).and_then(|v| to_value(&v)) {
            Ok(v) => Ok(JsonObject(v)),
            Err(e) => Err(napi::Error::from(JsError::from(e).into_unknown(env))),
        }
    }
}

/// `verifyProofpack` on the libuv thread pool.
#[napi(ts_return_type = "Promise<ProofpackVerification>")]
pub fn verify_proofpack_async(
    dir: String,
    options: Option<VerifyProofpackOptions>,
) -> Result<AsyncTask<VerifyTask>, Code> {
    let o = options.unwrap_or_default();
    let key = parse_key(&o)?;
    Ok(AsyncTask::new(VerifyTask {
        dir,
        key,
        expect: o.expect_manifest_sha256,
    }))
}
