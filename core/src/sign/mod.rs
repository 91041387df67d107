//! Signatures of proofpacks: minisign's key and signature formats ([`minisign`]), DSSE envelopes
//! with an in-toto statement ([`dsse`]), and the signed-pack layout and verification ([`pack`]).
//! Pure and wasm32-compatible, except `fs` (cargo feature `fs`: key generation with OS
//! randomness, signing and verifying packs on disk).

pub mod dsse;
pub mod minisign;
pub mod pack;

#[cfg(feature = "fs")]
pub mod fs;
