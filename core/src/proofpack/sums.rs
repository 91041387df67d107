//! `SHA256SUMS.txt` in GNU coreutils format, so `sha256sum -c SHA256SUMS.txt` accepts it.
//!
//! One line per file: `<64 lowercase hex>  <relative path>\n` (two spaces: text mode), `/`
//! separators, lines sorted by the byte order of the path. A path containing `\`, a newline or a
//! carriage return is written the way GNU `sha256sum` does: the line starts with `\`, and in the
//! name `\` becomes `\\`, newline `\n`, carriage return `\r`.
//!
//! [`parse`] is strict. Each rejection carries a stable reason code (in [`Error::Parse`]):
//! `malformed_line`, `bad_hex`, `duplicate_path`, `absolute_path`, `dot_segment`, `empty_segment`,
//! `empty_path`, `nul`, `crlf`, `invalid_utf8`, `nfc_collision`. [`render`] is the inverse:
//! `render(&parse(x)?)? == x` for every `x` that `render` produced.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// File name of the checksum listing inside a pack.
pub const SUMS_FILE: &str = "SHA256SUMS.txt";

/// One line of `SHA256SUMS.txt`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SumEntry {
    /// Relative path, `/` separators.
    pub path: String,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: String,
}

/// Why a relative path is unsafe: a stable reason code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRejection {
    /// `absolute_path`, `dot_segment`, `empty_segment`, `empty_path` or `nul`.
    pub reason: &'static str,
    /// Details, naming the path.
    pub message: String,
}

/// Checks that `path` is a safe relative path inside a pack: not empty, not absolute (`/x`,
/// `C:…`, `\\server`), no NUL, no empty, `.` or `..` segment. Segments are split on `/` **and**
/// `\`, so that a name cannot escape the pack on Windows either.
pub fn check_relative_path(path: &str) -> std::result::Result<(), PathRejection> {
    let rej = |reason: &'static str, what: &str| PathRejection {
        reason,
        message: format!("path {path:?} {what}"),
    };
    if path.is_empty() {
        return Err(rej("empty_path", "is empty"));
    }
    if path.contains('\0') {
        return Err(rej("nul", "contains a NUL byte"));
    }
    let b = path.as_bytes();
    if b[0] == b'/' || b[0] == b'\\' {
        return Err(rej("absolute_path", "is absolute"));
    }
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(rej("absolute_path", "starts with a drive letter"));
    }
    for seg in path.split(['/', '\\']) {
        match seg {
            "" => return Err(rej("empty_segment", "has an empty segment")),
            "." | ".." => return Err(rej("dot_segment", "has a `.` or `..` segment")),
            _ => {}
        }
    }
    Ok(())
}

/// True when `hex` is 64 lowercase hex digits.
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn perr(file: &str, line: usize, reason: &str, message: impl Into<String>) -> Error {
    Error::Parse {
        file: file.to_owned(),
        line,
        reason: reason.to_owned(),
        message: message.into(),
    }
}

/// Checks a whole listing: every path safe, every digest well-formed, no duplicates, no two
/// paths equal after Unicode NFC normalisation. `line_of(i)` gives the line to report for entry i.
fn check_entries(entries: &[SumEntry], file: &str, line_of: impl Fn(usize) -> usize) -> Result<()> {
    // Hash maps: thousands of paths sharing long prefixes make ordered-map comparisons (memcmp,
    // byte by byte in wasm) the cost of verifying a big pack in the browser.
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let mut nfc: HashMap<std::borrow::Cow<'_, str>, usize> = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let line = line_of(i);
        check_relative_path(&e.path).map_err(|r| perr(file, line, r.reason, r.message))?;
        if !is_sha256_hex(&e.sha256) {
            return Err(perr(
                file,
                line,
                "bad_hex",
                format!("digest of {:?} is not 64 lowercase hex digits", e.path),
            ));
        }
        if let Some(prev) = seen.insert(&e.path, i) {
            return Err(perr(
                file,
                line,
                "duplicate_path",
                format!(
                    "{:?} is listed twice (first on line {})",
                    e.path,
                    line_of(prev)
                ),
            ));
        }
        // ASCII text is already in NFC: normalise only the rest.
        let norm: std::borrow::Cow<'_, str> = if e.path.is_ascii() {
            std::borrow::Cow::Borrowed(e.path.as_str())
        } else {
            std::borrow::Cow::Owned(e.path.nfc().collect())
        };
        if let Some(prev) = nfc.insert(norm, i) {
            return Err(perr(
                file,
                line,
                "nfc_collision",
                format!(
                    "{:?} and {:?} (line {}) are the same name after Unicode NFC normalisation",
                    e.path,
                    entries[prev].path,
                    line_of(prev)
                ),
            ));
        }
    }
    Ok(())
}

