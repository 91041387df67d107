//! minisign's file formats (public key, secret key, `.minisig`) and Ed25519 signing/verification,
//! byte-compatible with minisign 0.11 (`minisign -V -p key.pub -m FILE` accepts what [`sign`]
//! makes; [`verify`] accepts what `minisign -S` makes, prehashed `ED` and legacy `Ed`).
//!
//! - public key: `untrusted comment: minisign public key <KEYID>` + b64(`Ed` ‖ key_id(8) ‖ pk(32)).
//! - secret key: b64 of 158 bytes: `Ed` ‖ kdf (`Sc` or `00 00`) ‖ `B2` ‖ salt(32) ‖ opslimit u64 LE ‖
//!   memlimit u64 LE ‖ [key_id(8) ‖ seed‖pk (64) ‖ chk(32)], the bracket XORed with scrypt output
//!   when encrypted; chk = BLAKE2b-256(`Ed` ‖ key_id ‖ sk), all zero in unencrypted keys (`-W`).
//! - `.minisig`: untrusted comment, b64(alg ‖ key_id ‖ sig), trusted comment, b64(global sig over
//!   sig ‖ trusted comment). `ED`: the signature covers BLAKE2b-512(file); `Ed`: the raw file.
//!
//! Pure: no clock, no randomness (the caller passes seeds and salts), builds for wasm32.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest};
use ed25519_dalek::{Signature as EdSignature, Signer, SigningKey, VerifyingKey};

use crate::error::{Error, Result};

const COMMENT: &str = "untrusted comment: ";
const TRUSTED: &str = "trusted comment: ";
/// Key algorithm and legacy signature algorithm.
pub const ALG_LEGACY: [u8; 2] = *b"Ed";
/// Prehashed signature algorithm (BLAKE2b-512 of the file is signed).
pub const ALG_PREHASHED: [u8; 2] = *b"ED";
const KDF_SCRYPT: [u8; 2] = *b"Sc";
const KDF_NONE: [u8; 2] = [0, 0];
const CHK_BLAKE2B: [u8; 2] = *b"B2";
/// minisign's scrypt cost: opslimit 2^25, memlimit 2^30 (→ N = 2^20, r = 8, p = 1).
pub const DEFAULT_OPSLIMIT: u64 = 1 << 25;
/// See [`DEFAULT_OPSLIMIT`].
pub const DEFAULT_MEMLIMIT: u64 = 1 << 30;
const SK_LEN: usize = 158;

fn key_err(file: &str, reason: &str, message: impl Into<String>) -> Error {
    Error::Key {
        file: file.into(),
        reason: reason.into(),
        message: message.into(),
    }
}

fn sig_err(file: &str, reason: &str, message: impl Into<String>) -> Error {
    Error::Signature {
        file: file.into(),
        reason: reason.into(),
        message: message.into(),
    }
}

/// minisign's display of a key id: the 8 bytes as a little-endian u64, 16 uppercase hex digits.
pub fn key_id_hex(key_id: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*key_id))
}

/// Lines of a text document without their `\r\n`/`\n`, skipping none.
fn lines(text: &str) -> Vec<&str> {
    text.split('\n').map(|l| l.trim_end_matches('\r')).collect()
}

/// The decoded bytes of a key file: an `untrusted comment:` line and one base64 line, or the
/// base64 line alone. `what` (`public key`, `secret key`) and `expected` word the errors.
fn key_bytes(text: &str, file: &str, what: &str, expected: &str) -> Result<Vec<u8>> {
    let ls = lines(text.trim());
    let b64 = match ls.as_slice() {
        [one] => one.trim(),
        [c, b] if c.starts_with(COMMENT) => b.trim(),
        _ => return Err(key_err(file, "malformed", expected)),
    };
    B64.decode(b64)
        .map_err(|e| key_err(file, "malformed", format!("{what} is not base64: {e}")))
}

/// A minisign public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    /// Random key id (shown as [`key_id_hex`]).
    pub key_id: [u8; 8],
    /// Ed25519 public key.
    pub key: [u8; 32],
}

