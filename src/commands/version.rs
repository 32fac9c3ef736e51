//! `zenml --version` / `-v` (Click's version option) and `zenml version` (a random banner of the
//! installed package, then `version: X`).

use super::{CommandResult, Context, Output};
use crate::declined::Declined;
use crate::render::text;

/// `zenml, version X`: Click's message with X read from the installed `zenml/VERSION`.
pub fn flag(ctx: &Context) -> CommandResult {
    let meta = &ctx.cache.meta;
    let flag = meta
        .version_flag
        .as_ref()
        .filter(|_| meta.supports("version_flag"));
    let flag = flag.ok_or(Declined::new("--version output not generated"))?;
    let mut out = Output::default();
    let fd = if flag.stream == "stdout" { 1 } else { 2 };
    out.fd(fd)
        .extend_from_slice(flag.template.replace("{version}", ctx.version).as_bytes());
    Ok(out)
}

/// `zenml version`, with the banner chosen by `pick` (an index below the banner count).
pub fn command(ctx: &Context, pick: impl FnOnce(usize) -> usize) -> CommandResult {
    let meta = &ctx.cache.meta;
    let version = meta.version.as_ref().filter(|_| meta.supports("version"));
    let version = version
        .and_then(|v| v.get())
        .ok_or(Declined::new("version banners not generated"))?;
    if version.banners.is_empty() {
        return Err(Declined::new("no banners"));
    }
    let fd = meta.out_fd();
    let mode = ctx.terminal.rich(fd)?;
    let banner = &version.banners[pick(version.banners.len()) % version.banners.len()];
    let mut out = Output::default();
    text::render(banner, &meta.styles, &mode, out.fd(fd));
    // Click keeps the bold escape only when the stream is a terminal.
    let tail = if ctx.terminal.isatty[fd] {
        &version.tail_tty
    } else {
        &version.tail_plain
    };
    out.fd(fd).extend_from_slice(tail.as_bytes());
    Ok(out)
}

/// A uniformly random index below `n`, from the OS-seeded hasher keys (like Python's `random`).
pub fn random_index(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    (h.finish() % n.max(1) as u64) as usize
}
