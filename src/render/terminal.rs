//! The terminal facts rich and Click look at (docs/zenml-cli-behaviour.md §1.2, §1.3), captured
//! once so the decisions below are pure functions of them.

use std::ffi::OsString;

use crate::declined::Declined;
use crate::vars;

/// What the process sees: TTY-ness and window size of fds 0, 1, 2, and the variables.
#[derive(Debug, Clone, Default)]
pub struct Terminal {
    pub isatty: [bool; 3],
    /// `os.get_terminal_size(fd)` for fds 0..2: `None` where it fails (not a terminal).
    pub size: [Option<(u16, u16)>; 3],
    pub columns: Option<OsString>,
    pub lines: Option<OsString>,
    pub term: Option<OsString>,
    pub colorterm: Option<OsString>,
    pub no_color: Option<OsString>,
    pub force_color: Option<OsString>,
    pub tty_compatible: Option<OsString>,
}

/// rich's colour systems (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSystem {
    Standard,
    EightBit,
    TrueColor,
}

/// How a rich `Console` writing to one stream renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RichMode {
    /// `None`: not a terminal (or a dumb one): no escape codes at all.
    pub color: Option<ColorSystem>,
    /// NO_COLOR non-empty: colours dropped, bold/dim kept.
    pub no_color: bool,
    pub width: usize,
}

impl Terminal {
    /// Reads the real process state.
    pub fn probe() -> Self {
        let mut t = Terminal {
            columns: vars::os(vars::COLUMNS),
            lines: vars::os(vars::LINES),
            term: vars::os(vars::TERM),
            colorterm: vars::os(vars::COLORTERM),
            no_color: vars::os(vars::NO_COLOR),
            force_color: vars::os(vars::FORCE_COLOR),
            tty_compatible: vars::os(vars::TTY_COMPATIBLE),
            ..Default::default()
        };
        for fd in 0..3 {
            t.isatty[fd] = crate::os::isatty(fd as i32);
            t.size[fd] = crate::os::window_size(fd as i32);
        }
        t
    }

    /// Python's `str.isdigit()` on an env value, restricted to ASCII: `Some(n)` for digits only.
    fn digits(value: &Option<OsString>) -> Result<Option<usize>, Declined> {
        let Some(v) = value else { return Ok(None) };
        let Some(s) = v.to_str() else {
            return Err(Declined::new("non-UTF-8 COLUMNS/LINES"));
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(Some)
                .map_err(|_| Declined::new("huge COLUMNS/LINES"));
        }
        // rich ignores it, but Python's int() (Click, shutil) may not: not modelled.
        Err(Declined::new("COLUMNS/LINES not a plain number"))
    }

    fn text(value: &Option<OsString>) -> Option<&str> {
        value.as_ref().and_then(|v| v.to_str())
    }

    /// rich `Console.is_terminal` for a console writing to `fd`.
    pub fn rich_is_terminal(&self, fd: usize) -> bool {
        match Self::text(&self.tty_compatible) {
            Some("0") => return false,
            Some("1") => return true,
            _ => {}
        }
        if let Some(force) = &self.force_color {
            return !force.is_empty();
        }
        self.isatty[fd]
    }

    /// rich's console for output on `fd` (`sys.stdout` of the CLI).
    pub fn rich(&self, fd: usize) -> Result<RichMode, Declined> {
        let columns = Self::digits(&self.columns)?;
        let lines = Self::digits(&self.lines).unwrap_or(None);
        if columns == Some(0) {
            return Err(Declined::new("COLUMNS=0"));
        }
        let term_raw = Self::text(&self.term).unwrap_or("");
        if self.term.is_some() && self.term.as_ref().and_then(|t| t.to_str()).is_none() {
            return Err(Declined::new("non-UTF-8 TERM"));
        }
        let is_terminal = self.rich_is_terminal(fd);
        let is_dumb = is_terminal && matches!(term_raw.to_lowercase().as_str(), "dumb" | "unknown");
        let width = match (columns, lines) {
            (Some(c), Some(_)) => c,
            _ if is_dumb => 80,
            _ => {
                let probed = self.size.iter().flatten().next().map(|&(c, _)| c as usize);
                match columns.or(probed) {
                    Some(w) if w > 0 => w,
                    _ => 80,
                }
            }
        };
        let color = if !is_terminal || is_dumb {
            None
        } else {
            let colorterm = Self::text(&self.colorterm)
                .unwrap_or("")
                .trim()
                .to_lowercase();
            if colorterm == "truecolor" || colorterm == "24bit" {
                Some(ColorSystem::TrueColor)
            } else {
                let term = term_raw.trim().to_lowercase();
                let colors = term.rsplit_once('-').map_or(term.as_str(), |(_, c)| c);
                Some(match colors {
                    "kitty" | "256color" => ColorSystem::EightBit,
                    _ => ColorSystem::Standard,
                })
            }
        };
        let no_color = self.no_color.as_ref().is_some_and(|v| !v.is_empty());
        Ok(RichMode {
            color,
            no_color,
            width,
        })
    }