impl PublicKey {
    /// Parses a `.pub` file (comment line + base64 line) or the bare base64 line (`-P`, `RW…`).
    /// `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let raw = key_bytes(
            text,
            file,
            "public key",
            "expected a minisign public key: `untrusted comment: …` then one base64 line, or the base64 line alone",
        )?;
        if raw.len() != 42 {
            return Err(key_err(
                file,
                "malformed",
                format!("public key is {} bytes, expected 42", raw.len()),
            ));
        }
        if raw[..2] != ALG_LEGACY {
            return Err(key_err(
                file,
                "unsupported",
                "public key algorithm is not `Ed`",
            ));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[10..42]);
        VerifyingKey::from_bytes(&key)
            .map_err(|_| key_err(file, "malformed", "not a valid Ed25519 public key"))?;
        Ok(Self { key_id, key })
    }

    /// The pinned key of a verification, if one is given: `text` parsed, named `name` in errors
    /// (`pubkey` when unnamed).
    pub fn parse_pinned(text: Option<&str>, name: Option<&str>) -> Result<Option<Self>> {
        text.map(|t| Self::parse(t, name.unwrap_or("pubkey")))
            .transpose()
    }

    /// The 56-character base64 line (what `minisign -P` takes).
    pub fn to_base64(&self) -> String {
        let mut raw = Vec::with_capacity(42);
        raw.extend_from_slice(&ALG_LEGACY);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.key);
        B64.encode(raw)
    }

    /// The `.pub` file, as minisign writes it.
    pub fn render(&self) -> String {
        format!(
            "{COMMENT}minisign public key {}\n{}\n",
            key_id_hex(&self.key_id),
            self.to_base64()
        )
    }

    /// The key id, as minisign shows it.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.key_id)
    }
}

/// How a secret key is protected on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// Unencrypted (`minisign -G -W`): kdf, salt, limits and chk all zero.
    None,
    /// Encrypted with scrypt (minisign's default), password and parameters.
    Scrypt {
        /// The password (bytes as typed, without the newline).
        password: String,
        /// Random 32-byte salt.
        salt: [u8; 32],
        /// libsodium opslimit ([`DEFAULT_OPSLIMIT`]).
        opslimit: u64,
        /// libsodium memlimit ([`DEFAULT_MEMLIMIT`]).
        memlimit: u64,
    },
}

impl Protection {
    /// The protection of a new key (`minisignKeygen`): none when `unencrypted`, else scrypt with
    /// minisign's cost ([`DEFAULT_OPSLIMIT`], [`DEFAULT_MEMLIMIT`]) and a salt from `salt` (called
    /// only then). A missing or empty password is `ERR_OMEGA_INVALID_ARGUMENT` naming `password`.
    pub fn for_new_key(
        password: Option<String>,
        unencrypted: bool,
        salt: impl FnOnce() -> Result<[u8; 32]>,
    ) -> Result<Self> {
        if unencrypted {
            return Ok(Self::None);
        }
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::invalid("password", "is required unless unencrypted"))?;
        Ok(Self::Scrypt {
            password,
            salt: salt()?,
            opslimit: DEFAULT_OPSLIMIT,
            memlimit: DEFAULT_MEMLIMIT,
        })
    }
}

/// A key pair as minisign's files (what `minisignKeygen` returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairFiles {
    /// The `.pub` file text (`untrusted comment: minisign public key <KEYID>` + base64 line).
    pub public_key: String,
    /// The base64 line alone (what `minisign -P` / `--pubkey-string` take).
    pub public_key_string: String,
    /// The secret key file text.
    pub secret_key: String,
    /// Key id, as minisign shows it (16 uppercase hex digits).
    pub key_id: String,
}

/// A decrypted minisign secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    /// Key id, shared with the public key.
    pub key_id: [u8; 8],
    /// Ed25519 seed (first half of minisign's 64-byte `sk`).
    pub seed: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", key_id_hex(&self.key_id))
    }
}

/// libsodium's `pickparams` for `crypto_pwhash_scryptsalsa208sha256`: (log2 N, r, p).
fn pickparams(opslimit: u64, memlimit: u64) -> (u8, u32, u32) {
    let ops = opslimit.max(32_768);
    let r: u64 = 8;
    if ops < memlimit / 32 {
        let max_n = ops / (r * 4);
        let mut n_log2 = 1u8;
        while n_log2 < 63 && (1u64 << n_log2) <= max_n / 2 {
            n_log2 += 1;
        }
        (n_log2, r as u32, 1)
    } else {
        let max_n = memlimit / (r * 128);
        let mut n_log2 = 1u8;
        while n_log2 < 63 && (1u64 << n_log2) <= max_n / 2 {
            n_log2 += 1;
        }
        let max_rp = ((ops / 4) / (1u64 << n_log2)).min(0x3fff_ffff);
        (n_log2, r as u32, (max_rp / r).max(1) as u32)
    }
}

