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

use memchr::memmem;

/// One absolute path found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathHit {
    /// Relative path of the file.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The pattern that matched.
    pub pattern: String,
}

impl std::fmt::Display for PathHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: contains {:?}",
            self.file, self.line, self.pattern
        )
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
    patterns: Vec<Vec<u8>>,
    max_len: usize,
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
        let patterns: Vec<Vec<u8>> = patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        PathScanner {
            patterns,
            max_len,
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
        if self.patterns.is_empty() || self.hits.len() >= MAX_HITS_PER_FILE {
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

    fn decide_until(&mut self, limit: u64, at_eof: bool) {
        if limit <= self.next_pos {
            return;
        }
        let from = (self.next_pos - self.window_start) as usize;
        let to = (limit - self.window_start) as usize;
        let hay_end = (to + self.max_len).min(self.window.len());
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (pi, pat) in self.patterns.iter().enumerate() {
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
            if self.hits.len() >= MAX_HITS_PER_FILE {
                break;
            }
            let pat = &self.patterns[pi];
            let before_ok = p == 0 && self.window_start == 0
                || p > 0 && !continues_relative_path(self.window[p - 1]);
            if !before_ok {
                continue;
            }
            let mut q = p + pat.len();
            if pat.last() == Some(&b'\\') && self.window.get(q) == Some(&b'\\') {
                q += 1;
            }
            let after_ok = self.window.get(q).is_some_and(|&b| is_name_char(b));
            let _ = at_eof; // at EOF a missing byte simply is not a name character
            if !after_ok {
                continue;
            }
            line += memchr::memchr_iter(b'\n', &self.window[last_line_pos..p]).count() as u64;
            last_line_pos = p;
            let hit = PathHit {
                file: self.file.clone(),
                line,
                pattern: String::from_utf8_lossy(pat).into_owned(),
            };
            if self.hits.last() != Some(&hit) {
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
}
