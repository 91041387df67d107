//! `derive`: the three documents of a stress run — `PR_REPORT.json`, `run-cost.json`,
//! `chaos-log.json` — as one pure function of the calibration, the run journal(s)
//! (`journal.jsonl`, docs/JOURNAL.md) and the report time. The live run, a resumed run, merged
//! shards and a replay all get their documents here, so they agree byte for byte.
//!
//! Independent of line order: runs sort by run index, calls by call index, the money is
//! [`RunCost::from_ledger`] (order-free), the chaos log sorts its entries, delivered faults sort
//! by (call index, attempt), the statistics and verdict are [`build_pr_report`]'s. The one
//! order that shows is that of several journals' `end` lines (their rate-limit figures are added
//! in the order given, rounded after each sum), as it always was.
//!
//! The journal's lines are the structs of [`crate::journal`] (re-exported here), the source of
//! the journal's schemas.
//!
//! Also [`merge_shards`]: the documents of one run from its shards' documents (`stress merge` of
//! report folders without journals).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::{LedgerEntry, RunCost};
use crate::calibration::Calibration;
use crate::chaos::{ChaosEngine, ChaosLog};
use crate::error::{Error, Result};
pub use crate::journal::{
    ChaosEntryInput, DeliveredFaultRecord, JournalCall, JournalChaos, JournalDigests,
    JournalEndLine, JournalHeader, JournalLateLine, JournalLine, JournalRunLine,
};
use crate::pr_report::{
    build_pr_report, js_sorted, merge_rate_limit_reports, sorted_keys, CallCounts, JudgeCalls,
    ModelsSeen, OrderedMap, PrReport, RateLimitReport, ReportInputs, RunRecord, StressMeta,
};
use crate::shards::{check_shards, ShardPart};

/// One journal: its header and its lines (any order).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JournalInput {
    /// The header.
    pub header: JournalHeader,
    /// The lines.
    pub lines: Vec<JournalLine>,
}

/// `chaos-log.json`: the core's log, then the delivered outcome faults (profiles with
/// `outcome_faults`) as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedChaosLog {
    /// The log.
    #[serde(flatten)]
    pub log: ChaosLog,
    /// Delivered outcome faults in (call index, attempt) order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_faults: Option<Vec<DeliveredFaultRecord>>,
}

/// The three documents of a stress run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// `PR_REPORT.json`.
    pub report: PrReport,
    /// `run-cost.json` (keys sorted, as it has always been written).
    #[serde(serialize_with = "sorted_keys")]
    pub run_cost: RunCost,
    /// `chaos-log.json`, with a chaos profile.
    pub chaos_log: Option<DerivedChaosLog>,
}

fn merge_error(message: impl Into<String>) -> Error {
    Error::Merge {
        message: message.into(),
    }
}

/// Provider call counts of calls sorted by call index (keys sorted; samples: the message of
/// the lowest call index per code).
pub fn call_counts(calls: &[&JournalCall], requested_model: &str) -> CallCounts {
    let mut by_error: Vec<(String, u64)> = Vec::new();
    let mut samples: Vec<(String, (u64, String))> = Vec::new();
    let mut returned: Vec<String> = Vec::new();
    let (mut failed, mut retries) = (0u64, 0u64);
    for c in calls {
        retries += c.retries;
        if c.ok {
            if let Some(m) = c.model.as_deref().filter(|m| !m.is_empty()) {
                if !returned.iter().any(|r| r == m) {
                    returned.push(m.to_owned());
                }
            }
            continue;
        }
        failed += 1;
        let code = c.error_code.as_deref().unwrap_or("ERR_OMEGA_PROVIDER");
        match by_error.iter_mut().find(|(k, _)| k == code) {
            Some(e) => e.1 += 1,
            None => by_error.push((code.to_owned(), 1)),
        }
        let message = c.error_message.clone().unwrap_or_default();
        match samples.iter_mut().find(|(k, _)| k == code) {
            Some(s) => {
                if c.call_index < s.1 .0 {
                    s.1 = (c.call_index, message);
                }
            }
            None => samples.push((code.to_owned(), (c.call_index, message))),
        }
    }
    returned.sort_by(|a, b| crate::pr_report::js_cmp(a, b));
    CallCounts {
        total: calls.len() as u64,
        failed,
        retries,
        by_error: js_sorted(by_error),
        error_samples: Some(js_sorted(
            samples.into_iter().map(|(k, (_, m))| (k, m)).collect(),
        )),
        models: Some(ModelsSeen {
            requested: requested_model.to_owned(),
            returned,
        }),
        judge_calls: None,
    }
}