fn scrypt_stream(
    password: &str,
    salt: &[u8],
    opslimit: u64,
    memlimit: u64,
    file: &str,
) -> Result<[u8; 104]> {
    // `len` only matters for PHC strings; the output slice sets the length.
    let (log_n, r, p) = pickparams(opslimit, memlimit);
    let params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
        .map_err(|e| key_err(file, "unsupported", format!("scrypt parameters: {e}")))?;
    let mut out = [0u8; 104];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut out)
        .map_err(|e| key_err(file, "unsupported", format!("scrypt: {e}")))?;
    Ok(out)
}

fn checksum(key_id: &[u8; 8], sk: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(ALG_LEGACY);
    h.update(key_id);
    h.update(sk);
    h.finalize().into()
}

/// Whether a secret key file is encrypted (needs a password).
pub fn secret_key_is_encrypted(text: &str, file: &str) -> Result<bool> {
    let raw = secret_raw(text, file)?;
    Ok(raw[2..4] == KDF_SCRYPT)
}

fn secret_raw(text: &str, file: &str) -> Result<Vec<u8>> {
    let raw = key_bytes(
        text,
        file,
        "secret key",
        "expected a minisign secret key: `untrusted comment: …` then one base64 line",
    )?;
    if raw.len() != SK_LEN {
        return Err(key_err(
            file,
            "malformed",
            format!("secret key is {} bytes, expected {SK_LEN}", raw.len()),
        ));
    }
    if raw[..2] != ALG_LEGACY || raw[4..6] != CHK_BLAKE2B {
        return Err(key_err(
            file,
            "unsupported",
            "secret key algorithms are not `Ed`/`B2`",
        ));
    }
    if raw[2..4] != KDF_SCRYPT && raw[2..4] != KDF_NONE {
        return Err(key_err(
            file,
            "unsupported",
            "secret key KDF is neither scrypt (`Sc`) nor none",
        ));
    }
    Ok(raw)
}

impl SecretKey {
    /// A key from a 32-byte seed and an 8-byte key id (both random at keygen).
    pub fn from_seed(seed: [u8; 32], key_id: [u8; 8]) -> Self {
        Self { key_id, seed }
    }

