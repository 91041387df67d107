//! JSON Schemas (2020-12) of the documents the core owns, derived from their structs with
//! `schemars` (feature `schema`). `cargo run -p omega-pr-core --features schema --example
//! gen-schemas` (wrapped by `bash scripts/gen-schemas.sh`) writes each to
//! `schemas/<name>.schema.json`; CI regenerates them and fails on a diff, and the TS types of
//! these documents (`report-types.d.ts`) are generated from the written files.
//!
//! Two rules are applied to every schema on top of what `schemars` derives:
//! - a property that may be absent is never `null` ([`absent_not_null`]): the core skips a `None`
//!   it does not have to write (`skip_serializing_if`), and a calibration refuses nulls;
//! - descriptions are the doc comments as text: rustdoc links (``[`X`]``) become `` `X` ``,
//!   wrapped lines are joined ([`tidy_description`]);
//! - only the formats JSON Schema 2020-12 defines are kept (`schemars`' `uint64`, `double`, …
//!   are dropped: strict validators refuse unknown formats).

use schemars::generate::SchemaSettings;
use schemars::transform::{RecursiveTransform, RestrictFormats};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::budget::{LedgerEntry, RunCost};
use crate::calibration_doc::CalibrationDocument;
use crate::cases::{CaseReport, CaseResult, CasesDocument, CasesFile, RunScore};
use crate::chaos::{ChaosConfigFile, ChaosLog, ChaosSummary};
use crate::concurrency::ConcurrencyReport;
use crate::gate_g4::{Rederivation, StressVerdict};
use crate::journal::{JournalEndLine, JournalHeader, JournalLateLine, JournalRunLine};
use crate::modules::ModulesDocument;
use crate::outcome::DetectionViolation;
use crate::pr_report::PrReport;
use crate::preflight::PreflightReport;
use crate::proofpack::manifest::Manifest;
use crate::proofpack::scripts::Toolchain;
use crate::proofpack::verify::Verification;
use crate::sign::pack::PackVerification;
use crate::variance::VarianceReport;

/// Base of every schema's `$id`.
pub const ID_BASE: &str = "https://omega-pr.dev/schemas/";

/// One generated schema: `schemas/<name>.schema.json`.
#[derive(Debug, Clone)]
pub struct Document {
    /// File stem (`run-cost` → `schemas/run-cost.schema.json`).
    pub name: &'static str,
    /// The Rust type it is derived from, for the `$comment`.
    pub rust_type: &'static str,
    /// The schema.
    pub schema: Value,
}

impl Document {
    /// The file text: pretty JSON (2-space indent) and a trailing newline.
    pub fn to_json_string(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&self.schema).unwrap_or_else(|_| String::from("{}"));
        text.push('\n');
        text
    }
}

/// Whether a document is written by the core (its serialized shape) or read by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Written,
    Read,
}

fn document<T: JsonSchema>(
    name: &'static str,
    rust_type: &'static str,
    direction: Direction,
) -> Document {
    let settings = SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(absent_not_null))
        .with_transform(RecursiveTransform(tidy_description))
        .with_transform(RestrictFormats::default());
    let settings = match direction {
        Direction::Written => settings.for_serialize(),
        Direction::Read => settings.for_deserialize(),
    };
    let root = settings.into_generator().into_root_schema_for::<T>();
    let mut out = Map::new();
    let mut rest = root.to_value();
    // A fixed key order at the top: `$schema`, `$id`, `$comment`, `title`, `description`, then
    // what schemars wrote.
    if let Value::Object(map) = &mut rest {
        for key in ["$schema"] {
            if let Some(v) = map.remove(key) {
                out.insert(key.into(), v);
            }
        }
        out.insert(
            "$id".into(),
            Value::String(format!("{ID_BASE}{name}.schema.json")),
        );
        out.insert(
            "$comment".into(),
            Value::String(format!(
                "Generated from omega-pr-core `{rust_type}` by `bash scripts/gen-schemas.sh`: do not edit (edit the struct and regenerate)."
            )),
        );
        for key in ["title", "description"] {
            if let Some(v) = map.remove(key) {
                out.insert(key.into(), v);
            }
        }
        out.append(map);
    }
    Document {
        name,
        rust_type,
        schema: Value::Object(out),
    }
}

