//! The one rule set for entry names in a proofpack, shared by `proofpack build`, the verifiers
//! (CLI, `verify.html`) and the generated `replay.sh` / `verify.ps1`, so that a pack one of them
//! accepts is never refused (or, worse, mis-read) by another.
//!
//! A name (relative path, `/` separators) is **refused** when it:
//! - is empty (`empty_name`);
//! - is absolute: starts with `/`, or with a drive letter such as `C:` (`absolute`);
//! - has a `.` or `..` segment (`dot_segment`);
//! - contains a backslash, a separator on Windows (`backslash`);
//! - contains `:` (drive letters, NTFS alternate data streams) (`colon`);
//! - contains a control character, 0x00–0x1f or 0x7f: newline, carriage return, tab, NUL, DEL
//!   (`control_char`);
//! - appears twice in the same list (`duplicate`).
//!
//! [`refused_names`] checks a whole list and returns **every** refused name, so one run tells the
//! user everything to rename.

use std::collections::HashSet;

/// A refused name and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusedName {
    /// The name as given.
    pub name: String,
    /// Stable reason code: `empty_name`, `absolute`, `dot_segment`, `backslash`, `colon`,
    /// `control_char`, `duplicate`.
    pub reason: &'static str,
}

impl RefusedName {
    /// The reason in words.
    pub fn explanation(&self) -> &'static str {
        match self.reason {
            "empty_name" => "the name is empty",
            "absolute" => "absolute path (leading `/` or a drive letter)",
            "dot_segment" => "a `.` or `..` segment",
            "backslash" => "`\\` is a separator on Windows",
            "colon" => "`:` is a drive or stream separator on Windows",
            "control_char" => "a control character (newline, carriage return, tab, …)",
            "duplicate" => "listed twice",
            _ => "refused",
        }
    }
}

/// A name quoted as a JSON string (control characters escaped), as messages show names: the
/// same spelling as JavaScript's `JSON.stringify(name)`.
pub fn quoted(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| format!("{name:?}"))
}

impl std::fmt::Display for RefusedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            quoted(&self.name),
            self.reason,
            self.explanation()
        )
    }
}

/// True for the control characters refused in names: 0x00–0x1f and 0x7f.
pub fn is_refused_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

/// Why one name (on its own) is refused, or `None` when it is allowed.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Some("empty_name");
    }
    if b[0] == b'/' || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') {
        return Some("absolute");
    }
    if name.chars().any(is_refused_control) {
        return Some("control_char");
    }
    if name.contains('\\') {
        return Some("backslash");
    }
    if name.contains(':') {
        return Some("colon");
    }
    if name.split('/').any(|s| s == "." || s == "..") {
        return Some("dot_segment");
    }
    None
}

/// Every refused name of `names`, in the given order (a duplicate is reported at its second
/// occurrence).
pub fn refused_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<RefusedName> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        if let Some(reason) = name_problem(name) {
            out.push(RefusedName {
                name: name.to_owned(),
                reason,
            });
        } else if !seen.insert(name) {
            out.push(RefusedName {
                name: name.to_owned(),
                reason: "duplicate",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared list of names (issue 14, items 6 and 7): the same list is tested against the
    /// build and the CLI verifier (tests/pr/papercuts.test.ts).
    pub const REFUSED: &[(&str, &str)] = &[
        ("", "empty_name"),
        ("/abs.json", "absolute"),
        ("C:drive.json", "absolute"),
        ("c:/x.json", "absolute"),
        ("./dot.json", "dot_segment"),
        ("a/../b.json", "dot_segment"),
        ("a/..", "dot_segment"),
        ("back\\slash.json", "backslash"),
        ("co:lon.json", "colon"),
        ("new\nline.json", "control_char"),
        ("car\rret.json", "control_char"),
        ("tab\t.json", "control_char"),
        ("nul\0.json", "control_char"),
        ("del\u{7f}.json", "control_char"),
        ("esc\u{1b}.json", "control_char"),
    ];

    #[test]
    fn papercut_07_one_rule_set_for_every_name() {
        for (name, reason) in REFUSED {
            assert_eq!(name_problem(name), Some(*reason), "{name:?}");
        }
        for ok in [
            "a.json",
            "dir/b.txt",
            "..hidden",
            "a.b/c..d",
            "caf\u{e9}.json",
            "sp ace.txt",
            "x\u{80}y",
        ] {
            assert_eq!(name_problem(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn papercut_06_every_refused_name_is_listed_at_once() {
        let mut names: Vec<&str> = REFUSED.iter().map(|(n, _)| *n).collect();
        names.push("ok.json");
        names.push("ok.json");
        let refused = refused_names(names.iter().copied());
        assert_eq!(refused.len(), REFUSED.len() + 1);
        assert_eq!(refused.last().map(|r| r.reason), Some("duplicate"));
        assert!(refused
            .iter()
            .any(|r| r.to_string() == "\"new\\nline.json\": control_char: a control character (newline, carriage return, tab, …)"));
    }
}
