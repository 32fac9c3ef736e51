//! `ZENML_DEBUG_PYTHON=1`: the start-up diagnosis on stderr, each line prefixed so it cannot be
//! mistaken for ZenML output.

use std::io::Write;

use crate::vars;

pub const PREFIX: &str = "[zenml-launcher debug]";

pub fn enabled() -> bool {
    vars::is_one(vars::ZENML_DEBUG_PYTHON)
}

/// Prints one diagnosis line when enabled.
pub fn line(text: impl AsRef<str>) {
    if enabled() {
        let _ = writeln!(std::io::stderr(), "{PREFIX} {}", text.as_ref());
    }
}
