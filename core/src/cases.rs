//! The cases file (`--input cases.json`): each case is one prompt (or one conversation) and a list
//! of checks on its answer, each `hard` or `soft` with a weight. Validation, prompt rendering, the
//! deterministic checks, the run score of a set of case results and the per-case statistics of a
//! stress run (pass rate with Wilson interval, pass^k, flaky vs always failing, failing checks by
//! type, the `CASE_PASS_MIN` floor) all live here, so every verdict is computed in the core.
//!
//! Two check types need JavaScript and arrive as results from outside: `json-schema` (validated
//! with ajv in the TS layer) and `js` (a function in the user's module). The core validates their
//! shape and folds their results into the case result like any other check.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::calibration::type_name;
use crate::error::{Error, Result};
use crate::variance::{pass_hat_k, wilson_interval, Interval};

/// Normal quantile of a 95 % two-sided interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Every check type a case may use.
pub const CHECK_TYPES: &[&str] = &[
    "contains",
    "icontains",
    "not-contains",
    "regex",
    "equals",
    "starts-with",
    "is-json",
    "json-schema",
    "min-words",
    "max-words",
    "max-chars",
    "latency-ms",
    "cost-usd",
    "refusal",
    "js",
    "llm-judge",
];

/// Default run score at or above which a run passes its hard gate.
pub const DEFAULT_HARD_PASS_SCORE: f64 = 0.7;
/// Default run score at or above which a run passes its soft gate.
pub const DEFAULT_SOFT_PASS_SCORE: f64 = 0.75;

/// Whether a failed check fails the case (`hard`) or only lowers its soft score (`soft`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "CheckLevel"))]
pub enum Level {
    /// A failed hard check fails the case.
    Hard,
    /// A failed soft check lowers the soft score only.
    Soft,
}

/// What a check tests.
#[derive(Debug, Clone)]
enum Kind {
    Contains(String),
    IContains(String),
    NotContains(String),
    Regex(Regex),
    Equals(String),
    StartsWith(String),
    IsJson,
    /// Evaluated outside the core (ajv); its result is passed in.
    JsonSchema,
    MinWords(u64),
    MaxWords(u64),
    MaxChars(u64),
    LatencyMs(f64),
    CostUsd(f64),
    Refusal,
    /// Evaluated outside the core (the user's function); its result is passed in.
    Js,
    /// Scored by a model through the stack outside the core ([`judge_prompt`],
    /// [`judge_verdict`]); its result is passed in.
    LlmJudge,
}

/// One validated check.
#[derive(Debug, Clone)]
pub struct Check {
    /// The check type, as written (`contains`, …).
    pub check_type: String,
    /// Hard or soft.
    pub level: Level,
    /// Weight in the case's score (> 0).
    pub weight: f64,
    /// The check's `value` as written (null when it takes none).
    pub value: Value,
    kind: Kind,
}

impl Check {
    /// Whether the check is evaluated outside the core (`json-schema`, `js`, `llm-judge`).
    pub fn is_external(&self) -> bool {
        matches!(self.kind, Kind::JsonSchema | Kind::Js | Kind::LlmJudge)
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "CaseMessage", deny_unknown_fields)
)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["system", "user", "assistant"])))]
    pub role: String,
    /// The text (`{{var}}` rendered in the normalized document).
    pub content: String,
}

/// One validated case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique id.
    pub id: String,
    /// The prompt with `{{var}}` rendered (for `messages`, the messages joined by role).
    pub prompt: String,
    /// The conversation, when the case gave `messages`.
    pub messages: Option<Vec<Message>>,
    /// The case's variables.
    pub vars: Map<String, Value>,
    /// Model of the case, when it names one.
    pub model: Option<String>,
    /// Completion cap of the case, when it names one.
    pub max_output_tokens: Option<u64>,
    /// The checks, in file order.
    pub checks: Vec<Check>,
}

/// A validated cases file.
#[derive(Debug, Clone)]
pub struct CaseSet {
    /// The cases, in file order.
    pub cases: Vec<Case>,
    /// Run score at or above which a run passes its hard gate.
    pub hard_pass_score: f64,
    /// Run score at or above which a run passes its soft gate.
    pub soft_pass_score: f64,
}

struct Ctx<'a> {
    source: Option<&'a str>,
}

impl Ctx<'_> {
    fn err(&self, case_id: &str, index: Option<usize>, message: impl Into<String>) -> Error {
        Error::Cases {
            source_name: self.source.map(str::to_owned),
            case_id: case_id.to_owned(),
            index,
            message: message.into(),
        }
    }
}

