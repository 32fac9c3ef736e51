//! The command server's master, in the embedding library (library side of
//! [`crate::python::server`]): the interpreter starts exactly as for tier 2, configured to run the
//! env's console script; `command_server.py` warms it up and serves. A forked worker takes over
//! the call's argv, environment and fds and runs the console script as `python bin/zenml` would,
//! then ends the process itself (`run_program` there). In the master the script returns only
//! when the server stops, and the interpreter is finalized.

use std::ffi::{CString, OsString};

use crate::debug;
use crate::declined::Declined;
use crate::python::ffi;
use crate::python::in_process::{ABI, DECLINED, console_script_config};
use crate::python::server::Marker;
use crate::python::server::source::{ServerKind, server_plan, server_source};

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
