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
    let result = (|| -> anyhow::Result<i32> {
        let env = zenml_launcher::app::resolve_env()?;
        let interpreter = zenml_launcher::python::start(&env)?;
        let described = zenml_launcher::python::describe(&env, args.json, false);
        let flushed = interpreter.finalize();
        described.map_err(|e| anyhow::anyhow!("describing the interpreter failed: {e}"))?;
        Ok(if flushed == 0 { 0 } else { 120 })
    })();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            zenml_launcher::error::report(&err);
            ExitCode::from(1)
        }
    }
}
