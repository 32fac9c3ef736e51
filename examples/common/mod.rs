//! What the benchmark and the soak share (`#[path]`-included by both; not an example itself).

use std::ffi::OsStr;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// `target/<profile>`, from this executable's path (`target/<profile>/examples/<name>`).
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate this executable")?;
    let dir = exe.parent().context("executable without a directory")?;
    Ok(if dir.file_name() == Some(OsStr::new("examples")) {
        dir.parent().unwrap().to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// The fork-to-exit times (ms) of the workers a command server's log (or part of it) names, one
/// per call it ran (`worker <pid>: <ms> ms, status <status>`).
pub fn worker_times(log: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|l| {
            l.split(": worker ")
                .nth(1)?
                .split(" ms")
                .next()?
                .split(' ')
                .nth(1)?
                .parse()
                .ok()
        })
        .collect()
}
