//! `modules.json` of a stress run folder: the shape of the document. The TS layer hashes the
//! engine, provider and scorer modules and the input files a run loaded (it owns the files) and
//! writes this struct's fields in this order; replay reads it back to check the packed copies.
//! Its JSON Schema (`schemas/modules.schema.json`) and TS types (`ModulesDocument`,
//! `ModuleRecord`) derive from it.

use serde::{Deserialize, Serialize};

/// Schema version of `modules.json`.
pub const MODULES_SCHEMA_VERSION: &str = "OMEGA-MODULES-1.0";

/// The modules and input files a stress run loaded: engine, provider, scorer, the cases file,
/// its js check modules and JSON Schema files. sha256 of each file's bytes; the copy under
/// `modules/` when it is a single file of at most 256 KiB. Paths are relative to the working
/// directory of the run, or base names: never absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ModulesDocument {
    /// Always `OMEGA-MODULES-1.0` ([`MODULES_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = MODULES_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// `simulated` for the built-in provider, else the provider's name in the report.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub provider: String,
    /// Every module and input file the run loaded, in role order.
    pub modules: Vec<ModuleRecord>,
}

/// One module (or input file) of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ModuleRecord {
    /// What it is.
    #[cfg_attr(
        feature = "schema",
        schemars(extend("enum" = ["engine", "provider", "scorer", "cases", "check", "schema"]))
    )]
    pub role: String,
    /// The file name.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1), extend("pattern" = "^[^/\\\\]+$"))
    )]
    pub name: String,
    /// The path as given, relative to the working directory when inside it, else the file name
    /// only: never absolute, never above the working directory.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1), extend("pattern" = "^(?![/\\\\])(?![A-Za-z]:)(?!\\.\\.)"))
    )]
    pub path: String,
    /// SHA-256 of the file's bytes (lowercase hex).
    #[cfg_attr(feature = "schema", schemars(extend("pattern" = "^[0-9a-f]{64}$")))]
    pub sha256: String,
    /// Size, bytes.
    pub bytes: u64,
    /// Where the copy is in the run folder (`modules/scorer/length-scorer.mjs`, or `cases.json`
    /// for the cases file), or null when not packed.
    #[cfg_attr(
        feature = "schema",
        schemars(extend("pattern" = "^(modules/|cases\\.json$)"))
    )]
    pub packed: Option<String>,
    /// Why it was not packed (too big, imports other files), when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_packed_reason: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn a_written_document_reads_back_in_the_same_order() {
        let text = r#"{"schema_version":"OMEGA-MODULES-1.0","provider":"simulated","modules":[{"role":"scorer","name":"s.mjs","path":"examples/s.mjs","sha256":"00","bytes":3,"packed":"modules/scorer/s.mjs"},{"role":"engine","name":"e.mjs","path":"e.mjs","sha256":"11","bytes":9,"packed":null,"not_packed_reason":"imports other files"}]}"#;
        let doc: ModulesDocument = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&doc).unwrap(), text);
    }
}
