//! The file-locking atomic store behind `AtomicCache`: plain Rust (no napi), so it is testable
//! with `cargo test -p omega-pr-node --lib`.
//!
//! On disk: the **snapshot** `<file>` (one JSON object) and, beside it, the append-only
//! **journal** `<file>.journal` (one checksummed line per mutation; format in [`super::doc`]).
//! The content is the snapshot with every intact journal line applied in order.
//!
//! Every mutation is one critical section:
//! 1. take an OS lock (`flock` through `std::fs::File::lock`) on the sidecar `<file>.lock`;
//! 2. check the locked handle is still the file at `<file>.lock` (same device and inode): a
//!    previous holder removes the lock file while holding it, so a waiter may have locked a
//!    removed inode — then it retries;
//! 3. remove temp files of crashed compactions (only when there can be some, see
//!    [`Store::mutate`]);
//! 4. bring the handle's in-memory index up to date: only the journal lines appended since it
//!    last looked are read (a corrupt snapshot is reported, never overwritten);
//! 5. append the change as one line to the journal (cutting first a torn tail a crashed writer
//!    left), fsync it ("full");
//! 6. when the journal has grown past half the snapshot (and 1 MiB), **compact**: write the
//!    index to `<file>.<pid>-<unique>.tmp`, fsync, rename it over the snapshot, fsync the
//!    directory, remove the journal;
//! 7. remove the lock file while still holding it, then unlock.
//!
//! So a mutation costs one append (+ one fsync) whatever the size of the cache; compaction is
//! O(size) but happens once per O(size) bytes appended. The kernel drops the lock of a dead
//! process, so a crashed writer never blocks the others: there is no staleness guessing.
//! Readers take no lock: the snapshot is only ever replaced by an atomic rename, and a reader
//! applies only complete lines whose checksum holds, so it never sees a torn state.
//! `close()`/[`Store::compact`] fold the journal so the cache file alone is the whole content.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use super::doc::{apply, journal_line, parse_line, parse_snapshot, snapshot_bytes, Doc, Index};
use serde_json::{Map, Value};

/// The journal is folded into the snapshot when it exceeds 1/`COMPACT_DIVISOR` of it…
const COMPACT_DIVISOR: u64 = 2;
/// …and this many bytes.
const COMPACT_MIN_BYTES: u64 = 1 << 20;
/// Reloads tried while compactions keep replacing the files under a reader.
const MAX_RELOADS: usize = 64;

/// The content of a cache file as parsed values.
pub type Entries = Map<String, Value>;

/// The JSON text of `value` for [`RawEntries`].
pub fn raw(value: &Value) -> CacheResult<Box<RawValue>> {
    serde_json::value::to_raw_value(value).map_err(|e| CacheError::Io {
        op: "serialise",
        path: "value".into(),
        reason: e.to_string(),
    })
}

/// Durability of writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the temp file before the rename and the directory after it.
    Full,
    /// No fsync (regenerable caches).
    None,
}

/// How a contended lock is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// A blocking `flock` in a helper thread, bounded by the timeout (the kernel wakes the
    /// waiter as soon as the lock is free).
    Blocking,
    /// `try_lock` polling with exponential backoff (fallback when no thread can be spawned).
    Polling,
}

/// Errors of the store; each maps to a stable JS code.
#[derive(Debug)]
pub enum CacheError {
    /// The lock was not obtained within the timeout.
    LockTimeout {
        /// The cache file as given.
        file: String,
        /// Time waited.
        waited_ms: u64,
    },
    /// The file is not valid JSON or not an object.
    Corrupt {
        /// The cache file as given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The directory of the cache file does not exist (or is not a directory).
    MissingDir {
        /// The directory.
        dir: String,
    },
    /// The directory cannot be written (read-only or no permission).
    ReadOnly {
        /// The directory.
        dir: String,
        /// OS message.
        reason: String,
    },
    /// Any other I/O error.
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: String,
        /// OS message.
        reason: String,
    },
}

/// Codes and messages live in the core's one error registry: a store error is a core error.
impl From<&CacheError> for omega_pr_core::Error {
    fn from(e: &CacheError) -> Self {
        use omega_pr_core::Error;
        match e {
            CacheError::LockTimeout { file, waited_ms } => Error::LockTimeout {
                file: file.clone(),
                waited_ms: *waited_ms,
            },
            CacheError::Corrupt { path, reason } => Error::CacheCorrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            CacheError::MissingDir { dir } => Error::CacheDirMissing { dir: dir.clone() },
            CacheError::ReadOnly { dir, reason } => Error::CacheDirReadOnly {
                dir: dir.clone(),
                reason: reason.clone(),
            },
            CacheError::Io { op, path, reason } => Error::Io {
                op: format!("cannot {op}"),
                path: path.clone(),
                message: reason.clone(),
            },
        }
    }
}

impl CacheError {
    /// The stable JS error code (from the core's registry).
    pub fn code(&self) -> &'static str {
        omega_pr_core::Error::from(self).code()
    }
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        omega_pr_core::Error::from(self).fmt(f)
    }
}

/// Result of the store.
pub type CacheResult<T> = Result<T, CacheError>;

/// What one mutation cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct MutationInfo {
    /// Time spent waiting for the lock, ms.
    pub lock_wait_ms: f64,
    /// Times the lock was obtained on a removed lock file and taken again.
    pub lock_retries: u32,
    /// Temp files of crashed writers removed.
    pub stale_tmps_removed: u32,
    /// Whether a journal line was written (a delete of a missing key writes nothing).
    pub wrote: bool,
    /// Whether the journal was folded into the snapshot.
    pub compacted: bool,
}

