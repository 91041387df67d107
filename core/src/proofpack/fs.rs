//! Native proofpack I/O (cargo feature `fs`): walking a directory without following symlinks,
//! hashing files in parallel on every core with a bounded buffer per thread, building a pack in a
//! temporary directory renamed into place at the end, and verifying a pack on disk.
//!
//! This is I/O glue around the pure modules; every decision (paths, listing, manifest, scan,
//! verdict) is taken by them.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use super::hash::Sha256;
use super::manifest::{Manifest, ManifestFile, ManifestInput, MANIFEST_FILE};
use super::names::{quoted, refused_names};
use super::pathscan::{machine_needles, MachineInfo, PathHit, PathScanner, ScanRules};
use super::scripts::{
    replay_sh, verify_ps1, Toolchain, REPLAY_FILE, TOOLCHAIN_FILE, VERIFY_HTML_FILE,
    VERIFY_PS1_FILE,
};
use super::sums::{self, SumEntry, SUMS_FILE};
use super::verify::{verify, EntryKind, ObservedFile, Verification};
use crate::error::{Error, Result};

/// Read buffer per hashing thread: memory stays bounded whatever the file sizes.
pub const CHUNK: usize = 1 << 20;

/// Names a source may not carry at its root: the pack writes them.
pub const RESERVED_NAMES: [&str; 6] = [
    SUMS_FILE,
    MANIFEST_FILE,
    TOOLCHAIN_FILE,
    REPLAY_FILE,
    VERIFY_PS1_FILE,
    VERIFY_HTML_FILE,
];

fn io_err(op: &str, path: &str, e: std::io::Error) -> Error {
    Error::Io {
        op: op.into(),
        path: path.into(),
        message: e.to_string(),
    }
}

/// One entry found by [`walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// Relative path, `/` separators (lossy when the name is not UTF-8, see `utf8`).
    pub path: String,
    /// Kind (directories are descended into, not reported).
    pub kind: EntryKind,
    /// Size of a regular file.
    pub bytes: u64,
    /// False when a component of the name is not valid UTF-8.
    pub utf8: bool,
}

