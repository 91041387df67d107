//! The file-locking atomic store behind `AtomicCache`: plain Rust (no napi), so it is testable
//! with `cargo test -p omega-pr-node --lib`.
//!
//! Every mutation is one critical section:
//! 1. take an OS lock (`flock` through `std::fs::File::lock`) on the sidecar `<file>.lock`;
//! 2. check the locked handle is still the file at `<file>.lock` (same device and inode): a
//!    previous holder removes the lock file while holding it, so a waiter may have locked a
//!    removed inode — then it retries;
//! 3. remove temp files of crashed writers (only when there can be some, see [`Store::mutate`]);
//! 4. re-read the current file (a corrupt file is never overwritten);
//! 5. apply the change, write `<file>.<pid>-<unique>.tmp`, fsync it ("full"), rename it over the
//!    file, fsync the directory ("full");
//! 6. remove the lock file while still holding it, then unlock.
//!
//! The kernel drops the lock of a dead process, so a crashed writer never blocks the others:
//! there is no staleness guessing. Reads take no lock: the file is only ever replaced by an
//! atomic rename, so one read of it is a consistent snapshot.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::doc::Doc;
use serde_json::{Map, Value};

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
    /// Whether the file was rewritten (a delete of a missing key writes nothing).
    pub wrote: bool,
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
    timeout: Duration,
    durability: Durability,
    wait_mode: WaitMode,
    /// The first mutation of this handle scans for stale temp files.
    scan_pending: AtomicBool,
    counter: AtomicU64,
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
        Ok(Self {
            display: path.to_owned(),
            lock_path: dir.join(lock_name),
            path: abs,
            dir,
            name,
            timeout,
            durability,
            wait_mode,
            scan_pending: AtomicBool::new(true),
            counter: AtomicU64::new(0),
        })
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

    /// Reads the current content (no lock: the file only ever changes by atomic rename).
    /// A missing file is an empty cache.
    pub fn read(&self) -> CacheResult<Entries> {
        read_entries(&self.path, &self.display)
    }

    /// The value at `key` (parses only that value; no lock).
    pub fn get(&self, key: &str) -> CacheResult<Option<Value>> {
        let Some(bytes) = read_bytes(&self.path, &self.display)? else {
            return Ok(None);
        };
        scan(&bytes, &self.display, Lookup(key))
    }

    /// Every key, sorted (no lock).
    pub fn keys(&self) -> CacheResult<Vec<String>> {
        let Some(bytes) = read_bytes(&self.path, &self.display)? else {
            return Ok(Vec::new());
        };
        let mut keys = scan(&bytes, &self.display, Keys)?;
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Runs `apply` on the current content inside the critical section; when it returns
    /// `true` the new content is written atomically.
    pub fn mutate<F>(&self, apply: F) -> CacheResult<MutationInfo>
    where
        F: for<'a> FnOnce(&mut Doc<'a>) -> bool,
    {
        let held = self.acquire()?;
        let mut info = MutationInfo {
            lock_wait_ms: held.waited.as_secs_f64() * 1000.0,
            lock_retries: held.retries,
            ..MutationInfo::default()
        };
        let result = self.critical(&held, apply, &mut info);
        // Remove the lock file while still holding the lock, then unlock. A waiter that then
        // locks the removed inode sees it is no longer the file at the path and retries.
        let removed = fs::remove_file(&self.lock_path);
        let unlocked = held.file.unlock();
        drop(held);
        result?;
        if let Err(e) = removed {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(io_err("remove lock file", &self.lock_path, &e));
            }
        }
        unlocked.map_err(|e| io_err("unlock", &self.lock_path, &e))?;
        Ok(info)
    }

    fn critical<F>(&self, held: &Held, apply: F, info: &mut MutationInfo) -> CacheResult<()>
    where
        F: for<'a> FnOnce(&mut Doc<'a>) -> bool,
    {
        // A crashed writer leaves its lock file behind (it is removed only after the rename),
        // so temp files of crashed writers can exist only when we locked a lock file we did
        // not create. The first mutation of a handle scans too.
        if !held.created || self.scan_pending.swap(false, Ordering::Relaxed) {
            info.stale_tmps_removed = self.remove_stale_tmps()?;
        }
        let bytes = read_bytes(&self.path, &self.display)?;
        let mut entries = match &bytes {
            Some(b) => Doc::parse(b).map_err(|e| corrupt(&self.display, &e))?,
            None => Doc::empty(),
        };
        if apply(&mut entries) {
            self.write(&entries)?;
            info.wrote = true;
        }
        Ok(())
    }

    /// Writes `entries` to a unique temp file and renames it over the cache file. Caller holds
    /// the lock.
    fn write(&self, entries: &Doc<'_>) -> CacheResult<()> {
        let bytes = entries.to_bytes().map_err(|e| CacheError::Io {
            op: "serialise cache",
            path: self.display.clone(),
            reason: e.to_string(),
        })?;
        let tmp = self.tmp_path();
        let written = (|| -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&bytes)?;
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
    /// empty. Returns the new name of the corrupt file (as given + suffix), or `None` when the
    /// file was missing or valid (then nothing changes).
    pub fn repair(&self) -> CacheResult<Option<String>> {
        let held = self.acquire()?;
        let result = (|| -> CacheResult<Option<String>> {
            match self.read() {
                Ok(_) => return Ok(None),
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
            self.write(&Doc::empty())?;
            Ok(Some(format!("{}{}", self.display, suffix)))
        })();
        let _ = fs::remove_file(&self.lock_path);
        let _ = held.file.unlock();
        result
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

fn read_bytes(path: &Path, display: &str) -> CacheResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read cache", Path::new(display), &e)),
    }
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

/// Runs `visitor` over the top-level object of `bytes`, checking the whole text is valid JSON.
fn scan<'de, V>(bytes: &'de [u8], display: &str, visitor: V) -> CacheResult<V::Value>
where
    V: Visitor<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out = serde::Deserializer::deserialize_map(&mut de, visitor)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| corrupt(display, &e))?;
    Ok(out)
}

/// Finds one key's value, skipping the others without building them.
struct Lookup<'k>(&'k str);

impl<'de> Visitor<'de> for Lookup<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == self.0 {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Collects the keys, skipping the values.
struct Keys;

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(k) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(k);
        }
        Ok(keys)
    }
}

fn read_entries(path: &Path, display: &str) -> CacheResult<Entries> {
    let Some(bytes) = read_bytes(path, display)? else {
        return Ok(Entries::new());
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(CacheError::Corrupt {
            path: display.to_owned(),
            reason: format!(
                "the top level is {}, not an object",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    Value::Object(_) => "an object",
                }
            ),
        }),
        Err(e) => Err(CacheError::Corrupt {
            path: display.to_owned(),
            reason: format!("not valid JSON: {e}"),
        }),
    }
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
        assert_eq!(d.names(), vec!["c.json".to_string()]);
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

    #[cfg(unix)]
    #[test]
    fn read_only_directory_writes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let d = TempDir::new("ro");
        let sub = d.0.join("ro");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o555)).unwrap();
        // root ignores permissions: only check when they bite.
        if fs::write(sub.join("probe"), b"").is_ok() {
            let _ = fs::remove_file(sub.join("probe"));
            fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        let s = store(
            &sub.join("c.json").to_string_lossy(),
            100,
            WaitMode::Blocking,
        );
        let err = s.mutate(|_| true).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_IO");
        assert!(err.to_string().contains("not writable"));
        assert_eq!(fs::read_dir(&sub).unwrap().count(), 0);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
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
