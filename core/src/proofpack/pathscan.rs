//! Absolute-path scan: no file of a pack may contain an absolute path of the machine that built
//! it (runbook gate PR-G5, "No absolute paths in any file").
//!
//! Patterns come from calibration `proofpack.forbidden_path_patterns` (defaults `/home/`,
//! `/Users/`, `/root/`, `/tmp/`, `C:\`, `\\server\`). A match counts as an absolute path only when
//! it looks like one:
//!
//! - **before** it: start of file or a byte that cannot continue a relative path (so
//!   `out/tmp/x`, a relative path, is not a hit; `"/tmp/x"`, ` /home/u` and `file:///home/u` are);
//! - **after** it: a path-name character (letter, digit, `_ . - ~ $ %` or any non-ASCII byte),
//!   after skipping one JSON escape backslash when the pattern ends with `\` (so `C:\\Users` in a
//!   JSON file is a hit).
//!
//! So the bare pattern strings themselves (`"/home/"`, `"C:\\"` — as in `calibration.json`,
//! which a pack may well carry) are **not** absolute paths, while `/home/alice/x` and
//! `C:\\Users\\bob` are. Matching is case-sensitive and byte-wise; the scan streams, so files of
//! any size are scanned in bounded memory, and reports `file:line`.
//!
//! **Leaks versus words.** The generic patterns say "this looks like somebody's absolute path";
//! an LLM answer that mentions `/home/` in prose is such a match but leaks nothing. What would
//! leak *this* machine are its own identifiers: the absolute paths of the working directory, the
//! home and temp directories, the source directory as given, and the user and host names
//! ([`MachineInfo`], [`machine_needles`]). Hits of those needles are marked `leak: true` (the
//! build refuses them); generic hits are `leak: false` (the build reports the first one of each
//! file as a warning). A path needle matches as a whole path prefix (`/work/a` is not found in
//! `/work/ab`, nor in the relative `x/work/a`); a user name only as a path segment (`/alice/`);
//! a host name only as a whole word. Generic system directories (`/`, `/tmp`, `/root`, …) and
//! generic account names (`root`, `runner`, …) identify nobody and are not needles.

use memchr::memmem;

/// One absolute path found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathHit {
    /// Relative path of the file.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The pattern that matched (for a leak: what it is, e.g. `this machine's home directory`).
    pub pattern: String,
    /// True when the hit is one of this machine's own identifiers (a [`Needle`]).
    #[serde(default)]
    pub leak: bool,
}

impl std::fmt::Display for PathHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.leak {
            write!(f, "{}:{}: contains {}", self.file, self.line, self.pattern)
        } else {
            write!(
                f,
                "{}:{}: contains {:?}",
                self.file, self.line, self.pattern
            )
        }
    }
}

/// How a [`Needle`] must be delimited to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedleKind {
    /// An absolute path: a whole path prefix (`/a/b` in `/a/b`, `/a/b/c`, `"/a/b"`).
    Path,
    /// A user name: a whole path segment (`/alice/`, `\\alice`).
    Segment,
    /// A host name: a whole word.
    Word,
}

/// One identifier of this machine that must not appear in a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    /// What it is, as reported (`this machine's working directory`, …); never the value itself.
    pub label: String,
    /// The text searched for.
    pub text: String,
    /// How it must be delimited.
    pub kind: NeedleKind,
}

/// This machine's identifiers, as the build finds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// Absolute paths of the working directory (as reported and canonical).
    pub cwd: Vec<String>,
    /// Absolute paths of the home directory.
    pub home: Vec<String>,
    /// Absolute paths of the temp directory.
    pub temp: Vec<String>,
    /// Absolute paths of the source directory, as given and canonical.
    pub source: Vec<String>,
    /// Login name.
    pub user: Option<String>,
    /// Host name.
    pub host: Option<String>,
}