/// Lists every non-directory entry under `root`, recursively, never following symlinks, sorted
/// by the byte order of the relative path. `shown` is the name of `root` used in errors.
pub fn walk(root: &Path, shown: &str) -> Result<Vec<WalkEntry>> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String, bool)> = vec![(root.to_path_buf(), String::new(), true)];
    while let Some((dir, prefix, utf8_dir)) = stack.pop() {
        let shown_dir = if prefix.is_empty() {
            shown.to_owned()
        } else {
            format!("{shown}/{prefix}")
        };
        let rd = fs::read_dir(&dir).map_err(|e| io_err("read directory", &shown_dir, e))?;
        for ent in rd {
            let ent = ent.map_err(|e| io_err("read directory", &shown_dir, e))?;
            let name_os = ent.file_name();
            let (name, utf8) = match name_os.to_str() {
                Some(n) => (n.to_owned(), utf8_dir),
                None => (name_os.to_string_lossy().into_owned(), false),
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let ft = ent
                .file_type()
                .map_err(|e| io_err("stat", &format!("{shown}/{rel}"), e))?;
            if ft.is_dir() {
                stack.push((ent.path(), rel, utf8));
            } else if ft.is_symlink() {
                out.push(WalkEntry {
                    path: rel,
                    kind: EntryKind::Symlink,
                    bytes: 0,
                    utf8,
                });
            } else if ft.is_file() {
                let len = ent
                    .metadata()
                    .map_err(|e| io_err("stat", &format!("{shown}/{rel}"), e))?
                    .len();
                out.push(WalkEntry {
                    path: rel,
                    kind: EntryKind::File,
                    bytes: len,
                    utf8,
                });
            } else {
                out.push(WalkEntry {
                    path: rel,
                    kind: EntryKind::Other,
                    bytes: 0,
                    utf8,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// Number of worker threads for `jobs` jobs: every core, never more than the jobs.
fn workers(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs)
        .max(1)
}

/// Runs `job(i, buffer)` for every index in `order` on all cores (work stealing by an atomic
/// counter); each thread owns one [`CHUNK`]-sized buffer. Results are returned by index.
fn parallel<T: Send>(
    order: &[usize],
    len: usize,
    job: impl Fn(usize, &mut [u8]) -> T + Sync,
) -> Vec<Option<T>> {
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..len).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let n = workers(order.len());
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                let mut buf = vec![0u8; CHUNK];
                let mut local = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    local.push((i, job(i, &mut buf)));
                }
                if let Ok(mut r) = results.lock() {
                    for (i, v) in local {
                        r[i] = Some(v);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default()
}

/// Largest first, so the long jobs start early and the cores finish together.
fn by_size_desc(sizes: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    order
}

/// Files at least this big are hashed with reading and hashing overlapped on two threads.
pub const PIPELINE_MIN: u64 = 8 * CHUNK as u64;

/// Reads `f` on a helper thread into a ring of 3 [`CHUNK`] buffers while this thread hashes: the
/// copy out of the page cache overlaps the hashing. Memory stays at 3 MiB.
fn hash_pipelined(mut f: File, shown: &str) -> Result<(String, u64)> {
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<std::io::Result<(Vec<u8>, usize)>>(2);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(3);
    for _ in 0..3 {
        let _ = empty_tx.send(vec![0u8; CHUNK]);
    }
    std::thread::scope(|s| {
        s.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                let r = loop {
                    match f.read(&mut buf) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let done = !matches!(r, Ok(n) if n > 0);
                if full_tx.send(r.map(|n| (buf, n))).is_err() || done {
                    break;
                }
            }
        });
        let mut h = Sha256::new();
        let mut total = 0u64;
        loop {
            match full_rx.recv() {
                Ok(Ok((_, 0))) | Err(_) => break,
                Ok(Ok((buf, n))) => {
                    h.update(&buf[..n]);
                    total += n as u64;
                    let _ = empty_tx.send(buf);
                }
                Ok(Err(e)) => {
                    drop(empty_tx);
                    return Err(io_err("read", shown, e));
                }
            }
        }
        drop(empty_tx);
        Ok((h.digest_hex(), total))
    })
}

/// `size_hint` (from the walk) chooses the strategy; a short read that completes `size_hint`
/// bytes is taken as the end of the file (regular files), saving one `read` per small file.
/// `shown` names the file in errors (built only on error).
fn hash_file(
    path: &Path,
    shown: impl Fn() -> String,
    size_hint: u64,
    buf: &mut [u8],
) -> Result<(String, u64)> {
    let mut f = File::open(path).map_err(|e| io_err("open", &shown(), e))?;
    if size_hint >= PIPELINE_MIN {
        return hash_pipelined(f, &shown());
    }
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("read", &shown(), e)),
        };
        h.update(&buf[..n]);
        total += n as u64;
        if n < buf.len() && total == size_hint {
            break;
        }
    }
    Ok((h.digest_hex(), total))
}

/// Hashes the files `rel_paths` under `root` in parallel; `sizes` (same order) only guide the
/// scheduling. Returns `(sha256 hex, bytes)` per file, in the input order.
pub fn hash_files(
    root: &Path,
    shown: &str,
    rel_paths: &[String],
    sizes: &[u64],
) -> Vec<Result<(String, u64)>> {
    let order = by_size_desc(sizes);
    parallel(&order, rel_paths.len(), |i, buf| {
        let rel = &rel_paths[i];
        hash_file(&root.join(rel), || format!("{shown}/{rel}"), sizes[i], buf)
    })
    .into_iter()
    .enumerate()
    .map(|(i, r)| {
        r.unwrap_or_else(|| {
            Err(Error::Io {
                op: "hash".into(),
                path: rel_paths[i].clone(),
                message: "worker thread failed".into(),
            })
        })
    })
    .collect()
}

/// What a pack directory holds: the named documents (when present as regular files) and every
/// entry observed, the files `SHA256SUMS.txt` lists hashed (all files when it does not parse).
pub(crate) struct ObservedPack {
    /// The documents asked for, in the order asked (`None` when absent or not a regular file).
    pub docs: Vec<Option<Vec<u8>>>,
    /// Every entry of the directory.
    pub observed: Vec<ObservedFile>,
}

