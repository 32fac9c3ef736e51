//! Diagnosis: resolves and starts Python exactly as the launcher does, then prints the resolved env
//! and `sys.prefix`, `sys.base_prefix`, `sys.exec_prefix`, `sys.base_exec_prefix`,
//! `sys.executable` and `sys.path` (`--json`: one JSON object).
//!
//!     cargo run --example print_sys_path -- [--json]

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Print the env the zenml launcher resolves and the sys.* of its embedded Python")]
struct Args {
    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    zenml_launcher::python::startup::run_embedded(|env| {
        zenml_launcher::python::startup::describe(env, args.json, false)
            .map_err(|e| anyhow::anyhow!("describing the interpreter failed: {e}"))
    })
}
