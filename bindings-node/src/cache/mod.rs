//! `AtomicCache` for JS: a JSON object file keyed by string, shared by many processes. Each
//! mutation is one critical section under an OS file lock that appends one line to a journal
//! beside the file (see [`store`]); reads take no lock and apply only what was appended since
//! the handle last looked. Every mutation has an async twin (a libuv `AsyncTask`) so a waiting
//! lock never blocks the event loop.

mod doc;
mod json;
pub mod store;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName, Undefined, Unknown};
use napi::{Env, JsError, JsValue, Task};
use napi_derive::napi;
use omega_pr_core::report_rules::nearest_rank;
use serde_json::Value;

use crate::error::{from_core, invalid, js_error, Code};
use doc::Doc;
use napi::Result;
use store::{raw, CacheError, Durability, MutationInfo, Store, WaitMode};

/// Lock-wait samples kept per handle (a ring beyond that).
const MAX_SAMPLES: usize = 1 << 16;

/// The one conversion of a store error: to the core error, then to JS.
fn cache_error(e: CacheError) -> napi::Error<Code> {
    from_core(omega_pr_core::Error::from(&e))
}

/// Options of `AtomicCache.open`.
#[napi(object, object_to_js = false)]
pub struct AtomicCacheOptions {
    /// Time to wait for the lock before `ERR_OMEGA_LOCK_TIMEOUT`, ms (default: calibration
    /// `LOCK_TIMEOUT_MS`, 10000 in the shipped calibration).
    pub lock_timeout_ms: Option<f64>,
    /// `"full"` (default: calibration `CACHE_DURABILITY`): fsync each journal append before
    /// returning (and, when compacting, the temp file and the directory after the rename).
    /// `"none"`: no fsync, for regenerable caches.
    #[napi(ts_type = "'full' | 'none'")]
    pub durability: Option<String>,
    /// Calibration document the defaults come from (the shipped one when omitted).
    #[napi(ts_type = "Calibration | CalibrationDocument")]
    pub calibration: Option<crate::calibration::CalibrationArg>,
}

/// Lock-wait statistics of one handle, ms.
#[napi(object)]
pub struct LockWaitStats {
    /// Number of lock acquisitions.
    pub count: f64,
    /// Mean wait.
    pub mean: f64,
    /// Median wait.
    pub p50: f64,
    /// 99th percentile wait.
    pub p99: f64,
    /// Longest wait.
    pub max: f64,
    /// Wait of the last mutation.
    pub last: f64,
}

/// Counters of one handle since it was opened (or `resetStats`).
#[napi(object)]
pub struct CacheStats {
    /// Mutations completed (set, setMany, delete, and their async twins).
    pub mutations: f64,
    /// Mutations that wrote (appended a journal line).
    pub writes: f64,
    /// Times this handle folded the journal into the JSON file (compaction).
    pub compactions: f64,
    /// Times the lock was obtained on a lock file its previous holder had removed, and taken again.
    pub lock_retries: f64,
    /// Temp files of crashed writers removed.
    pub stale_tmps_removed: f64,
    /// Lock waits.
    pub lock_wait_ms: LockWaitStats,
}

/// Result of `AtomicCache.repair`.
#[napi(object)]
pub struct RepairResult {
    /// Whether the file was corrupt and moved aside.
    pub repaired: bool,
    /// Where the corrupt file went (`<file>.corrupt-<unix ms>`), when repaired.
    pub moved_to: Option<String>,
}

#[derive(Default)]
struct Stats {
    mutations: u64,
    writes: u64,
    compactions: u64,
    lock_retries: u64,
    stale_tmps_removed: u64,
    total_wait: f64,
    max_wait: f64,
    last_wait: f64,
    count: u64,
    samples: Vec<f64>,
}

impl Stats {
    fn record(&mut self, info: &MutationInfo) {
        self.mutations += 1;
        self.writes += u64::from(info.wrote);
        self.compactions += u64::from(info.compacted);
        self.lock_retries += u64::from(info.lock_retries);
        self.stale_tmps_removed += u64::from(info.stale_tmps_removed);
        let w = info.lock_wait_ms;
        self.total_wait += w;
        self.max_wait = self.max_wait.max(w);
        self.last_wait = w;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(w);
        } else {
            let i = (self.count as usize) % MAX_SAMPLES;
            self.samples[i] = w;
        }
        self.count += 1;
    }
}

struct Inner {
    store: Store,
    stats: Mutex<Stats>,
}