/// Reads `dir` (named `shown` in errors) for verification: the documents `doc_names` and every
/// entry, hashing what the listing names. Throws only when `dir` or a document cannot be read; an
/// unreadable data file is recorded in [`ObservedFile::read_error`] (an I/O problem, not tampering).
pub(crate) fn observe_pack(dir: &Path, shown: &str, doc_names: &[&str]) -> Result<ObservedPack> {
    let meta = fs::symlink_metadata(dir).map_err(|e| io_err("stat", shown, e))?;
    if !meta.is_dir() {
        return Err(Error::Io {
            op: "verify".into(),
            path: shown.into(),
            message: "not a directory".into(),
        });
    }
    let entries = walk(dir, shown)?;
    let read_doc = |name: &str| -> Result<Option<Vec<u8>>> {
        match entries.iter().find(|e| e.path == name) {
            Some(e) if e.kind == EntryKind::File => fs::read(dir.join(name))
                .map(Some)
                .map_err(|err| io_err("read", &format!("{shown}/{name}"), err)),
            _ => Ok(None),
        }
    };
    let sums_bytes = read_doc(SUMS_FILE)?;
    let docs = doc_names
        .iter()
        .map(|n| read_doc(n))
        .collect::<Result<Vec<_>>>()?;
    // Hash only what the listing names (when it parses); everything else is reported unhashed.
    let listed: Option<BTreeSet<String>> = sums_bytes
        .as_deref()
        .and_then(|b| sums::parse(b, SUMS_FILE).ok())
        .map(|l| l.into_iter().map(|e| e.path).collect());
    let mut to_hash = Vec::new();
    let mut sizes = Vec::new();
    let mut index = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let wanted = listed.as_ref().is_none_or(|l| l.contains(&e.path));
        if e.kind == EntryKind::File && e.utf8 && wanted {
            to_hash.push(e.path.clone());
            sizes.push(e.bytes);
            index.push(i);
        }
    }
    let hashes = hash_files(dir, shown, &to_hash, &sizes);
    let mut observed: Vec<ObservedFile> = entries
        .iter()
        .map(|e| ObservedFile {
            path: e.path.clone(),
            kind: if e.utf8 { e.kind } else { EntryKind::Other },
            bytes: e.bytes,
            sha256: None,
            read_error: None,
        })
        .collect();
    for (k, r) in hashes.into_iter().enumerate() {
        match r {
            Ok((digest, bytes)) => {
                observed[index[k]].sha256 = Some(digest);
                observed[index[k]].bytes = bytes;
            }
            // An unreadable file is an I/O problem (exit 2), not tampering (issue 14).
            Err(Error::Io { op, message, .. }) => {
                observed[index[k]].read_error = Some(format!("{op}: {}", message.to_lowercase()));
            }
            Err(other) => observed[index[k]].read_error = Some(other.to_string()),
        }
    }
    Ok(ObservedPack { docs, observed })
}

/// Verifies the pack in `dir` (named `shown` in errors). Throws only when `dir` cannot be read;
/// every finding is in the returned [`Verification`].
pub fn verify_dir(dir: &Path, shown: &str) -> Result<Verification> {
    let o = observe_pack(dir, shown, &[SUMS_FILE, MANIFEST_FILE])?;
    Ok(verify(
        o.docs[0].as_deref(),
        o.docs[1].as_deref(),
        &o.observed,
    ))
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Source run directory.
    pub source: PathBuf,
    /// Output directory (must not exist, or be empty).
    pub output: PathBuf,
    /// Manifest fields (type, verdict, created, source run name, command).
    pub manifest: ManifestInput,
    /// Tool versions for `toolchain.json`.
    pub toolchain: Toolchain,
    /// Absolute-path patterns (calibration `proofpack.forbidden_path_patterns`).
    pub forbidden_patterns: Vec<String>,
    /// The self-contained browser verifier to ship as `verify.html`, if available.
    pub verify_html: Option<String>,
}

/// What a caller asks to pack, before the pack's policy fills in the rest: the creation time
/// (given, else `SOURCE_DATE_EPOCH`, else the clock), the source run's name (the last component
/// of `source`), this build's omega-pr version, OS and CPU (named as Node's `process.platform` /
/// `process.arch` name them).
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// Source run directory.
    pub source: String,
    /// Output directory.
    pub output: String,
    /// Run type, `[a-z0-9_-]{1,64}`.
    pub pack_type: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// Command that produced the run.
    pub command: Option<String>,
    /// Creation time, seconds since the Unix epoch, when the caller fixes it.
    pub created_epoch_secs: Option<u64>,
    /// Probed tool versions (node, npm, tsc, rustc, cargo).
    pub node: Option<String>,
    /// `npm --version`.
    pub npm: Option<String>,
    /// TypeScript version.
    pub tsc: Option<String>,
    /// `rustc --version`.
    pub rustc: Option<String>,
    /// `cargo --version`.
    pub cargo: Option<String>,
    /// Calibration `proofpack.forbidden_path_patterns`.
    pub forbidden_patterns: Vec<String>,
    /// The browser verifier (`verify.html`), if shipped (empty: none).
    pub verify_html: Option<String>,
}

