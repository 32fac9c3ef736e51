//! The embedded start-up alone, for the benchmark: resolve the env → start CPython the way the
//! launcher does (`zenml_launcher::python::start`) → `import sys` → finalize. Prints nothing on
//! success; a refused env gives the launcher's one-line error and exit code 1.
//!
//!     VIRTUAL_ENV=target/envs/zenml-0.98.0 cargo run --release --example embed_startup

use std::process::ExitCode;

use pyo3::prelude::*;
use zenml_launcher::env::{self, DiscoveryInput};

fn main() -> ExitCode {
    let result = (|| -> anyhow::Result<i32> {
        let env = env::resolve(&DiscoveryInput::from_process())?;
        let interpreter = zenml_launcher::python::start(&env)?;
        let imported = Python::attach(|py| py.import("sys").map(drop));
        let flushed = interpreter.finalize();
        imported.map_err(|e| anyhow::anyhow!("import sys failed: {e}"))?;
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
