//! The cache's content and its two on-disk encodings.
//!
//! - [`Index`]: every entry as `key → raw JSON text`, sorted bytewise by key (`BTreeMap`), the
//!   order `keys`/`entries` and the snapshot use. Values are kept verbatim (never re-formatted).
//! - The **snapshot** (`<file>`): one JSON object, compact, sorted, with a trailing newline
//!   ([`snapshot_bytes`]); a hand-edited file is accepted (the last duplicate wins, as in
//!   `JSON.parse`).
//! - The **journal** (`<file>.journal`): one line per mutation, `<crc32 hex8> <ops>\n`, where
//!   `<ops>` is a compact JSON array of `["s", key, value]` / `["d", key]` and the CRC-32 (IEEE)
//!   covers the `<ops>` bytes ([`journal_line`], [`parse_line`]). Compact JSON has no raw
//!   newline, so a line is exactly one record; a mutation (also a whole `setMany`) is one line,
//!   hence all-or-nothing.

use std::collections::BTreeMap;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Every entry, sorted by key.
pub type Index = BTreeMap<String, Box<RawValue>>;

/// One change of a mutation.
#[derive(Debug)]
pub enum Op {
    /// Set a key to a JSON text.
    Set(String, Box<RawValue>),
    /// Remove a key.
    Delete(String),
}

struct SnapshotVisitor;

impl<'de> Visitor<'de> for SnapshotVisitor {
    type Value = Index;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Index::new();
        while let Some(k) = map.next_key::<String>()? {
            let v: &'de RawValue = map.next_value()?;
            out.insert(k, v.to_owned());
        }
        Ok(out)
    }
}

/// Parses a snapshot (must be one JSON object; trailing garbage is an error).
pub fn parse_snapshot(bytes: &[u8]) -> Result<Index, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let index = de.deserialize_map(SnapshotVisitor)?;
    de.end()?;
    Ok(index)
}

/// The snapshot text of `index` (compact, sorted, trailing newline).
pub fn snapshot_bytes(index: &Index) -> Result<Vec<u8>, serde_json::Error> {
    let size: usize = index.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum();
    let mut buf = Vec::with_capacity(size + 3);
    buf.push(b'{');
    for (i, (k, v)) in index.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        serde_json::to_writer(&mut buf, k)?;
        buf.push(b':');
        buf.extend_from_slice(v.get().as_bytes());
    }
    buf.extend_from_slice(b"}\n");
    Ok(buf)
}

/// Applies `ops` to `index` in order.
pub fn apply(index: &mut Index, ops: Vec<Op>) {
    for op in ops {
        match op {
            Op::Set(k, v) => {
                index.insert(k, v);
            }
            Op::Delete(k) => {
                index.remove(&k);
            }
        }
    }
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, as zlib's `crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// The journal line of one mutation (`<crc32 hex8> <ops>\n`).
pub fn journal_line(ops: &[Op], out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut body = Vec::with_capacity(64);
    body.push(b'[');
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        match op {
            Op::Set(k, v) => {
                body.extend_from_slice(b"[\"s\",");
                serde_json::to_writer(&mut body, k)?;
                body.push(b',');
                body.extend_from_slice(v.get().as_bytes());
                body.push(b']');
            }
            Op::Delete(k) => {
                body.extend_from_slice(b"[\"d\",");
                serde_json::to_writer(&mut body, k)?;
                body.push(b']');
            }
        }
    }
    body.push(b']');
    out.extend_from_slice(format!("{:08x} ", crc32(&body)).as_bytes());
    out.extend_from_slice(&body);
    out.push(b'\n');
    Ok(())
}

/// The ops of one journal line (without its `\n`), or `None` when the line is damaged (bad
/// checksum or not a well-formed record).
pub fn parse_line(line: &[u8]) -> Option<Vec<Op>> {
    if line.len() < 10 || line[8] != b' ' {
        return None;
    }
    let crc = u32::from_str_radix(std::str::from_utf8(&line[..8]).ok()?, 16).ok()?;
    let body = &line[9..];
    if crc32(body) != crc {
        return None;
    }
    let records: Vec<Vec<&RawValue>> = serde_json::from_slice(body).ok()?;
    let mut ops = Vec::with_capacity(records.len());
    for r in records {
        let key: String = serde_json::from_str(r.get(1)?.get()).ok()?;
        match (r.first()?.get(), r.len()) {
            ("\"s\"", 3) => ops.push(Op::Set(key, r[2].to_owned())),
            ("\"d\"", 2) => ops.push(Op::Delete(key)),
            _ => return None,
        }
    }
    Some(ops)
}