impl BuildRequest {
    /// The full build options: the pack policy applied to the request. `ERR_OMEGA_INVALID_ARGUMENT`
    /// naming `source` when it has no directory name.
    pub fn into_options(self) -> Result<BuildOptions> {
        let created = self.created_epoch_secs.unwrap_or_else(epoch_now);
        let source = PathBuf::from(&self.source);
        let source_run = source_run_name(&source)
            .ok_or_else(|| Error::invalid("source", "has no directory name"))?;
        Ok(BuildOptions {
            source,
            output: PathBuf::from(&self.output),
            manifest: ManifestInput {
                pack_type: self.pack_type,
                verdict: self.verdict,
                created_epoch_secs: created,
                source_run,
                command: self.command,
            },
            toolchain: Toolchain {
                schema_version: String::new(),
                omega_pr: env!("CARGO_PKG_VERSION").to_owned(),
                node: self.node,
                npm: self.npm,
                tsc: self.tsc,
                rustc: self.rustc,
                cargo: self.cargo,
                os: node_platform().to_owned(),
                arch: node_arch().to_owned(),
            },
            forbidden_patterns: self.forbidden_patterns,
            verify_html: self.verify_html.filter(|h| !h.is_empty()),
        })
    }
}

/// Seconds since the Unix epoch of a build: `SOURCE_DATE_EPOCH` when set and valid
/// ([`crate::report_rules::parse_source_date_epoch`]), else the clock.
pub fn epoch_now() -> u64 {
    if let Some(v) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .as_deref()
        .and_then(crate::report_rules::parse_source_date_epoch)
    {
        return v;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The run's name: the last component of `source` (`.`/`..` resolved through the file system).
fn source_run_name(source: &Path) -> Option<String> {
    let last = match source.components().next_back() {
        Some(std::path::Component::Normal(name)) => Some(name.to_string_lossy().into_owned()),
        _ => None,
    };
    last.filter(|n| !n.is_empty()).or_else(|| {
        fs::canonicalize(source)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    })
}

/// `process.platform` naming of the OS (`linux`, `darwin`, `win32`, …).
fn node_platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

/// `process.arch` naming of the CPU.
fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        other => other,
    }
}

/// What was built.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Pack id (`<type>-<created ms>`).
    pub pack_id: String,
    /// Every file in the pack, including `SHA256SUMS.txt` and `MANIFEST.json`.
    pub file_count: u64,
    /// Files listed in `SHA256SUMS.txt`.
    pub listed_count: u64,
    /// Bytes of the listed files.
    pub total_bytes: u64,
    /// Names of the generated files present, relative to the pack.
    pub generated: Vec<String>,
    /// Generic absolute-path patterns found (`file:line: contains "/home/"`), at most one per
    /// file: reported, not refused (they are not this machine's paths).
    pub warnings: Vec<String>,
    /// The manifest written.
    pub manifest: Manifest,
}