/// Renders a listing: validates every entry (same rules as [`parse`]), sorts by the byte order of
/// the path and writes GNU lines. An empty listing renders as the empty string.
pub fn render(entries: &[SumEntry]) -> Result<String> {
    check_entries(entries, SUMS_FILE, |i| i + 1)?;
    let mut sorted: Vec<&SumEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut out = String::with_capacity(entries.len() * 100);
    for e in sorted {
        let needs_escape = e.path.contains(['\\', '\n', '\r']);
        if needs_escape {
            out.push('\\');
        }
        out.push_str(&e.sha256);
        out.push_str("  ");
        if needs_escape {
            for c in e.path.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        } else {
            out.push_str(&e.path);
        }
        out.push('\n');
    }
    Ok(out)
}

/// Parses `SHA256SUMS.txt` bytes (entries in file order). `file` names the document in errors.
pub fn parse(bytes: &[u8], file: &str) -> Result<Vec<SumEntry>> {
    let mut entries = Vec::new();
    if bytes.is_empty() {
        return Ok(entries);
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (idx, raw) in body.split(|&c| c == b'\n').enumerate() {
        let line = idx + 1;
        entries.push(parse_line(raw, file, line)?);
    }
    check_entries(&entries, file, |i| i + 1)?;
    Ok(entries)
}

/// The names of every line that parses on its own, ignoring the lines that do not and the
/// listing-wide checks: lets a verifier name every refused name of a listing that [`parse`]
/// rejects as a whole.
pub fn parse_names_lenient(bytes: &[u8]) -> Vec<String> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&c| c == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| parse_line(raw, SUMS_FILE, i + 1).ok())
        .map(|e| e.path)
        .collect()
}