/// Replaces every `{{ name }}` by the variable (strings as they are, other values as JSON).
/// A name that `vars` lacks is an error naming it.
pub fn render(template: &str, vars: &Map<String, Value>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => return Err(format!("uses {{{{{name}}}}} but `vars` has no `{name}`")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl CaseSet {
    /// Parses and validates a cases document: `{ "cases": [...] }` or a bare array of cases.
    /// Every problem is an [`Error::Cases`] naming the case id and check index.
    pub fn from_json_str(text: &str, source: Option<&str>) -> Result<Self> {
        let ctx = Ctx { source };
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ctx.err("-", None, format!("not valid JSON: {e}")))?;
        Self::from_value(&value, source)
    }

    /// Validates an already-parsed document.
    pub fn from_value(value: &Value, source: Option<&str>) -> Result<Self> {
        let ctx = Ctx { source };
        let (items, hard_pass_score, soft_pass_score) = match value {
            Value::Array(items) => (items, DEFAULT_HARD_PASS_SCORE, DEFAULT_SOFT_PASS_SCORE),
            Value::Object(map) => {
                for key in map.keys() {
                    if ![
                        "$schema",
                        "description",
                        "cases",
                        "hard_pass_score",
                        "soft_pass_score",
                    ]
                    .contains(&key.as_str())
                    {
                        return Err(ctx.err("-", None, format!("unknown top-level key `{key}`")));
                    }
                }
                let Some(Value::Array(items)) = map.get("cases") else {
                    return Err(ctx.err("-", None, "`cases` must be an array of cases"));
                };
                let score = |key: &str, default: f64| -> Result<f64> {
                    match map.get(key) {
                        None => Ok(default),
                        Some(v) => match v.as_f64() {
                            Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
                            _ => Err(ctx.err(
                                "-",
                                None,
                                format!("`{key}` must be a number in [0, 1], got {v}"),
                            )),
                        },
                    }
                };
                (
                    items,
                    score("hard_pass_score", DEFAULT_HARD_PASS_SCORE)?,
                    score("soft_pass_score", DEFAULT_SOFT_PASS_SCORE)?,
                )
            }
            other => {
                return Err(ctx.err(
                    "-",
                    None,
                    format!(
                        "must be an object with `cases` or an array of cases, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        if items.is_empty() {
            return Err(ctx.err("-", None, "no cases: the file needs at least one case"));
        }
        let mut seen = BTreeSet::new();
        let mut cases = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let case = parse_case(&ctx, i, item)?;
            if !seen.insert(case.id.clone()) {
                return Err(ctx.err(&case.id, None, "duplicate case id"));
            }
            cases.push(case);
        }
        Ok(CaseSet {
            cases,
            hard_pass_score,
            soft_pass_score,
        })
    }

    /// Whether any case has at least one check (a scorer exists).
    pub fn has_checks(&self) -> bool {
        self.cases.iter().any(|c| !c.checks.is_empty())
    }

    /// The normalized document (rendered prompts, defaults filled in), as the TS layer reads it.
    pub fn to_document(&self) -> CasesDocument {
        CasesDocument {
            hard_pass_score: self.hard_pass_score,
            soft_pass_score: self.soft_pass_score,
            cases: self
                .cases
                .iter()
                .map(|c| CaseDocument {
                    id: c.id.clone(),
                    prompt: c.prompt.clone(),
                    messages: c.messages.clone(),
                    vars: c.vars.clone(),
                    model: c.model.clone(),
                    max_output_tokens: c.max_output_tokens,
                    checks: c
                        .checks
                        .iter()
                        .map(|k| CaseCheck {
                            check_type: k.check_type.clone(),
                            level: k.level,
                            weight: k.weight,
                            value: k.value.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// [`CaseSet::to_document`] as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.to_document()).unwrap_or(Value::Null)
    }
}

/// A validated cases file, normalized ([`CaseSet::to_document`]): prompts rendered with their
/// `vars`, every check's `level` and `weight` filled in, the pass scores' defaults applied. The
/// addon's `validateCases` returns it; the TS layer runs the cases from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CasesDocument {
    /// Run hard score at or above which a run passes its hard gate.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub hard_pass_score: f64,
    /// Run soft score at or above which a run passes its soft gate.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub soft_pass_score: f64,
    /// The cases, in file order.
    pub cases: Vec<CaseDocument>,
}

/// One case of a cases file, normalized (prompt rendered with its `vars`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseDocument {
    /// Unique id.
    pub id: String,
    /// The prompt with `{{var}}` rendered (for `messages`, the messages joined by role).
    pub prompt: String,
    /// The conversation, when the case gave `messages`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// The case's variables.
    pub vars: Map<String, Value>,
    /// Model of the case, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Completion cap of the case, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// The checks, in file order.
    #[serde(rename = "assert")]
    pub checks: Vec<CaseCheck>,
}

/// One check of a case, normalized (`level` and `weight` filled in).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseCheck {
    /// The check type, as written (`contains`, …).
    #[serde(rename = "type")]
    pub check_type: String,
    /// Hard or soft.
    pub level: Level,
    /// Weight in the case's score (> 0).
    pub weight: f64,
    /// The check's `value` as written (null when it takes none).
    pub value: Value,
}

/// A cases file (`--input cases.json` of `stress`, `chaos`, `sprint`) as written: the shape of
/// `schemas/cases.schema.json`, which users' editors validate against. [`CaseSet::from_value`]
/// reads the same shape by hand (its errors name the case id and check index) and normalizes it
/// ([`CasesDocument`]); a test keeps the two in agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CasesFile {
    /// `{ "cases": [...] }`, with optional pass scores.
    Object(CasesFileObject),
    /// A bare array of cases (default pass scores).
    Cases(Vec<CaseInput>),
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for CasesFile {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CasesFile".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let object = generator.subschema_for::<CasesFileObject>();
        let case = generator.subschema_for::<CaseInput>();
        schemars::json_schema!({
            "title": "omega-pr cases file (stress/chaos/sprint --input)",
            "description": "Cases of a stress run: each case is one prompt (or conversation) per run — or the input of an engine module (--engine) — with checks on its answer. A check is hard (a failure fails the case) or soft (it lowers the soft score), with a weight. A run's hard score is the mean of its cases' weighted hard-check shares; the run passes at hard_pass_score. The core validates the file (ERR_OMEGA_CASES names the case id and check index).",
            "oneOf": [
                object,
                { "type": "array", "minItems": 1, "items": case }
            ]
        })
    }
}

/// A cases file as an object: the cases and the run's pass scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CasesFileObject {
    /// The schema the file names (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Free text (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Run hard score at or above which a run passes its hard gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 0, max = 1), extend("default" = DEFAULT_HARD_PASS_SCORE))
    )]
    pub hard_pass_score: Option<f64>,
    /// Run soft score at or above which a run passes its soft gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 0, max = 1), extend("default" = DEFAULT_SOFT_PASS_SCORE))
    )]
    pub soft_pass_score: Option<f64>,
    /// The cases, in file order (ids unique).
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub cases: Vec<CaseInput>,
}

