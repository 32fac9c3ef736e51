//! The embedded start-up alone, for the benchmark: resolve the env → start CPython the way the
//! launcher does (`zenml_launcher::python::startup::start`) → `import sys` → finalize. Prints nothing on
//! success; a refused env gives the launcher's one-line error and exit code 1.
//!
//!     VIRTUAL_ENV=target/envs/zenml-0.98.0 cargo run --release --example embed_startup

use std::process::ExitCode;

use pyo3::prelude::*;

fn main() -> ExitCode {
    zenml_launcher::python::startup::run_embedded(|_env| {
        Python::attach(|py| py.import("sys").map(drop))
            .map_err(|e| anyhow::anyhow!("import sys failed: {e}"))
    })
}
