//! The launcher's main flow, shared by `src/main.rs`.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use crate::env::{self, preflight};
use crate::{debug, delegate, zenml_pkg};

/// Resolves the env the launcher runs for, refusing broken ones (fatal pre-flight problems).
pub fn resolve_env() -> Result<env::PythonEnv> {
    let input = env::DiscoveryInput::from_process();
    let env = env::resolve(&input)?;
    debug::line(format!(
        "env: source={} kind={} root={} version={} executable={}",
        env.source.as_str(),
        env.kind.as_str(),
        env.root.display(),
        env.version.map_or_else(|| "?".to_string(), |v| v.to_string()),
        env.executable.display()
    ));
    let problems = preflight::check(&env, &preflight::CheckInput::from_process(None));
    for p in &problems {
        debug::line(format!("preflight {:?}: {}", p.severity, p.error));
    }
    if let Some(p) = preflight::first_fatal(&problems) {
        return Err(p.error.clone().into());
    }
    Ok(env)
}

/// Runs `zenml <args>`.
pub fn run(args: Vec<OsString>) -> Result<ExitCode> {
    let env = resolve_env()?;
    let install = zenml_pkg::find(&env)?;
    debug::line(format!(
        "zenml: {} (entry point {}:{}, package {})",
        install.version().unwrap_or_else(|| "?".into()),
        install.entry_point.module,
        install.entry_point.attr,
        install.package_dir.as_ref().map_or_else(|| "?".into(), |p| p.display().to_string())
    ));
    Err(delegate::exec(&env, &install.entry_point, &args).into())
}
