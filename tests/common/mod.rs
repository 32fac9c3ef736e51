//! Shared test support: the provisioned envs, the built binaries, and clean-environment runs.
//!
//! Envs come from `scripts/provision-envs.sh` (run by `scripts/test.sh`); a missing one fails
//! the test with a message saying how to create it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const ZENML_VERSION: &str = "0.98.0";
pub const ZENML_OLD_VERSION: &str = "0.85.0";

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/envs/zenml-<version>`, provisioned by scripts/provision-envs.sh.
pub fn zenml_env(version: &str) -> PathBuf {
    let dir = std::env::var_os("ZENML_LAUNCHER_ENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/envs"))
        .join(format!("zenml-{version}"));
    assert!(
        dir.join(".provisioned").is_file(),
        "test env {} is missing: run scripts/provision-envs.sh (or scripts/test.sh, which runs it)",
        dir.display()
    );
    dir
}

/// The base interpreter the envs and the launcher's libpython come from.
pub fn base_python() -> PathBuf {
    std::env::var_os("ZENML_LAUNCHER_BASE_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").expect("HOME")).join(".pyenv/versions/3.11.7/bin/python3.11")
    })
}

/// The `zenml` launcher binary under test.
pub fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zenml"))
}

/// `examples/print_sys_path`, built by `cargo test` next to the binary.
pub fn print_sys_path() -> PathBuf {
    let bin = launcher();
    let path = bin.parent().unwrap().join("examples/print_sys_path");
    assert!(path.is_file(), "{} is missing: run `cargo build --examples`", path.display());
    path
}

/// A fresh directory under target/test-tmp (kept for inspection, wiped at the next run's use).
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = repo()
        .join("target/test-tmp")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command with a clean environment: HOME, PATH without any env's bin, C.UTF-8, a private
/// ZenML config dir and analytics off. Callers add VIRTUAL_ENV etc.
pub fn clean_command(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("ZENML_CONFIG_PATH", home.join("zenml-config"))
        .env("ZENML_ANALYTICS_OPT_IN", "false")
        .current_dir(home);
    cmd
}

/// Runs and returns the output, with a readable panic if it could not start.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Shows bytes readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
