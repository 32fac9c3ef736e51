//! The command server's master, in the embedding library (library side of
//! [`crate::python::server`]): the interpreter starts exactly as for tier 2, configured to run the
//! env's console script; `command_server.py` warms it up and serves. A forked worker takes over
//! the call's argv, environment and fds and runs the console script as `python bin/zenml` would,
//! then ends the process itself (`run_program` there). In the master the script returns only
//! when the server stops, and the interpreter is finalized.

use std::ffi::{CString, OsString};

use crate::declined::Declined;
use crate::python::in_process::{ABI, DECLINED, console_script_config};
use crate::python::server::Marker;
use crate::python::{delegate, ffi, startup};
use crate::zenml::package;
use crate::{debug, vars};

/// The server's `__main__` source after the `_zl_*` names: the worker's side, then the master.
const SERVER: &str = concat!(
    include_str!("command_worker.py"),
    "\n",
    include_str!("command_server.py")
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

/// Library side of the server: `args` are the socket path, the key id, the idle timeout in
/// seconds and the start-up marker. Returns the master's exit code, or in a worker the console
/// script's; [`DECLINED`] when no interpreter started here (the launcher then starts the python
/// kind of server instead: [`crate::python::server::serve_main`]).
pub fn library_serve(abi: u32, args: Vec<OsString>) -> i32 {
    if abi != ABI {
        eprintln!("zenml-launcher server: ABI {abi}, library has {ABI}");
        return DECLINED;
    }
    if let Err(why) = ffi::check_abi() {
        eprintln!("zenml-launcher server: the embedded kind declined: {why}");
        return DECLINED;
    }
    let [socket, key, idle, marker] = &args[..] else {
        eprintln!(
            "zenml-launcher server: expected 4 arguments, got {}",
            args.len()
        );
        return 1;
    };
    match serve(socket, key, idle, marker) {
        Ok(code) => code,
        Err(Ok(declined)) => {
            eprintln!("zenml-launcher server: the embedded kind declined: {declined}");
            DECLINED
        }
        Err(Err(why)) => {
            eprintln!("zenml-launcher server: not serving: {why}");
            Marker::write_failed(std::path::Path::new(marker), &why);
            1
        }
    }
}

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

/// `sys.argv[:1]` of a call, as `python bin/zenml` sets it (the script's path; `-c` and the bin
/// dir when `bin/zenml` is this launcher and delegation's stub runs instead). `Err` when the
/// script's `#!` line names another interpreter than the env's (then `sys.executable` and the
/// interpreter's flags would differ from the CLI's).
pub fn call_argv0(env: &crate::env::PythonEnv) -> Result<Vec<OsString>, Declined> {
    match delegate::console_script(env) {
        Some(path) => {
            if delegate::shebang_interpreter(&path).as_deref() != Some(env.executable.as_path()) {
                return Err(Declined::new(format!(
                    "{}: its #! line is not {}",
                    path.display(),
                    env.executable.display()
                )));
            }
            Ok(vec![path.into_os_string()])
        }
        None => Ok(vec!["-c".into(), env.bin_dir().into_os_string()]),
    }
}

/// The embedded server: `Err(Declined)` when it declined before its interpreter started (the
/// launcher then runs the python kind instead), `Err(String)` when it failed after.
fn serve(
    socket: &OsString,
    key: &OsString,
    idle: &OsString,
    marker: &OsString,
) -> Result<i32, Result<Declined, String>> {
    let early = |why: String| Ok(Declined::new(why));
    let env = crate::env::resolve_checked().map_err(|e| early(e.to_string()))?;
    let (install, _) = server_plan(&env).map_err(early)?;
    let (config, argv0) =
        console_script_config(&env, &install, &[]).map_err(|e| early(e.reason().to_string()))?;
    let source = server_source(
        &env,
        &install,
        &argv0,
        [socket, key, idle, marker],
        ServerKind::Embedded,
        "the embedding library serves this env",
    )
    .map_err(early)?;
    let source = CString::new(source).map_err(|_| early("a NUL byte in the server code".into()))?;
    let master = std::process::id();
    debug::line("server: warming up (embedded)");
    let mut in_worker = false;
    // An interpreter that failed to start ran nothing: the python kind may still serve the env.
    let ran = ffi::run_main_after(config, &source, |raised| {
        in_worker = std::process::id() != master;
        in_worker && !raised
    })
    .map_err(|e| early(e.to_string()))?;
    // A worker whose preparation raised (Python printed it on the client's stderr) fails the call.
    Ok(ran.unwrap_or(if in_worker { 1 } else { 0 }))
}
