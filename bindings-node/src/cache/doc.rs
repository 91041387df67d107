//! The cache file inside the critical section: its entries as `(key, raw JSON text)` pairs
//! **borrowed** from the bytes just read, kept sorted by key. An update parses no value and
//! copies none (only the changed entries are owned), then writes the entries back in order —
//! the same order (`BTreeMap`, bytewise) `get`/`keys`/`entries` use.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A value's JSON text: borrowed from the file, or set by this update.
enum Val<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

impl Val<'_> {
    fn text(&self) -> &str {
        match self {
            Val::Borrowed(r) => r.get(),
            Val::Owned(r) => r.get(),
        }
    }
}

/// The entries of a cache file, sorted by key, without duplicates.
pub struct Doc<'a> {
    entries: Vec<(Cow<'a, str>, Val<'a>)>,
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

type Entries<'a> = Vec<(Cow<'a, str>, Val<'a>)>;

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v: &'de RawValue = map.next_value()?;
            out.push((k, Val::Borrowed(v)));
        }
        Ok(out)
    }
}

impl<'a> Doc<'a> {
    /// An empty document.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Parses the whole file (must be a JSON object; trailing garbage is an error).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut entries = de.deserialize_map(DocVisitor)?;
        de.end()?;
        // Files written by the cache are sorted without duplicates; anything else (a file
        // edited by hand) is sorted here, the last duplicate winning as in JSON.parse.
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out: Entries<'a> = Vec::with_capacity(entries.len());
            for e in entries {
                match out.last_mut() {
                    Some(last) if last.0 == e.0 => *last = e,
                    _ => out.push(e),
                }
            }
            entries = out;
        }
        Ok(Self { entries })
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.0.as_ref().cmp(key))
    }

    /// Sets `key` to the JSON text `value`.
    pub fn set(&mut self, key: String, value: Box<RawValue>) {
        match self.find(&key) {
            Ok(i) => self.entries[i].1 = Val::Owned(value),
            Err(i) => self.entries.insert(i, (Cow::Owned(key), Val::Owned(value))),
        }
    }

    /// Removes `key`; whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.find(key) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The JSON text of the document (compact, sorted, trailing newline).
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let size: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.text().len() + 4)
            .sum();
        let mut buf = Vec::with_capacity(size + 3);
        buf.push(b'{');
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            serde_json::to_writer(&mut buf, k.as_ref())?;
            buf.push(b':');
            buf.extend_from_slice(v.text().as_bytes());
        }
        buf.extend_from_slice(b"}\n");
        Ok(buf)
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
    fn round_trip_keeps_values_verbatim_and_sorts() {
        let text = br#"{"b": {"x": [1, 2.50]}, "a\u00e9": "s", "a": null, "b": 7}"#;
        let mut d = Doc::parse(text).unwrap();
        assert_eq!(d.len(), 3); // duplicate "b": the last wins
        d.set("c".into(), raw(Value::from(1)));
        d.set("a".into(), raw(Value::from(true)));
        assert!(d.remove("aé"));
        assert!(!d.remove("zz"));
        let out = String::from_utf8(d.to_bytes().unwrap()).unwrap();
        assert_eq!(out, "{\"a\":true,\"b\":7,\"c\":1}\n");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["b"], Value::from(7));
    }

    #[test]
    fn keeps_raw_text_of_untouched_values() {
        let d = Doc::parse(br#"{"k": {"z": 1, "a": [1.50, "\u0041"]}}"#).unwrap();
        let out = String::from_utf8(d.to_bytes().unwrap()).unwrap();
        assert_eq!(out, "{\"k\":{\"z\": 1, \"a\": [1.50, \"\\u0041\"]}}\n");
        assert!(Doc::empty().is_empty());
        assert_eq!(Doc::empty().to_bytes().unwrap(), b"{}\n");
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        for bad in [&b"[1]"[..], b"null", b"{\"a\":1} x", b"{\"a\":", b""] {
            assert!(
                Doc::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