/// One case as written: a `prompt` or `messages` (exactly one), its variables and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        rename = "CaseInput",
        deny_unknown_fields,
        extend("oneOf" = [
            { "required": ["prompt"], "properties": { "prompt": true } },
            { "required": ["messages"], "properties": { "messages": true } }
        ])
    )
)]
pub struct CaseInput {
    /// Unique id (per-case statistics, reports).
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The prompt; `{{name}}` is replaced by `vars.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub prompt: Option<String>,
    /// A conversation instead of a prompt (`{{name}}` replaced in each content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub messages: Option<Vec<Message>>,
    /// Variables of the prompt or messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<Map<String, Value>>,
    /// Model of the case (priced in calibration budget.models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub model: Option<String>,
    /// Completion cap of the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub max_output_tokens: Option<u64>,
    /// Checks on the answer, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<Vec<CheckInput>>,
}

/// One check of a case as written. `value` is what the type needs (a string, a count, a bound,
/// a schema); `llm-judge` takes a `rubric` (and optionally a `threshold` and a judge `model`)
/// instead, and no other type takes those.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        rename = "CheckInput",
        deny_unknown_fields,
        extend("allOf" = check_value_rules())
    )
)]
pub struct CheckInput {
    /// The check type ([`CHECK_TYPES`]).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = CHECK_TYPES)))]
    pub check_type: String,
    /// Text (contains, icontains, not-contains, equals, starts-with), a regex (regex, Rust
    /// syntax), a count (min-words, max-words, max-chars), a bound (latency-ms ≤, cost-usd ≤), a
    /// schema object or file path (json-schema), a module path `./checks.mjs#name` (js); none
    /// for is-json and refusal (the answer is not a refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// llm-judge only: what the judge model scores the answer on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub rubric: Option<String>,
    /// llm-judge only: the score in [0, 1] at or above which the check passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 0, max = 1), extend("default" = 0.7))
    )]
    pub threshold: Option<f64>,
    /// llm-judge only: the judge model (default: the run's model; priced in calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub model: Option<String>,
    /// `hard` (a failure fails the case) or `soft` (it lowers the soft score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("default" = "hard")))]
    pub level: Option<Level>,
    /// Weight in the case's score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(extend("exclusiveMinimum" = 0, "default" = 1))
    )]
    pub weight: Option<f64>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What `value` must be for each check type, and the `llm-judge`-only keys (the schema's
/// `allOf`; [`parse_check`] applies the same rules with messages).
#[cfg(feature = "schema")]
fn check_value_rules() -> Value {
    serde_json::json!([
        { "if": { "properties": { "type": { "enum": ["contains", "icontains", "not-contains", "regex", "equals", "starts-with", "js"] } } }, "then": { "required": ["value"], "properties": { "value": { "type": "string" } } } },
        { "if": { "properties": { "type": { "enum": ["min-words", "max-words", "max-chars"] } } }, "then": { "required": ["value"], "properties": { "value": { "type": "integer", "minimum": 0 } } } },
        { "if": { "properties": { "type": { "enum": ["latency-ms", "cost-usd"] } } }, "then": { "required": ["value"], "properties": { "value": { "type": "number", "minimum": 0 } } } },
        { "if": { "properties": { "type": { "const": "json-schema" } } }, "then": { "required": ["value"], "properties": { "value": { "type": ["object", "boolean", "string"] } } } },
        { "if": { "properties": { "type": { "const": "llm-judge" } } }, "then": { "required": ["rubric"], "properties": { "rubric": true }, "not": { "required": ["value"], "properties": { "value": true } } }, "else": { "not": { "anyOf": [{ "required": ["rubric"], "properties": { "rubric": true } }, { "required": ["threshold"], "properties": { "threshold": true } }, { "required": ["model"], "properties": { "model": true } }] } } }
    ])
}

fn parse_case(ctx: &Ctx<'_>, i: usize, item: &Value) -> Result<Case> {
    let fallback = format!("#{}", i + 1);
    let Value::Object(map) = item else {
        return Err(ctx.err(
            &fallback,
            None,
            format!("a case must be an object, got {}", type_name(item)),
        ));
    };
    let id = match map.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(other) => {
            return Err(ctx.err(
                &fallback,
                None,
                format!("`id` must be a non-empty string, got {other}"),
            ))
        }
        None => return Err(ctx.err(&fallback, None, "`id` is missing")),
    };
    for key in map.keys() {
        if ![
            "id",
            "description",
            "prompt",
            "messages",
            "vars",
            "model",
            "max_output_tokens",
            "assert",
        ]
        .contains(&key.as_str())
        {
            return Err(ctx.err(&id, None, format!("unknown key `{key}`")));
        }
    }
    let vars = match map.get("vars") {
        None => Map::new(),
        Some(Value::Object(v)) => v.clone(),
        Some(other) => {
            return Err(ctx.err(
                &id,
                None,
                format!("`vars` must be an object, got {}", type_name(other)),
            ))
        }
    };
    let (prompt, messages) = match (map.get("prompt"), map.get("messages")) {
        (Some(Value::String(p)), None) => {
            let text = render(p, &vars).map_err(|m| ctx.err(&id, None, format!("`prompt` {m}")))?;
            if text.trim().is_empty() {
                return Err(ctx.err(&id, None, "`prompt` is empty"));
            }
            (text, None)
        }
        (None, Some(Value::Array(items))) => {
            if items.is_empty() {
                return Err(ctx.err(&id, None, "`messages` is empty"));
            }
            let mut msgs = Vec::with_capacity(items.len());
            for (j, m) in items.iter().enumerate() {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                if !["system", "user", "assistant"].contains(&role) {
                    return Err(ctx.err(
                        &id,
                        None,
                        format!(
                            "`messages[{j}].role` must be system, user or assistant, got {}",
                            m.get("role").unwrap_or(&Value::Null)
                        ),
                    ));
                }
                let Some(content) = m.get("content").and_then(Value::as_str) else {
                    return Err(ctx.err(
                        &id,
                        None,
                        format!("`messages[{j}].content` must be a string"),
                    ));
                };
                let content = render(content, &vars)
                    .map_err(|e| ctx.err(&id, None, format!("`messages[{j}].content` {e}")))?;
                msgs.push(Message {
                    role: role.to_owned(),
                    content,
                });
            }
            let prompt = msgs
                .iter()
                .map(|m| format!("[{}]\n{}", m.role, m.content))
                .collect::<Vec<_>>()
                .join("\n\n");
            (prompt, Some(msgs))
        }
        (Some(_), Some(_)) => {
            return Err(ctx.err(&id, None, "give `prompt` or `messages`, not both"))
        }
        (Some(other), None) => {
            return Err(ctx.err(
                &id,
                None,
                format!("`prompt` must be a string, got {}", type_name(other)),
            ))
        }
        (None, Some(other)) => {
            return Err(ctx.err(
                &id,
                None,
                format!("`messages` must be an array, got {}", type_name(other)),
            ))
        }
        (None, None) => return Err(ctx.err(&id, None, "needs a `prompt` or `messages`")),
    };
    let model = match map.get("model") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            return Err(ctx.err(
                &id,
                None,
                format!("`model` must be a non-empty string, got {other}"),
            ))
        }
    };
    let max_output_tokens = match map.get("max_output_tokens") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                return Err(ctx.err(
                    &id,
                    None,
                    format!("`max_output_tokens` must be a whole number ≥ 1, got {v}"),
                ))
            }
        },
    };
    let checks = match map.get("assert") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, c)| parse_check(ctx, &id, j, c))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => {
            return Err(ctx.err(
                &id,
                None,
                format!("`assert` must be an array, got {}", type_name(other)),
            ))
        }
    };
    Ok(Case {
        id,
        prompt,
        messages,
        vars,
        model,
        max_output_tokens,
        checks,
    })
}

fn parse_check(ctx: &Ctx<'_>, id: &str, j: usize, c: &Value) -> Result<Check> {
    let err = |m: String| ctx.err(id, Some(j), m);
    let Value::Object(map) = c else {
        return Err(err(format!(
            "a check must be an object, got {}",
            type_name(c)
        )));
    };
    let Some(check_type) = map.get("type").and_then(Value::as_str) else {
        return Err(err("`type` is missing (a string)".into()));
    };
    const JUDGE_KEYS: [&str; 3] = ["rubric", "threshold", "model"];
    for key in map.keys() {
        let judge_key = check_type == "llm-judge" && JUDGE_KEYS.contains(&key.as_str());
        if !judge_key
            && !["type", "value", "level", "weight", "description"].contains(&key.as_str())
        {
            return Err(err(format!("unknown key `{key}`")));
        }
    }
    let level = match map.get("level").map(|v| v.as_str()) {
        None | Some(Some("hard")) => Level::Hard,
        Some(Some("soft")) => Level::Soft,
        Some(_) => {
            return Err(err(format!(
                "`level` must be \"hard\" or \"soft\", got {}",
                map.get("level").unwrap_or(&Value::Null)
            )))
        }
    };
    let weight = match map.get("weight") {
        None => 1.0,
        Some(v) => match v.as_f64() {
            Some(w) if w > 0.0 && w.is_finite() => w,
            _ => return Err(err(format!("`weight` must be a number > 0, got {v}"))),
        },
    };
    let mut value = map.get("value").cloned().unwrap_or(Value::Null);
    if check_type == "llm-judge" {
        value = judge_settings(map).map_err(err)?;
    }
    let text = || -> Result<String> {
        match &value {
            Value::String(s) => Ok(s.clone()),
            other => Err(err(format!(
                "`{check_type}` needs a string `value`, got {}",
                type_name(other)
            ))),
        }
    };
    let count = || -> Result<u64> {
        value.as_u64().ok_or_else(|| {
            err(format!(
                "`{check_type}` needs a whole number `value` ≥ 0, got {value}"
            ))
        })
    };
    let limit = || -> Result<f64> {
        match value.as_f64() {
            Some(x) if x >= 0.0 && x.is_finite() => Ok(x),
            _ => Err(err(format!(
                "`{check_type}` needs a number `value` ≥ 0, got {value}"
            ))),
        }
    };
    let kind = match check_type {
        "contains" => Kind::Contains(text()?),
        "icontains" => Kind::IContains(text()?.to_lowercase()),
        "not-contains" => Kind::NotContains(text()?),
        "regex" => {
            let pattern = text()?;
            Kind::Regex(Regex::new(&pattern).map_err(|e| err(format!("bad regex {pattern:?}: {e}")))?)
        }
        "equals" => Kind::Equals(text()?),
        "starts-with" => Kind::StartsWith(text()?),
        "is-json" => Kind::IsJson,
        "json-schema" => match &value {
            Value::Object(_) | Value::Bool(_) => Kind::JsonSchema,
            Value::String(s) if !s.is_empty() => Kind::JsonSchema,
            other => {
                return Err(err(format!(
                    "`json-schema` needs a schema object or a schema file path as `value`, got {}",
                    type_name(other)
                )))
            }
        },
        "min-words" => Kind::MinWords(count()?),
        "max-words" => Kind::MaxWords(count()?),
        "max-chars" => Kind::MaxChars(count()?),
        "latency-ms" => Kind::LatencyMs(limit()?),
        "cost-usd" => Kind::CostUsd(limit()?),
        "refusal" => Kind::Refusal,
        "js" => match &value {
            Value::String(s) if !s.is_empty() => Kind::Js,
            other => {
                return Err(err(format!(
                    "`js` needs a module path (`./checks.mjs` or `./checks.mjs#name`) as `value`, got {}",
                    type_name(other)
                )))
            }
        },
        "llm-judge" => Kind::LlmJudge,
        other => {
            return Err(err(format!(
                "unknown check type `{other}` (known: {})",
                CHECK_TYPES.join(", ")
            )))
        }
    };
    Ok(Check {
        check_type: check_type.to_owned(),
        level,
        weight,
        value,
        kind,
    })
}

