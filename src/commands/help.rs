//! The root help: the text the installed CLI formats for Click's width, re-printed the way rich
//! prints it at rich's width, then what Click echoes after it. `--help` and no arguments differ
//! only in that wiring (no arguments: rc 2).

use super::{CommandResult, Context, Output};
use crate::cache::HelpWiring;
use crate::declined::Declined;
use crate::render::text;

pub fn root(ctx: &Context, no_args: bool) -> CommandResult {
    let meta = &ctx.cache.meta;
    if !meta.supports("help") {
        return Err(Declined::new("help not generated"));
    }
    let wiring: &HelpWiring = if no_args {
        meta.no_args.as_ref()
    } else {
        meta.help_flag.as_ref()
    }
    .ok_or(Declined::new("help wiring not generated"))?;
    let text = ctx
        .cache
        .help(ctx.terminal.click_width()?)
        .ok_or(Declined::new("help width not generated"))?;
    if !text.echo.is_empty() {
        return Err(Declined::new("help printed by Click itself"));
    }
    let fd = meta.out_fd();
    let mode = ctx.terminal.rich(fd)?;
    let mut out = Output {
        code: wiring.exit,
        ..Output::default()
    };
    text::render(&text.lines, &meta.styles, &mode, out.fd(fd));
    out.stdout.extend_from_slice(wiring.stdout_after.as_bytes());
    out.stderr.extend_from_slice(wiring.stderr_after.as_bytes());
    Ok(out)
}
