//! `zenml clean` (hidden): the confirmation prompt is answered here, and only the answer that
//! deletes is handed to the Python CLI (`clean --yes`), so every deletion, message and the
//! re-created default store are ZenML's own (docs/zenml-cli-behaviour.md §3.8). `n` prints
//! `Aborting clean.` and touches nothing; EOF and Ctrl-C abort like Click (`Aborted!`, rc 1);
//! anything else is refused with rich's message and the prompt is shown again. The prompt's bytes
//! come from the installed CLI (generated into the cache, rendered like rich at the console
//! width).

use std::io::Write;

use super::Context;
use crate::cache::CleanSpec;
use crate::declined::Declined;
use crate::os::{self, LineRead};
use crate::render::terminal::RichMode;
use crate::render::text;

/// How the prompt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Printed everything; exit with this code.
    Done(i32),
    /// The user confirmed: run the Python CLI's `clean --yes`.
    Confirmed,
}

/// What an answer means to rich's `Confirm` (`value.strip().lower()` must be a choice).
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Invalid,
}

pub fn classify(line: &[u8], choices: &[String]) -> Answer {
    let Ok(text) = std::str::from_utf8(line) else {
        return Answer::Invalid;
    };
    // Python's str.isspace() also counts the information separators U+001C..U+001F.
    let trimmed =
        text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let value = trimmed.to_lowercase();
    match choices {
        [yes, _] if value == *yes => Answer::Yes,
        [_, no] if value == *no => Answer::No,
        _ => Answer::Invalid,
    }
}

fn emit(
    part: &crate::cache::Rendered,
    styles: &[text::StyleCodes],
    mode: &RichMode,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    text::render(&part.lines, styles, mode, out);
    if !part.newline && out.len() > start && out.last() == Some(&b'\n') {
        out.pop();
    }
}

/// Checks that the prompt can be reproduced, before anything is printed.
pub fn prepare(ctx: &Context) -> Result<(CleanSpec, RichMode), Declined> {
    let meta = &ctx.cache.meta;
    let spec = meta.clean.as_ref().filter(|_| meta.supports("clean"));
    let spec = spec
        .and_then(|s| s.get())
        .ok_or(Declined::new("clean prompt not generated"))?;
    if spec.choices.len() != 2 {
        return Err(Declined::new("unexpected confirm choices"));
    }
    Ok((spec, ctx.terminal.rich(meta.out_fd())?))
}

/// The prompt, unless the cache or the terminal is outside what is modelled here.
pub fn answer(ctx: &Context) -> Result<Outcome, Declined> {
    let (spec, mode) = prepare(ctx)?;
    Ok(run(ctx, &spec, &mode))
}

/// Runs the prompt loop on the real stdin and the CLI's output stream.
pub fn run(ctx: &Context, spec: &CleanSpec, mode: &RichMode) -> Outcome {
    let fd = ctx.cache.meta.out_fd();
    let styles = &ctx.cache.meta.styles;
    let write = |bytes: &[u8], to: usize| {
        let _ = if to == 1 {
            std::io::stdout()
                .lock()
                .write_all(bytes)
                .and_then(|_| std::io::stdout().flush())
        } else {
            std::io::stderr()
                .lock()
                .write_all(bytes)
                .and_then(|_| std::io::stderr().flush())
        };
    };
    loop {
        let mut prompt = Vec::new();
        emit(&spec.prompt, styles, mode, &mut prompt);
        write(&prompt, fd);
        let answer = match os::read_line_interruptible() {
            Ok(LineRead::Line(line)) => classify(&line, &spec.choices),
            Ok(LineRead::Eof) | Ok(LineRead::Interrupted) | Err(_) => {
                write(spec.eof.stdout_after.as_bytes(), 1);
                write(spec.eof.stderr_after.as_bytes(), 2);
                return Outcome::Done(spec.eof.exit);
            }
        };
        match answer {
            Answer::Yes => return Outcome::Confirmed,
            Answer::No => {
                let mut out = Vec::new();
                emit(&spec.aborting, styles, mode, &mut out);
                write(&out, fd);
                return Outcome::Done(0);
            }
            Answer::Invalid => {
                let mut out = Vec::new();
                emit(&spec.invalid, styles, mode, &mut out);
                write(&out, fd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_rich_confirm() {
        let choices = vec!["y".to_string(), "n".to_string()];
        assert_eq!(classify(b"y", &choices), Answer::Yes);
        assert_eq!(classify(b"  Y \r", &choices), Answer::Yes);
        assert_eq!(classify(b"N", &choices), Answer::No);
        assert_eq!(classify(b"yes", &choices), Answer::Invalid);
        assert_eq!(classify(b"", &choices), Answer::Invalid);
        assert_eq!(classify(b"\xff", &choices), Answer::Invalid);
        assert_eq!(classify(b"\x1fn\x1c", &choices), Answer::No);
    }
}
