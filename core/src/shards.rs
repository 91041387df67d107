//! Which shard results belong to one stress run: one rule for `stress merge` of shard folders and
//! for `derive` over shard journals. Every shard of the run, once each, all run with the same
//! options (and, when known, the same calibration).

use serde_json::Value;

use crate::error::{Error, Result};

/// The report fields every shard of one run must agree on.
pub const SHARED_FIELDS: [&str; 9] = [
    "seed",
    "provider",
    "scorer",
    "chaos_profile",
    "scenes_per_run",
    "model",
    "planned_runs",
    "engine",
    "cases_file",
];

/// One shard to merge: its report meta (`seed`, …, `shard: { index, total }`) and, when the
/// source records it, the digest of the calibration it ran with.
#[derive(Debug, Clone, Copy)]
pub struct ShardPart<'a> {
    /// The meta fields of the shard's report (or journal header).
    pub meta: &'a Value,
    /// `sha256:…` of its calibration, when known.
    pub calibration_digest: Option<&'a str>,
}

fn merge_error(message: String) -> Error {
    Error::Merge { message }
}

fn shard_of(meta: &Value) -> Option<(u64, u64)> {
    let s = meta.get("shard")?;
    Some((s.get("index")?.as_u64()?, s.get("total")?.as_u64()?))
}

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "undefined".to_owned(), Value::to_string)
}

/// Checks that `parts` are every shard of one run, once each (`ERR_OMEGA_MERGE` naming what does
/// not fit); returns the shard count. `source` names what the meta was read from (`PR_REPORT.json`,
/// `journal header`).
pub fn check_shards(parts: &[ShardPart<'_>], source: &str) -> Result<u64> {
    let first = parts
        .first()
        .ok_or_else(|| merge_error("no shard to merge".into()))?;
    let total = shard_of(first.meta).map(|(_, n)| n);
    let mut seen = Vec::with_capacity(parts.len());
    for p in parts {
        let Some((index, n)) = shard_of(p.meta) else {
            return Err(merge_error(format!(
                "a merged input is not a shard (its {source} has \"shard\": null)"
            )));
        };
        for key in SHARED_FIELDS {
            let (mine, theirs) = (p.meta.get(key), first.meta.get(key));
            if mine != theirs {
                return Err(merge_error(format!(
                    "shards disagree on {key}: {} vs {}",
                    shown(mine),
                    shown(theirs)
                )));
            }
        }
        if p.calibration_digest != first.calibration_digest {
            return Err(merge_error(
                "shards were run with different calibrations".into(),
            ));
        }
        if Some(n) != total {
            return Err(merge_error(format!(
                "shards disagree on the shard count: {n} vs {}",
                total.unwrap_or(0)
            )));
        }
        seen.push(index);
    }
    let total = total.unwrap_or(0);
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    let complete = unique.len() == seen.len()
        && seen.len() as u64 == total
        && unique.iter().all(|&i| (1..=total).contains(&i));
    if !complete {
        let got: Vec<String> = seen.iter().map(u64::to_string).collect();
        return Err(merge_error(format!(
            "expected shards 1..{total} once each, got {}",
            got.join(", ")
        )));
    }
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(index: u64, total: u64, seed: u64) -> Value {
        json!({ "seed": seed, "provider": "simulated", "scorer": "simulated", "chaos_profile": null,
            "scenes_per_run": 3, "model": "m", "planned_runs": 10, "engine": null, "cases_file": null,
            "shard": { "index": index, "total": total } })
    }

    fn parts(metas: &[Value]) -> Vec<ShardPart<'_>> {
        metas
            .iter()
            .map(|m| ShardPart {
                meta: m,
                calibration_digest: Some("sha256:a"),
            })
            .collect()
    }

    fn message(r: Result<u64>) -> String {
        match r {
            Err(Error::Merge { message }) => message,
            other => panic!("expected a merge error, got {other:?}"),
        }
    }

    #[test]
    fn every_shard_once_is_one_run() {
        let m = [meta(2, 3, 1), meta(1, 3, 1), meta(3, 3, 1)];
        assert_eq!(check_shards(&parts(&m), "PR_REPORT.json").unwrap(), 3);
    }

    #[test]
    fn what_does_not_fit_is_named() {
        let m = [meta(1, 2, 1), meta(2, 2, 7)];
        assert_eq!(
            message(check_shards(&parts(&m), "x")),
            "shards disagree on seed: 7 vs 1"
        );
        let m = [meta(1, 2, 1), meta(1, 2, 1)];
        assert_eq!(
            message(check_shards(&parts(&m), "x")),
            "expected shards 1..2 once each, got 1, 1"
        );
        let m = [meta(1, 2, 1)];
        assert!(message(check_shards(&parts(&m), "x")).starts_with("expected shards 1..2"));
        let m = [meta(1, 2, 1), meta(2, 3, 1)];
        assert!(message(check_shards(&parts(&m), "x"))
            .starts_with("shards disagree on the shard count"));
        let whole = json!({ "seed": 1, "shard": null });
        let m = [whole];
        assert_eq!(
            message(check_shards(&parts(&m), "PR_REPORT.json")),
            "a merged input is not a shard (its PR_REPORT.json has \"shard\": null)"
        );
        let (a, b) = (meta(1, 2, 1), meta(2, 2, 1));
        let mixed = [
            ShardPart {
                meta: &a,
                calibration_digest: Some("sha256:a"),
            },
            ShardPart {
                meta: &b,
                calibration_digest: Some("sha256:b"),
            },
        ];
        assert_eq!(
            message(check_shards(&mixed, "x")),
            "shards were run with different calibrations"
        );
        assert_eq!(message(check_shards(&[], "x")), "no shard to merge");
    }
}
