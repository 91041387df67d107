//! Proofpacks: `SHA256SUMS.txt`, `MANIFEST.json`, verification and the absolute-path scan.
//!
//! Everything here is pure (no clock, no file system) and builds for `wasm32-unknown-unknown`,
//! except `fs` (cargo feature `fs`): native file walking, parallel hashing, building and
//! verifying packs on disk.
//!
//! ```
//! use omega_pr_core::proofpack::sums::{parse, render, SumEntry, SUMS_FILE};
//! use omega_pr_core::proofpack::manifest::sha256_hex;
//!
//! let entries = vec![SumEntry { path: "PR_REPORT.json".into(), sha256: sha256_hex(b"{}") }];
//! let text = render(&entries).expect("safe paths");
//! assert_eq!(parse(text.as_bytes(), SUMS_FILE).expect("valid"), entries);
//! ```

pub mod hash;
pub mod manifest;
pub mod names;
pub mod pathscan;
pub mod scripts;
pub mod sums;
pub mod verify;

#[cfg(feature = "fs")]
pub mod fs;