/// One cache file.
#[derive(Debug)]
pub struct Store {
    /// The path as given (for messages).
    display: String,
    /// Absolute path of the file.
    path: PathBuf,
    /// Absolute path of its directory.
    dir: PathBuf,
    /// File name, for temp and lock names.
    name: OsString,
    /// `<file>.lock`.
    lock_path: PathBuf,
    /// `<file>.journal`.
    journal_path: PathBuf,
    timeout: Duration,
    durability: Durability,
    wait_mode: WaitMode,
    /// The first mutation of this handle scans for stale temp files.
    scan_pending: AtomicBool,
    counter: AtomicU64,
    /// What this handle has loaded.
    state: Mutex<State>,
    /// Journal size below which it is never compacted.
    compact_min: u64,
}

fn io_err(op: &'static str, path: &Path, e: &io::Error) -> CacheError {
    CacheError::Io {
        op,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn is_read_only(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

impl Store {
    /// Opens (does not create) the cache at `path`. The directory must exist.
    pub fn open(
        path: &str,
        timeout: Duration,
        durability: Durability,
        wait_mode: WaitMode,
    ) -> CacheResult<Self> {
        if path.is_empty() {
            return Err(CacheError::Io {
                op: "open cache",
                path: String::new(),
                reason: "empty path".into(),
            });
        }
        let given = Path::new(path);
        let abs = std::path::absolute(given).map_err(|e| io_err("resolve", given, &e))?;
        let name = match abs.file_name() {
            Some(n) => n.to_os_string(),
            None => {
                return Err(CacheError::Io {
                    op: "open cache",
                    path: path.to_owned(),
                    reason: "the path names no file".into(),
                })
            }
        };
        let dir = abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let dir_display = given
            .parent()
            .map(|p| p.display().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ".".into());
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            _ => return Err(CacheError::MissingDir { dir: dir_display }),
        }
        if abs.is_dir() {
            return Err(CacheError::Io {
                op: "open cache",
                path: path.to_owned(),
                reason: "it is a directory".into(),
            });
        }
        let mut lock_name = name.clone();
        lock_name.push(".lock");
        let mut journal_name = name.clone();
        journal_name.push(".journal");
        Ok(Self {
            display: path.to_owned(),
            lock_path: dir.join(lock_name),
            journal_path: dir.join(journal_name),
            path: abs,
            dir,
            name,
            timeout,
            durability,
            wait_mode,
            scan_pending: AtomicBool::new(true),
            counter: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            compact_min: COMPACT_MIN_BYTES,
        })
    }

    /// Sets the journal size below which it is never compacted (default 1 MiB; tests and the
    /// crash harness use small values to compact often).
    pub fn with_compact_min(mut self, bytes: u64) -> Self {
        self.compact_min = bytes;
        self
    }

    /// The path as given.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The lock timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The durability.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn dir_display(&self) -> String {
        Path::new(&self.display)
            .parent()
            .map(|p| p.display().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ".".into())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads the current content (no lock; see [`Store::refresh`]). A missing file is an empty
    /// cache.
    pub fn read(&self) -> CacheResult<Entries> {
        let mut st = self.state();
        self.refresh(&mut st, false)?;
        st.index
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.value(v)?)))
            .collect()
    }

    fn value(&self, raw: &RawValue) -> CacheResult<Value> {
        serde_json::from_str(raw.get()).map_err(|e| CacheError::Corrupt {
            path: self.display.clone(),
            reason: format!("a stored value is not valid JSON: {e}"),
        })
    }

    /// The value at `key` (no lock; costs two `stat`s plus the journal lines appended since
    /// this handle last looked).
    pub fn get(&self, key: &str) -> CacheResult<Option<Value>> {
        let mut st = self.state();
        self.refresh(&mut st, false)?;
        st.index.get(key).map(|v| self.value(v)).transpose()
    }

    /// Every key, sorted (no lock).
    pub fn keys(&self) -> CacheResult<Vec<String>> {
        let mut st = self.state();
        self.refresh(&mut st, false)?;
        Ok(st.index.keys().cloned().collect())
    }

    /// Brings the in-memory index up to date with the files: applies only the journal lines
    /// appended since the last call, or reloads snapshot + journal when a compaction (or a
    /// repair) replaced them. Without the lock a reader stops at the last complete, intact
    /// line, so it never applies a torn record; `under_lock` (no writer can be mid-append) also
    /// skips damaged complete lines.
    fn refresh(&self, st: &mut State, under_lock: bool) -> CacheResult<()> {
        if st.loaded && self.incremental(st, under_lock)? {
            return Ok(());
        }
        self.reload(st, under_lock)
    }

    /// Applies what was appended since the last refresh; `false` when a full reload is needed.
    fn incremental(&self, st: &mut State, under_lock: bool) -> CacheResult<bool> {
        let snap_now = self.stat(&self.path)?.map(|m| file_id(&m));
        if snap_now != st.snap.as_ref().map(|s| s.1) {
            return Ok(false);
        }
        match (self.stat(&self.journal_path)?, &st.journal) {
            (None, None) => Ok(true),
            // The journal was folded into a new snapshot: reload.
            (None, Some(_)) => Ok(false),
            (Some(m), Some((_, id))) => {
                if !same_file(&file_id(&m), id) {
                    return Ok(false);
                }
                if m.len() > st.offset {
                    self.read_journal(st, under_lock)?;
                }
                Ok(true)
            }
            (Some(_), None) => {
                // A journal was started on top of our snapshot. It belongs to our snapshot only
                // if the snapshot is still in place after we opened the journal (a compaction
                // renames the snapshot before it removes the journal).
                let Some(f) = self.open_read(&self.journal_path)? else {
                    return Ok(false);
                };
                let id = self.fstat(&f, &self.journal_path)?;
                if self.stat(&self.path)?.map(|m| file_id(&m)) != snap_now {
                    return Ok(false);
                }
                st.journal = Some((f, id));
                st.offset = 0;
                self.read_journal(st, under_lock)?;
                Ok(true)
            }
        }
    }

    /// Loads the snapshot and applies the whole journal.
    fn reload(&self, st: &mut State, under_lock: bool) -> CacheResult<()> {
        st.loaded = false;
        for _ in 0..MAX_RELOADS {
            let (snap, index, snap_len) = match self.open_read(&self.path)? {
                Some(mut f) => {
                    let id = self.fstat(&f, &self.path)?;
                    let mut bytes = Vec::with_capacity(id.len as usize + 1);
                    f.read_to_end(&mut bytes)
                        .map_err(|e| io_err("read cache", Path::new(&self.display), &e))?;
                    let index = parse_snapshot(&bytes).map_err(|e| corrupt(&self.display, &e))?;
                    (Some((f, id)), index, bytes.len() as u64)
                }
                None => (None, Index::new(), 0),
            };
            let journal = match self.open_read(&self.journal_path)? {
                Some(f) => {
                    let id = self.fstat(&f, &self.journal_path)?;
                    Some((f, id))
                }
                None => None,
            };
            // A compaction between the two opens pairs an old snapshot with a newer journal
            // (or none): try again.
            if self.stat(&self.path)?.map(|m| file_id(&m)) != snap.as_ref().map(|s| s.1) {
                continue;
            }
            st.snap = snap;
            st.snap_len = snap_len;
            st.index = index;
            st.journal = journal;
            st.offset = 0;
            st.loaded = true;
            return self.read_journal(st, under_lock);
        }
        Err(CacheError::Io {
            op: "read cache",
            path: self.display.clone(),
            reason: format!("the file was replaced {MAX_RELOADS} times while being read"),
        })
    }

    /// Applies the complete journal lines after `st.offset`.
    fn read_journal(&self, st: &mut State, under_lock: bool) -> CacheResult<()> {
        let Some((f, _)) = st.journal.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        f.seek(SeekFrom::Start(st.offset))
            .and_then(|_| f.read_to_end(&mut buf))
            .map_err(|e| io_err("read journal of", Path::new(&self.display), &e))?;
        let mut pos = 0;
        let mut consumed = 0;
        while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
            let next = pos + nl + 1;
            match parse_line(&buf[pos..pos + nl]) {
                Some(ops) => {
                    apply(&mut st.index, ops);
                    consumed = next;
                }
                None => {
                    // A damaged line (a crash tore it; its write was never acknowledged under
                    // "full"): skipped once nobody can still be writing it — under the lock,
                    // or when a later complete line exists.
                    if under_lock || buf[next..].contains(&b'\n') {
                        consumed = next;
                    } else {
                        break;
                    }
                }
            }
            pos = next;
        }
        st.offset += consumed as u64;
        Ok(())
    }

    /// Runs `apply` on the current content inside the critical section; when it returns
    /// `true` its changes are appended to the journal as one line (and the journal is folded
    /// into the snapshot when it has grown past half of it).
    pub fn mutate<F>(&self, apply: F) -> CacheResult<MutationInfo>
    where
        F: for<'a> FnOnce(&mut Doc<'a>) -> bool,
    {
        let mut info = MutationInfo::default();
        self.locked(&mut info, |held, info| self.critical(held, apply, info))?;
        Ok(info)
    }

    /// Runs `body` under the lock (see the module doc) and releases it.
    fn locked<T>(
        &self,
        info: &mut MutationInfo,
        body: impl FnOnce(&Held, &mut MutationInfo) -> CacheResult<T>,
    ) -> CacheResult<T> {
        let held = self.acquire()?;
        info.lock_wait_ms = held.waited.as_secs_f64() * 1000.0;
        info.lock_retries = held.retries;
        let result = body(&held, info);
        // Remove the lock file while still holding the lock, then unlock. A waiter that then
        // locks the removed inode sees it is no longer the file at the path and retries.
        let removed = fs::remove_file(&self.lock_path);
        let unlocked = held.file.unlock();
        drop(held);
        let out = result?;
        if let Err(e) = removed {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(io_err("remove lock file", &self.lock_path, &e));
            }
        }
        unlocked.map_err(|e| io_err("unlock", &self.lock_path, &e))?;
        Ok(out)
    }

    fn critical<F>(&self, held: &Held, apply: F, info: &mut MutationInfo) -> CacheResult<()>
    where
        F: for<'a> FnOnce(&mut Doc<'a>) -> bool,
    {
        // A crashed writer leaves its lock file behind (it is removed only after the write),
        // so temp files of crashed compactions can exist only when we locked a lock file we
        // did not create. The first mutation of a handle scans too.
        if !held.created || self.scan_pending.swap(false, Ordering::Relaxed) {
            info.stale_tmps_removed = self.remove_stale_tmps()?;
        }
        let mut st = self.state();
        // Under the lock nothing changes the files but us: this is the current content (a
        // corrupt snapshot is reported here and never overwritten).
        self.refresh(&mut st, true)?;
        let ops = {
            let mut doc = Doc::new(&st.index);
            if !apply(&mut doc) {
                return Ok(());
            }
            doc.into_ops()
        };
        if ops.is_empty() {
            return Ok(());
        }
        let mut line = Vec::with_capacity(256);
        journal_line(&ops, &mut line).map_err(|e| CacheError::Io {
            op: "serialise journal line of",
            path: self.display.clone(),
            reason: e.to_string(),
        })?;
        self.append(&st, &line)?;
        info.wrote = true;
        // Applies our own line (and adopts a journal we just created).
        self.refresh(&mut st, true)?;
        let threshold = self.compact_min.max(st.snap_len / COMPACT_DIVISOR);
        if st.snap.is_none() || st.offset > threshold {
            self.compact_locked(&mut st)?;
            info.compacted = true;
        }
        Ok(())
    }

    /// Appends one line to the journal (creating it), after cutting a torn tail left by a
    /// crashed writer; fsyncs it under "full" (and the directory when the journal is new).
    /// Caller holds the lock and has just refreshed `st`.
    fn append(&self, st: &State, line: &[u8]) -> CacheResult<()> {
        let created = st.journal.is_none();
        let written = (|| -> io::Result<()> {
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.journal_path)?;
            if !created && f.metadata()?.len() > st.offset {
                // Bytes after the last complete line: a writer died mid-append. Cut them, or
                // they would prefix (and so damage) our line.
                f.set_len(st.offset)?;
            }
            f.write_all(line)?;
            if self.durability == Durability::Full {
                f.sync_data()?;
                if created {
                    sync_dir(&self.dir)?;
                }
            }
            Ok(())
        })();
        written.map_err(|e| {
            if is_read_only(&e) {
                CacheError::ReadOnly {
                    dir: self.dir_display(),
                    reason: e.to_string(),
                }
            } else {
                io_err("append to journal of", Path::new(&self.display), &e)
            }
        })
    }

    /// Folds the journal into the snapshot: writes the index to a temp file, renames it over
    /// the snapshot, then removes the journal. Caller holds the lock and has refreshed `st`.
    fn compact_locked(&self, st: &mut State) -> CacheResult<()> {
        let bytes = snapshot_bytes(&st.index).map_err(|e| CacheError::Io {
            op: "serialise cache",
            path: self.display.clone(),
            reason: e.to_string(),
        })?;
        self.write(&bytes)?;
        // A crash before this removal leaves the old journal beside the new snapshot: replaying
        // it changes nothing (the snapshot already holds the result of every line of it).
        match fs::remove_file(&self.journal_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove journal of", Path::new(&self.display), &e)),
        }
        // Adopt the snapshot just written without reading it back.
        st.loaded = false;
        let Some(f) = self.open_read(&self.path)? else {
            return Ok(());
        };
        let id = self.fstat(&f, &self.path)?;
        st.snap = Some((f, id));
        st.snap_len = bytes.len() as u64;
        st.journal = None;
        st.offset = 0;
        st.loaded = true;
        Ok(())
    }

    /// Folds the journal into the snapshot now (under the lock), so the cache file alone is
    /// one JSON document holding everything. Nothing happens (and no lock is taken) when there
    /// is no journal. Returns whether it compacted.
    pub fn compact(&self) -> CacheResult<MutationInfo> {
        let mut info = MutationInfo::default();
        if self.stat(&self.journal_path)?.is_none() {
            return Ok(info);
        }
        self.locked(&mut info, |_, info| {
            let mut st = self.state();
            self.refresh(&mut st, true)?;
            if st.journal.is_some() {
                self.compact_locked(&mut st)?;
                info.compacted = true;
            }
            Ok(())
        })?;
        Ok(info)
    }

    /// Compacts (see [`Store::compact`]) and drops the in-memory index; the next call reloads.
    pub fn close(&self) -> CacheResult<MutationInfo> {
        let info = self.compact()?;
        *self.state() = State::default();
        Ok(info)
    }

    /// Writes the snapshot `bytes` to a unique temp file and renames it over the cache file.
    /// Caller holds the lock.
    fn write(&self, bytes: &[u8]) -> CacheResult<()> {
        let tmp = self.tmp_path();
        let written = (|| -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            if self.durability == Durability::Full {
                f.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            if is_read_only(&e) {
                return Err(CacheError::ReadOnly {
                    dir: self.dir_display(),
                    reason: e.to_string(),
                });
            }
            return Err(io_err("write temp file for", Path::new(&self.display), &e));
        }
        if let Err(e) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("replace", Path::new(&self.display), &e));
        }
        if self.durability == Durability::Full {
            sync_dir(&self.dir).map_err(|e| io_err("fsync directory", &self.dir, &e))?;
        }
        Ok(())
    }

    fn stat(&self, path: &Path) -> CacheResult<Option<fs::Metadata>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("stat", Path::new(&self.display), &e)),
        }
    }

    fn fstat(&self, f: &File, path: &Path) -> CacheResult<FileId> {
        f.metadata()
            .map(|m| file_id(&m))
            .map_err(|e| io_err("stat", path, &e))
    }

    fn open_read(&self, path: &Path) -> CacheResult<Option<File>> {
        match File::open(path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read cache", Path::new(&self.display), &e)),
        }
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut name = self.name.clone();
        name.push(format!(".{}-{:x}{:08x}.tmp", std::process::id(), n, nanos));
        self.dir.join(name)
    }

    /// Whether `file_name` is a temp file of this cache (`<file>.<pid>-<hex>.tmp`).
    fn is_own_tmp(&self, file_name: &std::ffi::OsStr) -> bool {
        let (Some(name), Some(base)) = (file_name.to_str(), self.name.to_str()) else {
            return false;
        };
        let Some(rest) = name
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            return false;
        };
        let Some((pid, unique)) = rest.split_once('-') else {
            return false;
        };
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !unique.is_empty()
            && unique.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Removes temp files of crashed writers. Caller holds the lock, so no live writer has a
    /// temp file of this cache.
    fn remove_stale_tmps(&self) -> CacheResult<u32> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) => return Err(io_err("list directory", &self.dir, &e)),
        };
        let mut removed = 0;
        for entry in rd.flatten() {
            if self.is_own_tmp(&entry.file_name()) && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Opens the lock file: creates it when absent (returns `created = true`).
    fn open_lock_file(&self) -> CacheResult<(File, bool)> {
        loop {
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&self.lock_path)
            {
                Ok(f) => return Ok((f, true)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if is_read_only(&e) => {
                    return Err(CacheError::ReadOnly {
                        dir: self.dir_display(),
                        reason: e.to_string(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(CacheError::MissingDir {
                        dir: self.dir_display(),
                    })
                }
                Err(e) => return Err(io_err("create lock file", &self.lock_path, &e)),
            }
            match OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.lock_path)
            {
                Ok(f) => return Ok((f, false)),
                // Removed between the two opens by its holder: create it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) if is_read_only(&e) => {
                    return Err(CacheError::ReadOnly {
                        dir: self.dir_display(),
                        reason: e.to_string(),
                    })
                }
                Err(e) => return Err(io_err("open lock file", &self.lock_path, &e)),
            }
        }
    }

    /// Whether the locked handle is still the file at the lock path.
    fn still_current(&self, file: &File) -> CacheResult<bool> {
        let mine = file
            .metadata()
            .map_err(|e| io_err("stat lock file", &self.lock_path, &e))?;
        let at_path = match fs::metadata(&self.lock_path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("stat lock file", &self.lock_path, &e)),
        };
        #[cfg(unix)]
        {
            Ok(identity(&mine) == identity(&at_path))
        }
        #[cfg(not(unix))]
        {
            // No inode numbers in std here: a removed lock file cannot be opened on Windows
            // while a handle is open without FILE_SHARE_DELETE, so path existence with the same
            // creation time is the best available check.
            Ok(mine.created().ok() == at_path.created().ok())
        }
    }

    fn timeout_error(&self, start: Instant) -> CacheError {
        CacheError::LockTimeout {
            file: self.display.clone(),
            waited_ms: start.elapsed().as_millis() as u64,
        }
    }

    /// Takes the lock (see the module doc), within the timeout.
    fn acquire(&self) -> CacheResult<Held> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut retries = 0u32;
        loop {
            let (file, created) = self.open_lock_file()?;
            let file = match file.try_lock() {
                Ok(()) => file,
                Err(TryLockError::WouldBlock) => self.wait(file, start, deadline)?,
                Err(TryLockError::Error(e)) => return Err(io_err("lock", &self.lock_path, &e)),
            };
            if self.still_current(&file)? {
                return Ok(Held {
                    file,
                    created,
                    retries,
                    waited: start.elapsed(),
                });
            }
            // We locked a removed lock file: drop it and take the current one.
            drop(file);
            retries = retries.saturating_add(1);
            if Instant::now() >= deadline {
                return Err(self.timeout_error(start));
            }
        }
    }

    /// Waits for the lock on `file` until `deadline`.
    fn wait(&self, file: File, start: Instant, deadline: Instant) -> CacheResult<File> {
        if self.wait_mode == WaitMode::Blocking {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (tx, rx) = mpsc::channel::<(File, io::Result<()>)>();
            let spawned = thread::Builder::new()
                .name("omega-cache-lock".into())
                .stack_size(64 * 1024);
            let shared = file.try_clone();
            if let Ok(clone) = shared {
                // The helper owns a duplicate of the descriptor: flock belongs to the open file
                // description, shared by both. On timeout we drop ours; the helper then takes the
                // lock when it is free and immediately releases it (its send fails).
                let res = spawned.spawn(move || {
                    let r = clone.lock();
                    if let Err(mpsc::SendError((f, Ok(())))) = tx.send((clone, r)) {
                        let _ = f.unlock();
                    }
                });
                if res.is_ok() {
                    return match rx.recv_timeout(remaining) {
                        Ok((_, Ok(()))) => Ok(file),
                        Ok((_, Err(e))) => Err(io_err("lock", &self.lock_path, &e)),
                        Err(_) => Err(self.timeout_error(start)),
                    };
                }
            }
        }
        // Polling with exponential backoff, 50 µs → 2 ms.
        // (Measured 20 µs–8 ms bounds here: 50 µs → 2 ms was best at 10 × 100 and 50 × 20.)
        let mut pause = Duration::from_micros(50);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io_err("lock", &self.lock_path, &e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timeout_error(start));
            }
            thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(2));
        }
    }

    /// Moves a corrupt cache file aside to `<file>.corrupt-<unix ms>` (under the lock) and starts
    /// empty (its journal is removed too). Returns the new name of the corrupt file (as given +
    /// suffix), or `None` when the file was missing or valid (then nothing changes).
    pub fn repair(&self) -> CacheResult<Option<String>> {
        let mut info = MutationInfo::default();
        self.locked(&mut info, |_, _| {
            let mut st = self.state();
            match self.refresh(&mut st, true) {
                Ok(()) => return Ok(None),
                Err(CacheError::Corrupt { .. }) => {}
                Err(e) => return Err(e),
            }
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let mut suffix = format!(".corrupt-{ms}");
            let mut n = 1;
            let target = loop {
                let mut name = self.name.clone();
                name.push(&suffix);
                let candidate = self.dir.join(name);
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
                suffix = format!(".corrupt-{ms}-{n}");
            };
            fs::rename(&self.path, &target).map_err(|e| {
                if is_read_only(&e) {
                    CacheError::ReadOnly {
                        dir: self.dir_display(),
                        reason: e.to_string(),
                    }
                } else {
                    io_err("move aside", Path::new(&self.display), &e)
                }
            })?;
            *st = State::default();
            self.write(b"{}\n")?;
            match fs::remove_file(&self.journal_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove journal of", Path::new(&self.display), &e)),
            }
            Ok(Some(format!("{}{}", self.display, suffix)))
        })
    }

    /// Holds the lock (tests) until the returned guard is dropped; the guard removes the lock
    /// file like a writer does.
    #[cfg(test)]
    pub fn hold(&self) -> CacheResult<Guard<'_>> {
        let held = self.acquire()?;
        Ok(Guard {
            store: self,
            held: Some(held),
        })
    }
}

