//! Writes the JSON Schemas the core owns to `schemas/<name>.schema.json` (see
//! `omega_pr_core::schema`). Run from the repository root as `bash scripts/gen-schemas.sh`, or
//! `cargo run -p omega-pr-core --features schema --example gen-schemas -- <out dir>`.

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("schemas"));
    for doc in omega_pr_core::schema::documents() {
        let file = out.join(format!("{}.schema.json", doc.name));
        if let Err(e) = std::fs::write(&file, doc.to_json_string()) {
            eprintln!("gen-schemas: cannot write {}: {e}", file.display());
            return std::process::ExitCode::FAILURE;
        }
        println!("{} <- {}", file.display(), doc.rust_type);
    }
    std::process::ExitCode::SUCCESS
}