/// The meta of the report and the shard count the budget was split by, after the checks that
/// the journals belong together.
fn combined_meta(journals: &[JournalInput], merge: bool) -> Result<(StressMeta, u64)> {
    let first = journals
        .first()
        .ok_or_else(|| merge_error("no journal to derive from"))?;
    if journals.len() == 1 && !merge {
        let shards = first.header.meta.shard.map_or(1, |s| s.total);
        return Ok((first.header.meta.clone(), shards));
    }
    let metas = journals
        .iter()
        .map(|j| serde_json::to_value(&j.header.meta))
        .collect::<std::result::Result<Vec<Value>, _>>()
        .map_err(|e| Error::invalid("meta", e.to_string()))?;
    let parts: Vec<ShardPart<'_>> = metas
        .iter()
        .zip(journals)
        .map(|(meta, j)| ShardPart {
            meta,
            calibration_digest: Some(j.header.digests.calibration.as_str()),
        })
        .collect();
    check_shards(&parts, "journal header")?;
    let mut meta = first.header.meta.clone();
    meta.shard = None;
    Ok((meta, 1))
}

/// The chaos log of `entries` under `meta`'s profile and seed (entries sorted by the core).
fn chaos_log(
    calibration: &Calibration,
    profile: &str,
    seed: u64,
    entries: &[&ChaosEntryInput],
) -> Result<ChaosLog> {
    let named = (profile != crate::chaos::DEFAULT_PROFILE_NAME).then_some(profile);
    let engine = ChaosEngine::from_calibration(calibration, named, Some(seed))?;
    ChaosLog::from_calls(&engine, entries.iter().copied())
}

/// Delivered faults in (call index, attempt) order (stable).
fn sort_delivered(mut list: Vec<DeliveredFaultRecord>) -> Vec<DeliveredFaultRecord> {
    list.sort_by_key(|d| (d.call_index, d.attempt));
    list
}

/// Derives `PR_REPORT.json`, `run-cost.json` and `chaos-log.json` from the journals of one
/// stress run: one journal (a whole run or one shard), or the journals of all its shards (then
/// the documents are those of the whole run, `shard: null`). Each run counts once (a run line
/// repeated is `ERR_OMEGA_MERGE`). With `merge` (`stress merge`), the journals must be every
/// shard of one run, once each, even when there is one.
pub fn derive(
    calibration: &Calibration,
    journals: &[JournalInput],
    generated: &str,
    merge: bool,
) -> Result<Derived> {
    let (meta, shards) = combined_meta(journals, merge)?;
    let mut run_lines: Vec<&JournalRunLine> = Vec::new();
    let mut calls: Vec<&JournalCall> = Vec::new();
    let mut ledger: Vec<LedgerEntry> = Vec::new();
    let mut chaos_entries: Vec<&ChaosEntryInput> = Vec::new();
    let mut delivered: Vec<DeliveredFaultRecord> = Vec::new();
    let mut cache_corruption = 0u64;
    let mut judge: Option<JudgeCalls> = None;
    let mut rate_limits: Vec<&RateLimitReport> = Vec::new();
    for j in journals {
        for line in &j.lines {
            let (line_calls, line_ledger, line_chaos) = match line {
                JournalLine::End(end) => {
                    cache_corruption += end.cache_corruption;
                    rate_limits.extend(end.rate_limit.as_ref());
                    continue;
                }
                JournalLine::Run(run) => {
                    if run_lines.iter().any(|r| r.run_index == run.run_index) {
                        return Err(merge_error(format!(
                            "run {} is recorded twice",
                            run.run_index
                        )));
                    }
                    run_lines.push(run);
                    if let Some(jc) = run.judge_calls {
                        let acc = judge.get_or_insert(JudgeCalls {
                            total: 0,
                            failed: 0,
                        });
                        acc.total += jc.total;
                        acc.failed += jc.failed;
                    }
                    (&run.calls, &run.ledger, &run.chaos)
                }
                JournalLine::Late(late) => (&late.calls, &late.ledger, &late.chaos),
            };
            calls.extend(line_calls);
            ledger.extend(line_ledger.iter().cloned());
            if let Some(c) = line_chaos {
                chaos_entries.extend(&c.entries);
                delivered.extend(c.delivered.iter().cloned());
            }
        }
    }
    run_lines.sort_by_key(|r| r.run_index);
    let runs: Vec<RunRecord> = run_lines.iter().map(|r| r.record.clone()).collect();
    calls.sort_by_key(|c| c.call_index);
    let settings = calibration.budget.split(shards)?;
    let run_cost = RunCost::from_ledger(settings, &ledger);
    let mut counts = call_counts(&calls, &meta.model);
    counts.judge_calls = judge;
    let rate_limit = merge_rate_limit_reports(rate_limits);
    let profile = meta.chaos_profile.clone();
    let seed = meta.seed;
    let report = build_pr_report(
        ReportInputs {
            meta,
            runs,
            run_cost: run_cost.clone(),
            calls: counts,
            cache_corruption,
            generated: generated.to_owned(),
            rate_limit,
        },
        calibration,
    )?;
    let chaos_log = match profile {
        None => None,
        Some(profile) => {
            let log = chaos_log(calibration, &profile, seed, &chaos_entries)?;
            let has_outcome = profile != crate::chaos::DEFAULT_PROFILE_NAME
                && calibration.outcome_faults.contains_key(&profile);
            Some(DerivedChaosLog {
                log,
                delivered_faults: has_outcome.then(|| sort_delivered(delivered)),
            })
        }
    };
    Ok(Derived {
        report,
        run_cost,
        chaos_log,
    })
}