    /// `shutil.get_terminal_size().columns` (Click's help width input): COLUMNS, else fd 1, else 80.
    pub fn shutil_columns(&self) -> Result<usize, Declined> {
        match Self::digits(&self.columns)? {
            Some(c) if c > 0 => Ok(c),
            Some(_) => Err(Declined::new("COLUMNS=0")),
            None => Ok(match self.size[1] {
                Some((c, _)) if c > 0 => c as usize,
                _ => 80,
            }),
        }
    }

    /// Click's help formatter width: `max(min(C, 80) - 2, 50)`.
    pub fn click_width(&self) -> Result<usize, Declined> {
        Ok((self.shutil_columns()?.min(80)).saturating_sub(2).max(50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tty(cols: u16) -> Terminal {
        Terminal {
            isatty: [true; 3],
            size: [Some((cols, 40)); 3],
            ..Default::default()
        }
    }

    fn set(v: &str) -> Option<OsString> {
        Some(v.into())
    }

    #[test]
    fn pipe_has_no_colour_and_uses_stdin_size() {
        let mut t = tty(120);
        t.isatty[2] = false;
        t.size[2] = None;
        let mode = t.rich(2).unwrap();
        assert_eq!(
            mode,
            RichMode {
                color: None,
                no_color: false,
                width: 120
            }
        );
    }

    #[test]
    fn colour_systems() {
        let mut t = tty(80);
        assert_eq!(t.rich(2).unwrap().color, Some(ColorSystem::Standard));
        t.term = set("xterm-256color");
        assert_eq!(t.rich(2).unwrap().color, Some(ColorSystem::EightBit));
        t.colorterm = set("truecolor");
        assert_eq!(t.rich(2).unwrap().color, Some(ColorSystem::TrueColor));
        t.colorterm = None;
        t.term = set("dumb");
        assert_eq!(
            t.rich(2).unwrap(),
            RichMode {
                color: None,
                no_color: false,
                width: 80
            }
        );
    }

    #[test]
    fn force_color_and_tty_compatible() {
        let mut t = Terminal {
            force_color: set("1"),
            ..Default::default()
        };
        assert!(t.rich_is_terminal(2));
        t.force_color = set("");
        assert!(!tty(80).rich_is_terminal(2) || t.force_color.is_some());
        assert!(!t.rich_is_terminal(2));
        t.tty_compatible = set("1");
        assert!(t.rich_is_terminal(2));
    }

    #[test]
    fn dumb_terminal_width_is_80_unless_columns_and_lines() {
        let mut t = tty(200);
        t.term = set("dumb");
        t.columns = set("120");
        assert_eq!(t.rich(2).unwrap().width, 80);
        t.lines = set("30");
        assert_eq!(t.rich(2).unwrap().width, 120);
    }

    #[test]
    fn click_width_rule() {
        let mut t = tty(200);
        assert_eq!(t.click_width().unwrap(), 78);
        t.columns = set("60");
        assert_eq!(t.click_width().unwrap(), 58);
        t.columns = set("40");
        assert_eq!(t.click_width().unwrap(), 50);
        t.columns = set(" 80");
        assert!(t.click_width().is_err());
        t.columns = set("0");
        assert!(t.rich(2).is_err());
        let pipe = Terminal::default();
        assert_eq!(pipe.click_width().unwrap(), 78);
        assert_eq!(pipe.rich(2).unwrap().width, 80);
    }
}