/// Generic directories: present on every machine (`/root` is the home of every Unix `root`),
/// they identify none.
const GENERIC_DIRS: [&str; 7] = [
    "/",
    "/tmp",
    "/var/tmp",
    "/private/tmp",
    "/usr",
    "/home",
    "/root",
];
/// Generic account names (CI runners, containers): they identify nobody.
const GENERIC_USERS: [&str; 12] = [
    "root", "user", "admin", "runner", "ubuntu", "node", "nobody", "app", "docker", "vagrant",
    "jenkins", "builder",
];

fn is_absolute_text(p: &str) -> bool {
    let b = p.as_bytes();
    b.first() == Some(&b'/')
        || b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/')
        || p.starts_with("\\\\")
}

impl MachineInfo {
    /// Reads the environment: the working directory, `HOME` (or `USERPROFILE`), the temp
    /// directory, `USER` / `USERNAME` / `LOGNAME`, `HOSTNAME` / `COMPUTERNAME` / `/etc/hostname`,
    /// and `source` (when absolute, plus its canonical form).
    pub fn from_env(source: &std::path::Path) -> Self {
        fn both(p: std::path::PathBuf) -> Vec<String> {
            let mut v = vec![p.to_string_lossy().into_owned()];
            if let Ok(c) = std::fs::canonicalize(&p) {
                let c = c.to_string_lossy().into_owned();
                if !v.contains(&c) {
                    v.push(c);
                }
            }
            v
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let host = env("HOSTNAME").or_else(|| env("COMPUTERNAME")).or_else(|| {
            ["/etc/hostname", "/proc/sys/kernel/hostname"]
                .iter()
                .find_map(|f| std::fs::read_to_string(f).ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        });
        let mut source_paths = Vec::new();
        if source.is_absolute() {
            source_paths.push(source.to_string_lossy().into_owned());
        }
        if let Ok(c) = std::fs::canonicalize(source) {
            let c = c.to_string_lossy().into_owned();
            if !source_paths.contains(&c) {
                source_paths.push(c);
            }
        }
        MachineInfo {
            cwd: std::env::current_dir().map(both).unwrap_or_default(),
            home: env("HOME")
                .or_else(|| env("USERPROFILE"))
                .map(|h| both(h.into()))
                .unwrap_or_default(),
            temp: both(std::env::temp_dir()),
            source: source_paths,
            user: env("USER")
                .or_else(|| env("USERNAME"))
                .or_else(|| env("LOGNAME")),
            host,
        }
    }
}

/// The needles of a machine: every absolute, non-generic path (trailing separators trimmed;
/// a Windows path also JSON-escaped and with `/`), the user name unless generic, the host name
/// unless `localhost`. Names shorter than 3 characters are skipped.
pub fn machine_needles(info: &MachineInfo) -> Vec<Needle> {
    let mut out: Vec<Needle> = Vec::new();
    let mut push = |label: &str, text: String, kind: NeedleKind| {
        if !out.iter().any(|n| n.text == text && n.kind == kind) {
            out.push(Needle {
                label: label.to_owned(),
                text,
                kind,
            });
        }
    };
    let groups: [(&str, &Vec<String>); 4] = [
        ("this machine's working directory", &info.cwd),
        ("the source directory's absolute path", &info.source),
        ("this machine's home directory", &info.home),
        ("this machine's temp directory", &info.temp),
    ];
    for (label, paths) in groups {
        for p in paths {
            let t = p.trim_end_matches(['/', '\\']);
            if !is_absolute_text(p) || t.len() < 3 || GENERIC_DIRS.contains(&t) {
                continue;
            }
            push(label, t.to_owned(), NeedleKind::Path);
            if t.contains('\\') {
                push(label, t.replace('\\', "\\\\"), NeedleKind::Path);
                push(label, t.replace('\\', "/"), NeedleKind::Path);
            }
        }
    }
    if let Some(u) = &info.user {
        if u.len() >= 3 && !GENERIC_USERS.contains(&u.to_ascii_lowercase().as_str()) {
            push("this machine's user name", u.clone(), NeedleKind::Segment);
        }
    }
    if let Some(h) = &info.host {
        if h.len() >= 3 && !h.eq_ignore_ascii_case("localhost") {
            push("this machine's host name", h.clone(), NeedleKind::Word);
        }
    }
    out
}

/// How a searched string is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// A generic absolute-path pattern (`/home/`): followed by a name.
    Generic,
    /// A needle of this machine.
    Leak(NeedleKind),
}

/// What a scan looks for: generic patterns and this machine's needles.
#[derive(Debug, Clone, Default)]
pub struct ScanRules {
    items: Vec<(Vec<u8>, Rule, String)>,
}

impl ScanRules {
    /// Generic `patterns` (empty ones ignored) and `needles`.
    pub fn new(patterns: &[String], needles: &[Needle]) -> Self {
        let mut items: Vec<(Vec<u8>, Rule, String)> = patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| (p.as_bytes().to_vec(), Rule::Generic, p.clone()))
            .collect();
        items.extend(needles.iter().filter(|n| !n.text.is_empty()).map(|n| {
            (
                n.text.as_bytes().to_vec(),
                Rule::Leak(n.kind),
                n.label.clone(),
            )
        }));
        ScanRules { items }
    }
}