    fn signing(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id,
            key: self.signing().verifying_key().to_bytes(),
        }
    }

    /// The key's files: its public key (`.pub` text and base64 line), its secret key file
    /// protected by `protection`, and its key id.
    pub fn files(&self, protection: &Protection) -> Result<KeyPairFiles> {
        let pk = self.public_key();
        Ok(KeyPairFiles {
            public_key: pk.render(),
            public_key_string: pk.to_base64(),
            secret_key: self.render(protection)?,
            key_id: pk.key_id_hex(),
        })
    }

    /// Parses (and decrypts, with `password`) a secret key file. A wrong password is
    /// `ERR_OMEGA_KEY` reason `wrong_password`; an encrypted key without a password is
    /// `password_required`.
    pub fn parse(text: &str, file: &str, password: Option<&str>) -> Result<Self> {
        let raw = secret_raw(text, file)?;
        let encrypted = raw[2..4] == KDF_SCRYPT;
        let mut inner = [0u8; 104];
        inner.copy_from_slice(&raw[54..158]);
        if encrypted {
            let pw = password.ok_or_else(|| {
                key_err(
                    file,
                    "password_required",
                    "the secret key is encrypted: give its password",
                )
            })?;
            let mut u = [0u8; 8];
            u.copy_from_slice(&raw[38..46]);
            let ops = u64::from_le_bytes(u);
            u.copy_from_slice(&raw[46..54]);
            let mem = u64::from_le_bytes(u);
            let stream = scrypt_stream(pw, &raw[6..38], ops, mem, file)?;
            for (b, s) in inner.iter_mut().zip(stream.iter()) {
                *b ^= s;
            }
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&inner[..8]);
        let sk = &inner[8..72];
        let chk = &inner[72..104];
        let want = checksum(&key_id, sk);
        let zero = chk.iter().all(|&b| b == 0);
        if (encrypted || !zero) && chk != want {
            return Err(if encrypted {
                key_err(
                    file,
                    "wrong_password",
                    "wrong password (the key checksum does not match after decryption)",
                )
            } else {
                key_err(file, "malformed", "secret key checksum does not match")
            });
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&sk[..32]);
        let key = Self { key_id, seed };
        if key.signing().verifying_key().to_bytes()[..] != sk[32..64] {
            return Err(key_err(
                file,
                "malformed",
                "secret key halves do not match (seed vs public key)",
            ));
        }
        Ok(key)
    }

    /// The secret key file, as minisign writes it (same comment even when unencrypted, as 0.11).
    pub fn render(&self, protection: &Protection) -> Result<String> {
        let mut raw = Vec::with_capacity(SK_LEN);
        raw.extend_from_slice(&ALG_LEGACY);
        let mut inner = [0u8; 104];
        inner[..8].copy_from_slice(&self.key_id);
        inner[8..40].copy_from_slice(&self.seed);
        inner[40..72].copy_from_slice(&self.public_key().key);
        match protection {
            Protection::None => {
                raw.extend_from_slice(&KDF_NONE);
                raw.extend_from_slice(&CHK_BLAKE2B);
                raw.extend_from_slice(&[0u8; 48]);
            }
            Protection::Scrypt {
                password,
                salt,
                opslimit,
                memlimit,
            } => {
                let chk = checksum(&self.key_id, &inner[8..72]);
                inner[72..].copy_from_slice(&chk);
                let stream = scrypt_stream(password, salt, *opslimit, *memlimit, "secret key")?;
                for (b, s) in inner.iter_mut().zip(stream.iter()) {
                    *b ^= s;
                }
                raw.extend_from_slice(&KDF_SCRYPT);
                raw.extend_from_slice(&CHK_BLAKE2B);
                raw.extend_from_slice(salt);
                raw.extend_from_slice(&opslimit.to_le_bytes());
                raw.extend_from_slice(&memlimit.to_le_bytes());
            }
        }
        raw.extend_from_slice(&inner);
        Ok(format!(
            "{COMMENT}minisign encrypted secret key\n{}\n",
            B64.encode(raw)
        ))
    }

    /// Raw Ed25519 signature of `message` (DSSE signs the PAE bytes this way).
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.signing().sign(message).to_bytes()
    }
}

/// A parsed `.minisig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Text after `untrusted comment: ` (not authenticated).
    pub untrusted_comment: String,
    /// `true` for `ED` (BLAKE2b-512 prehash), `false` for legacy `Ed`.
    pub prehashed: bool,
    /// Key id of the signing key.
    pub key_id: [u8; 8],
    /// Signature of the file (or of its BLAKE2b-512).
    pub sig: [u8; 64],
    /// Text after `trusted comment: ` (authenticated by `global_sig`).
    pub trusted_comment: String,
    /// Signature of `sig ‖ trusted_comment`.
    pub global_sig: [u8; 64],
}