/// A mutation in progress: reads see the index plus the changes made so far; the changes are
/// recorded as [`Op`]s for the journal.
pub struct Doc<'a> {
    index: &'a Index,
    /// Key → present after the changes so far.
    overlay: BTreeMap<String, bool>,
    ops: Vec<Op>,
}

impl<'a> Doc<'a> {
    /// A mutation over `index`.
    pub fn new(index: &'a Index) -> Self {
        Self {
            index,
            overlay: BTreeMap::new(),
            ops: Vec::new(),
        }
    }

    /// Sets `key` to the JSON text `value`.
    pub fn set(&mut self, key: String, value: Box<RawValue>) {
        self.overlay.insert(key.clone(), true);
        self.ops.push(Op::Set(key, value));
    }

    /// Removes `key`; whether it was present (nothing is recorded when it was not).
    pub fn remove(&mut self, key: &str) -> bool {
        let present = match self.overlay.get(key) {
            Some(p) => *p,
            None => self.index.contains_key(key),
        };
        if present {
            self.overlay.insert(key.to_owned(), false);
            self.ops.push(Op::Delete(key.to_owned()));
        }
        present
    }

    /// The recorded changes.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn raw(v: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    #[test]
    fn snapshot_round_trip_keeps_values_verbatim_and_sorts() {
        let text = br#"{"b": {"x": [1, 2.50]}, "a\u00e9": "s", "a": null, "b": 7}"#;
        let mut index = parse_snapshot(text).unwrap();
        assert_eq!(index.len(), 3); // duplicate "b": the last wins
        let ops = {
            let mut d = Doc::new(&index);
            d.set("c".into(), raw(Value::from(1)));
            d.set("a".into(), raw(Value::from(true)));
            assert!(d.remove("aé"));
            assert!(!d.remove("aé"));
            assert!(!d.remove("zz"));
            d.into_ops()
        };
        assert_eq!(ops.len(), 3);
        apply(&mut index, ops);
        let out = String::from_utf8(snapshot_bytes(&index).unwrap()).unwrap();
        assert_eq!(out, "{\"a\":true,\"b\":7,\"c\":1}\n");
        let kept = parse_snapshot(br#"{"k": {"z": 1, "a": [1.50, "\u0041"]}}"#).unwrap();
        assert_eq!(
            String::from_utf8(snapshot_bytes(&kept).unwrap()).unwrap(),
            "{\"k\":{\"z\": 1, \"a\": [1.50, \"\\u0041\"]}}\n"
        );
        assert_eq!(snapshot_bytes(&Index::new()).unwrap(), b"{}\n");
    }

    #[test]
    fn snapshot_rejects_non_objects_and_garbage() {
        for bad in [&b"[1]"[..], b"null", b"{\"a\":1} x", b"{\"a\":", b""] {
            assert!(
                parse_snapshot(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn journal_lines_round_trip_and_damage_is_detected() {
        let ops = vec![
            Op::Set(
                "a\nb".into(),
                raw(serde_json::json!({"x": "line\nbreak", "n": null})),
            ),
            Op::Delete("z".into()),
            Op::Set("n".into(), raw(Value::Null)),
        ];
        let mut line = Vec::new();
        journal_line(&ops, &mut line).unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(*line.last().unwrap(), b'\n');
        let body = &line[..line.len() - 1];
        let back = parse_line(body).unwrap();
        let mut index = Index::new();
        apply(&mut index, back);
        assert_eq!(index["a\nb"].get(), r#"{"n":null,"x":"line\nbreak"}"#);
        assert_eq!(index["n"].get(), "null");
        // Every torn prefix and every single-byte change is rejected.
        for cut in 0..body.len() {
            assert!(parse_line(&body[..cut]).is_none(), "prefix {cut}");
        }
        for i in 0..body.len() {
            let mut bad = body.to_vec();
            bad[i] ^= 0x01;
            assert!(parse_line(&bad).is_none(), "flip at {i}");
        }
        assert!(parse_line(b"00000000 [[\"x\",\"k\"]]").is_none());
    }
}
