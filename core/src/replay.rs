//! Comparing a replayed report with the packed one (`omega-pr proofpack replay`): the first JSON
//! path at which two documents differ, in document order, and which runs of a `PR_REPORT.json`
//! changed. Pure functions over text; the replay itself (re-deriving the reports) is done by the
//! caller.
//!
//! ```
//! use omega_pr_core::replay::first_difference;
//! let a = r#"{"verdict": "PASS", "runs": [{"run_index": 0, "hard_score": 0.81}]}"#;
//! let b = r#"{"verdict": "PASS", "runs": [{"run_index": 0, "hard_score": 0.2}]}"#;
//! assert_eq!(first_difference(a, a), None);
//! assert_eq!(first_difference(a, b).as_deref(), Some("$.runs[0].hard_score"));
//! ```

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON value whose objects keep their keys in document order (the workspace's `serde_json`
/// sorts them), so that "the first difference" is the first one a reader meets.
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Number(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Ordered, E> {
                Number::from_f64(v)
                    .map(Ordered::Number)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
                Ok(Ordered::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `path` extended by an object key: `.key` for identifier-like keys, `["…"]` otherwise.
fn key_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", crate::proofpack::names::quoted(key))
    }
}

fn walk(path: &str, a: &Ordered, b: &Ordered) -> Option<String> {
    match (a, b) {
        (Ordered::Array(x), Ordered::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y.iter()).enumerate() {
                if let Some(p) = walk(&format!("{path}[{i}]"), u, v) {
                    return Some(p);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}[{}]", x.len().min(y.len())))
        }
        (Ordered::Object(x), Ordered::Object(y)) => {
            for i in 0..x.len().max(y.len()) {
                match (x.get(i), y.get(i)) {
                    (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                        if let Some(p) = walk(&key_path(path, ka), va, vb) {
                            return Some(p);
                        }
                    }
                    (Some((k, _)), _) | (None, Some((k, _))) => return Some(key_path(path, k)),
                    (None, None) => break,
                }
            }
            None
        }
        _ => (a != b).then(|| path.to_owned()),
    }
}

/// The first JSON path (`$.runs[17].hard_score`, document order) at which `replayed` differs
/// from `recorded`, or `None` when the two texts are byte-identical. Two documents with the same
/// values but other bytes (spacing, key spelling of numbers) give `$ (formatting)`; a text that
/// is not JSON gives `$ (not JSON)`.
pub fn first_difference(recorded: &str, replayed: &str) -> Option<String> {
    if recorded == replayed {
        return None;
    }
    let (Ok(a), Ok(b)) = (
        serde_json::from_str::<Ordered>(recorded),
        serde_json::from_str::<Ordered>(replayed),
    ) else {
        return Some("$ (not JSON)".to_owned());
    };
    Some(walk("$", &a, &b).unwrap_or_else(|| "$ (formatting)".to_owned()))
}

/// A field of one run that differs between the packed and the replayed `PR_REPORT.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunChange {
    /// `run_index` of the run.
    pub run_index: u64,
    /// The field (`hard_score`, `hard_pass`, …; `run` when the run is in only one report,
    /// `cases` / `metrics` / … for a nested difference).
    pub field: String,
    /// The packed value, as JSON text (`absent` when missing).
    pub recorded: String,
    /// The replayed value, as JSON text (`absent` when missing).
    pub replayed: String,
}

/// Fields reported first, in this order, when they differ; any other differing field follows.
const RUN_FIELDS: [&str; 9] = [
    "hard_score",
    "soft_score",
    "hard_pass",
    "soft_pass",
    "error",
    "failed_scenes",
    "attempts",
    "cost_usd",
    "latency_ms",
];

fn runs_by_index(doc: &Value) -> Vec<(u64, &RunMap)> {
    let mut out: Vec<_> = doc
        .get("runs")
        .and_then(Value::as_array)
        .map(|runs| {
            runs.iter()
                .filter_map(|r| {
                    let o = r.as_object()?;
                    Some((o.get("run_index")?.as_u64()?, o))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|(i, _)| *i);
    out
}

type RunMap = serde_json::Map<String, Value>;

fn find<'a>(list: &[(u64, &'a RunMap)], i: u64) -> Option<&'a RunMap> {
    list.iter().find(|(j, _)| *j == i).map(|(_, o)| *o)
}

/// A value as JSON text, cut to 80 characters (`absent` when missing).
fn shown(v: Option<&Value>) -> String {
    let text = v.map_or_else(|| "absent".to_owned(), Value::to_string);
    if text.chars().count() <= 80 {
        return text;
    }
    let cut: String = text.chars().take(79).collect();
    format!("{cut}…")
}

