//! Delegation: replace this process with the env's own Python running the installed ZenML CLI.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::debug;
use crate::env::PythonEnv;
use crate::error::UserError;
use crate::zenml_pkg::EntryPoint;

/// Mirrors the console script pip writes (`bin/zenml`): `sys.path[0]` is the script's directory,
/// `sys.argv[0]` its path (so Click's program name is `zenml`). `-c` is used instead of running
/// `bin/zenml` because that file may be this launcher.
fn bootstrap(entry: &EntryPoint) -> String {
    format!(
        "import sys\n\
         _bin = sys.argv[1]\n\
         sys.path[0] = _bin\n\
         sys.argv = [_bin + '/zenml'] + sys.argv[2:]\n\
         from {module} import {head} as _cli\n\
         {walk}\
         sys.exit(_cli())\n",
        module = entry.module,
        head = entry.attr.split('.').next().unwrap_or("cli"),
        walk = entry
            .attr
            .split('.')
            .skip(1)
            .map(|part| format!("_cli = _cli.{part}\n"))
            .collect::<String>(),
    )
}

/// The command delegation runs (exposed for the diagnosis and tests).
pub fn command(env: &PythonEnv, entry: &EntryPoint, args: &[OsString]) -> Command {
    let mut cmd = Command::new(&env.executable);
    cmd.arg("-c")
        .arg(bootstrap(entry))
        .arg(env.bin_dir())
        .args(args);
    cmd
}

/// Execs the Python CLI. Returns only if the exec failed.
pub fn exec(env: &PythonEnv, entry: &EntryPoint, args: &[OsString]) -> UserError {
    debug::line(format!(
        "route: delegate to {} ({}:{})",
        env.executable.display(),
        entry.module,
        entry.attr
    ));
    let err = command(env, entry, args).exec();
    UserError::new(
        format!(
            "cannot run the env's Python {}: {err}",
            env.executable.display()
        ),
        "recreate the env, or set ZENML_USE_PYTHON_CLI=1 and run its own bin/zenml",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_walks_dotted_attributes() {
        let code = bootstrap(&EntryPoint {
            module: "pkg.mod".into(),
            attr: "group.cli".into(),
        });
        assert!(
            code.contains("from pkg.mod import group as _cli\n_cli = _cli.cli\n"),
            "{code}"
        );
        assert!(code.ends_with("sys.exit(_cli())\n"));
    }
}