/// At most this many hits are kept per file.
pub const MAX_HITS_PER_FILE: usize = 20;

fn continues_relative_path(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') || b >= 0x80
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~' | b'$' | b'%') || b >= 0x80
}

/// Streaming scanner of one file's bytes.
pub struct PathScanner {
    patterns: Vec<(Vec<u8>, Rule, String)>,
    max_len: usize,
    generic_hits: usize,
    leak_hits: usize,
    file: String,
    window: Vec<u8>,
    /// Absolute offset of `window[0]`.
    window_start: u64,
    /// Line number at `window[0]`.
    window_line: u64,
    /// First absolute offset not yet decided as a match start.
    next_pos: u64,
    hits: Vec<PathHit>,
}

impl PathScanner {
    /// A scanner for `file` (named in hits) with the given patterns (empty ones are ignored).
    pub fn new(file: &str, patterns: &[String]) -> Self {
        Self::with_rules(file, &ScanRules::new(patterns, &[]))
    }

    /// A scanner for `file` with generic patterns and this machine's needles.
    pub fn with_rules(file: &str, rules: &ScanRules) -> Self {
        let patterns = rules.items.clone();
        let max_len = patterns.iter().map(|p| p.0.len()).max().unwrap_or(0);
        PathScanner {
            patterns,
            max_len,
            generic_hits: 0,
            leak_hits: 0,
            file: file.to_owned(),
            window: Vec::new(),
            window_start: 0,
            window_line: 1,
            next_pos: 0,
            hits: Vec::new(),
        }
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.patterns.is_empty() || self.full() {
            return;
        }
        self.window.extend_from_slice(chunk);
        // A start p is decidable when the pattern plus two lookahead bytes are in the window.
        let end = self.window_start + self.window.len() as u64;
        let keep = (self.max_len + 2) as u64;
        if end > keep {
            self.decide_until(end - keep, false);
        }
        // Drop what is no longer needed, keeping one byte of lookbehind.
        let drop_to = self.next_pos.saturating_sub(1).max(self.window_start);
        let n = (drop_to - self.window_start) as usize;
        if n > 0 {
            self.window_line += memchr::memchr_iter(b'\n', &self.window[..n]).count() as u64;
            self.window.drain(..n);
            self.window_start = drop_to;
        }
    }

    /// Ends the file; returns its hits.
    pub fn finish(mut self) -> Vec<PathHit> {
        if !self.patterns.is_empty() {
            let end = self.window_start + self.window.len() as u64;
            self.decide_until(end, true);
        }
        self.hits
    }