/// Every schema the core owns, in file-name order.
pub fn documents() -> Vec<Document> {
    use Direction::{Read, Written};
    vec![
        document::<CalibrationDocument>(
            "calibration",
            "calibration_doc::CalibrationDocument",
            Read,
        ),
        document::<LedgerEntry>("budget-ledger-entry", "budget::LedgerEntry", Written),
        document::<CaseReport>("case-report", "cases::CaseReport", Written),
        document::<CaseResult>("case-result", "cases::CaseResult", Written),
        document::<RunScore>("case-run-score", "cases::RunScore", Written),
        document::<CasesFile>("cases", "cases::CasesFile", Read),
        document::<CasesDocument>("cases-document", "cases::CasesDocument", Written),
        document::<ChaosConfigFile>("chaos-config", "chaos::ChaosConfigFile", Read),
        document::<ChaosLog>("chaos-log", "chaos::ChaosLog", Written),
        document::<ChaosSummary>("chaos-summary", "chaos::ChaosSummary", Written),
        document::<ConcurrencyReport>(
            "concurrency-report",
            "concurrency::ConcurrencyReport",
            Written,
        ),
        document::<DetectionViolation>(
            "detection-violation",
            "outcome::DetectionViolation",
            Written,
        ),
        // The journal is read by the core but written by the TS layer, and its lines embed
        // documents the core serializes (ledger entries, run records, rate-limit figures): the
        // serialized shape is the file's (the line structs mark what may be absent
        // `skip_serializing_if`).
        document::<JournalHeader>("journal-header", "journal::JournalHeader", Written),
        document::<JournalRunLine>("journal-run-line", "journal::JournalRunLine", Written),
        document::<JournalLateLine>("journal-late-line", "journal::JournalLateLine", Written),
        document::<JournalEndLine>("journal-end-line", "journal::JournalEndLine", Written),
        document::<Manifest>("manifest", "proofpack::manifest::Manifest", Written),
        document::<ModulesDocument>("modules", "modules::ModulesDocument", Written),
        document::<PreflightReport>("pr-preflight", "preflight::PreflightReport", Written),
        document::<PrReport>("pr-report", "pr_report::PrReport", Written),
        document::<PackVerification>(
            "proofpack-verification",
            "sign::pack::PackVerification",
            Written,
        ),
        document::<Verification>(
            "proofpack-integrity",
            "proofpack::verify::Verification",
            Written,
        ),
        document::<RunCost>("run-cost", "budget::RunCost", Written),
        document::<Rederivation>("stress-rederivation", "gate_g4::Rederivation", Written),
        document::<StressVerdict>("stress-verdict", "gate_g4::StressVerdict", Written),
        document::<Toolchain>("toolchain", "proofpack::scripts::Toolchain", Written),
        document::<VarianceReport>("variance-report", "variance::VarianceReport", Written),
    ]
}

/// A property that may be absent (not in `required`) does not allow `null`: removes `null` from
/// its `type` and `enum`, and a `{"type": "null"}` branch from its `anyOf`. One level; applied to
/// every subschema through `RecursiveTransform`.
pub fn absent_not_null(schema: &mut Schema) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (key, prop) in props.iter_mut() {
            if !required.contains(key) {
                strip_null(prop);
            }
        }
    }
}

fn strip_null(prop: &mut Value) {
    let Value::Object(map) = prop else {
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(branches)) = map.get_mut("anyOf") {
        branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
        if branches.len() == 1 {
            if let Some(Value::Object(only)) = branches.pop() {
                map.remove("anyOf");
                for (k, v) in only {
                    map.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// A doc comment as a description: ``[`X`]`` → `` `X` ``, single line breaks → spaces (blank
/// lines kept).
pub fn tidy_description(schema: &mut Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        let paragraphs: Vec<String> = text
            .split("\n\n")
            .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
            .collect();
        *text = paragraphs
            .join("\n\n")
            .replace("[`", "`")
            .replace("`]", "`");
    }
}