impl Inner {
    fn mutate<F>(&self, apply: F) -> std::result::Result<(), CacheError>
    where
        F: for<'a> FnOnce(&mut Doc<'a>) -> bool,
    {
        let info = self.store.mutate(apply)?;
        if let Ok(mut s) = self.stats.lock() {
            s.record(&info);
        }
        Ok(())
    }

    fn set_many(&self, pairs: Vec<(String, Value)>) -> std::result::Result<(), CacheError> {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| raw(&v).map(|r| (k, r)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.mutate(move |m| {
            for (k, v) in pairs {
                m.set(k, v);
            }
            true
        })
    }

    fn delete(&self, key: String) -> std::result::Result<bool, CacheError> {
        let mut existed = false;
        self.mutate(|m| {
            existed = m.remove(&key);
            existed
        })?;
        Ok(existed)
    }

    fn compact(&self, close: bool) -> std::result::Result<bool, CacheError> {
        let info = if close {
            self.store.close()?
        } else {
            self.store.compact()?
        };
        if info.compacted {
            if let Ok(mut s) = self.stats.lock() {
                s.compactions += 1;
            }
        }
        Ok(info.compacted)
    }

    fn get(&self, key: &str) -> std::result::Result<Option<Value>, CacheError> {
        self.store.get(key)
    }

    fn entries(&self) -> std::result::Result<Vec<Value>, CacheError> {
        Ok(self
            .store
            .read()?
            .into_iter()
            .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
            .collect())
    }
}

/// A cache value or `undefined` (a missing key).
pub struct MaybeValue(Option<Value>);

impl TypeName for MaybeValue {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Unknown
    }
}

impl ToNapiValue for MaybeValue {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        match val.0 {
            // SAFETY: forwarded from the caller.
            Some(v) => unsafe { Value::to_napi_value(env, v) },
            None => unsafe { <Undefined as ToNapiValue>::to_napi_value(env, ()) },
        }
    }
}

/// One cache operation run on the libuv thread pool.
pub struct CacheTask<O: Send + 'static> {
    inner: Arc<Inner>,
    /// The operation, or the argument error to reject with (async twins reject, never throw).
    op: Option<std::result::Result<CacheOp<O>, napi::Error<Code>>>,
}

type CacheOp<O> = Box<dyn FnOnce(&Inner) -> std::result::Result<O, CacheError> + Send>;

impl<O> Task for CacheTask<O>
where
    O: ToNapiValue + TypeName + Send + 'static,
{
    type Output = std::result::Result<O, (&'static str, String)>;
    type JsValue = O;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        match self.op.take() {
            Some(Ok(op)) => Ok(op(&self.inner).map_err(|e| {
                let e = omega_pr_core::Error::from(&e);
                (e.code(), e.to_string())
            })),
            Some(Err(e)) => Ok(Err((code_of(&e), e.reason.clone()))),
            None => Err(napi::Error::from_reason("cache task ran twice")),
        }
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<O> {
        match output {
            Ok(v) => Ok(v),
            // Reject with a JS error that carries the stable `code`.
            Err((code, message)) => {
                let js = JsError::from(js_error(code, message)).into_unknown(env);
                Err(napi::Error::from(js))
            }
        }
    }
}

/// The code of an error made by `js_error`/`invalid` (a `&'static str` again).
fn code_of(e: &napi::Error<Code>) -> &'static str {
    e.status.0
}

fn task<O>(
    inner: &Arc<Inner>,
    op: std::result::Result<CacheOp<O>, napi::Error<Code>>,
) -> AsyncTask<CacheTask<O>>
where
    O: ToNapiValue + TypeName + Send + 'static,
{
    AsyncTask::new(CacheTask {
        inner: Arc::clone(inner),
        op: Some(op),
    })
}

fn key_arg(key: &Unknown<'_>) -> Result<String, Code> {
    let v = key.value();
    // SAFETY: handles of the current call.
    unsafe { json::string_arg(v.env, v.value, "key") }
}

fn json_arg(value: &Unknown<'_>, path: &str) -> Result<Value, Code> {
    let v = value.value();
    // SAFETY: handles of the current call.
    unsafe { json::to_json(v.env, v.value, path) }
}