    fn full(&self) -> bool {
        self.generic_hits >= MAX_HITS_PER_FILE && self.leak_hits >= MAX_HITS_PER_FILE
    }

    fn decide_until(&mut self, limit: u64, at_eof: bool) {
        if limit <= self.next_pos {
            return;
        }
        let from = (self.next_pos - self.window_start) as usize;
        let to = (limit - self.window_start) as usize;
        let hay_end = (to + self.max_len).min(self.window.len());
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (pi, (pat, _, _)) in self.patterns.iter().enumerate() {
            for rel in memmem::find_iter(&self.window[from..hay_end], pat) {
                let p = from + rel;
                if p < to {
                    found.push((p, pi));
                }
            }
        }
        found.sort_unstable();
        let mut last_line_pos = 0usize;
        let mut line = self.window_line;
        for (p, pi) in found {
            if self.full() {
                break;
            }
            let (pat, rule, label) = &self.patterns[pi];
            let prev = if p > 0 {
                Some(self.window[p - 1])
            } else {
                None
            };
            let at_start = p == 0 && self.window_start == 0;
            let mut q = p + pat.len();
            let ok = match rule {
                Rule::Generic => {
                    let before_ok = at_start || prev.is_some_and(|b| !continues_relative_path(b));
                    if pat.last() == Some(&b'\\') && self.window.get(q) == Some(&b'\\') {
                        q += 1;
                    }
                    before_ok
                        && self.generic_hits < MAX_HITS_PER_FILE
                        && self.window.get(q).is_some_and(|&b| is_name_char(b))
                }
                Rule::Leak(kind) => {
                    let before_ok = match kind {
                        NeedleKind::Path => {
                            at_start || prev.is_some_and(|b| !continues_relative_path(b))
                        }
                        NeedleKind::Segment => prev.is_some_and(|b| b == b'/' || b == b'\\'),
                        NeedleKind::Word => at_start || prev.is_some_and(|b| !is_name_char(b)),
                    };
                    // At EOF a missing byte ends the name.
                    before_ok
                        && self.leak_hits < MAX_HITS_PER_FILE
                        && self.window.get(q).is_none_or(|&b| !is_name_char(b))
                }
            };
            let _ = at_eof;
            if !ok {
                continue;
            }
            line += memchr::memchr_iter(b'\n', &self.window[last_line_pos..p]).count() as u64;
            last_line_pos = p;
            let leak = *rule != Rule::Generic;
            let hit = PathHit {
                file: self.file.clone(),
                line,
                pattern: if leak {
                    label.clone()
                } else {
                    String::from_utf8_lossy(pat).into_owned()
                },
                leak,
            };
            if self.hits.last() != Some(&hit) {
                if leak {
                    self.leak_hits += 1;
                } else {
                    self.generic_hits += 1;
                }
                self.hits.push(hit);
            }
        }
        self.next_pos = limit;
    }
}

