//! Node.js addon of omega-pr. Thin: converts arguments, forwards to `omega-pr-core`, converts
//! core errors to JS errors with a stable `code`. The one piece of logic that lives here and
//! not in the core is the file-locking atomic cache (`cache`), by design.

// napi exports are reached only through the generated JS loader, so the test harness (which
// builds this cdylib as a plain lib) sees them as unused.
#![cfg_attr(test, allow(dead_code))]

mod budget;
mod cache;
mod calibration;
mod cases;
mod chaos;
mod error;
mod gate_g4;
mod proofpack;
mod ratelimit;
mod replay;
mod retry;
mod rules;
mod sign;
mod simulate;
mod variance;
