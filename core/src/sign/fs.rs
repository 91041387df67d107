//! Native side of signing: key generation (OS randomness), signing a pack directory (the two
//! signature files written atomically next to `MANIFEST.json`), verifying a pack directory.

use std::fs;
use std::path::Path;

use super::minisign::{KeyPairFiles, Protection, PublicKey, SecretKey};
use super::pack::{
    self, PackInputs, PackVerification, SignOptions, SignedFiles, ATTESTATION_FILE, MINISIG_FILE,
};
use crate::error::{Error, Result};
use crate::proofpack::fs::observe_pack;
use crate::proofpack::manifest::MANIFEST_FILE;
use crate::proofpack::sums::SUMS_FILE;

fn io_err(op: &str, path: &str, e: std::io::Error) -> Error {
    Error::Io {
        op: op.into(),
        path: path.into(),
        message: e.to_string(),
    }
}

/// `n` random bytes from the OS.
pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| Error::Io {
        op: "getrandom".into(),
        path: "(os randomness)".into(),
        message: e.to_string(),
    })?;
    Ok(b)
}

/// A fresh key pair (random seed and key id).
pub fn keygen() -> Result<SecretKey> {
    Ok(SecretKey::from_seed(random::<32>()?, random::<8>()?))
}

/// A fresh key pair as minisign's files (`minisignKeygen`): the secret key encrypted with
/// `password` (scrypt, random salt) unless `unencrypted`; see [`Protection::for_new_key`].
pub fn new_key_pair(password: Option<String>, unencrypted: bool) -> Result<KeyPairFiles> {
    let key = keygen()?;
    let protection = Protection::for_new_key(password, unencrypted, random::<32>)?;
    key.files(&protection)
}

/// Signs the pack in `dir`: checks its integrity first (a broken pack is never signed), then
/// writes `MANIFEST.json.minisig` and `attestation.intoto.json` (each via a temporary file and a
/// rename; an existing signature is replaced).
pub fn sign_dir(
    dir: &Path,
    shown: &str,
    key: &SecretKey,
    opts: &SignOptions,
) -> Result<SignedFiles> {
    let v = verify_dir(dir, shown, None, None)?;
    if !v.valid {
        return Err(Error::invalid(
            "dir",
            format!(
                "pack `{shown}` fails its integrity check ({} problem(s)): refusing to sign it",
                v.problems.len()
            ),
        ));
    }
    let mb = fs::read(dir.join(MANIFEST_FILE))
        .map_err(|e| io_err("read", &format!("{shown}/{MANIFEST_FILE}"), e))?;
    let signed = pack::sign_pack(key, &mb, opts)?;
    for (name, text) in [
        (ATTESTATION_FILE, &signed.attestation),
        (MINISIG_FILE, &signed.minisig),
    ] {
        let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
        fs::write(&tmp, text).map_err(|e| io_err("write", &format!("{shown}/{name}"), e))?;
        if let Err(e) = fs::rename(&tmp, dir.join(name)) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("rename", &format!("{shown}/{name}"), e));
        }
    }
    Ok(signed)
}

/// Verifies the pack in `dir` (named `shown` in errors) with [`pack::verify_pack`]. Throws only
/// when `dir` or a document cannot be read.
pub fn verify_dir(
    dir: &Path,
    shown: &str,
    pubkey: Option<&PublicKey>,
    expect_manifest_sha256: Option<&str>,
) -> Result<PackVerification> {
    let o = observe_pack(
        dir,
        shown,
        &[SUMS_FILE, MANIFEST_FILE, MINISIG_FILE, ATTESTATION_FILE],
    )?;
    let [sums_bytes, manifest_bytes, minisig, attestation] = &o.docs[..] else {
        return Err(Error::invalid("dir", "internal: four documents expected"));
    };
    let observed = o.observed;
    Ok(pack::verify_pack(&PackInputs {
        sums: sums_bytes.as_deref(),
        manifest: manifest_bytes.as_deref(),
        minisig: minisig.as_deref(),
        attestation: attestation.as_deref(),
        observed: &observed,
        pubkey,
        expect_manifest_sha256,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn new_key_pair_unencrypted_parses_back() {
        let f = new_key_pair(None, true).unwrap();
        let k = SecretKey::parse(&f.secret_key, "k", None).unwrap();
        assert_eq!(k.public_key().key_id_hex(), f.key_id);
        assert_eq!(
            PublicKey::parse(&f.public_key, "k").unwrap(),
            k.public_key()
        );
    }

    #[test]
    fn new_key_pair_refuses_no_password() {
        let e = new_key_pair(Some(String::new()), false).unwrap_err();
        assert_eq!(e.code(), "ERR_OMEGA_INVALID_ARGUMENT");
    }
}
