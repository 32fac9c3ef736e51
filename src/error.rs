//! Errors users see: one line saying what is wrong and where, plus a hint (uv style).

use std::fmt;

/// A problem the user can fix. Displayed as `<message> (hint: <hint>)` on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub message: String,
    pub hint: String,
}

impl UserError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the parts contain.
        let clean = |s: &str| s.replace(['\n', '\r'], " ");
        write!(f, "{} (hint: {})", clean(&self.message), clean(&self.hint))
    }
}

impl std::error::Error for UserError {}

/// The prefix of every line the launcher itself prints on stderr.
pub const PREFIX: &str = "zenml-launcher";

/// Prints an error chain on one line of stderr: `zenml-launcher: error: …`.
pub fn report(err: &anyhow::Error) {
    let mut line = String::new();
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            line.push_str(": ");
        }
        line.push_str(&cause.to_string().replace(['\n', '\r'], " "));
    }
    eprintln!("{PREFIX}: error: {line}");
}
