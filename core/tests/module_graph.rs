//! The core's modules form no cycle: each module's non-test code (`use crate::…`, `crate::…::`,
//! `super::…` paths) may only reach modules that do not reach it back. Parsed from the sources,
//! so a new cycle fails here before it reaches review.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a broken source tree may panic

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name (`chaos`, `proofpack::manifest`) of a source file under `src/`.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    if rel == "lib" {
        return String::new();
    }
    rel.replace('/', "::")
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((module_of(&rel), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The module (among `modules`) a path like `a::b::Item` names: its longest module prefix.
fn resolve(path: &[&str], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        // Non-test code only: everything before the first `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let parent: Vec<&str> = module.split("::").collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for line in code.lines() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for (anchor, base) in [("crate::", &[][..]), ("super::", parent)] {
                for (i, _) in line.match_indices(anchor) {
                    if i > 0 && line.as_bytes()[i - 1].is_ascii_alphanumeric() {
                        continue;
                    }
                    let rest = &line[i + anchor.len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(rest.len());
                    let mut path: Vec<&str> = base.to_vec();
                    path.extend(rest[..end].split("::").filter(|s| !s.is_empty()));
                    if let Some(target) = resolve(&path, &modules) {
                        if &target != module && !module.starts_with(&format!("{target}::")) {
                            edges.entry(module.clone()).or_default().insert(target);
                        }
                    }
                }
            }
        }
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn core_modules_have_no_import_cycle() {
    let edges = graph();
    // The graph is real: the known dependencies are seen.
    assert!(edges["calibration"].contains("faults"), "{edges:?}");
    assert!(edges["chaos"].contains("calibration"), "{edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("module cycle in core: {}", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut edges = graph();
    edges
        .entry("faults".into())
        .or_default()
        .insert("chaos".into());
    assert!(find_cycle(&edges).is_some());
}

#[test]
fn hashing_has_one_home() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    for (module, text) in files {
        if module != "proofpack::hash" {
            assert!(
                !text.contains("fn sha256_hex"),
                "{module} defines sha256_hex"
            );
            assert!(!text.contains("fn to_hex"), "{module} defines to_hex");
        }
    }
}