/// Default score at or above which an `llm-judge` check passes.
pub const DEFAULT_JUDGE_THRESHOLD: f64 = 0.7;

/// The settings of an `llm-judge` check, normalized into its `value`:
/// `{ "rubric": "…", "threshold": 0.7, "model"?: "…" }` (from the check's own `rubric`,
/// `threshold`, `model` keys; `value` may not be given too).
fn judge_settings(map: &Map<String, Value>) -> std::result::Result<Value, String> {
    if map.contains_key("value") {
        return Err("`llm-judge` takes `rubric`, `threshold` and `model`, not `value`".into());
    }
    let rubric = match map.get("rubric") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(other) => {
            return Err(format!(
                "`llm-judge` needs a non-empty string `rubric`, got {}",
                type_name(other)
            ))
        }
        None => return Err("`llm-judge` needs a `rubric` (what the judge scores)".into()),
    };
    let threshold = match map.get("threshold") {
        None => DEFAULT_JUDGE_THRESHOLD,
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => t,
            _ => return Err(format!("`threshold` must be a number in [0, 1], got {v}")),
        },
    };
    let mut out = Map::new();
    out.insert("rubric".into(), Value::String(rubric));
    out.insert("threshold".into(), Value::from(threshold));
    match map.get("model") {
        None => {}
        Some(Value::String(m)) if !m.is_empty() => {
            out.insert("model".into(), Value::String(m.clone()));
        }
        Some(other) => return Err(format!("`model` must be a non-empty string, got {other}")),
    }
    Ok(Value::Object(out))
}

/// The system message of an `llm-judge` call: the reply format the judge must follow.
pub const JUDGE_SYSTEM: &str = "You grade an answer against a rubric. Reply with one JSON object and nothing else: {\"score\": <a number from 0 to 1>, \"reason\": \"<one sentence>\"}. 1 means the answer fully meets the rubric, 0 not at all.";

/// The user message of an `llm-judge` call: the rubric, the task the model was given, and the
/// answer to grade between `<answer>` tags.
pub fn judge_prompt(rubric: &str, task: &str, answer: &str) -> String {
    format!("Rubric:\n{rubric}\n\nTask given to the model:\n{task}\n\nAnswer to grade:\n<answer>\n{answer}\n</answer>")
}

/// The judge's reply, read: a JSON object with a numeric `score` in [0, 1] (and an optional
/// string `reason`), possibly in a ```` ``` ```` fence or with text around the object; or a bare
/// number in [0, 1]. Anything else is an error saying what arrived.
pub fn parse_judge_reply(text: &str) -> std::result::Result<(f64, Option<String>), String> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.trim_end().strip_suffix("```"))
        .map_or(t, str::trim);
    if let Ok(x) = t.parse::<f64>() {
        if (0.0..=1.0).contains(&x) {
            return Ok((x, None));
        }
        return Err(format!("judge score {x} is not in [0, 1]"));
    }
    let object = match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if a < b => &t[a..=b],
        _ => t,
    };
    let shown: String = t.chars().take(80).collect();
    let value: Value = serde_json::from_str(object)
        .map_err(|_| format!("judge reply is not {{\"score\": 0..1}}: {shown:?}"))?;
    match value.get("score").and_then(Value::as_f64) {
        Some(x) if (0.0..=1.0).contains(&x) => Ok((
            x,
            value
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )),
        Some(x) => Err(format!("judge score {x} is not in [0, 1]")),
        None => Err(format!("judge reply has no numeric `score`: {shown:?}")),
    }
}

/// The result of an `llm-judge` check from the judge's reply (or the call's error): passes when
/// the score is at least `threshold`; the message says the score, the threshold and the judge's
/// reason, or why no score could be read.
pub fn judge_verdict(
    reply: std::result::Result<&str, &str>,
    threshold: f64,
) -> (bool, Option<String>, Option<f64>) {
    let text = match reply {
        Ok(t) => t,
        Err(e) => return (false, Some(format!("judge call failed: {e}")), None),
    };
    match parse_judge_reply(text) {
        Ok((score, reason)) => {
            let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
            if score >= threshold {
                (true, None, Some(score))
            } else {
                (
                    false,
                    Some(format!("judge scored {score} < threshold {threshold}{why}")),
                    Some(score),
                )
            }
        }
        Err(e) => (false, Some(e), None),
    }
}

/// Phrases that open a refusal (matched case-insensitively near the start of the answer).
const REFUSAL_MARKERS: &[&str] = &[
    "i'm sorry, but",
    "i am sorry, but",
    "sorry, i can't",
    "sorry, i cannot",
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i can't do that",
    "i cannot do that",
    "i can't comply",
    "i cannot comply",
    "i won't be able",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i am not able to",
    "as an ai",
    "i can't provide",
    "i cannot provide",
];

/// Whether `text` reads as a refusal: one of the usual refusal phrases in its first 300 characters.
pub fn is_refusal(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(300)
        .collect::<String>()
        .to_lowercase()
        .replace('’', "'");
    REFUSAL_MARKERS.iter().any(|m| head.contains(m))
}

/// The answer a case is judged on.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// The answer text; `None` when the call (or the engine) produced none.
    pub text: Option<String>,
    /// Why there is no answer (error code and message), when there is none.
    pub error: Option<String>,
    /// Latency of the case's calls, ms.
    pub latency_ms: f64,
    /// Cost of the case's calls, USD.
    pub cost_usd: f64,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CheckResult {
    /// Check type (`contains`, …; `engine` for the engine's own checks).
    #[serde(rename = "type")]
    pub check_type: String,
    /// Hard or soft.
    pub level: Level,
    /// Weight.
    pub weight: f64,
    /// Whether it passed.
    pub pass: bool,
    /// Why it failed (absent when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The result of one case in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// An answer arrived.
    pub ok: bool,
    /// Every hard check passed (and an answer arrived).
    pub hard_pass: bool,
    /// Every soft check passed (and an answer arrived).
    pub soft_pass: bool,
    /// Weighted share of hard checks passed (1 with none; 0 without an answer).
    pub hard_score: f64,
    /// Weighted share of soft checks passed (1 with none; 0 without an answer).
    pub soft_score: f64,
    /// Types of the failed checks, in check order (`no_output` when no answer arrived).
    pub failed_checks: Vec<String>,
    /// The results, in check order (the engine's own checks last).
    pub checks: Vec<CheckResult>,
}