impl Signature {
    /// Parses a `.minisig` (4 lines). Truncated or garbled → `ERR_OMEGA_SIGNATURE` reason
    /// `malformed`, naming `file`.
    pub fn parse(text: &[u8], file: &str) -> Result<Self> {
        let text =
            std::str::from_utf8(text).map_err(|_| sig_err(file, "malformed", "not UTF-8 text"))?;
        let ls = lines(text);
        let ls: Vec<&str> = if ls.last() == Some(&"") {
            ls[..ls.len() - 1].to_vec()
        } else {
            ls
        };
        if ls.len() != 4 {
            return Err(sig_err(
                file,
                "malformed",
                format!(
                    "expected 4 lines (untrusted comment, signature, trusted comment, global signature), found {}",
                    ls.len()
                ),
            ));
        }
        let untrusted = ls[0].strip_prefix(COMMENT).ok_or_else(|| {
            sig_err(
                file,
                "malformed",
                "line 1 does not start with `untrusted comment: `",
            )
        })?;
        let raw = B64.decode(ls[1].trim()).map_err(|e| {
            sig_err(
                file,
                "malformed",
                format!("line 2 is not a base64 signature: {e}"),
            )
        })?;
        if raw.len() != 74 {
            return Err(sig_err(
                file,
                "malformed",
                format!("line 2 decodes to {} bytes, expected 74", raw.len()),
            ));
        }
        let prehashed = match [raw[0], raw[1]] {
            ALG_PREHASHED => true,
            ALG_LEGACY => false,
            _ => {
                return Err(sig_err(
                    file,
                    "malformed",
                    "unknown signature algorithm (neither `ED` nor `Ed`)",
                ))
            }
        };
        let trusted = ls[2].strip_prefix(TRUSTED).ok_or_else(|| {
            sig_err(
                file,
                "malformed",
                "line 3 does not start with `trusted comment: `",
            )
        })?;
        let g = B64.decode(ls[3].trim()).map_err(|e| {
            sig_err(
                file,
                "malformed",
                format!("line 4 is not a base64 signature: {e}"),
            )
        })?;
        if g.len() != 64 {
            return Err(sig_err(
                file,
                "malformed",
                format!("line 4 decodes to {} bytes, expected 64", g.len()),
            ));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[10..74]);
        let mut global_sig = [0u8; 64];
        global_sig.copy_from_slice(&g);
        Ok(Self {
            untrusted_comment: untrusted.to_owned(),
            prehashed,
            key_id,
            sig,
            trusted_comment: trusted.to_owned(),
            global_sig,
        })
    }

    /// The `.minisig` text.
    pub fn render(&self) -> String {
        let mut raw = Vec::with_capacity(74);
        raw.extend_from_slice(if self.prehashed {
            &ALG_PREHASHED
        } else {
            &ALG_LEGACY
        });
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.sig);
        format!(
            "{COMMENT}{}\n{}\n{TRUSTED}{}\n{}\n",
            self.untrusted_comment,
            B64.encode(raw),
            self.trusted_comment,
            B64.encode(self.global_sig)
        )
    }

    /// The key id, as minisign shows it.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.key_id)
    }
}

/// Signs `message` the way `minisign -S` does (prehashed `ED`). Comments must be one line each.
pub fn sign(
    key: &SecretKey,
    message: &[u8],
    untrusted_comment: &str,
    trusted_comment: &str,
) -> Result<Signature> {
    for (name, c) in [
        ("untrusted_comment", untrusted_comment),
        ("trusted_comment", trusted_comment),
    ] {
        if c.contains(['\n', '\r']) {
            return Err(Error::invalid(name, "must be a single line"));
        }
    }
    let signing = key.signing();
    let digest = Blake2b512::digest(message);
    let sig = signing.sign(&digest).to_bytes();
    let mut global = Vec::with_capacity(64 + trusted_comment.len());
    global.extend_from_slice(&sig);
    global.extend_from_slice(trusted_comment.as_bytes());
    Ok(Signature {
        untrusted_comment: untrusted_comment.to_owned(),
        prehashed: true,
        key_id: key.key_id,
        sig,
        trusted_comment: trusted_comment.to_owned(),
        global_sig: signing.sign(&global).to_bytes(),
    })
}

