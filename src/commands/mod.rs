//! Commands answered in Rust. Each builds its whole output first ([`Output`]) and only then
//! writes it, so a condition it cannot reproduce turns into delegation before any byte is out.

pub mod clean;
pub mod help;
pub mod stack_list;
pub mod status;
pub mod version;

use std::io::Write;

use crate::cache::Cache;
use crate::declined::Declined;
use crate::render::terminal::Terminal;

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
    /// The env's site-packages (where `requests` finds certifi's CA bundle).
    pub site_packages: Option<&'a std::path::Path>,
}

pub type CommandResult = Result<Output, Declined>;

/// ZenML's rich console (`zenml.console.console`) as the Rust commands print through it:
/// `declare(text)` is style `info`, `warning(text)` style `warning`; markup checks, highlighting
/// and wrapping as rich does them, on the CLI's output stream.
pub struct ZenConsole {
    highlighter: crate::render::highlight::Highlighter,
    /// What `gen_cache.py` read from rich, Python and PyYAML (`theme.json`'s `text_data`).
    text_data: Option<crate::render::cells::TextData>,
    styles: crate::render::highlight::StyleTable,
    mode: crate::render::terminal::RichMode,
    fd: usize,
    link_ids: crate::render::text::LinkIds,
}

impl ZenConsole {
    pub fn new(ctx: &Context) -> Result<Self, Declined> {
        let fd = ctx.cache.meta.out_fd();
        let theme = ctx.cache.theme()?;
        Ok(ZenConsole {
            highlighter: crate::render::highlight::Highlighter::from_theme(&theme)?,
            text_data: theme.text_data,
            styles: crate::render::highlight::StyleTable::new(),
            mode: ctx.terminal.rich(fd)?,
            fd,
            link_ids: crate::render::text::LinkIds::random(),
        })
    }

    /// `console.print(text, style=<style>)` into `out`.
    pub fn print(&mut self, style: &str, text: &str, out: &mut Output) -> Result<(), Declined> {
        let base = self.highlighter.theme_style(style)?;
        let lines = self
            .highlighter
            .styled_lines(text, Some(&base), &mut self.styles)?;
        crate::render::text::render_with(
            &lines,
            self.styles.codes(),
            &self.mode,
            self.highlighter.cells(),
            &mut self.link_ids,
            out.fd(self.fd),
        );
        Ok(())
    }

    /// Readies the highlighter for these texts, printed next (one regex set for all of them).
    pub fn prepare(&self, texts: &[&str]) {
        self.highlighter.prepare(texts);
    }

    /// PyYAML's resolvers as installed (compiled on each call: only YAML output needs them).
    pub fn yaml_resolvers(&self) -> Option<crate::render::pyyaml::YamlResolvers> {
        crate::render::pyyaml::YamlResolvers::from_data(self.text_data.as_ref()?).ok()
    }

    /// rich's cell widths as this console measures text.
    pub fn cells(&self) -> &crate::render::cells::CellTable {
        self.highlighter.cells()
    }

    /// Bytes written as they are on the same stream (ZenML's log lines).
    pub fn raw(&self, bytes: &[u8], out: &mut Output) {
        out.fd(self.fd).extend_from_slice(bytes);
    }
}