/// `setMany`'s argument: an object, or an array of `[key, value]` pairs.
fn pairs_arg(entries: &Unknown<'_>) -> Result<Vec<(String, Value)>, Code> {
    match json_arg(entries, "entries")? {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Array(mut pair) if pair.len() == 2 => {
                    let v = pair.pop().unwrap_or(Value::Null);
                    match pair.pop() {
                        Some(Value::String(k)) => Ok((k, v)),
                        _ => Err(invalid(&format!("entries[{i}][0]"), "must be a string key")),
                    }
                }
                _ => Err(invalid(
                    &format!("entries[{i}]"),
                    "must be a [key, value] pair",
                )),
            })
            .collect(),
        _ => Err(invalid(
            "entries",
            "must be an object or an array of [key, value] pairs",
        )),
    }
}

fn options(options: Option<AtomicCacheOptions>) -> Result<(Duration, Durability), Code> {
    let (timeout, durability, calibration) = match options {
        Some(o) => (o.lock_timeout_ms, o.durability, o.calibration),
        None => (None, None, None),
    };
    let cal = crate::calibration::parse(calibration)?;
    let ms = match timeout {
        Some(ms) => {
            let ms = crate::error::whole("lockTimeoutMs", ms)?;
            if ms == 0 {
                return Err(invalid("lockTimeoutMs", "must be at least 1"));
            }
            ms
        }
        None => cal.lock_timeout_ms,
    };
    let durability = match durability.as_deref() {
        None => match cal.cache_durability {
            omega_pr_core::calibration::Durability::Full => Durability::Full,
            omega_pr_core::calibration::Durability::None => Durability::None,
        },
        Some("full") => Durability::Full,
        Some("none") => Durability::None,
        Some(other) => {
            return Err(invalid(
                "durability",
                format!("must be \"full\" or \"none\", got {other:?}"),
            ))
        }
    };
    Ok((Duration::from_millis(ms), durability))
}

/// Polling measured fairer than a blocking `flock` here (p99 lock wait 100 ms vs 350 ms at
/// 10 × 100; a releasing writer re-takes a blocking lock before woken waiters run);
/// `OMEGA_PR_LOCK_WAIT=block` selects the blocking wait.
fn wait_mode() -> WaitMode {
    match std::env::var("OMEGA_PR_LOCK_WAIT").as_deref() {
        Ok("block") => WaitMode::Blocking,
        _ => WaitMode::Polling,
    }
}

