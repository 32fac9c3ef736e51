//! `ZENML_DEBUG_PYTHON=1`: the start-up diagnosis on stderr, each line prefixed so it cannot be
//! mistaken for ZenML output.

use std::io::Write;

use crate::vars;

pub const PREFIX: &str = "[zenml-launcher debug]";

pub fn enabled() -> bool {
    vars::is_one(vars::ZENML_DEBUG_PYTHON)
}

/// Prints one diagnosis line when enabled, in one `write` (a pipe keeps it whole): a served
/// command's worker writes to the same stderr at the same time.
pub fn line(text: impl AsRef<str>) {
    if enabled() {
        let line = format!("{PREFIX} {}\n", text.as_ref());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
