//! Commands answered in Rust. Each builds its whole output first ([`Output`]) and only then
//! writes it, so a condition it cannot reproduce turns into delegation before any byte is out.

pub mod clean;
pub mod help;
pub mod stack_list;
pub mod status;
pub mod version;

use std::io::Write;

use crate::cache::Cache;
use crate::terminal::{Terminal, Unsupported};

/// Bytes for fd 1 and fd 2 and the exit code. Written stdout first, then stderr: every command
/// here prints on one stream, or its stdout part comes first (Click's help on old releases).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

impl Output {
    /// The buffer for the given fd (1 or 2).
    pub fn fd(&mut self, fd: usize) -> &mut Vec<u8> {
        if fd == 1 {
            &mut self.stdout
        } else {
            &mut self.stderr
        }
    }

    pub fn write(self) -> i32 {
        // Errors (a closed pipe) are ignored, as Python's exit-time flush does not change rc here.
        if !self.stdout.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&self.stdout).and_then(|_| out.flush());
        }
        if !self.stderr.is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&self.stderr).and_then(|_| err.flush());
        }
        self.code
    }
}

/// What every Rust command gets.
pub struct Context<'a> {
    pub cache: &'a Cache,
    pub terminal: &'a Terminal,
    /// `zenml/VERSION` of the installed package.
    pub version: &'a str,
}

pub type CommandResult = Result<Output, Unsupported>;