fn eval_builtin(kind: &Kind, o: &Output, text: &str) -> (bool, Option<String>) {
    let fail = |m: String| (false, Some(m));
    match kind {
        Kind::Contains(v) => {
            if text.contains(v.as_str()) {
                (true, None)
            } else {
                fail(format!("does not contain {v:?}"))
            }
        }
        Kind::IContains(v) => {
            if text.to_lowercase().contains(v.as_str()) {
                (true, None)
            } else {
                fail(format!("does not contain {v:?} (any case)"))
            }
        }
        Kind::NotContains(v) => {
            if text.contains(v.as_str()) {
                fail(format!("contains {v:?}"))
            } else {
                (true, None)
            }
        }
        Kind::Regex(r) => {
            if r.is_match(text) {
                (true, None)
            } else {
                fail(format!("does not match /{}/", r.as_str()))
            }
        }
        Kind::Equals(v) => {
            if text.trim() == v.trim() {
                (true, None)
            } else {
                fail("is not equal to the expected text".into())
            }
        }
        Kind::StartsWith(v) => {
            if text.trim_start().starts_with(v.as_str()) {
                (true, None)
            } else {
                fail(format!("does not start with {v:?}"))
            }
        }
        Kind::IsJson => match serde_json::from_str::<Value>(text.trim()) {
            Ok(_) => (true, None),
            Err(e) => fail(format!("not valid JSON: {e}")),
        },
        Kind::MinWords(n) => {
            let w = text.split_whitespace().count() as u64;
            if w >= *n {
                (true, None)
            } else {
                fail(format!("{w} words < {n}"))
            }
        }
        Kind::MaxWords(n) => {
            let w = text.split_whitespace().count() as u64;
            if w <= *n {
                (true, None)
            } else {
                fail(format!("{w} words > {n}"))
            }
        }
        Kind::MaxChars(n) => {
            let c = text.chars().count() as u64;
            if c <= *n {
                (true, None)
            } else {
                fail(format!("{c} characters > {n}"))
            }
        }
        Kind::LatencyMs(max) => {
            if o.latency_ms <= *max {
                (true, None)
            } else {
                fail(format!("latency {} ms > {max} ms", o.latency_ms))
            }
        }
        Kind::CostUsd(max) => {
            if o.cost_usd <= *max {
                (true, None)
            } else {
                fail(format!("cost ${} > ${max}", o.cost_usd))
            }
        }
        Kind::Refusal => {
            if is_refusal(text) {
                fail("the answer is a refusal".into())
            } else {
                (true, None)
            }
        }
        Kind::JsonSchema | Kind::Js | Kind::LlmJudge => {
            fail("not evaluated (external check without a result)".into())
        }
    }
}

/// One result of a check evaluated outside the core (`json-schema`, `js`): by check index.
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    /// Index of the check in the case's `assert`.
    pub index: usize,
    /// Whether it passed.
    pub pass: bool,
    /// Why it failed.
    pub message: Option<String>,
}

/// An extra check of the engine itself (its own parser, validators, …).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineCheck {
    /// Name of the check (reported in the message).
    pub name: String,
    /// Whether it passed.
    pub pass: bool,
    /// Hard or soft.
    pub level: Level,
    /// Weight (> 0).
    pub weight: f64,
    /// Why it failed.
    pub message: Option<String>,
}

fn weighted(results: &[&CheckResult]) -> f64 {
    let total: f64 = results.iter().map(|r| r.weight).sum();
    if total <= 0.0 {
        return 1.0;
    }
    results
        .iter()
        .filter(|r| r.pass)
        .map(|r| r.weight)
        .sum::<f64>()
        / total
}

impl Case {
    /// Judges `output` by every check of the case, with the results of the external checks and
    /// the engine's own checks. Without an answer every check fails (`no_output`).
    pub fn evaluate(
        &self,
        output: &Output,
        external: &[External],
        engine: &[EngineCheck],
    ) -> CaseResult {
        let mut checks = Vec::with_capacity(self.checks.len() + engine.len());
        for (i, c) in self.checks.iter().enumerate() {
            let (pass, message) = match &output.text {
                None => (
                    false,
                    Some(format!(
                        "no answer ({})",
                        output.error.as_deref().unwrap_or("none")
                    )),
                ),
                Some(text) if c.is_external() => match external.iter().find(|e| e.index == i) {
                    Some(e) => (e.pass, if e.pass { None } else { e.message.clone() }),
                    None => eval_builtin(&c.kind, output, text),
                },
                Some(text) => eval_builtin(&c.kind, output, text),
            };
            checks.push(CheckResult {
                check_type: c.check_type.clone(),
                level: c.level,
                weight: c.weight,
                pass,
                message,
            });
        }
        for e in engine {
            checks.push(CheckResult {
                check_type: "engine".into(),
                level: e.level,
                weight: e.weight,
                pass: e.pass,
                message: if e.pass {
                    None
                } else {
                    Some(format!(
                        "{}: {}",
                        e.name,
                        e.message.as_deref().unwrap_or("failed")
                    ))
                },
            });
        }
        let ok = output.text.is_some();
        let hard: Vec<&CheckResult> = checks.iter().filter(|c| c.level == Level::Hard).collect();
        let soft: Vec<&CheckResult> = checks.iter().filter(|c| c.level == Level::Soft).collect();
        let mut failed_checks: Vec<String> = Vec::new();
        if !ok {
            failed_checks.push("no_output".into());
        }
        failed_checks.extend(
            checks
                .iter()
                .filter(|c| !c.pass)
                .map(|c| c.check_type.clone()),
        );
        CaseResult {
            id: self.id.clone(),
            ok,
            hard_pass: ok && hard.iter().all(|c| c.pass),
            soft_pass: ok && soft.iter().all(|c| c.pass),
            hard_score: if ok { weighted(&hard) } else { 0.0 },
            soft_score: if ok { weighted(&soft) } else { 0.0 },
            failed_checks,
            checks,
        }
    }
}

/// The scores of one run from its case results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "CaseRunScore", deny_unknown_fields)
)]
pub struct RunScore {
    /// Mean hard score of the cases.
    pub hard_score: f64,
    /// Mean soft score of the cases.
    pub soft_score: f64,
    /// `hard_score ≥ hard_pass_score`.
    pub hard_pass: bool,
    /// `soft_score ≥ soft_pass_score`.
    pub soft_pass: bool,
}

/// Scores a run: the mean of its cases' scores against the set's pass scores. A run with no
/// case results scores 0.
pub fn score_run(results: &[CaseResult], hard_pass_score: f64, soft_pass_score: f64) -> RunScore {
    let n = results.len() as f64;
    let (hard_score, soft_score) = if results.is_empty() {
        (0.0, 0.0)
    } else {
        (
            results.iter().map(|r| r.hard_score).sum::<f64>() / n,
            results.iter().map(|r| r.soft_score).sum::<f64>() / n,
        )
    };
    RunScore {
        hard_score,
        soft_score,
        hard_pass: !results.is_empty() && hard_score >= hard_pass_score,
        soft_pass: !results.is_empty() && soft_score >= soft_pass_score,
    }
}

