//! # omega-pr-core
//!
//! The pure core of omega-pr, the hardening toolkit for LLM-driven engines. It has no JS runtime
//! types (no napi, no wasm-bindgen): the Node addon (`bindings-node`) and the browser build
//! (`bindings-wasm`) only convert and forward to it. It builds for `wasm32-unknown-unknown` as well
//! as native targets.
//!
//! It does own the rules of the JS API's arguments, so that no binding restates them: functions
//! named `from_js`, `*_js` take numbers as JS gives them (`f64`, checked by [`numbers`]) and name
//! the JS field in their errors (`options.seed`, `runs[2].hardScore`).
//!
//! - [`calibration`]: the validated thresholds of the sprint (`budgets/calibration.json`);
//!   [`calibration_doc`]: the shape of that document (its JSON Schema and TS type derive from it).
//! - [`budget`]: integer micro-USD accounting with reserve/settle.
//! - [`faults`]: the kinds of fault and their rules (shared by calibration, chaos, retry).
//! - [`chaos`]: seeded fault-injection decisions.
//! - [`retry`]: backoff and retryability decisions.
//! - [`ratelimit`]: per-minute rate limits (token buckets) and the AIMD window of calls in flight.
//! - [`variance`]: mergeable statistics of a stress run.
//! - [`shards`]: which shard results belong to one stress run (`stress merge`, shard journals).
//! - [`gate_g4`]: the PR-G4 verdict of a stress run, and its re-derivation from a recorded report.
//! - [`pr_report`]: the shape and layout of `PR_REPORT.json` around the PR-G4 verdict.
//! - [`derive`](mod@derive): the three documents of a stress run from its journal(s), one pure function.
//! - [`sign`]: minisign-format signatures and DSSE/in-toto attestations of proofpacks.
//! - [`cases`]: the cases file (`--input`), its deterministic checks and per-case statistics.
//! - [`preflight`], [`concurrency`]: the shapes of `PR_PREFLIGHT.json` and the concurrency
//!   report (gates PR-G0, PR-G1), which the TS layer fills (it runs the child processes).
//! - `schema` (feature `schema`): the JSON Schemas of the documents the core owns, derived from
//!   their structs (`schemars`); `bash scripts/gen-schemas.sh` writes them to `schemas/`.
//! - [`modules`]: the shape of a stress run's `modules.json` (module digests for replay).
//! - [`numbers`]: the whole-number rule of numbers given from JS (counts, delays, seeds).
//! - [`replay`]: comparing a replayed report with the packed one (first differing JSON path, changed runs).
//!
//! ```
//! use omega_pr_core::calibration::default_calibration;
//! use omega_pr_core::budget::{BudgetTracker, ReserveRequest, Usage};
//!
//! let cal = default_calibration().expect("shipped calibration is valid");
//! let mut tracker = BudgetTracker::new(cal.budget.clone());
//! let r = tracker
//!     .reserve(ReserveRequest {
//!         call_id: "call-1".into(),
//!         scene_id: Some("SCN-01".into()),
//!         model: "claude-sonnet-4-5".into(),
//!         input_tokens: 1200,
//!         max_output_tokens: Some(800),
//!     })
//!     .expect("within budget");
//! tracker
//!     .settle(r.id, &Usage { input_tokens: 1200, output_tokens: 350, ..Default::default() })
//!     .expect("reservation is open");
//! assert_eq!(tracker.finalize().budget_verdict, "PASS");
//! ```
#![warn(missing_docs)]

pub mod budget;
pub mod calibration;
pub mod calibration_doc;
pub mod cases;
pub mod chaos;
pub mod concurrency;
pub mod derive;
pub mod error;
pub mod faults;
pub mod gate_g4;
pub mod journal;
pub mod modules;
pub mod money;
pub mod numbers;
pub mod outcome;
pub mod pr_report;
pub mod preflight;
pub mod prices;
pub mod proofpack;
pub mod ratelimit;
pub mod replay;
pub mod report_rules;
pub mod retry;
#[cfg(feature = "schema")]
pub mod schema;
pub mod shards;
pub mod sign;
pub mod simulate;
pub mod variance;

pub use error::{Error, Problem, Result};