/// The per-case differences of a run's `cases` (matched by `id`): `cases[<id>].<field>`.
fn case_changes(run_index: u64, x: &[Value], y: &[Value], out: &mut Vec<RunChange>) {
    let id_of = |c: &Value| c.get("id").and_then(Value::as_str).map(str::to_owned);
    let mut ids: Vec<String> = Vec::new();
    for c in x.iter().chain(y.iter()) {
        if let Some(id) = id_of(c) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let find = |list: &[Value], id: &str| {
        list.iter()
            .find(|c| id_of(c).as_deref() == Some(id))
            .and_then(Value::as_object)
            .cloned()
    };
    for id in ids {
        match (find(x, &id), find(y, &id)) {
            (Some(a), Some(b)) => {
                let mut keys: Vec<&String> = a.keys().collect();
                for k in b.keys() {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                for k in keys {
                    if a.get(k) != b.get(k) {
                        out.push(RunChange {
                            run_index,
                            field: format!("cases[{id}].{k}"),
                            recorded: shown(a.get(k)),
                            replayed: shown(b.get(k)),
                        });
                    }
                }
            }
            (a, b) => out.push(RunChange {
                run_index,
                field: format!("cases[{id}]"),
                recorded: if a.is_some() { "present" } else { "absent" }.to_owned(),
                replayed: if b.is_some() { "present" } else { "absent" }.to_owned(),
            }),
        }
    }
}

/// The runs of two `PR_REPORT.json` texts that differ, by `run_index`: one [`RunChange`] per
/// differing field (the scores and pass flags first). Errors when either text is not JSON.
pub fn changed_runs(recorded: &str, replayed: &str) -> crate::Result<Vec<RunChange>> {
    let parse = |name: &str, text: &str| {
        serde_json::from_str::<Value>(text)
            .map_err(|e| crate::Error::invalid(name, format!("not JSON: {e}")))
    };
    let (a, b) = (parse("recorded", recorded)?, parse("replayed", replayed)?);
    let (ra, rb) = (runs_by_index(&a), runs_by_index(&b));
    let mut indices: Vec<u64> = ra.iter().chain(rb.iter()).map(|(i, _)| *i).collect();
    indices.sort_unstable();
    indices.dedup();
    let mut out = Vec::new();
    for i in indices {
        match (find(&ra, i), find(&rb, i)) {
            (Some(x), Some(y)) => {
                let mut keys: Vec<&str> = RUN_FIELDS.to_vec();
                for k in x.keys().chain(y.keys()) {
                    if !keys.contains(&k.as_str()) {
                        keys.push(k);
                    }
                }
                for k in keys {
                    if x.get(k) == y.get(k) {
                        continue;
                    }
                    if let (Some(Value::Array(a)), Some(Value::Array(b)), "cases") =
                        (x.get(k), y.get(k), k)
                    {
                        case_changes(i, a, b, &mut out);
                    } else {
                        out.push(RunChange {
                            run_index: i,
                            field: k.to_owned(),
                            recorded: shown(x.get(k)),
                            replayed: shown(y.get(k)),
                        });
                    }
                }
            }
            (x, y) => out.push(RunChange {
                run_index: i,
                field: "run".to_owned(),
                recorded: if x.is_some() { "present" } else { "absent" }.to_owned(),
                replayed: if y.is_some() { "present" } else { "absent" }.to_owned(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn first_difference_follows_document_order() {
        let a = r#"{"z": 1, "a": {"k": [1, 2, 3]}, "b": 2}"#;
        assert_eq!(first_difference(a, a), None);
        // `z` comes first in the document although `a` sorts first.
        let b = r#"{"z": 2, "a": {"k": [1, 2, 4]}, "b": 2}"#;
        assert_eq!(first_difference(a, b).as_deref(), Some("$.z"));
        let c = r#"{"z": 1, "a": {"k": [1, 2, 4]}, "b": 3}"#;
        assert_eq!(first_difference(a, c).as_deref(), Some("$.a.k[2]"));
        let d = r#"{"z": 1, "a": {"k": [1, 2]}, "b": 2}"#;
        assert_eq!(first_difference(a, d).as_deref(), Some("$.a.k[2]"));
        let e = r#"{"z": 1, "a": {"k": [1, 2, 3]}, "b": 2, "new key": 0}"#;
        assert_eq!(first_difference(a, e).as_deref(), Some(r#"$["new key"]"#));
        let f = "{\"z\":1,\"a\":{\"k\":[1,2,3]},\"b\":2}";
        assert_eq!(first_difference(a, f).as_deref(), Some("$ (formatting)"));
        assert_eq!(first_difference(a, "{").as_deref(), Some("$ (not JSON)"));
        // Reordered keys are a difference in bytes: the first position where the keys differ.
        let g = r#"{"a": {"k": [1, 2, 3]}, "z": 1, "b": 2}"#;
        assert_eq!(first_difference(a, g).as_deref(), Some("$.z"));
    }

    #[test]
    fn changed_runs_names_the_runs_and_fields() {
        let a = r#"{"runs": [{"run_index": 0, "hard_score": 0.9, "hard_pass": true},
                             {"run_index": 17, "hard_score": 0.81, "hard_pass": true,
                              "cases": [{"id": "a", "hard_pass": true}, {"id": "b", "ok": true}]}]}"#;
        let b = r#"{"runs": [{"run_index": 0, "hard_score": 0.9, "hard_pass": true},
                             {"run_index": 17, "hard_score": 0.2, "hard_pass": false,
                              "cases": [{"id": "a", "hard_pass": false}, {"id": "c", "ok": true}]},
                             {"run_index": 18, "hard_score": 0.5}]}"#;
        let c = changed_runs(a, b).unwrap();
        let lines: Vec<String> = c
            .iter()
            .map(|x| format!("{} {} {} {}", x.run_index, x.field, x.recorded, x.replayed))
            .collect();
        assert_eq!(
            lines,
            [
                "17 hard_score 0.81 0.2",
                "17 hard_pass true false",
                "17 cases[a].hard_pass true false",
                "17 cases[b] present absent",
                "17 cases[c] absent present",
                "18 run absent present"
            ]
        );
        assert!(changed_runs(a, a).unwrap().is_empty());
        assert_eq!(
            changed_runs("x", a).unwrap_err().code(),
            "ERR_OMEGA_INVALID_ARGUMENT"
        );
    }
}