/// One case of one run, as per-case statistics need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRun {
    /// Case id.
    pub id: String,
    /// Whether the case passed its hard checks in that run.
    pub hard_pass: bool,
    /// Types of the checks that failed.
    pub failed_checks: Vec<String>,
}

/// Whether a case always, sometimes or never passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CaseStatus {
    /// Passed in every run.
    AlwaysPasses,
    /// Passed in some runs and failed in others.
    Flaky,
    /// Failed in every run.
    AlwaysFails,
}

/// Statistics of one case over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseStats {
    /// Case id.
    pub id: String,
    /// Runs in which the case was judged.
    pub runs: u64,
    /// Runs in which it passed its hard checks.
    pub passes: u64,
    /// `passes / runs`.
    pub pass_rate: f64,
    /// Wilson 95 % interval of the pass rate.
    pub pass_ci95: Interval,
    /// Unbiased pass^k for each asked k ≤ runs.
    pub pass_k: BTreeMap<u32, f64>,
    /// Always passes, flaky or always fails.
    pub status: CaseStatus,
    /// Failed checks counted by type, over all runs.
    pub failing_checks: BTreeMap<String, u64>,
}

/// A case under the `CASE_PASS_MIN` floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseViolation {
    /// `case:<id>`.
    pub metric: String,
    /// Always `case_pass_rate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "case_pass_rate")))]
    pub statistic: &'static str,
    /// The case's pass rate.
    pub value: f64,
    /// The floor.
    pub min: f64,
    /// Always `below_min`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "below_min")))]
    pub reason: &'static str,
}

/// Per-case statistics of a stress run (`PR_REPORT.json` `case_analysis`), returned by
/// `analyzeCases`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseReport {
    /// One entry per case, in the cases file's order.
    pub cases: Vec<CaseStats>,
    /// pass^k averaged over the cases (τ-bench), for each k every case has.
    pub pass_k_mean: BTreeMap<u32, f64>,
    /// Ids of the flaky cases.
    pub flaky: Vec<String>,
    /// Ids of the cases that never passed.
    pub always_failing: Vec<String>,
    /// The `CASE_PASS_MIN` floor applied, if any.
    pub case_pass_min: Option<f64>,
    /// Cases below the floor, in case order.
    pub violations: Vec<CaseViolation>,
    /// Failed checks counted by type, over all cases and runs.
    pub failing_checks: BTreeMap<String, u64>,
}