/// Scans a whole buffer.
pub fn scan_bytes(file: &str, bytes: &[u8], patterns: &[String]) -> Vec<PathHit> {
    let mut s = PathScanner::new(file, patterns);
    s.feed(bytes);
    s.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        crate::calibration::default_calibration()
            .unwrap()
            .forbidden_path_patterns
    }

    fn lines(text: &str) -> Vec<u64> {
        scan_bytes("f", text.as_bytes(), &defaults())
            .into_iter()
            .map(|h| h.line)
            .collect()
    }

    #[test]
    fn finds_real_paths_with_lines() {
        assert_eq!(lines("ok\n{\"cwd\": \"/home/alice/run\"}\n"), vec![2]);
        assert_eq!(lines("/tmp/x"), vec![1]);
        assert_eq!(lines("a\nb\nlog: C:\\\\Users\\\\bob\\\\x.json\n"), vec![3]);
        assert_eq!(lines("raw C:\\Users\\bob"), vec![1]);
        assert_eq!(
            lines("see file:///Users/carol/x and /root/.bashrc\n"),
            vec![1, 1]
        );
        assert_eq!(lines("unc \\\\server\\share\n"), vec![1]);
    }

    #[test]
    fn ignores_relative_paths_and_bare_patterns() {
        assert!(lines("out/tmp/x run/home/y").is_empty());
        assert!(lines("/home/ /tmp/").is_empty());
        // The shipped calibration itself carries every pattern as a bare JSON string.
        let cal = crate::calibration::DEFAULT_CALIBRATION_JSON;
        assert!(scan_bytes("calibration.json", cal.as_bytes(), &defaults()).is_empty());
    }

    #[test]
    fn streaming_matches_whole_buffer_at_every_split() {
        let text = "x\n/home/a\nyy /tmp/b C:\\\\Users\\\\c\n\\\\server\\q /Users/";
        let whole = scan_bytes("f", text.as_bytes(), &defaults());
        assert_eq!(whole.len(), 4);
        for chunk in 1..text.len() {
            let mut s = PathScanner::new("f", &defaults());
            for c in text.as_bytes().chunks(chunk) {
                s.feed(c);
            }
            assert_eq!(s.finish(), whole, "chunk {chunk}");
        }
    }

    fn needles() -> Vec<Needle> {
        machine_needles(&MachineInfo {
            cwd: vec!["/work/proj".into()],
            home: vec!["/home/alice/".into()],
            temp: vec!["/tmp".into()],
            source: vec!["C:\\runs\\r1".into()],
            user: Some("alice".into()),
            host: Some("build-box-7".into()),
        })
    }

    fn leaks(text: &str) -> Vec<(u64, String)> {
        let rules = ScanRules::new(&defaults(), &needles());
        let mut s = PathScanner::with_rules("f", &rules);
        s.feed(text.as_bytes());
        s.finish()
            .into_iter()
            .filter(|h| h.leak)
            .map(|h| (h.line, h.pattern))
            .collect()
    }

    #[test]
    fn machine_needles_skip_generic_dirs_and_users() {
        let n = needles();
        let texts: Vec<&str> = n.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "/work/proj",
                "C:\\runs\\r1",
                "C:\\\\runs\\\\r1",
                "C:/runs/r1",
                "/home/alice",
                "alice",
                "build-box-7"
            ]
        );
        let generic = machine_needles(&MachineInfo {
            cwd: vec!["/".into()],
            home: vec!["/root".into()],
            temp: vec!["/tmp/".into()],
            user: Some("root".into()),
            host: Some("localhost".into()),
            ..Default::default()
        });
        assert!(generic.is_empty(), "{generic:?}");
    }

    #[test]
    fn leaks_are_this_machines_paths_not_words() {
        // Prose about other people's paths: generic hits only, no leak.
        assert!(leaks("see /home/bob/x and /tmp/y and /work/project2\n").is_empty());
        assert!(leaks("relative x/work/proj/a, word alice, box build-box-70").is_empty());
        let wd = "this machine's working directory";
        assert_eq!(
            leaks("cd /work/proj\n\"/work/proj/a\"")[0],
            (1, wd.to_owned())
        );
        assert_eq!(leaks("x\n/work/proj").len(), 1);
        assert_eq!(leaks("{\"p\": \"C:\\\\runs\\\\r1\\\\x\"}").len(), 1);
        assert_eq!(leaks("/srv/alice/x")[0].1, "this machine's user name");
        assert_eq!(
            leaks("host build-box-7.").len(),
            0,
            "'.' continues a host name"
        );
        assert_eq!(
            leaks("host build-box-7 up")[0].1,
            "this machine's host name"
        );
        // The home needle covers its own subpaths once (home, then user name segment).
        assert_eq!(leaks("/home/alice/.cache").len(), 2);
    }
}