/// Verifies `sig` of `message` with `key`, as `minisign -V` does: key ids must match, the
/// signature (prehashed or legacy) and the trusted-comment signature must verify. Errors are
/// `ERR_OMEGA_SIGNATURE` naming `file`.
pub fn verify(key: &PublicKey, sig: &Signature, message: &[u8], file: &str) -> Result<()> {
    if key.key_id != sig.key_id {
        return Err(sig_err(
            file,
            "key_id_mismatch",
            format!(
                "signed by key {}, but the public key is {}",
                sig.key_id_hex(),
                key.key_id_hex()
            ),
        ));
    }
    let vk = VerifyingKey::from_bytes(&key.key)
        .map_err(|_| key_err("public key", "malformed", "not a valid Ed25519 public key"))?;
    let s = EdSignature::from_bytes(&sig.sig);
    let ok = if sig.prehashed {
        vk.verify_strict(&Blake2b512::digest(message), &s)
    } else {
        vk.verify_strict(message, &s)
    };
    ok.map_err(|_| {
        sig_err(
            file,
            "bad_signature",
            "the signature does not match the signed file (it was changed, or signed by another key)",
        )
    })?;
    let mut global = Vec::with_capacity(64 + sig.trusted_comment.len());
    global.extend_from_slice(&sig.sig);
    global.extend_from_slice(sig.trusted_comment.as_bytes());
    vk.verify_strict(&global, &EdSignature::from_bytes(&sig.global_sig))
        .map_err(|_| {
            sig_err(
                file,
                "bad_comment_signature",
                "the trusted comment was changed after signing",
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed([7u8; 32], [1, 2, 3, 4, 5, 6, 7, 8])
    }

    #[test]
    fn new_key_protection_needs_a_password_unless_unencrypted() {
        let no_salt = || -> Result<[u8; 32]> { panic!("no salt is drawn") };
        assert_eq!(
            Protection::for_new_key(None, true, no_salt).unwrap(),
            Protection::None
        );
        for pw in [None, Some(String::new())] {
            let e = Protection::for_new_key(pw, false, no_salt).unwrap_err();
            assert_eq!(e.code(), "ERR_OMEGA_INVALID_ARGUMENT");
            assert!(e.to_string().contains("password"), "{e}");
            assert!(
                e.to_string().contains("is required unless unencrypted"),
                "{e}"
            );
        }
        assert_eq!(
            Protection::for_new_key(Some("pw".into()), false, || Ok([9u8; 32])).unwrap(),
            Protection::Scrypt {
                password: "pw".into(),
                salt: [9u8; 32],
                opslimit: DEFAULT_OPSLIMIT,
                memlimit: DEFAULT_MEMLIMIT,
            }
        );
    }

    #[test]
    fn key_pair_files_round_trip() {
        let k = key();
        let f = k.files(&Protection::None).unwrap();
        assert_eq!(f.key_id, k.public_key().key_id_hex());
        assert_eq!(f.public_key, k.public_key().render());
        assert_eq!(
            PublicKey::parse(&f.public_key_string, "k").unwrap(),
            k.public_key()
        );
        assert_eq!(SecretKey::parse(&f.secret_key, "k", None).unwrap(), k);
    }

    #[test]
    fn pinned_key_is_optional_and_named_pubkey_by_default() {
        assert_eq!(PublicKey::parse_pinned(None, Some("x")).unwrap(), None);
        let pk = key().public_key();
        let text = pk.to_base64();
        assert_eq!(
            PublicKey::parse_pinned(Some(&text), None).unwrap(),
            Some(pk)
        );
        let e = PublicKey::parse_pinned(Some("garbage"), None).unwrap_err();
        assert!(e.to_string().contains("pubkey"), "{e}");
        let e = PublicKey::parse_pinned(Some("garbage"), Some("k.pub")).unwrap_err();
        assert!(e.to_string().contains("k.pub"), "{e}");
    }

    #[test]
    fn pickparams_matches_minisign_defaults() {
        assert_eq!(pickparams(DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT), (20, 8, 1));
    }

    #[test]
    fn key_id_is_le_u64_uppercase() {
        assert_eq!(key_id_hex(&[1, 2, 3, 4, 5, 6, 7, 8]), "0807060504030201");
    }

    #[test]
    fn public_key_roundtrip_and_errors() {
        let pk = key().public_key();
        let text = pk.render();
        assert!(text.starts_with("untrusted comment: minisign public key 0807060504030201\nRW"));
        assert_eq!(PublicKey::parse(&text, "k.pub").unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.to_base64(), "-P").unwrap(), pk);
        assert_eq!(pk.to_base64().len(), 56);
        let e = PublicKey::parse("RWQgarbled", "k.pub").unwrap_err();
        assert_eq!(e.code(), "ERR_OMEGA_KEY");
        assert!(e.to_string().contains("k.pub"));
    }

    #[test]
    fn unencrypted_secret_key_has_zero_chk_and_roundtrips() {
        let k = key();
        let text = k.render(&Protection::None).unwrap();
        let b = B64.decode(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(b.len(), 158);
        assert_eq!(&b[2..4], &[0, 0]);
        assert!(b[6..54].iter().all(|&x| x == 0));
        assert!(b[126..].iter().all(|&x| x == 0));
        assert!(!secret_key_is_encrypted(&text, "k").unwrap());
        assert_eq!(SecretKey::parse(&text, "k", None).unwrap(), k);
    }

    #[test]
    fn encrypted_secret_key_wrong_password() {
        // Low cost parameters (read back from the file) keep the test fast.
        let k = key();
        let p = Protection::Scrypt {
            password: "right".into(),
            salt: [9u8; 32],
            opslimit: 1 << 16,
            memlimit: 1 << 22,
        };
        let text = k.render(&p).unwrap();
        assert!(secret_key_is_encrypted(&text, "k").unwrap());
        assert_eq!(SecretKey::parse(&text, "k", Some("right")).unwrap(), k);
        let e = SecretKey::parse(&text, "k", Some("wrong")).unwrap_err();
        assert_eq!(e.code(), "ERR_OMEGA_KEY");
        assert!(e.to_string().contains("wrong_password"));
        let e = SecretKey::parse(&text, "k", None).unwrap_err();
        assert!(e.to_string().contains("password_required"));
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = key();
        let pk = k.public_key();
        let msg = b"{\"verdict\": \"FAIL\"}\n";
        let s = sign(&k, msg, "c", "timestamp:0\tfile:MANIFEST.json\thashed").unwrap();
        let text = s.render();
        let p = Signature::parse(text.as_bytes(), "m.minisig").unwrap();
        assert_eq!(p, s);
        verify(&pk, &p, msg, "m.minisig").unwrap();
        let e = verify(&pk, &p, b"{\"verdict\": \"PASS\"}\n", "m.minisig").unwrap_err();
        assert!(e.to_string().contains("bad_signature"));
        let mut q = p.clone();
        q.trusted_comment.push('x');
        assert!(verify(&pk, &q, msg, "m")
            .unwrap_err()
            .to_string()
            .contains("bad_comment_signature"));
        let other = SecretKey::from_seed([8u8; 32], [1, 2, 3, 4, 5, 6, 7, 8]).public_key();
        assert!(verify(&other, &p, msg, "m")
            .unwrap_err()
            .to_string()
            .contains("bad_signature"));
        let other = SecretKey::from_seed([8u8; 32], [0; 8]).public_key();
        assert!(verify(&other, &p, msg, "m")
            .unwrap_err()
            .to_string()
            .contains("key_id_mismatch"));
        // Truncated.
        let cut = &text.as_bytes()[..text.len() / 2];
        let e = Signature::parse(cut, "MANIFEST.json.minisig").unwrap_err();
        assert_eq!(e.code(), "ERR_OMEGA_SIGNATURE");
        assert!(e.to_string().contains("MANIFEST.json.minisig"));
    }

    /// Known answer: a `minisign -G -W` key and `minisign -S` signature made by minisign 0.11.
    #[test]
    fn known_answer_minisign_0_11() {
        let pk = PublicKey::parse(KAT_PUB, "kat.pub").unwrap();
        let sig = Signature::parse(KAT_SIG.as_bytes(), "kat.minisig").unwrap();
        assert!(sig.prehashed);
        verify(&pk, &sig, KAT_MSG, "kat.minisig").unwrap();
        assert!(verify(&pk, &sig, b"other", "kat.minisig").is_err());
        let sk = SecretKey::parse(KAT_SEC, "kat.key", None).unwrap();
        assert_eq!(sk.public_key(), pk);
        // Ed25519 is deterministic: our signature of the same message and comment is minisign's.
        let ours = sign(&sk, KAT_MSG, &sig.untrusted_comment, &sig.trusted_comment).unwrap();
        assert_eq!(ours.render(), KAT_SIG);
    }

    /// Known answer: a key encrypted by minisign 0.11 (scrypt N=2^20, 1 GiB, a few seconds).
    #[test]
    fn known_answer_encrypted_key() {
        let pk = PublicKey::parse(KAT_ENC_PUB, "e.pub").unwrap();
        let sk = SecretKey::parse(KAT_ENC_SEC, "e.key", Some("pw123")).unwrap();
        assert_eq!(sk.public_key(), pk);
        let e = SecretKey::parse(KAT_ENC_SEC, "e.key", Some("pw124")).unwrap_err();
        assert!(e.to_string().contains("wrong_password"));
    }

    include!("kat.rs.inc");
}