/// What `merge_shards` reads of a shard's `PR_REPORT.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShardReport {
    /// The meta fields.
    #[serde(flatten)]
    pub meta: StressMeta,
    /// Provider calls.
    pub calls: CallCounts,
    /// Corrupted answers-cache entries.
    pub cache_corruption: u64,
    /// Rate limits at work.
    #[serde(default)]
    pub rate_limit: Option<RateLimitReport>,
    /// The runs.
    pub runs: Vec<RunRecord>,
}

/// One entry of a shard's `chaos-log.json` (what `merge_shards` reads of it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShardChaosEntry {
    /// Index of the call.
    pub call_index: u64,
    /// When.
    pub timestamp: String,
    /// Attempt.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// Scene.
    #[serde(default)]
    pub scene_id: Option<String>,
    /// Outcome.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Error code.
    #[serde(default)]
    pub error_code: Option<String>,
}

/// What `merge_shards` reads of a shard's `chaos-log.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShardChaosLog {
    /// Seed.
    pub seed: u64,
    /// Profile.
    pub profile: String,
    /// Entries.
    pub entries: Vec<ShardChaosEntry>,
    /// Delivered faults.
    #[serde(default)]
    pub delivered_faults: Option<Vec<DeliveredFaultRecord>>,
}

/// What one shard directory holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShardParts {
    /// `PR_REPORT.json`.
    pub report: ShardReport,
    /// `run-cost.json`.
    pub run_cost: RunCost,
    /// `chaos-log.json`, if any.
    #[serde(default)]
    pub chaos_log: Option<ShardChaosLog>,
}

