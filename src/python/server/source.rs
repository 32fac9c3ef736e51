//! What a command server runs, for both kinds ([`ServerKind`]): the check that the env can have
//! one ([`server_plan`]) and the master's `__main__` source ([`server_source`]: the `_zl_*`
//! settings, then `command_worker.py` and `command_server.py`). The embedded kind runs it in the
//! embedding library ([`crate::python::serve`]); the python kind as the env's `python -c`
//! ([`super::serve_main`]).

use std::ffi::OsString;

use crate::python::in_process::call_argv0;
use crate::python::server::Marker;
use crate::python::{delegate, startup};
use crate::vars;
use crate::zenml::package;

/// The server's `__main__` source after the `_zl_*` names: the worker's side, then the master.
const SERVER: &str = concat!(
    include_str!("../command_worker.py"),
    "\n",
    include_str!("../command_server.py")
);

/// Modules the master imports once (beyond the console script's module): the CLI with all its
/// commands and the store code every store command needs (docs/command-server.md, "Warm-up").
pub const PRELOAD: &[&str] = &[
    "zenml",
    "zenml.cli",
    "zenml.zen_stores.sql_zen_store",
    "zenml.zen_stores.rest_zen_store",
    "zenml.zen_stores.schemas",
];

/// How a server runs: in the embedding library's interpreter (tier 2's `PyConfig` start-up), or
/// as the env's own `python` running the same code (no embedding library can serve the env).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Embedded,
    Python,
}

impl ServerKind {
    /// Its name in the server's info file, `server status` and the debug lines.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Embedded => "embedded",
            ServerKind::Python => "python",
        }
    }
}

/// What a server needs, checked before any interpreter starts: the env, its ZenML (a release
/// verified with the server), and `sys.argv[:1]` of a call. `Err`: no server for this env.
pub fn server_plan(
    env: &crate::env::PythonEnv,
) -> Result<(package::ZenmlInstall, Vec<OsString>), String> {
    let install = package::find(env).map_err(|e| e.to_string())?;
    let version = install.version().unwrap_or_default();
    if !package::STORE_VERIFIED_VERSIONS.contains(&version.as_str()) {
        return Err(format!("zenml {version:?} is not verified with the server"));
    }
    let argv0 = call_argv0(env).map_err(|e| e.reason().to_string())?;
    Ok((install, argv0))
}

/// The master's `__main__` source: the `_zl_*` settings, then `command_worker.py` and
/// `command_server.py`. `why`: why this kind of server (its info file says it).
#[allow(clippy::too_many_arguments)]
pub fn server_source(
    env: &crate::env::PythonEnv,
    install: &package::ZenmlInstall,
    argv0: &[OsString],
    [socket, key, idle, marker]: [&OsString; 4],
    kind: ServerKind,
    why: &str,
) -> Result<String, String> {
    use std::os::unix::ffi::OsStrExt;
    let idle: f64 = idle
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad idle timeout {idle:?}"))?;
    let text = |s: &str| startup::bytes_literal(s.as_bytes()) + ".decode()";
    let list = |items: &mut dyn Iterator<Item = String>| {
        format!("[{}]", items.collect::<Vec<_>>().join(", "))
    };
    let mut preload = vec![install.entry_point.module.clone()];
    preload.extend(PRELOAD.iter().map(|s| s.to_string()));
    let describe = startup::describe_source(env, false, true, None);
    // What `Py_RunMain` would run: the console script, or delegation's stub as `python -c`.
    let program = match delegate::console_script(env) {
        Some(script) => format!(
            "(b'file', {})",
            startup::bytes_literal(script.as_os_str().as_bytes())
        ),
        None => format!(
            "(b'command', {})",
            startup::bytes_literal(delegate::bootstrap(env, &install.entry_point).as_bytes())
        ),
    };
    Ok(format!(
        "_zl_socket = {}\n_zl_key = {}\n_zl_idle = {idle:?}\n_zl_argv = {}\n_zl_preload = {}\n\
         _zl_describe = {}\n_zl_marker = {}\n_zl_failed = {}\n_zl_drop = {}\n\
         _zl_program = {program}\n_zl_kind = {}\n_zl_why = {}\n{SERVER}",
        startup::bytes_literal(socket.as_bytes()),
        startup::bytes_literal(key.as_bytes()),
        list(&mut argv0.iter().map(|a| startup::bytes_literal(a.as_bytes()))),
        list(&mut preload.iter().map(|m| text(m))),
        text(&describe),
        startup::bytes_literal(marker.as_bytes()),
        startup::bytes_literal(Marker::FAILED_PREFIX.as_bytes()),
        list(
            &mut [vars::ZENML_LAUNCHER_SERVE]
                .iter()
                .map(|v| startup::bytes_literal(v.as_bytes()))
        ),
        text(kind.name()),
        text(why),
    ))
}
