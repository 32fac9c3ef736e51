//! "Not answered here": the one type every part of the launcher returns when it will not answer
//! a call itself (a state, option, terminal or text it does not reproduce exactly, a server that
//! is not running, an interpreter it cannot start). Nothing has been printed when it is returned;
//! the caller goes on to the next tier, and `ZENML_DEBUG_PYTHON=1` prints the reason.

use std::borrow::Cow;
use std::fmt;

/// Why a call is not answered here. Built from a `&'static str` or a `String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined(Cow<'static, str>);

impl Declined {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Declined(reason.into())
    }

    /// The reason, as the debug line prints it.
    pub fn reason(&self) -> &str {
        &self.0
    }

    /// The same refusal with what was being done in front: `"<what>: <reason>"`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Declined(format!("{what}: {}", self.0).into())
    }
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&'static str> for Declined {
    fn from(reason: &'static str) -> Self {
        Declined(Cow::Borrowed(reason))
    }
}

impl From<String> for Declined {
    fn from(reason: String) -> Self {
        Declined(Cow::Owned(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_as_given() {
        assert_eq!(Declined::from("a tty").reason(), "a tty");
        assert_eq!(Declined::new(format!("{} rows", 3)).to_string(), "3 rows");
        assert_eq!(
            Declined::from("gone").context("config").reason(),
            "config: gone"
        );
    }
}