/// Merges shard documents into those of one machine: runs in run order, costs added up
/// ([`RunCost::merge`]), chaos logs rebuilt from all entries. `ERR_OMEGA_MERGE` when the shards
/// do not belong to one run.
pub fn merge_shards(
    parts: &[ShardParts],
    calibration: &Calibration,
    generated: &str,
) -> Result<Derived> {
    let first = parts
        .first()
        .ok_or_else(|| merge_error("no shard to merge"))?;
    let metas = parts
        .iter()
        .map(|p| serde_json::to_value(&p.report.meta))
        .collect::<std::result::Result<Vec<Value>, _>>()
        .map_err(|e| Error::invalid("meta", e.to_string()))?;
    let shard_parts: Vec<ShardPart<'_>> = metas
        .iter()
        .map(|meta| ShardPart {
            meta,
            calibration_digest: None,
        })
        .collect();
    check_shards(&shard_parts, "PR_REPORT.json")?;
    let mut runs: Vec<RunRecord> = parts
        .iter()
        .flat_map(|p| p.report.runs.iter().cloned())
        .collect();
    runs.sort_by_key(|r| r.run_index);
    let costs: Vec<RunCost> = parts.iter().map(|p| p.run_cost.clone()).collect();
    let run_cost = RunCost::merge(&costs, Some(calibration.budget.max_per_run_micro_usd))?;
    let mut by_error: Vec<(String, u64)> = Vec::new();
    for p in parts {
        for (code, n) in p.report.calls.by_error.iter() {
            match by_error.iter_mut().find(|(k, _)| k == code) {
                Some(e) => e.1 += n,
                None => by_error.push((code.clone(), *n)),
            }
        }
    }
    // Shards in index order: the first shard's sample of a code wins.
    let mut ordered: Vec<&ShardParts> = parts.iter().collect();
    ordered.sort_by_key(|p| p.report.meta.shard.map_or(0, |s| s.index));
    let mut samples: Vec<(String, String)> = Vec::new();
    let mut returned: Vec<String> = Vec::new();
    for p in &ordered {
        for (code, m) in p
            .report
            .calls
            .error_samples
            .iter()
            .flat_map(OrderedMap::iter)
        {
            if !samples.iter().any(|(k, _)| k == code) {
                samples.push((code.clone(), m.clone()));
            }
        }
        for m in p.report.calls.models.iter().flat_map(|m| &m.returned) {
            if !returned.contains(m) {
                returned.push(m.clone());
            }
        }
    }
    returned.sort_by(|a, b| crate::pr_report::js_cmp(a, b));
    let fc = &first.report.calls;
    let judged = parts.iter().any(|p| p.report.calls.judge_calls.is_some());
    let calls = CallCounts {
        total: parts.iter().map(|p| p.report.calls.total).sum(),
        failed: parts.iter().map(|p| p.report.calls.failed).sum(),
        retries: parts.iter().map(|p| p.report.calls.retries).sum(),
        by_error: js_sorted(by_error),
        error_samples: fc.error_samples.as_ref().map(|_| js_sorted(samples)),
        models: fc.models.as_ref().map(|m| ModelsSeen {
            requested: m.requested.clone(),
            returned,
        }),
        judge_calls: judged.then(|| JudgeCalls {
            total: parts
                .iter()
                .filter_map(|p| p.report.calls.judge_calls)
                .map(|j| j.total)
                .sum(),
            failed: parts
                .iter()
                .filter_map(|p| p.report.calls.judge_calls)
                .map(|j| j.failed)
                .sum(),
        }),
    };
    let mut meta = first.report.meta.clone();
    meta.shard = None;
    let report = build_pr_report(
        ReportInputs {
            meta,
            runs,
            run_cost: run_cost.clone(),
            calls,
            cache_corruption: parts.iter().map(|p| p.report.cache_corruption).sum(),
            generated: generated.to_owned(),
            rate_limit: merge_rate_limit_reports(
                parts.iter().filter_map(|p| p.report.rate_limit.as_ref()),
            ),
        },
        calibration,
    )?;
    let chaos_log = match &first.chaos_log {
        None => None,
        Some(fl) => {
            // The shards' entries as the chaos log inputs (their error messages are not kept).
            let entries: Vec<ChaosEntryInput> = parts
                .iter()
                .flat_map(|p| p.chaos_log.iter().flat_map(|c| &c.entries))
                .map(|e| ChaosEntryInput {
                    call_index: e.call_index,
                    attempt: e.attempt,
                    scene_id: e.scene_id.clone(),
                    timestamp: e.timestamp.clone(),
                    outcome: e.outcome.clone(),
                    error_code: e.error_code.clone(),
                    error_message: None,
                })
                .collect();
            let refs: Vec<&ChaosEntryInput> = entries.iter().collect();
            let log = chaos_log(calibration, &fl.profile, fl.seed, &refs)?;
            let lists: Vec<&Vec<DeliveredFaultRecord>> = parts
                .iter()
                .filter_map(|p| p.chaos_log.as_ref()?.delivered_faults.as_ref())
                .collect();
            let delivered_faults = (!lists.is_empty())
                .then(|| sort_delivered(lists.into_iter().flatten().cloned().collect()));
            Some(DerivedChaosLog {
                log,
                delivered_faults,
            })
        }
    };
    Ok(Derived {
        report,
        run_cost,
        chaos_log,
    })
}

/// One request of the stress-documents entry point (JSON `{"derive": {…}}`, …): what the
/// bindings forward as one function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StressRequest {
    /// [`derive`](fn@derive) of journals.
    Derive {
        /// The journals.
        journals: Vec<JournalInput>,
        /// Report time.
        generated: String,
        /// `stress merge`: every shard once, even when there is one.
        #[serde(default)]
        merge: bool,
    },
    /// [`build_pr_report`].
    Report(Box<ReportInputs>),
    /// [`merge_shards`] of shard documents.
    MergeShards {
        /// The shards' documents.
        parts: Vec<ShardParts>,
        /// Report time.
        generated: String,
    },
    /// [`merge_rate_limit_reports`] of shards' `rate_limit` blocks (null: none), in order.
    MergeRateLimits {
        /// The blocks.
        parts: Vec<Option<RateLimitReport>>,
    },
    /// [`call_counts`] of calls (any order).
    CallCounts {
        /// The calls.
        calls: Vec<JournalCall>,
        /// The model asked for.
        requested_model: String,
    },
}

