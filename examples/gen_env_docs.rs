//! Writes docs/environment.md from src/vars.rs's doc comments (tests/docs.rs checks it is current).
//!
//!     cargo run --example gen_env_docs

#[path = "../tests/support/env_docs.rs"]
mod env_docs;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let result = std::fs::read_to_string(root.join("src/vars.rs"))
        .map_err(|e| format!("cannot read src/vars.rs: {e}"))
        .and_then(|source| env_docs::markdown(&source))
        .and_then(|page| {
            let path = root.join("docs/environment.md");
            std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
    match result {
        Ok(()) => {
            eprintln!("wrote docs/environment.md");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("gen_env_docs: error: {why} (hint: fix the doc comments in src/vars.rs)");
            ExitCode::FAILURE
        }
    }
}