/// Removes the temporary directory unless the build succeeded.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Set by [`cancel_builds`]: every build of this process stops at its next chunk.
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Cancels every running and future [`build`] of this process (an interrupt: the process is
/// about to exit). A cancelled build fails with [`Error::Interrupted`] and removes its temporary
/// directory; it never renames a pack into place.
pub fn cancel_builds() {
    CANCELLED.store(true, Ordering::SeqCst);
}

fn check_cancelled() -> Result<()> {
    if CANCELLED.load(Ordering::SeqCst) {
        return Err(Error::Interrupted {
            what: "proofpack build".into(),
        });
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Builds a pack: copies every source file (hashing and scanning it on the way, in parallel),
/// writes the generated files and the two documents into a temporary sibling of `output`, then
/// renames it into place. On any error nothing is left behind.
pub fn build(opts: &BuildOptions) -> Result<BuildReport> {
    let src_shown = display(&opts.source);
    let out_shown = display(&opts.output);
    let meta = fs::metadata(&opts.source).map_err(|e| io_err("stat", &src_shown, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            "source",
            format!("`{src_shown}` is not a directory"),
        ));
    }
    match fs::symlink_metadata(&opts.output) {
        Ok(m) if m.is_dir() => {
            let mut rd =
                fs::read_dir(&opts.output).map_err(|e| io_err("read directory", &out_shown, e))?;
            if rd.next().is_some() {
                return Err(Error::OutputNotEmpty { path: out_shown });
            }
        }
        Ok(_) => {
            return Err(Error::invalid(
                "output",
                format!("`{out_shown}` exists and is a file, not a directory: give a directory that does not exist or is empty"),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("stat", &out_shown, e)),
    }
    let out_name = opts
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid("output", format!("`{out_shown}` has no directory name")))?;
    let parent = match opts.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| io_err("create directory", &display(&parent), e))?;
    if let (Ok(src), Ok(par)) = (fs::canonicalize(&opts.source), fs::canonicalize(&parent)) {
        if par.starts_with(&src) {
            return Err(Error::UnsafePath {
                path: out_shown,
                reason: "inside_source: the output must not be inside the source run".into(),
            });
        }
    }

    let entries = walk(&opts.source, &src_shown)?;
    // Every refused entry at once (issue 14): one build tells the user everything to rename.
    let mut refused: Vec<String> = Vec::new();
    for e in &entries {
        let reason = if !e.utf8 {
            Some("not_utf8: file names must be UTF-8")
        } else {
            match e.kind {
                EntryKind::Symlink => Some("symlink: symbolic links are refused in a proofpack"),
                EntryKind::Other => Some("not_a_file: only regular files can be packed"),
                EntryKind::File if RESERVED_NAMES.contains(&e.path.as_str()) => {
                    Some("reserved_name: the pack writes this file itself")
                }
                EntryKind::File => None,
            }
        };
        if let Some(reason) = reason {
            refused.push(format!("{}: {reason}", quoted(&e.path)));
        } else if let Some(r) = refused_names([e.path.as_str()]).first() {
            // The one rule set of `names`, shared with the verifiers and the scripts.
            refused.push(r.to_string());
        }
    }
    if !refused.is_empty() {
        return Err(Error::UnsafeNames { refused });
    }
    if entries.is_empty() {
        return Err(Error::EmptySource { path: src_shown });
    }

    let tmp_path = parent.join(format!(
        ".{out_name}.partial-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&tmp_path).map_err(|e| io_err("create directory", &display(&tmp_path), e))?;
    let mut tmp = TempDir {
        path: tmp_path,
        keep: false,
    };
    let dirs: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.path.rfind('/').map(|i| &e.path[..i]))
        .collect();
    for d in dirs {
        fs::create_dir_all(tmp.path.join(d))
            .map_err(|e| io_err("create directory", &format!("{out_shown}/{d}"), e))?;
    }

    // Copy + hash + scan every source file in one pass, on all cores.
    let sizes: Vec<u64> = entries.iter().map(|e| e.bytes).collect();
    let order = by_size_desc(&sizes);
    // Generic patterns warn; this machine's own paths and names are refused.
    let rules = ScanRules::new(
        &opts.forbidden_patterns,
        &machine_needles(&MachineInfo::from_env(&opts.source)),
    );
    let patterns = &rules;
    let results = parallel(&order, entries.len(), |i, buf| {
        copy_hash_scan(
            &opts.source.join(&entries[i].path),
            &tmp.path.join(&entries[i].path),
            &entries[i].path,
            &src_shown,
            patterns,
            buf,
        )
    });
    let mut files = Vec::with_capacity(entries.len() + 4);
    let mut hits: Vec<PathHit> = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let (sha256, bytes, h) = r.ok_or_else(|| Error::Io {
            op: "copy".into(),
            path: entries[i].path.clone(),
            message: "worker thread failed".into(),
        })??;
        hits.extend(h);
        files.push(ManifestFile {
            path: entries[i].path.clone(),
            bytes,
            sha256,
        });
    }

    // Generated files.
    let mut generated: Vec<(&str, String)> = vec![
        (TOOLCHAIN_FILE, opts.toolchain.render()?),
        (REPLAY_FILE, replay_sh(opts.manifest.command.as_deref())),
        (VERIFY_PS1_FILE, verify_ps1()),
    ];
    if let Some(html) = &opts.verify_html {
        // What the pack is (id, type, verdict, file count), shown by the page before files are chosen.
        let count = files.len() + generated.len() + 1;
        let html = crate::sign::pack::embed_pack_info(html, &opts.manifest, count as u64);
        generated.push((VERIFY_HTML_FILE, html));
    }
    for (name, text) in &generated {
        let mut sc = PathScanner::with_rules(name, patterns);
        sc.feed(text.as_bytes());
        hits.extend(sc.finish());
    }
    hits.sort_by(|a, b| (a.file.as_bytes(), a.line).cmp(&(b.file.as_bytes(), b.line)));
    let (leaks, generic): (Vec<PathHit>, Vec<PathHit>) = hits.into_iter().partition(|h| h.leak);
    if !leaks.is_empty() {
        return Err(Error::AbsolutePath {
            hits: leaks.iter().map(ToString::to_string).collect(),
        });
    }
    let mut warnings: Vec<String> = Vec::new();
    let mut last_file: Option<&str> = None;
    for h in &generic {
        if last_file != Some(h.file.as_str()) {
            let more = generic.iter().filter(|g| g.file == h.file).count() - 1;
            warnings.push(format!(
                "{h} (an absolute path, not this machine's: packed{})",
                if more > 0 {
                    format!("; {more} more in this file")
                } else {
                    String::new()
                }
            ));
            last_file = Some(h.file.as_str());
        }
    }
    for (name, text) in &generated {
        write_file(
            &tmp.path.join(name),
            &format!("{out_shown}/{name}"),
            text.as_bytes(),
        )?;
        files.push(ManifestFile {
            path: (*name).into(),
            bytes: text.len() as u64,
            sha256: super::manifest::sha256_hex(text.as_bytes()),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(
            tmp.path.join(REPLAY_FILE),
            fs::Permissions::from_mode(0o755),
        );
    }

    let entries_sums: Vec<SumEntry> = files
        .iter()
        .map(|f| SumEntry {
            path: f.path.clone(),
            sha256: f.sha256.clone(),
        })
        .collect();
    let sums_text = sums::render(&entries_sums)?;
    let manifest = Manifest::build(&opts.manifest, &files, &sums_text)?;
    let manifest_text = manifest.render()?;
    write_file(
        &tmp.path.join(SUMS_FILE),
        &format!("{out_shown}/{SUMS_FILE}"),
        sums_text.as_bytes(),
    )?;
    write_file(
        &tmp.path.join(MANIFEST_FILE),
        &format!("{out_shown}/{MANIFEST_FILE}"),
        manifest_text.as_bytes(),
    )?;

    // Into place. An existing empty output directory is replaced.
    check_cancelled()?;
    if fs::symlink_metadata(&opts.output).is_ok() {
        fs::remove_dir(&opts.output).map_err(|e| io_err("replace", &out_shown, e))?;
    }
    fs::rename(&tmp.path, &opts.output).map_err(|e| io_err("rename", &out_shown, e))?;
    tmp.keep = true;

    Ok(BuildReport {
        pack_id: manifest.pack_id.clone(),
        file_count: files.len() as u64 + 2,
        listed_count: files.len() as u64,
        total_bytes: manifest.totals.bytes,
        generated: generated.iter().map(|(n, _)| (*n).to_owned()).collect(),
        warnings,
        manifest,
    })
}

fn write_file(path: &Path, shown: &str, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| io_err("create", shown, e))?;
    f.write_all(bytes).map_err(|e| io_err("write", shown, e))?;
    f.sync_all().map_err(|e| io_err("sync", shown, e))
}

type CopyResult = Result<(String, u64, Vec<PathHit>)>;

fn copy_hash_scan(
    src: &Path,
    dst: &Path,
    rel: &str,
    src_shown: &str,
    patterns: &ScanRules,
    buf: &mut [u8],
) -> CopyResult {
    let shown = format!("{src_shown}/{rel}");
    let mut input = File::open(src).map_err(|e| io_err("open", &shown, e))?;
    let mut out = File::create(dst).map_err(|e| io_err("create", rel, e))?;
    let mut h = Sha256::new();
    let mut scan = PathScanner::with_rules(rel, patterns);
    let mut total = 0u64;
    loop {
        check_cancelled()?;
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("read", &shown, e)),
        };
        h.update(&buf[..n]);
        scan.feed(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| io_err("write", rel, e))?;
        total += n as u64;
    }
    out.sync_all().map_err(|e| io_err("sync", rel, e))?;
    Ok((h.digest_hex(), total, scan.finish()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("omega-pr-core-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn opts(src: &Path, out: &Path) -> BuildOptions {
        BuildOptions {
            source: src.into(),
            output: out.into(),
            manifest: ManifestInput {
                pack_type: "stress100".into(),
                verdict: "PASS".into(),
                created_epoch_secs: 1_707_748_200,
                source_run: "run".into(),
                command: Some("omega-pr stress --count=100".into()),
            },
            toolchain: Toolchain {
                omega_pr: "0.1.0".into(),
                os: "linux".into(),
                arch: "x64".into(),
                ..Default::default()
            },
            forbidden_patterns: vec!["/home/".into()],
            verify_html: None,
        }
    }

    #[test]
    fn build_request_applies_the_pack_policy() {
        let req = BuildRequest {
            source: "metrics/pr/PR_RUNS/stress100_20260212_143000/".into(),
            output: "proofpacks/x".into(),
            pack_type: "stress100".into(),
            verdict: "PASS".into(),
            created_epoch_secs: Some(1_700_000_000),
            verify_html: Some(String::new()),
            ..BuildRequest::default()
        };
        let o = req.into_options().expect("options");
        assert_eq!(o.manifest.source_run, "stress100_20260212_143000");
        assert_eq!(o.manifest.created_epoch_secs, 1_700_000_000);
        assert_eq!(o.toolchain.omega_pr, env!("CARGO_PKG_VERSION"));
        assert!(!o.toolchain.os.is_empty() && o.toolchain.os != "macos");
        assert!(o.verify_html.is_none(), "an empty page is no page");
        let bad = BuildRequest {
            source: "/".into(),
            ..BuildRequest::default()
        };
        assert_eq!(
            bad.into_options().map(|_| ()).map_err(|e| e.code()),
            Err("ERR_OMEGA_INVALID_ARGUMENT")
        );
    }

    #[test]
    fn build_verify_tamper_and_reproduce() {
        let root = scratch("build");
        let src = root.join("run");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("PR_REPORT.json"), b"{\"verdict\":\"PASS\"}\n").unwrap();
        fs::write(src.join("sub/log.txt"), vec![b'x'; 9 * CHUNK + 7]).unwrap();
        let out = root.join("pack");
        let rep = build(&opts(&src, &out)).unwrap();
        assert_eq!(rep.listed_count, 5);
        assert_eq!(rep.file_count, 7);
        let v = verify_dir(&out, "pack").unwrap();
        assert_eq!(v.verdict, "PASS", "{:?}", v.problems);

        // Reproducible.
        let out2 = root.join("pack2");
        build(&opts(&src, &out2)).unwrap();
        for name in [SUMS_FILE, MANIFEST_FILE, "sub/log.txt", REPLAY_FILE] {
            assert_eq!(
                fs::read(out.join(name)).unwrap(),
                fs::read(out2.join(name)).unwrap()
            );
        }

        // Non-empty output refused, nothing left behind.
        let err = build(&opts(&src, &out)).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_OUTPUT_NOT_EMPTY");

        // Tamper: one byte.
        let mut bytes = fs::read(out.join("sub/log.txt")).unwrap();
        bytes[5] = b'y';
        fs::write(out.join("sub/log.txt"), bytes).unwrap();
        let v = verify_dir(&out, "pack").unwrap();
        assert!(v.complete && !v.valid);

        // A generic absolute path (not this machine's) packs with one warning per file.
        fs::write(src.join("prose.txt"), b"a\nb /home/alice/x /home/bob/y\n").unwrap();
        let out2b = root.join("pack2b");
        let r = build(&opts(&src, &out2b)).unwrap();
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].starts_with("prose.txt:2:"),
            "{:?}",
            r.warnings
        );
        // This machine's working directory is refused with file:line, no partial dir left.
        let cwd = std::env::current_dir().unwrap();
        fs::write(
            src.join("bad.txt"),
            format!("a\nb {}/x\n", cwd.display()).as_bytes(),
        )
        .unwrap();
        let out3 = root.join("pack3");
        let err = build(&opts(&src, &out3)).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_ABSOLUTE_PATH");
        assert!(err.to_string().contains("bad.txt:2"), "{err}");
        assert!(err.to_string().contains("working directory"), "{err}");
        assert!(!out3.exists());
        let leftovers: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_and_never_followed() {
        let root = scratch("symlink");
        let src = root.join("run");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("a.json", src.join("link")).unwrap();
        let err = build(&opts(&src, &root.join("pack"))).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_UNSAFE_PATH");
        fs::remove_file(src.join("link")).unwrap();
        for name in ["back\\slash.json", "new\nline.json"] {
            fs::write(src.join(name), b"{}").unwrap();
            let err = build(&opts(&src, &root.join("pack"))).unwrap_err();
            assert_eq!(err.code(), "ERR_OMEGA_UNSAFE_PATH", "{name:?}");
            fs::remove_file(src.join(name)).unwrap();
        }
        build(&opts(&src, &root.join("pack"))).unwrap();
        std::os::unix::fs::symlink("a.json", root.join("pack/extra-link")).unwrap();
        let v = verify_dir(&root.join("pack"), "pack").unwrap();
        assert_eq!(v.verdict, "FAIL");
        assert!(v.problems.iter().any(
            |p| p.path == "extra-link" && p.kind == super::super::verify::ProblemKind::Symlink
        ));
        fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn papercut_06_build_lists_every_refused_name_at_once() {
        let root = scratch("names");
        let src = root.join("run");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("ok.json"), b"{}").unwrap();
        let bad = [
            "new\nline.json",
            "car\rret.json",
            "tab\t.json",
            "back\\slash.json",
            "co:lon.json",
        ];
        for name in bad {
            fs::write(src.join(name), b"{}").unwrap();
        }
        std::os::unix::fs::symlink("ok.json", src.join("link")).unwrap();
        let err = build(&opts(&src, &root.join("pack"))).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_UNSAFE_PATH");
        let Error::UnsafeNames { refused } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(refused.len(), bad.len() + 1, "{refused:#?}");
        let text = err.to_string();
        for name in bad {
            assert!(text.contains(&quoted(name)), "{name:?} in {text}");
        }
        assert!(text.contains("\"link\": symlink"), "{text}");
        assert!(!root.join("pack").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn papercut_08_empty_source_is_refused() {
        let root = scratch("empty");
        let src = root.join("run");
        fs::create_dir_all(src.join("only/dirs")).unwrap();
        let err = build(&opts(&src, &root.join("pack"))).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_EMPTY_SOURCE");
        assert!(err.to_string().contains("has no files"), "{err}");
        assert!(!root.join("pack").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn papercut_10_output_that_is_a_file_is_named_a_file() {
        let root = scratch("outfile");
        let src = root.join("run");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.json"), b"{}").unwrap();
        fs::write(root.join("out"), b"").unwrap();
        let err = build(&opts(&src, &root.join("out"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("exists and is a file, not a directory"),
            "{text}"
        );
        assert!(!text.contains("not empty"), "{text}");
        fs::remove_dir_all(&root).unwrap();
    }

    /// A FIFO where a listed file should be is `not_a_file` (and never opened: opening a FIFO
    /// for reading would block the walk); an unlisted one is `extra`.
    #[cfg(unix)]
    #[test]
    fn a_fifo_in_a_pack_is_not_a_file() {
        use super::super::verify::ProblemKind;
        let root = scratch("fifo");
        let src = root.join("run");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("PR_REPORT.json"), b"{}\n").unwrap();
        fs::write(src.join("sub/log.txt"), b"log\n").unwrap();
        let out = root.join("pack");
        build(&opts(&src, &out)).unwrap();
        fs::remove_file(out.join("sub/log.txt")).unwrap();
        for fifo in [out.join("sub/log.txt"), out.join("pipe")] {
            let st = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(st.success(), "mkfifo {}", fifo.display());
        }
        let v = verify_dir(&out, "pack").unwrap();
        let kinds: Vec<(ProblemKind, &str)> = v
            .problems
            .iter()
            .map(|p| (p.kind, p.path.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ProblemKind::Extra, "pipe"),
                (ProblemKind::NotAFile, "sub/log.txt"),
            ]
        );
        assert!(!v.complete && !v.valid);
        assert_eq!(v.verdict, "FAIL");
        fs::remove_dir_all(&root).unwrap();
    }
}