/// Answers `request` as JSON text: `{report, run_cost, chaos_log}` ([`Derived`]) for `derive`
/// and `merge_shards`, the report for `report`, the merged block (or null) for
/// `merge_rate_limits`, the counts for `call_counts`.
pub fn answer(calibration: &Calibration, request: StressRequest) -> Result<String> {
    let text = match request {
        StressRequest::Derive {
            journals,
            generated,
            merge,
        } => serde_json::to_string(&derive(calibration, &journals, &generated, merge)?),
        StressRequest::Report(inputs) => {
            serde_json::to_string(&build_pr_report(*inputs, calibration)?)
        }
        StressRequest::MergeShards { parts, generated } => {
            serde_json::to_string(&merge_shards(&parts, calibration, &generated)?)
        }
        StressRequest::MergeRateLimits { parts } => {
            serde_json::to_string(&merge_rate_limit_reports(parts.iter().flatten()))
        }
        StressRequest::CallCounts {
            calls,
            requested_model,
        } => {
            let mut refs: Vec<&JournalCall> = calls.iter().collect();
            refs.sort_by_key(|c| c.call_index);
            serde_json::to_string(&call_counts(&refs, &requested_model))
        }
    };
    text.map_err(|e| Error::invalid("stress documents", e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use crate::calibration::default_calibration;
    use proptest::prelude::*;
    use serde_json::json;

    fn meta(runs: u64, shard: Option<(u64, u64)>) -> Value {
        json!({
            "provider": "simulated", "scorer": "simulated", "seed": 7, "chaos_profile": "heavy",
            "concurrency": 4, "scenes_per_run": 3, "model": "simulated-scribe",
            "planned_runs": runs,
            "shard": shard.map(|(index, total)| json!({"index": index, "total": total})),
            "hard_pass_score": 0.7, "engine": null, "cases_file": null
        })
    }

    fn run_line(r: u64) -> Value {
        let score = ((r * 37) % 100) as f64 / 100.0;
        let calls: Vec<Value> = (0..3)
            .map(|k| {
                let i = r * 3 + k;
                if (r + k).is_multiple_of(4) {
                    json!({"call_index": i, "scene_id": format!("S{k}"), "attempts": 2, "retries": 1,
                           "ok": false, "error_code": if k == 0 { "ERR_OMEGA_PROVIDER_TIMEOUT" } else { "ERR_OMEGA_EMPTY_RESPONSE" },
                           "error_message": format!("call {i} failed"), "cost_micro_usd": 0, "latency_ms": 0})
                } else {
                    json!({"call_index": i, "scene_id": format!("S{k}"), "attempts": 1, "retries": 0,
                           "ok": true, "model": if r.is_multiple_of(2) { "simulated-scribe" } else { "simulated-scribe-2" },
                           "text": "x", "cost_micro_usd": 100 + i, "latency_ms": 10})
                }
            })
            .collect();
        let ledger: Vec<Value> = (0..3)
            .map(|k| json!({"kind": "charged", "call_id": format!("call-{}#1", r * 3 + k),
                            "scene_id": format!("S{k}"), "model": "simulated-scribe", "cost_micro_usd": 100 + r * 3 + k}))
            .collect();
        let entries: Vec<Value> = (0..3)
            .map(|k| {
                json!({"callIndex": r * 3 + k, "attempt": 1, "sceneId": format!("S{k}"),
                            "timestamp": "2026-01-01T00:00:00.000Z", "outcome": "passed"})
            })
            .collect();
        json!({
            "type": "run", "run_index": r,
            "record": {"run_index": r, "hard_score": score, "soft_score": score, "hard_pass": score >= 0.5,
                       "soft_pass": score >= 0.5, "failed_scenes": 0, "attempts": 3, "latency_ms": 30,
                       "cost_usd": 0.0003, "metrics": {"latency_ms": 30, "cost_usd": 0.0003, "zeta": 1, "alpha": 2}},
            "calls": calls, "outputs": {}, "ledger": ledger,
            "chaos": {"entries": entries, "delivered": []}
        })
    }

    fn journal(runs: &[u64], planned: u64, shard: Option<(u64, u64)>, order: &[usize]) -> Value {
        let mut lines: Vec<Value> = runs.iter().map(|r| run_line(*r)).collect();
        lines.push(json!({"type": "end", "cache_corruption": 0}));
        let lines: Vec<Value> = order
            .iter()
            .filter(|i| **i < lines.len())
            .map(|i| lines[*i].clone())
            .collect();
        json!({
            "header": {"type": "header", "schema": "OMEGA-PR-JOURNAL-1", "omega_pr_version": "0.1.0",
                       "meta": meta(planned, shard), "mode": "scenes", "user_scorer": false,
                       "digests": {"calibration": "sha256:00"}},
            "lines": lines
        })
    }

    /// The request as JSON text (what the bindings get), with the runs' metrics in the order a
    /// run writes them (a `Value` fixture sorts its keys).
    fn derived(journals: Vec<Value>, merge: bool) -> String {
        let cal = default_calibration().unwrap();
        let text = json!({
            "derive": {"journals": journals, "generated": "2026-01-01T00:00:00Z", "merge": merge}
        })
        .to_string()
        .replace(
            r#""metrics":{"alpha":2,"cost_usd":0.0003,"latency_ms":30,"zeta":1}"#,
            r#""metrics":{"latency_ms":30,"cost_usd":0.0003,"zeta":1,"alpha":2}"#,
        );
        let request: StressRequest = serde_json::from_str(&text).unwrap();
        answer(&cal, request).unwrap()
    }

    fn identity(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn shuffled_lines_give_identical_bytes() {
        let runs: Vec<u64> = (0..8).collect();
        let base = derived(vec![journal(&runs, 8, None, &identity(9))], false);
        let mut rev = identity(9);
        rev.reverse();
        assert_eq!(derived(vec![journal(&runs, 8, None, &rev)], false), base);
        let rotated: Vec<usize> = (0..9).map(|i| (i + 4) % 9).collect();
        assert_eq!(
            derived(vec![journal(&runs, 8, None, &rotated)], false),
            base
        );
        // The report keeps the document's key order and the run's metrics order.
        assert!(
            // (f64 text: JS parses `30.0` back to 30 and writes `30`, as before.)
            base.contains(
                r#""metrics":{"latency_ms":30.0,"cost_usd":0.0003,"zeta":1.0,"alpha":2.0}"#
            )
        );
        assert!(base.contains(r#""engine":null,"cases_file":null,"calls":{"total":24,"#));
        assert!(base.contains(r#""run_cost":{"budget_verdict":"PASS","#));
    }

    #[test]
    fn a_run_recorded_twice_is_a_merge_error() {
        let cal = default_calibration().unwrap();
        let j = journal(&[0, 1, 1], 2, None, &identity(4));
        let request: StressRequest = serde_json::from_value(json!({
            "derive": {"journals": [j], "generated": "g"}
        }))
        .unwrap();
        let err = answer(&cal, request).unwrap_err();
        assert_eq!(err.code(), "ERR_OMEGA_MERGE");
        assert!(err.to_string().contains("run 1 is recorded twice"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// derive(journal) = derive(any split of it into shards) = derive(its lines in any order).
        #[test]
        fn derive_is_independent_of_order_and_shards(
            n in 1u64..10,
            k in 1u64..4,
            perm in Just(()).prop_perturb(|_, mut rng| {
                let mut v: Vec<usize> = (0..11).collect();
                for i in (1..v.len()).rev() {
                    let j = (rng.next_u32() as usize) % (i + 1);
                    v.swap(i, j);
                }
                v
            }),
        ) {
            let runs: Vec<u64> = (0..n).collect();
            let whole = derived(vec![journal(&runs, n, None, &identity(runs.len() + 1))], false);
            let shuffled = derived(vec![journal(&runs, n, None, &perm)], false);
            prop_assert_eq!(&shuffled, &whole);
            let k = k.min(n);
            let mut shards: Vec<Value> = (1..=k)
                .map(|i| {
                    let mine: Vec<u64> = runs.iter().copied().filter(|r| r % k == i - 1).collect();
                    journal(&mine, n, Some((i, k)), &perm)
                })
                .collect();
            shards.reverse();
            prop_assert_eq!(derived(shards, true), whole);
        }
    }
}