/// Per-case statistics over `runs` (each run's case results), cases in the order of `case_ids`
/// (ids met in the runs but not listed there follow in sorted order). Independent of the order
/// of the runs, so shards merge exactly.
pub fn analyze_cases(
    case_ids: &[String],
    runs: &[Vec<CaseRun>],
    pass_k: &[u32],
    case_pass_min: Option<f64>,
) -> Result<CaseReport> {
    if let Some(m) = case_pass_min {
        if !(0.0..=1.0).contains(&m) {
            return Err(Error::invalid(
                "CASE_PASS_MIN",
                format!("must be in [0, 1], got {m}"),
            ));
        }
    }
    let mut order: Vec<String> = case_ids.to_vec();
    let listed: BTreeSet<&String> = case_ids.iter().collect();
    let extra: BTreeSet<String> = runs
        .iter()
        .flatten()
        .filter(|c| !listed.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    order.extend(extra);
    let mut counts: BTreeMap<&str, (u64, u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for c in runs.iter().flatten() {
        let e = counts.entry(c.id.as_str()).or_default();
        e.0 += 1;
        if c.hard_pass {
            e.1 += 1;
        }
        for t in &c.failed_checks {
            *e.2.entry(t.clone()).or_default() += 1;
        }
    }
    let mut cases = Vec::with_capacity(order.len());
    let mut all_failing: BTreeMap<String, u64> = BTreeMap::new();
    for id in &order {
        let (n, passes, failing) = counts.get(id.as_str()).cloned().unwrap_or_default();
        for (t, k) in &failing {
            *all_failing.entry(t.clone()).or_default() += k;
        }
        let mut pk = BTreeMap::new();
        for &k in pass_k {
            if let Some(v) = pass_hat_k(passes, n, u64::from(k)) {
                pk.insert(k, v);
            }
        }
        let status = if n > 0 && passes == n {
            CaseStatus::AlwaysPasses
        } else if passes == 0 {
            CaseStatus::AlwaysFails
        } else {
            CaseStatus::Flaky
        };
        cases.push(CaseStats {
            id: id.clone(),
            runs: n,
            passes,
            pass_rate: if n == 0 {
                0.0
            } else {
                passes as f64 / n as f64
            },
            pass_ci95: wilson_interval(passes, n, Z95),
            pass_k: pk,
            status,
            failing_checks: failing,
        });
    }
    let mut pass_k_mean = BTreeMap::new();
    for &k in pass_k {
        let vals: Vec<f64> = cases
            .iter()
            .filter_map(|c| c.pass_k.get(&k).copied())
            .collect();
        if !vals.is_empty() && vals.len() == cases.len() {
            pass_k_mean.insert(k, vals.iter().sum::<f64>() / vals.len() as f64);
        }
    }
    let violations = match case_pass_min {
        None => Vec::new(),
        Some(min) => cases
            .iter()
            .filter(|c| c.pass_rate < min)
            .map(|c| CaseViolation {
                metric: format!("case:{}", c.id),
                statistic: "case_pass_rate",
                value: c.pass_rate,
                min,
                reason: "below_min",
            })
            .collect(),
    };
    Ok(CaseReport {
        flaky: cases
            .iter()
            .filter(|c| c.status == CaseStatus::Flaky)
            .map(|c| c.id.clone())
            .collect(),
        always_failing: cases
            .iter()
            .filter(|c| c.status == CaseStatus::AlwaysFails)
            .map(|c| c.id.clone())
            .collect(),
        cases,
        pass_k_mean,
        case_pass_min,
        violations,
        failing_checks: all_failing,
    })
}

impl CaseSet {
    /// Case `index` of the set, for a JS caller (`caseIndex`).
    pub fn case_js(&self, index: u32) -> Result<&Case> {
        self.cases
            .get(index as usize)
            .ok_or_else(|| Error::invalid("caseIndex", format!("no case {index}")))
    }

    /// [`score_run`] of case results a JS caller passes back (`results[i]`, read for their
    /// `hard_score` and `soft_score`, each a number) against the set's pass scores.
    pub fn score_run_js(&self, results: &[Value]) -> Result<RunScore> {
        let mut parsed = Vec::with_capacity(results.len());
        for (i, r) in results.iter().enumerate() {
            let num = |k: &str| -> Result<f64> {
                r.get(k)
                    .and_then(Value::as_f64)
                    .ok_or_else(|| Error::invalid(format!("results[{i}].{k}"), "must be a number"))
            };
            parsed.push(CaseResult {
                id: r.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
                ok: true,
                hard_pass: false,
                soft_pass: false,
                hard_score: num("hard_score")?,
                soft_score: num("soft_score")?,
                failed_checks: Vec::new(),
                checks: Vec::new(),
            });
        }
        Ok(score_run(
            &parsed,
            self.hard_pass_score,
            self.soft_pass_score,
        ))
    }
}

impl Output {
    /// An answer from a JS caller: `latency_ms` and `cost_usd` must be finite.
    pub fn from_js(
        text: Option<String>,
        error: Option<String>,
        latency_ms: f64,
        cost_usd: f64,
    ) -> Result<Self> {
        if !(latency_ms.is_finite() && cost_usd.is_finite()) {
            return Err(Error::invalid(
                "output",
                "latencyMs and costUsd must be finite numbers",
            ));
        }
        Ok(Self {
            text,
            error,
            latency_ms,
            cost_usd,
        })
    }
}

impl EngineCheck {
    /// Engine check `index` from a JS caller: `level` `hard` (default) or `soft`, `weight` > 0
    /// (default 1); errors name `engineChecks[index]`.
    pub fn from_js(
        index: usize,
        name: String,
        pass: bool,
        level: Option<&str>,
        weight: Option<f64>,
        message: Option<String>,
    ) -> Result<Self> {
        let level = match level {
            None | Some("hard") => Level::Hard,
            Some("soft") => Level::Soft,
            Some(other) => {
                return Err(Error::invalid(
                    format!("engineChecks[{index}].level"),
                    format!("must be hard or soft, got {other:?}"),
                ))
            }
        };
        let weight = weight.unwrap_or(1.0);
        if !(weight > 0.0 && weight.is_finite()) {
            return Err(Error::invalid(
                format!("engineChecks[{index}].weight"),
                format!("must be > 0, got {weight}"),
            ));
        }
        Ok(Self {
            name,
            pass,
            level,
            weight,
            message,
        })
    }
}

/// [`judge_verdict`] for a JS caller: the judge's `reply`, else the `error` of its call (else
/// "no reply"); `threshold` must be in [0, 1].
pub fn judge_verdict_js(
    reply: Option<&str>,
    error: Option<&str>,
    threshold: f64,
) -> Result<(bool, Option<String>, Option<f64>)> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::invalid(
            "threshold",
            format!("must be in [0, 1], got {threshold}"),
        ));
    }
    let input = match (reply, error) {
        (Some(r), _) => Ok(r),
        (None, Some(e)) => Err(e),
        (None, None) => Err("no reply"),
    };
    Ok(judge_verdict(input, threshold))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn js_arguments_are_checked() {
        let set = CaseSet::from_value(
            &json!({"hard_pass_score": 0.5, "cases": [{"id": "a", "prompt": "hi"}]}),
            None,
        )
        .unwrap();
        assert!(set.case_js(0).is_ok());
        assert_eq!(
            set.case_js(1).unwrap_err().to_string(),
            "invalid argument `caseIndex`: no case 1"
        );
        assert_eq!(
            Output::from_js(None, None, f64::NAN, 0.0)
                .unwrap_err()
                .to_string(),
            "invalid argument `output`: latencyMs and costUsd must be finite numbers"
        );
        let check = |level: Option<&str>, weight: Option<f64>| {
            EngineCheck::from_js(2, "parse".into(), true, level, weight, None)
        };
        let c = check(None, None).unwrap();
        assert_eq!((c.level, c.weight), (Level::Hard, 1.0));
        assert_eq!(check(Some("soft"), Some(2.0)).unwrap().level, Level::Soft);
        assert_eq!(
            check(Some("medium"), None).unwrap_err().to_string(),
            "invalid argument `engineChecks[2].level`: must be hard or soft, got \"medium\""
        );
        assert_eq!(
            check(None, Some(0.0)).unwrap_err().to_string(),
            "invalid argument `engineChecks[2].weight`: must be > 0, got 0"
        );
        let score = set
            .score_run_js(&[json!({"id": "a", "hard_score": 1.0, "soft_score": 0.5})])
            .unwrap();
        assert_eq!(
            score,
            RunScore {
                hard_score: 1.0,
                soft_score: 0.5,
                hard_pass: true,
                soft_pass: set.soft_pass_score <= 0.5,
            }
        );
        assert_eq!(
            set.score_run_js(&[json!({"hard_score": 1.0})])
                .unwrap_err()
                .to_string(),
            "invalid argument `results[0].soft_score`: must be a number"
        );
        assert_eq!(
            judge_verdict_js(None, None, 0.5).unwrap(),
            judge_verdict(Err("no reply"), 0.5)
        );
        assert_eq!(
            judge_verdict_js(Some("{\"score\": 0.9}"), Some("boom"), 0.5).unwrap(),
            judge_verdict(Ok("{\"score\": 0.9}"), 0.5)
        );
        assert_eq!(
            judge_verdict_js(None, Some("boom"), 1.5)
                .unwrap_err()
                .to_string(),
            "invalid argument `threshold`: must be in [0, 1], got 1.5"
        );
    }

    /// The file shape ([`CasesFile`], the schema's source) and the hand validation agree: every
    /// file the parser accepts reads as the struct, and the shape errors it names are the
    /// struct's too.
    #[test]
    fn the_cases_file_struct_reads_what_the_parser_accepts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in [
            "examples/scribe-engine/engine/cases.json",
            "tests/pr/fixtures/cases-five.json",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            assert!(CaseSet::from_json_str(&text, None).is_ok(), "{file}");
            let parsed: CasesFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(
                serde_json::to_value(&parsed).unwrap(),
                serde_json::from_str::<Value>(&text).unwrap(),
                "{file}: the struct keeps every key"
            );
        }
        let ok = json!({ "$schema": "x", "description": "d", "hard_pass_score": 0.5, "cases": [
            { "id": "a", "prompt": "hi {{x}}", "vars": { "x": 1 }, "model": "m", "max_output_tokens": 5,
              "assert": [{ "type": "contains", "value": "hi", "level": "soft", "weight": 2, "description": "d" },
                         { "type": "llm-judge", "rubric": "r", "threshold": 0.5, "model": "j" }] },
            { "id": "b", "messages": [{ "role": "user", "content": "q" }] }
        ] });
        assert!(set(ok.clone()).is_ok());
        assert!(serde_json::from_value::<CasesFile>(ok).is_ok());
        for bad in [
            json!({ "cases": [{ "id": "a", "prompt": "p" }], "extra": 1 }),
            json!([{ "id": "a", "prompt": "p", "extra": 1 }]),
            json!([{ "id": "a", "prompt": "p", "assert": [{ "type": "contains", "value": "x", "extra": 1 }] }]),
        ] {
            assert!(set(bad.clone()).is_err(), "{bad}");
            assert!(
                serde_json::from_value::<CasesFile>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_normalized_document_fills_in_defaults() {
        let s = set(
            json!([{ "id": "a", "prompt": "hi {{x}}", "vars": { "x": "you" },
            "assert": [{ "type": "is-json" }] }]),
        )
        .unwrap();
        assert_eq!(
            s.to_value(),
            json!({ "hard_pass_score": DEFAULT_HARD_PASS_SCORE, "soft_pass_score": DEFAULT_SOFT_PASS_SCORE,
                "cases": [{ "id": "a", "prompt": "hi you", "vars": { "x": "you" },
                    "assert": [{ "type": "is-json", "level": "hard", "weight": 1.0, "value": null }] }] })
        );
    }

    fn set(v: Value) -> Result<CaseSet> {
        CaseSet::from_value(&v, Some("cases.json"))
    }

    fn out(text: &str) -> Output {
        Output {
            text: Some(text.into()),
            ..Default::default()
        }
    }

    #[test]
    fn unknown_type_and_bad_regex_name_case_and_index() {
        let e = set(json!({"cases": [{"id": "a", "prompt": "p", "assert": [{"type": "contains", "value": "x"}, {"type": "nope"}]}]}))
            .err()
            .map(|e| (e.code(), e.to_string()));
        let (code, msg) = e.unwrap_or_default();
        assert_eq!(code, "ERR_OMEGA_CASES");
        assert!(msg.contains("case `a` assert[1]"), "{msg}");
        assert!(msg.contains("unknown check type `nope`"), "{msg}");
        let msg = set(json!([{"id": "b", "prompt": "p", "assert": [{"type": "regex", "value": "(unclosed"}]}]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("case `b` assert[0]") && msg.contains("bad regex"),
            "{msg}"
        );
    }

    #[test]
    fn llm_judge_settings_are_validated_and_normalized_into_value() {
        let s = set(json!([{"id": "a", "prompt": "p", "assert": [{"type": "llm-judge", "rubric": "polite", "model": "gpt-4o"}]}])).unwrap();
        let c = &s.cases[0].checks[0];
        assert!(c.is_external());
        assert_eq!(
            c.value,
            json!({"rubric": "polite", "threshold": 0.7, "model": "gpt-4o"})
        );
        for (bad, want) in [
            (json!({"type": "llm-judge"}), "needs a `rubric`"),
            (
                json!({"type": "llm-judge", "rubric": " "}),
                "non-empty string `rubric`",
            ),
            (
                json!({"type": "llm-judge", "rubric": "r", "threshold": 1.5}),
                "`threshold` must be a number in [0, 1]",
            ),
            (
                json!({"type": "llm-judge", "rubric": "r", "value": "x"}),
                "not `value`",
            ),
            (
                json!({"type": "contains", "value": "x", "rubric": "r"}),
                "unknown key `rubric`",
            ),
        ] {
            let msg = set(json!([{"id": "j", "prompt": "p", "assert": [bad]}]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.contains("case `j` assert[0]") && msg.contains(want),
                "{msg}"
            );
        }
    }

    #[test]
    fn judge_replies_are_read_as_a_score_in_0_1() {
        assert_eq!(parse_judge_reply("0.8"), Ok((0.8, None)));
        assert_eq!(
            parse_judge_reply("```json\n{\"score\": 0.25, \"reason\": \"rude\"}\n```"),
            Ok((0.25, Some("rude".into())))
        );
        assert_eq!(
            parse_judge_reply("Sure: {\"score\": 1} done"),
            Ok((1.0, None))
        );
        assert!(parse_judge_reply("lol").is_err());
        assert!(parse_judge_reply("{\"score\": 7}").is_err());
        assert!(parse_judge_reply("{\"grade\": 0.5}").is_err());
        assert_eq!(
            judge_verdict(Ok("{\"score\": 0.9}"), 0.7),
            (true, None, Some(0.9))
        );
        let (pass, msg, score) =
            judge_verdict(Ok("{\"score\": 0.4, \"reason\": \"too short\"}"), 0.7);
        assert!(!pass);
        assert_eq!(score, Some(0.4));
        assert_eq!(
            msg.as_deref(),
            Some("judge scored 0.4 < threshold 0.7: too short")
        );
        let (pass, msg, _) = judge_verdict(Err("ERR_OMEGA_PROVIDER: down"), 0.7);
        assert!(!pass && msg.unwrap_or_default().contains("judge call failed"));
        assert!(judge_prompt("be kind", "Say hi", "hello").contains("<answer>\nhello\n</answer>"));
    }

    #[test]
    fn renders_vars_and_rejects_missing_ones() {
        let s = set(
            json!([{"id": "a", "prompt": "Hi {{ name }} #{{n}}", "vars": {"name": "Ann", "n": 3}}]),
        );
        assert_eq!(
            s.map(|s| s.cases[0].prompt.clone()).unwrap_or_default(),
            "Hi Ann #3"
        );
        let msg = set(json!([{"id": "a", "prompt": "Hi {{who}}"}]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("`vars` has no `who`"), "{msg}");
    }

    #[test]
    fn checks_judge_the_answer() {
        let s = set(json!([{"id": "a", "prompt": "p", "assert": [
            {"type": "contains", "value": "scene"},
            {"type": "icontains", "value": "SCENE"},
            {"type": "not-contains", "value": "lol"},
            {"type": "regex", "value": "^The"},
            {"type": "min-words", "value": 3},
            {"type": "max-chars", "value": 100, "level": "soft", "weight": 2},
            {"type": "refusal"}
        ]}]))
        .unwrap();
        let case = &s.cases[0];
        let good = case.evaluate(&out("The scene opens at dawn."), &[], &[]);
        assert!(good.hard_pass && good.soft_pass, "{good:?}");
        assert_eq!(good.hard_score, 1.0);
        let bad = case.evaluate(&out("lol"), &[], &[]);
        assert!(!bad.hard_pass);
        assert_eq!(
            bad.failed_checks,
            vec![
                "contains",
                "icontains",
                "not-contains",
                "regex",
                "min-words"
            ]
        );
        let refused = case.evaluate(
            &out("I'm sorry, but I can't help with that scene."),
            &[],
            &[],
        );
        assert!(refused.failed_checks.contains(&"refusal".to_string()));
        let none = case.evaluate(
            &Output {
                text: None,
                error: Some("ERR_X".into()),
                ..Default::default()
            },
            &[],
            &[],
        );
        assert!(!none.ok && !none.hard_pass && none.hard_score == 0.0);
        assert_eq!(none.failed_checks[0], "no_output");
    }

    #[test]
    fn json_checks_and_external_results() {
        let s = set(json!([{"id": "j", "prompt": "p", "assert": [
            {"type": "is-json"},
            {"type": "json-schema", "value": {"type": "object"}}
        ]}]))
        .unwrap();
        let c = &s.cases[0];
        let r = c.evaluate(
            &out("{\"a\": 1}"),
            &[External {
                index: 1,
                pass: true,
                message: None,
            }],
            &[],
        );
        assert!(r.hard_pass);
        let r = c.evaluate(
            &out("{\"a\": 1"),
            &[External {
                index: 1,
                pass: false,
                message: Some("x".into()),
            }],
            &[],
        );
        assert_eq!(r.failed_checks, vec!["is-json", "json-schema"]);
    }

    #[test]
    fn run_score_and_case_stats() {
        let runs: Vec<Vec<CaseRun>> = (0..10)
            .map(|r| {
                vec![
                    CaseRun {
                        id: "a".into(),
                        hard_pass: true,
                        failed_checks: vec![],
                    },
                    CaseRun {
                        id: "b".into(),
                        hard_pass: r % 2 == 0,
                        failed_checks: if r % 2 == 0 {
                            vec![]
                        } else {
                            vec!["regex".into()]
                        },
                    },
                    CaseRun {
                        id: "c".into(),
                        hard_pass: false,
                        failed_checks: vec!["is-json".into()],
                    },
                ]
            })
            .collect();
        let ids = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let rep = analyze_cases(&ids, &runs, &[1, 2], Some(0.5)).unwrap();
        assert_eq!(rep.cases[0].status, CaseStatus::AlwaysPasses);
        assert_eq!(rep.flaky, vec!["b"]);
        assert_eq!(rep.always_failing, vec!["c"]);
        assert_eq!(rep.violations.len(), 1);
        assert_eq!(rep.violations[0].metric, "case:c");
        assert_eq!(rep.failing_checks.get("regex"), Some(&5));
        // Order of runs does not matter (shards merge exactly).
        let mut rev = runs.clone();
        rev.reverse();
        assert_eq!(analyze_cases(&ids, &rev, &[1, 2], Some(0.5)).unwrap(), rep);
        assert!((rep.pass_k_mean[&1] - 0.5).abs() < 1e-12);
    }
}