/// A held lock; see [`Store::hold`].
#[cfg(test)]
pub struct Guard<'a> {
    store: &'a Store,
    held: Option<Held>,
}

#[cfg(test)]
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let _ = fs::remove_file(&self.store.lock_path);
            let _ = held.file.unlock();
        }
    }
}

struct Held {
    file: File,
    created: bool,
    retries: u32,
    waited: Duration,
}

fn corrupt(display: &str, e: &serde_json::Error) -> CacheError {
    CacheError::Corrupt {
        path: display.to_owned(),
        reason: if e.is_data() {
            format!("the top level is not a JSON object: {e}")
        } else {
            format!("not valid JSON: {e}")
        },
    }
}

/// Identity of a file as seen by a reader: the snapshot is never modified in place (only
/// replaced by rename), so device + inode (+ size and mtime against hand edits) tell whether it
/// is still the one loaded. The handle keeps the files it loaded open, so their inode numbers
/// cannot be reused meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    }
}

#[cfg(not(unix))]
fn file_id(meta: &fs::Metadata) -> FileId {
    let ns = |t: io::Result<SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0)
    };
    FileId {
        dev: 0,
        ino: ns(meta.created()) as u64,
        len: meta.len(),
        mtime_ns: ns(meta.modified()),
    }
}