fn parse_line(raw: &[u8], file: &str, line: usize) -> Result<SumEntry> {
    if raw.contains(&b'\r') {
        return Err(perr(
            file,
            line,
            "crlf",
            "carriage return in line (CRLF line ending?)",
        ));
    }
    if raw.contains(&0) {
        return Err(perr(file, line, "nul", "NUL byte in line"));
    }
    let text = std::str::from_utf8(raw)
        .map_err(|_| perr(file, line, "invalid_utf8", "line is not valid UTF-8"))?;
    if text.is_empty() {
        return Err(perr(file, line, "malformed_line", "empty line"));
    }
    let (escaped, rest) = match text.strip_prefix('\\') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let Some(sep) = rest.find(' ') else {
        return Err(perr(
            file,
            line,
            "malformed_line",
            "expected `<sha256>  <path>`",
        ));
    };
    let (hex, tail) = rest.split_at(sep);
    if !is_sha256_hex(hex) {
        return Err(perr(
            file,
            line,
            "bad_hex",
            format!("{hex:?} is not 64 lowercase hex digits"),
        ));
    }
    let Some(name) = tail.strip_prefix("  ") else {
        return Err(perr(
            file,
            line,
            "malformed_line",
            "digest and path must be separated by two spaces (text mode)",
        ));
    };
    let path = if escaped {
        unescape(name).ok_or_else(|| {
            perr(
                file,
                line,
                "malformed_line",
                "invalid `\\` escape in the file name",
            )
        })?
    } else {
        name.to_owned()
    };
    Ok(SumEntry {
        path,
        sha256: hex.to_owned(),
    })
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(path: &str, fill: char) -> SumEntry {
        SumEntry {
            path: path.into(),
            sha256: fill.to_string().repeat(64),
        }
    }

    fn reason(r: Result<Vec<SumEntry>>) -> String {
        match r {
            Err(Error::Parse { reason, .. }) => reason,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn renders_sorted_gnu_lines() {
        let text = render(&[e("b.json", 'b'), e("a/z.txt", 'a'), e("B.txt", 'c')]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("  B.txt"));
        assert!(lines[1].ends_with("  a/z.txt"));
        assert!(lines[2].ends_with("  b.json"));
        assert_eq!(parse(text.as_bytes(), SUMS_FILE).unwrap().len(), 3);
    }

    #[test]
    fn escapes_backslash_and_newline_like_gnu() {
        let text = render(&[e("a\\b\nc", '1')]).unwrap();
        assert_eq!(text, format!("\\{}  a\\\\b\\nc\n", "1".repeat(64)));
        assert_eq!(
            parse(text.as_bytes(), SUMS_FILE).unwrap()[0].path,
            "a\\b\nc"
        );
    }

    #[test]
    fn rejects_each_reason() {
        let h = "a".repeat(64);
        let cases: Vec<(String, &str)> = vec![
            ("garbage\n".into(), "malformed_line"),
            (format!("{h} x\n"), "malformed_line"),
            (format!("{}  x\n", "A".repeat(64)), "bad_hex"),
            (format!("{}  x\n", "a".repeat(63)), "bad_hex"),
            (format!("{h}  x\n{h}  x\n"), "duplicate_path"),
            (format!("{h}  /etc/passwd\n"), "absolute_path"),
            (format!("{h}  C:/x\n"), "absolute_path"),
            (format!("{h}  a/../../x\n"), "dot_segment"),
            (format!("{h}  a//x\n"), "empty_segment"),
            (format!("{h}  a/\n"), "empty_segment"),
            (format!("{h}  a\0b\n"), "nul"),
            (format!("{h}  x\r\n"), "crlf"),
            (
                format!("{h}  caf\u{e9}\n{h}  cafe\u{301}\n"),
                "nfc_collision",
            ),
            (format!("\\{h}  a\\qb\n"), "malformed_line"),
            (format!("{h}  x\n\n"), "malformed_line"),
        ];
        for (text, want) in cases {
            assert_eq!(reason(parse(text.as_bytes(), SUMS_FILE)), want, "{text:?}");
        }
        let bad = [0xffu8, b'\n'];
        assert_eq!(reason(parse(&bad, SUMS_FILE)), "invalid_utf8");
    }

    #[test]
    fn render_validates_too() {
        let reason = |r: Result<String>| match r {
            Err(Error::Parse { reason, .. }) => reason,
            other => format!("{other:?}"),
        };
        assert_eq!(reason(render(&[e("../x", 'a')])), "dot_segment");
        assert_eq!(
            reason(render(&[e("x", 'a'), e("x", 'b')])),
            "duplicate_path"
        );
        assert_eq!(render(&[]).unwrap(), "");
    }

    fn path_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-zA-Z0-9_.\\\\\n\r é€-]{1,8}", 1..4)
            .prop_map(|segs| segs.join("/"))
            .prop_filter("safe", |p| check_relative_path(p).is_ok())
    }

    proptest! {
        #[test]
        fn render_parse_round_trip(
            entries in proptest::collection::btree_map(path_strategy(), "[0-9a-f]{64}", 0..20)
        ) {
            let list: Vec<SumEntry> = entries
                .into_iter()
                .map(|(path, sha256)| SumEntry { path, sha256 })
                .collect();
            // NFC duplicates are rejected by render; skip those inputs.
            if let Ok(text) = render(&list) {
                let parsed = parse(text.as_bytes(), SUMS_FILE).unwrap();
                prop_assert_eq!(render(&parsed).unwrap(), text);
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, SUMS_FILE);
        }

        #[test]
        fn parse_never_panics_on_near_valid(
            lines in proptest::collection::vec("\\\\?[0-9a-fA-F]{62,65}[ *]{1,3}[ -~\\\\]{0,12}", 0..6)
        ) {
            let text = lines.join("\n");
            if let Ok(parsed) = parse(text.as_bytes(), SUMS_FILE) {
                let again = render(&parsed).unwrap();
                prop_assert_eq!(parse(again.as_bytes(), SUMS_FILE).unwrap().len(), parsed.len());
            }
        }
    }
}