/// `OMEGA_PR_CACHE_COMPACT_MIN_BYTES`: journal size below which it is never folded into the
/// file (default 1 MiB); the crash harness sets it low so writers are also killed mid-compaction.
fn compact_min() -> Option<u64> {
    std::env::var("OMEGA_PR_CACHE_COMPACT_MIN_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
}

fn open_store(
    path: &str,
    timeout: Duration,
    durability: Durability,
) -> std::result::Result<Store, CacheError> {
    let store = Store::open(path, timeout, durability, wait_mode())?;
    Ok(match compact_min() {
        Some(bytes) => store.with_compact_min(bytes),
        None => store,
    })
}

/// A JSON object file keyed by string, safe to share between many processes. Every mutation
/// is one critical section under an OS file lock on `<file>.lock`: catch up with the journal
/// `<file>.journal`, append one checksummed line, fsync it, remove the lock file, unlock; so its
/// cost does not grow with the number of entries. When the journal passes half the size of the
/// file it is folded into it (temp file, fsync, rename over, fsync the directory); `close()`
/// folds it at once, leaving the file as the one JSON document of the whole content. Reads take
/// no lock and never see a torn state. A corrupt file is never overwritten
/// (`ERR_OMEGA_CACHE_CORRUPT`; see `AtomicCache.repair`).
#[napi]
pub struct AtomicCache {
    inner: Arc<Inner>,
}

#[napi]
impl AtomicCache {
    /// Opens the cache file at `path` (created at the first write). The directory must exist
    /// (`ERR_OMEGA_IO` otherwise). Defaults come from calibration (`LOCK_TIMEOUT_MS`,
    /// `CACHE_DURABILITY`).
    #[napi(factory)]
    pub fn open(path: String, options: Option<AtomicCacheOptions>) -> Result<Self, Code> {
        let (timeout, durability) = self::options(options)?;
        let store = open_store(&path, timeout, durability).map_err(cache_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                stats: Mutex::new(Stats::default()),
            }),
        })
    }

    /// Moves a corrupt cache file (not JSON, or not an object) aside to
    /// `<file>.corrupt-<unix ms>` under the lock and starts empty. A valid or missing file is left
    /// as it is (`repaired: false`).
    #[napi]
    pub fn repair(path: String, options: Option<AtomicCacheOptions>) -> Result<RepairResult, Code> {
        let (timeout, durability) = self::options(options)?;
        let store = open_store(&path, timeout, durability).map_err(cache_error)?;
        let moved_to = store.repair().map_err(cache_error)?;
        Ok(RepairResult {
            repaired: moved_to.is_some(),
            moved_to,
        })
    }

    /// The path as given to `open`.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.store.display().to_owned()
    }

    /// The lock timeout, ms.
    #[napi(getter)]
    pub fn lock_timeout_ms(&self) -> f64 {
        self.inner.store.timeout().as_millis() as f64
    }

    /// `"full"` or `"none"`.
    #[napi(getter, ts_return_type = "'full' | 'none'")]
    pub fn durability(&self) -> String {
        match self.inner.store.durability() {
            Durability::Full => "full".into(),
            Durability::None => "none".into(),
        }
    }

    /// The value at `key`, or `undefined`.
    #[napi(ts_args_type = "key: string", ts_return_type = "unknown")]
    pub fn get(&self, key: Unknown<'_>) -> Result<MaybeValue, Code> {
        let key = key_arg(&key)?;
        self.inner.get(&key).map(MaybeValue).map_err(cache_error)
    }

    /// Whether `key` is present.
    #[napi(ts_args_type = "key: string")]
    pub fn has(&self, key: Unknown<'_>) -> Result<bool, Code> {
        let key = key_arg(&key)?;
        Ok(self.inner.get(&key).map_err(cache_error)?.is_some())
    }

    /// Every key (sorted), from one consistent snapshot.
    #[napi]
    pub fn keys(&self) -> Result<Vec<String>, Code> {
        self.inner.store.keys().map_err(cache_error)
    }

    /// Every `[key, value]` pair (sorted by key), from one consistent snapshot.
    #[napi(ts_return_type = "Array<[string, unknown]>")]
    pub fn entries(&self) -> Result<Vec<Value>, Code> {
        self.inner.entries().map_err(cache_error)
    }

    /// Sets `key` to `value` (a JSON value: plain objects, arrays, strings, finite numbers,
    /// booleans, null) in one critical section. Throws `ERR_OMEGA_INVALID_ARGUMENT` for anything
    /// else, `ERR_OMEGA_LOCK_TIMEOUT`, `ERR_OMEGA_CACHE_CORRUPT`, `ERR_OMEGA_IO`.
    #[napi(ts_args_type = "key: string, value: unknown")]
    pub fn set(&self, key: Unknown<'_>, value: Unknown<'_>) -> Result<(), Code> {
        let key = key_arg(&key)?;
        let value = json_arg(&value, "value")?;
        self.inner.set_many(vec![(key, value)]).map_err(cache_error)
    }

    /// Sets every entry (an object, or an array of `[key, value]` pairs) in one critical section.
    #[napi(ts_args_type = "entries: Record<string, unknown> | Array<[string, unknown]>")]
    pub fn set_many(&self, entries: Unknown<'_>) -> Result<(), Code> {
        let pairs = pairs_arg(&entries)?;
        self.inner.set_many(pairs).map_err(cache_error)
    }

    /// Removes `key`; returns whether it was present (nothing is written when it was not).
    #[napi(ts_args_type = "key: string")]
    pub fn delete(&self, key: Unknown<'_>) -> Result<bool, Code> {
        let key = key_arg(&key)?;
        self.inner.delete(key).map_err(cache_error)
    }

    /// Async `get` (reads on the thread pool).
    #[napi(ts_args_type = "key: string", ts_return_type = "Promise<unknown>")]
    pub fn get_async(&self, key: Unknown<'_>) -> AsyncTask<CacheTask<MaybeValue>> {
        let op = key_arg(&key).map(|key| -> CacheOp<MaybeValue> {
            Box::new(move |inner: &Inner| inner.get(&key).map(MaybeValue))
        });
        task(&self.inner, op)
    }

    /// Async `has`.
    #[napi(ts_args_type = "key: string", ts_return_type = "Promise<boolean>")]
    pub fn has_async(&self, key: Unknown<'_>) -> AsyncTask<CacheTask<bool>> {
        let op = key_arg(&key).map(|key| -> CacheOp<bool> {
            Box::new(move |inner: &Inner| inner.get(&key).map(|v| v.is_some()))
        });
        task(&self.inner, op)
    }

    /// Async `keys`.
    #[napi(ts_return_type = "Promise<Array<string>>")]
    pub fn keys_async(&self) -> AsyncTask<CacheTask<Vec<String>>> {
        task(&self.inner, Ok(Box::new(|inner| inner.store.keys())))
    }

    /// Async `entries`.
    #[napi(ts_return_type = "Promise<Array<[string, unknown]>>")]
    pub fn entries_async(&self) -> AsyncTask<CacheTask<Vec<Value>>> {
        task(&self.inner, Ok(Box::new(|inner| inner.entries())))
    }

    /// Async `set`: the lock is waited for on the thread pool, never on the event loop.
    #[napi(
        ts_args_type = "key: string, value: unknown",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_async(&self, key: Unknown<'_>, value: Unknown<'_>) -> AsyncTask<CacheTask<()>> {
        let op = key_arg(&key).and_then(|key| {
            let value = json_arg(&value, "value")?;
            let op: CacheOp<()> = Box::new(move |inner| inner.set_many(vec![(key, value)]));
            Ok(op)
        });
        task(&self.inner, op)
    }

    /// Async `setMany`.
    #[napi(
        ts_args_type = "entries: Record<string, unknown> | Array<[string, unknown]>",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_many_async(&self, entries: Unknown<'_>) -> AsyncTask<CacheTask<()>> {
        let op = pairs_arg(&entries)
            .map(|pairs| -> CacheOp<()> { Box::new(move |inner: &Inner| inner.set_many(pairs)) });
        task(&self.inner, op)
    }

    /// Async `delete`.
    #[napi(ts_args_type = "key: string", ts_return_type = "Promise<boolean>")]
    pub fn delete_async(&self, key: Unknown<'_>) -> AsyncTask<CacheTask<bool>> {
        let op = key_arg(&key)
            .map(|key| -> CacheOp<bool> { Box::new(move |inner: &Inner| inner.delete(key)) });
        task(&self.inner, op)
    }

    /// Folds the journal into the cache file now (under the lock), so the file alone is one
    /// JSON document holding every entry and no `<file>.journal` is left. Returns whether there
    /// was a journal to fold. Takes no lock and writes nothing when there is none.
    #[napi]
    pub fn compact(&self) -> Result<bool, Code> {
        self.inner.compact(false).map_err(cache_error)
    }

    /// `compact()`, then frees this handle's in-memory index (a later call reloads it; the
    /// handle stays usable). Call it when done writing, e.g. before exit.
    #[napi]
    pub fn close(&self) -> Result<(), Code> {
        self.inner.compact(true).map(|_| ()).map_err(cache_error)
    }

    /// Async `close`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close_async(&self) -> AsyncTask<CacheTask<()>> {
        task(
            &self.inner,
            Ok(Box::new(|inner: &Inner| inner.compact(true).map(|_| ()))),
        )
    }

    /// Counters and lock-wait statistics of this handle.
    #[napi]
    pub fn stats(&self) -> CacheStats {
        let s = match self.inner.stats.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut sorted = s.samples.clone();
        sorted.sort_by(f64::total_cmp);
        CacheStats {
            mutations: s.mutations as f64,
            writes: s.writes as f64,
            compactions: s.compactions as f64,
            lock_retries: s.lock_retries as f64,
            stale_tmps_removed: s.stale_tmps_removed as f64,
            lock_wait_ms: LockWaitStats {
                count: s.count as f64,
                mean: if s.count == 0 {
                    0.0
                } else {
                    s.total_wait / s.count as f64
                },
                p50: nearest_rank(&sorted, 50.0),
                p99: nearest_rank(&sorted, 99.0),
                max: s.max_wait,
                last: s.last_wait,
            },
        }
    }

    /// The lock wait of every mutation of this handle, ms, oldest first (the last 65,536).
    #[napi]
    pub fn lock_wait_samples(&self) -> Vec<f64> {
        let s = match self.inner.stats.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if (s.count as usize) <= MAX_SAMPLES {
            return s.samples.clone();
        }
        let start = (s.count as usize) % MAX_SAMPLES;
        let mut out = s.samples[start..].to_vec();
        out.extend_from_slice(&s.samples[..start]);
        out
    }

    /// Resets the counters of `stats`.
    #[napi]
    pub fn reset_stats(&self) {
        if let Ok(mut s) = self.inner.stats.lock() {
            *s = Stats::default();
        }
    }
}