/// Whether two ids name the same file (the journal grows: size and mtime change).
fn same_file(a: &FileId, b: &FileId) -> bool {
    a.dev == b.dev && a.ino == b.ino
}

/// What a handle has loaded: the index, the snapshot and journal files it came from, and how
/// much of the journal it has applied.
#[derive(Debug, Default)]
struct State {
    loaded: bool,
    snap: Option<(File, FileId)>,
    snap_len: u64,
    journal: Option<(File, FileId)>,
    /// Bytes of the journal applied (always the end of a complete line).
    offset: u64,
    index: Index,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened for fsync through std on Windows; NTFS journals renames.
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "omega-cache-test-{tag}-{}-{}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        fn file(&self, name: &str) -> String {
            self.0.join(name).to_string_lossy().into_owned()
        }
        fn names(&self) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn store(path: &str, ms: u64, mode: WaitMode) -> Store {
        Store::open(path, Duration::from_millis(ms), Durability::Full, mode).unwrap()
    }

    #[test]
    fn set_then_read_leaves_only_the_file() {
        let d = TempDir::new("basic");
        let s = store(&d.file("c.json"), 1000, WaitMode::Blocking);
        assert!(s.read().unwrap().is_empty());
        let info = s
            .mutate(|m| {
                m.set("a".into(), raw(&Value::from(1)).unwrap());
                true
            })
            .unwrap();
        assert!(info.wrote);
        assert_eq!(s.read().unwrap()["a"], Value::from(1));
        assert_eq!(s.get("a").unwrap(), Some(Value::from(1)));
        assert_eq!(s.get("b").unwrap(), None);
        assert_eq!(s.keys().unwrap(), vec!["a".to_string()]);
        assert_eq!(d.names(), vec!["c.json".to_string()]);
    }

    #[test]
    fn unchanged_mutation_writes_nothing() {
        let d = TempDir::new("nochange");
        let s = store(&d.file("c.json"), 1000, WaitMode::Blocking);
        let info = s.mutate(|_| false).unwrap();
        assert!(!info.wrote);
        assert!(d.names().is_empty());
    }

    #[test]
    fn threads_with_separate_handles_lose_nothing() {
        let d = TempDir::new("threads");
        let path = d.file("c.json");
        for mode in [WaitMode::Blocking, WaitMode::Polling] {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let path = path.clone();
                    thread::spawn(move || {
                        let s = Arc::new(store(&path, 10_000, mode));
                        for i in 0..25 {
                            s.mutate(|m| {
                                m.set(format!("{mode:?}-{t}-{i}"), raw(&Value::from(i)).unwrap());
                                true
                            })
                            .unwrap();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        let s = store(&path, 1000, WaitMode::Blocking);
        assert_eq!(s.read().unwrap().len(), 2 * 8 * 25);
        assert!(s.close().unwrap().compacted);
        assert_eq!(d.names(), vec!["c.json".to_string()]);
        let whole: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(whole.as_object().unwrap().len(), 2 * 8 * 25);
    }

    #[test]
    fn timeout_while_another_handle_holds_the_lock() {
        let d = TempDir::new("timeout");
        let path = d.file("c.json");
        let holder = store(&path, 1000, WaitMode::Blocking);
        let guard = holder.hold().unwrap();
        for mode in [WaitMode::Blocking, WaitMode::Polling] {
            let s = store(&path, 150, mode);
            let t = Instant::now();
            let err = s.mutate(|_| true).unwrap_err();
            assert_eq!(err.code(), "ERR_OMEGA_LOCK_TIMEOUT");
            assert!(err.to_string().contains("c.json"));
            assert!(t.elapsed() < Duration::from_millis(1000));
        }
        drop(guard);
        // The lock file is removed by its holder; the next writer gets the lock at once.
        let s = store(&path, 1000, WaitMode::Blocking);
        s.mutate(|m| {
            m.set("k".into(), raw(&Value::Null).unwrap());
            true
        })
        .unwrap();
        assert_eq!(d.names(), vec!["c.json".to_string()]);
    }

    #[test]
    fn waiter_on_removed_inode_retries() {
        let d = TempDir::new("inode");
        let path = d.file("c.json");
        let holder = store(&path, 1000, WaitMode::Blocking);
        let guard = holder.hold().unwrap();
        let p2 = path.clone();
        let waiter = thread::spawn(move || {
            let s = store(&p2, 5000, WaitMode::Blocking);
            s.mutate(|m| {
                m.set("w".into(), raw(&Value::from(true)).unwrap());
                true
            })
            .unwrap()
        });
        thread::sleep(Duration::from_millis(100));
        drop(guard); // removes the lock file, then unlocks: the waiter locked a dead inode
        let info = waiter.join().unwrap();
        assert!(info.lock_retries >= 1, "{info:?}");
        assert_eq!(d.names(), vec!["c.json".to_string()]);
    }

    #[test]
    fn crashed_writer_leftovers_are_cleaned_under_the_lock() {
        let d = TempDir::new("crash");
        let path = d.file("c.json");
        // A crashed writer: its lock file and temp file stay (the kernel dropped its lock).
        fs::write(d.0.join("c.json.lock"), b"").unwrap();
        fs::write(d.0.join("c.json.4242-1a2b.tmp"), b"{\"half").unwrap();
        fs::write(d.0.join("other.json.4242-1a2b.tmp"), b"x").unwrap();
        let s = store(&path, 1000, WaitMode::Blocking);
        s.scan_pending.store(false, Ordering::Relaxed); // only the lock-file signal
        let info = s
            .mutate(|m| {
                m.set("a".into(), raw(&Value::from(1)).unwrap());
                true
            })
            .unwrap();
        assert_eq!(info.stale_tmps_removed, 1);
        assert_eq!(
            d.names(),
            vec!["c.json".to_string(), "other.json.4242-1a2b.tmp".to_string()]
        );
    }

    #[test]
    fn corrupt_file_is_never_overwritten_and_repair_moves_it_aside() {
        let d = TempDir::new("corrupt");
        let path = d.file("c.json");
        for bad in [&b"{not json"[..], &b"[1,2]"[..], &b""[..]] {
            fs::write(&path, bad).unwrap();
            let s = store(&path, 1000, WaitMode::Blocking);
            let err = s
                .mutate(|m| {
                    m.set("a".into(), raw(&Value::from(1)).unwrap());
                    true
                })
                .unwrap_err();
            assert_eq!(err.code(), "ERR_OMEGA_CACHE_CORRUPT");
            assert!(err.to_string().contains(&path));
            assert_eq!(s.read().unwrap_err().code(), "ERR_OMEGA_CACHE_CORRUPT");
            assert_eq!(fs::read(&path).unwrap(), bad);
            let moved = s.repair().unwrap().unwrap();
            assert!(moved.starts_with(&format!("{path}.corrupt-")));
            assert_eq!(fs::read(&moved).unwrap(), bad);
            assert!(s.read().unwrap().is_empty());
            fs::remove_file(&moved).unwrap();
            assert_eq!(d.names(), vec!["c.json".to_string()]);
        }
        // Repair of a valid file changes nothing.
        let s = store(&path, 1000, WaitMode::Blocking);
        assert!(s.repair().unwrap().is_none());
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let d = TempDir::new("missing");
        let path = d.0.join("nope").join("c.json");
        let err = Store::open(
            &path.to_string_lossy(),
            Duration::from_millis(10),
            Durability::None,
            WaitMode::Blocking,
        )
        .unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_IO");
        assert!(err.to_string().contains("does not exist"));
    }

    /// Drops the credentials of the calling thread (only) to nobody/nogroup. Linux keeps
    /// credentials per thread; libc's `setresuid` broadcasts to every thread of the process, the
    /// raw system calls do not, so the rest of the test process stays root.
    #[cfg(target_os = "linux")]
    fn drop_this_thread_to_nobody() {
        const NOBODY: libc::c_long = 65534;
        // SAFETY: plain system calls with integer arguments (and a null list of 0 groups); they
        // change only the calling thread's credentials.
        unsafe {
            assert_eq!(
                libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()),
                0
            );
            assert_eq!(
                libc::syscall(libc::SYS_setresgid, NOBODY, NOBODY, NOBODY),
                0
            );
            assert_eq!(
                libc::syscall(libc::SYS_setresuid, NOBODY, NOBODY, NOBODY),
                0
            );
        }
    }

    /// A read-only directory: `ERR_OMEGA_IO` "not writable", nothing created. Root ignores
    /// permissions (and CI runs as root), so the writes run on a thread dropped to nobody.
    #[cfg(target_os = "linux")]
    #[test]
    fn read_only_directory_writes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let d = TempDir::new("ro");
        let sub = d.0.join("ro");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o555)).unwrap();
        let (dir, file) = (
            sub.clone(),
            sub.join("c.json").to_string_lossy().into_owned(),
        );
        let (probe, err) = std::thread::spawn(move || {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                drop_this_thread_to_nobody();
            }
            let probe = fs::write(dir.join("probe"), b"").is_ok();
            let s = store(&file, 100, WaitMode::Blocking);
            let err = s.mutate(|_| true).unwrap_err();
            (probe, (err.code(), err.to_string()))
        })
        .join()
        .unwrap();
        assert!(!probe, "the permissions must bite (the writer is not root)");
        assert_eq!(err.0, "ERR_OMEGA_IO");
        assert!(err.1.contains("not writable"), "{}", err.1);
        assert_eq!(fs::read_dir(&sub).unwrap().count(), 0);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn set(s: &Store, k: &str, v: Value) -> MutationInfo {
        s.mutate(|m| {
            m.set(k.into(), raw(&v).unwrap());
            true
        })
        .unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_set_appends_one_line_and_never_rewrites_the_snapshot() {
        use std::os::unix::fs::MetadataExt;
        let d = TempDir::new("append");
        let path = d.file("c.json");
        let s = store(&path, 1000, WaitMode::Blocking);
        // The first write creates the snapshot directly.
        assert!(set(&s, "first", Value::from(0)).compacted);
        assert_eq!(d.names(), vec!["c.json".to_string()]);
        // A large cache: 20,000 entries of ~200 B in one setMany, then folded.
        s.mutate(|m| {
            for i in 0..20_000 {
                m.set(
                    format!("k{i:05}"),
                    raw(&Value::from("v".repeat(200))).unwrap(),
                );
            }
            true
        })
        .unwrap();
        s.compact().unwrap(); // (the 4 MB line already passed the threshold)
        let snap = fs::metadata(&path).unwrap();
        assert!(snap.len() > 4_000_000);
        let journal = d.0.join("c.json.journal");
        let reader = store(&path, 1000, WaitMode::Blocking);
        assert_eq!(
            reader.get("k00007").unwrap(),
            Some(Value::from("v".repeat(200)))
        );
        let mut last = 0;
        for i in 0..200 {
            let info = set(&s, &format!("new{i}"), serde_json::json!({"i": i}));
            assert!(info.wrote && !info.compacted);
            let len = fs::metadata(&journal).unwrap().len();
            // Exactly one line per set, whatever the size of the cache.
            let line = len - last;
            assert!((30..60).contains(&line), "line of {line} bytes");
            last = len;
            // The other handle sees it at once, reading only the new line.
            assert_eq!(
                reader.get(&format!("new{i}")).unwrap(),
                Some(serde_json::json!({"i": i}))
            );
        }
        let after = fs::metadata(&path).unwrap();
        assert_eq!((after.ino(), after.len()), (snap.ino(), snap.len()));
        assert_eq!(reader.keys().unwrap().len(), 20_201);
        // close(): one JSON document with everything, no journal.
        s.close().unwrap();
        assert_eq!(d.names(), vec!["c.json".to_string()]);
        let whole: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(whole.as_object().unwrap().len(), 20_201);
        // The reader notices the compaction and reloads.
        assert_eq!(
            reader.get("new199").unwrap(),
            Some(serde_json::json!({"i": 199}))
        );
        assert_eq!(reader.read().unwrap().len(), 20_201);
    }

    #[test]
    fn compaction_past_the_threshold_keeps_every_value_for_every_handle() {
        let d = TempDir::new("compact");
        let path = d.file("c.json");
        let a = store(&path, 1000, WaitMode::Blocking).with_compact_min(2_000);
        let b = store(&path, 1000, WaitMode::Polling).with_compact_min(2_000);
        let mut compactions = 0;
        for i in 0..600 {
            let (w, r) = if i % 3 == 0 { (&a, &b) } else { (&b, &a) };
            compactions += u32::from(set(w, &format!("k{}", i % 250), Value::from(i)).compacted);
            if i % 7 == 0 {
                w.mutate(|m| m.remove(&format!("k{}", (i + 1) % 250)))
                    .unwrap();
            }
            assert_eq!(
                r.get(&format!("k{}", i % 250)).unwrap(),
                Some(Value::from(i))
            );
        }
        assert!(compactions >= 3, "{compactions} compactions");
        let from_a = a.read().unwrap();
        assert_eq!(from_a, b.read().unwrap());
        let fresh = store(&path, 1000, WaitMode::Blocking).read().unwrap();
        assert_eq!(from_a, fresh);
        a.close().unwrap();
        let whole: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(whole, Value::Object(from_a));
        assert_eq!(d.names(), vec!["c.json".to_string()]);
    }

    #[test]
    fn torn_tail_and_damaged_lines_are_never_applied() {
        let d = TempDir::new("torn");
        let path = d.file("c.json");
        let s = store(&path, 1000, WaitMode::Blocking);
        set(&s, "a", Value::from(1));
        set(&s, "b", Value::from(2));
        let journal = d.0.join("c.json.journal");
        let good = fs::read(&journal).unwrap();
        // A writer killed mid-append: half a line, no newline.
        let mut line = Vec::new();
        journal_line(
            &[super::super::doc::Op::Set(
                "c".into(),
                raw(&Value::from(3)).unwrap(),
            )],
            &mut line,
        )
        .unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(&line[..line.len() / 2]);
        fs::write(&journal, &torn).unwrap();
        let reader = store(&path, 1000, WaitMode::Blocking);
        assert_eq!(reader.get("c").unwrap(), None);
        assert_eq!(reader.get("b").unwrap(), Some(Value::from(2)));
        // The next writer cuts the torn tail before appending: its line is intact.
        set(&reader, "d", Value::from(4));
        let mut expect = good.clone();
        let mut dline = Vec::new();
        journal_line(
            &[super::super::doc::Op::Set(
                "d".into(),
                raw(&Value::from(4)).unwrap(),
            )],
            &mut dline,
        )
        .unwrap();
        expect.extend_from_slice(&dline);
        assert_eq!(fs::read(&journal).unwrap(), expect);
        assert_eq!(s.get("d").unwrap(), Some(Value::from(4)));
        // A complete line with a bad checksum (e.g. a torn page after power loss) is skipped
        // once a later line exists; the lines after it still apply.
        let mut damaged = fs::read(&journal).unwrap();
        let mut bad = line.clone();
        bad[12] ^= 0x20;
        damaged.extend_from_slice(&bad);
        fs::write(&journal, &damaged).unwrap();
        let fresh = store(&path, 1000, WaitMode::Blocking);
        assert_eq!(fresh.get("c").unwrap(), None);
        set(&fresh, "e", Value::from(5));
        assert_eq!(s.get("e").unwrap(), Some(Value::from(5)));
        assert_eq!(s.get("c").unwrap(), None);
        assert_eq!(s.keys().unwrap(), vec!["a", "b", "d", "e"]);
    }

    #[test]
    fn a_journal_left_by_a_compaction_that_crashed_before_removing_it_changes_nothing() {
        let d = TempDir::new("replay");
        let path = d.file("c.json");
        let s = store(&path, 1000, WaitMode::Blocking);
        set(&s, "a", Value::from(1));
        set(&s, "a", Value::from(2));
        s.mutate(|m| m.remove("a")).unwrap();
        set(&s, "b", Value::from(3));
        let journal = d.0.join("c.json.journal");
        let old = fs::read(&journal).unwrap();
        let before = s.read().unwrap();
        s.compact().unwrap();
        // The crash: the new snapshot is in place, the old journal is still there.
        fs::write(&journal, &old).unwrap();
        let r = store(&path, 1000, WaitMode::Blocking);
        assert_eq!(r.read().unwrap(), before);
        set(&r, "c", Value::from(4));
        assert_eq!(s.get("c").unwrap(), Some(Value::from(4)));
        assert_eq!(s.get("a").unwrap(), None);
        r.close().unwrap();
        assert_eq!(d.names(), vec!["c.json".to_string()]);
    }

    #[test]
    fn own_tmp_names_only() {
        let d = TempDir::new("names");
        let s = store(&d.file("c.json"), 100, WaitMode::Blocking);
        assert!(s.is_own_tmp("c.json.12-ab.tmp".as_ref()));
        assert!(!s.is_own_tmp("c.json.lock".as_ref()));
        assert!(!s.is_own_tmp("c.json.x-ab.tmp".as_ref()));
        assert!(!s.is_own_tmp("c.jsonx.12-ab.tmp".as_ref()));
        assert!(!s.is_own_tmp("c.json.corrupt-1".as_ref()));
        let t = s.tmp_path();
        assert!(s.is_own_tmp(t.file_name().unwrap()));
    }
}
