//! The one hashing module: SHA-256 of bytes ([`sha256_hex`]), streaming SHA-256 ([`Sha256`]) and
//! lowercase hex ([`to_hex`]). The `sha2` crate; on x86/x86_64 and aarch64 it picks the SHA
//! extensions at run time when the CPU has them.

use sha2::Digest;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&sha2::Sha256::digest(bytes))
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// An incremental SHA-256 hasher.
#[derive(Clone, Default)]
pub struct Sha256 {
    inner: sha2::Sha256,
}

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The digest as lowercase hex; resets the hasher.
    pub fn digest_hex(&mut self) -> String {
        to_hex(&self.inner.finalize_reset())
    }

    /// The raw 32-byte digest; resets the hasher.
    pub fn digest(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.inner.finalize_reset());
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::sha256_hex;
    use super::*;

    // FIPS 180-2 / NIST CAVS known answers.
    #[test]
    fn known_answers() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // 1 MiB of 'a', fed in uneven chunks.
        let data = vec![b'a'; 1 << 20];
        let mut h = Sha256::new();
        for c in data.chunks(4093) {
            h.update(c);
        }
        let want = "9bc1b2a288b26af7257a36277ae3816a7d4f16e89c1e7e77d0a5c48bad62b360";
        assert_eq!(h.digest_hex(), want);
        assert_eq!(sha256_hex(&data), want);
        // One million 'a' (FIPS 180-2 appendix B.3).
        assert_eq!(
            sha256_hex(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        // The hasher resets after a digest.
        assert_eq!(
            h.digest_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// `cargo test -p omega-pr-core --release -- --ignored sha_throughput --nocapture`: prints the
    /// single-core figure and whether the CPU has the SHA extensions (the sha2 crate picks them at
    /// run time; without them expect ~250 MB/s, with them ~1.5–2 GB/s).
    #[test]
    #[ignore]
    fn sha_throughput() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        let cpu_sha = std::arch::is_x86_feature_detected!("sha");
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        let cpu_sha = false;
        let data = vec![7u8; 256 << 20];
        let t = std::time::Instant::now();
        let mut h = Sha256::new();
        for c in data.chunks(1 << 20) {
            h.update(c);
        }
        let _ = h.digest_hex();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "sha256: {:.0} MB/s single core (cpu has SHA extensions: {cpu_sha})",
            data.len() as f64 / 1e6 / secs
        );
    }
}
