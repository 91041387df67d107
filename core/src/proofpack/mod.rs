//! Proofpacks: `SHA256SUMS.txt`, `MANIFEST.json`, verification and the absolute-path scan.
