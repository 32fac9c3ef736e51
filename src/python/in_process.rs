//! Tier 2: ZenML's own command code, run by the embedded interpreter inside this process.
//!
//! The `zenml` binary links no libpython (every start would pay for loading it). The embedded
//! interpreter lives in a separate shared library, `libzenml_launcher_embed.so` (the `embedlib/`
//! crate: this module's [`library_main`] behind a C entry point, linked to libpython), which the
//! launcher loads with `dlopen` only for the calls that need it. There, `embedded_cli.py` imports
//! the console script's module and only the command modules the call needs, then `Py_RunMain`
//! runs the env's own console script (`bin/zenml`), as `python bin/zenml` would.
//!
//! Outcomes: an exit code (the command ran; whatever it printed is the CLI's own), or declined
//! with a reason: no library, an env the linked libpython cannot run, a release this was not
//! verified with, or a failure before the command started. Declined means nothing was printed,
//! and the caller delegates.

use std::ffi::{CStr, CString, OsString};
use std::path::{Path, PathBuf};

use crate::declined::Declined;
use crate::env::PythonEnv;
use crate::env::layout::{EMBED_LIBRARY_FILE, InstallLayout, python_tag};
use crate::env::libpython::{self, LibPython};
use crate::python::{delegate, ffi, startup};
use crate::zenml::package::{self, ZenmlInstall};
use crate::{debug, vars};

/// Bumped whenever the entry point's contract changes; a library from another build declines.
pub const ABI: u32 = 1;
/// Its C entry point ([`crate::os::EmbeddedEntry`]).
pub const ENTRY_SYMBOL: &CStr = c"zenml_launcher_embedded_main";
/// The entry point of `zenml-launcher doctor`: describes the embedded interpreter
/// ([`library_describe`]).
pub const DESCRIBE_SYMBOL: &CStr = c"zenml_launcher_embedded_describe";
/// What the entry point returns when it declined (exit codes are 0..=255).
pub const DECLINED: i32 = -1;

/// The calls tier 2 runs, with the command modules each one needs.
pub const COMMAND_MODULES: &[(&[&str], &[&str])] = &[(&["stack", "list"], &["zenml.cli.stack"])];

const HELPER: &str = include_str!("embedded_cli.py");

/// The embedding library chosen for an env, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryChoice {
    pub path: PathBuf,
    pub why: String,
}

/// The embedding library for `env`, chosen from the env's Python version (its tag, `cp312`):
/// `ZENML_LAUNCHER_EMBED_LIB`; else the one installed into the env for its Python
/// (`lib/zenml-launcher/embed/<tag>/`, see [`InstallLayout`]); else, for a launcher that was not
/// installed into an env, the one its build put next to it (or in `../lib/`), which serves the
/// Python it was built with. Whichever is picked, the library's own pre-flight checks refuse an
/// env whose Python is not the one it links (then the call is delegated). `Err`: none, and why.
pub fn library_for(env: &PythonEnv) -> Result<LibraryChoice, Declined> {
    if let Some(path) = vars::os(vars::ZENML_LAUNCHER_EMBED_LIB) {
        return Ok(LibraryChoice {
            path: PathBuf::from(path),
            why: format!("{} is set", vars::ZENML_LAUNCHER_EMBED_LIB),
        });
    }
    let version = env.version.ok_or_else(|| {
        format!(
            "the Python version of the env at {} is unknown",
            env.root.display()
        )
    })?;
    let tag = python_tag(&version);
    let installed = InstallLayout::new(&env.root).embed_library(&tag);
    if installed.is_file() {
        return Ok(LibraryChoice {
            path: installed,
            why: format!("the one installed for this env's Python {version} ({tag})"),
        });
    }
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .map_err(|e| Declined::new(format!("cannot locate the launcher binary: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    for path in [
        dir.join(EMBED_LIBRARY_FILE),
        dir.join("../lib").join(EMBED_LIBRARY_FILE),
    ] {
        if path.is_file() {
            return Ok(LibraryChoice {
                path,
                why: "the launcher's own build (serves the Python it was built with)".into(),
            });
        }
    }
    Err(Declined::new(format!(
        "no embedding library for Python {version} ({tag}): not in {} nor next to {}",
        installed.display(),
        exe.display()
    )))
}

/// Where the embedding library's libpython comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibPythonPlan {
    /// The library links one itself (a developer build against one Python): its loader finds it.
    Linked(String),
    /// The library links none (the wheel's, `scripts/install.sh`'s): the env's base Python's
    /// libpython is loaded first.
    Load(LibPython),
}

/// How `choice`'s libpython would be provided for `env`. `Err`: no usable libpython, and why.
pub fn libpython_plan(env: &PythonEnv, choice: &LibraryChoice) -> Result<LibPythonPlan, Declined> {
    let needed = libpython::needed_libraries(&choice.path)
        .map_err(|e| Declined::new(format!("cannot read the embedding library: {e}")))?;
    if let Some(own) = needed.iter().find(|n| n.starts_with(b"libpython")) {
        return Ok(LibPythonPlan::Linked(
            String::from_utf8_lossy(own).into_owned(),
        ));
    }
    libpython::find(env)
        .map(LibPythonPlan::Load)
        .map_err(Declined::from)
}

/// Loads the env's libpython when `choice` needs one, then the library, and calls `symbol` in it
/// (see [`crate::os::call_library_entry`]). `Err`: nothing ran, and why (one line).
pub fn call(
    env: &PythonEnv,
    choice: &LibraryChoice,
    symbol: &CStr,
    args: &[OsString],
) -> Result<i32, Declined> {
    let started = std::time::Instant::now();
    match libpython_plan(env, choice)? {
        LibPythonPlan::Linked(own) => {
            debug::line(format!("in-process: the library links {own} itself"))
        }
        LibPythonPlan::Load(lib) => {
            debug::line(format!(
                "in-process: loading {} ({})",
                lib.path.display(),
                lib.why
            ));
            crate::os::load_global(&lib.path)?;
        }
    }
    debug::line(format!(
        "in-process: loading {} ({})",
        choice.path.display(),
        choice.why
    ));
    // Loaded here first (the entry call's own dlopen then only counts a reference), so the debug
    // line can say what loading costs: libpython and the library, before any Python runs.
    crate::os::load_global(&choice.path)?;
    debug::line(format!(
        "in-process: loaded in {:.2} ms",
        started.elapsed().as_secs_f64() * 1000.0
    ));
    crate::os::call_library_entry(&choice.path, symbol, ABI, args).map_err(Declined::from)
}

/// Launcher side: runs `zenml <args>` in-process (its exit code), or says why not (nothing
/// printed).
pub fn run(env: &PythonEnv, args: &[OsString]) -> Result<u8, Declined> {
    let choice = library_for(env)?;
    match call(env, &choice, ENTRY_SYMBOL, args)? {
        code @ 0..=255 => Ok(code as u8),
        _ => Err("the embedded run declined".into()),
    }
}

/// The command modules a call needs, when tier 2 runs it.
pub fn command_modules(args: &[OsString]) -> Option<&'static [&'static str]> {
    COMMAND_MODULES
        .iter()
        .find(|(words, _)| {
            words.len() <= args.len() && words.iter().zip(args).all(|(w, a)| a == *w)
        })
        .map(|(_, modules)| *modules)
}

/// Library side (called through the C entry point): resolves the env again (same process, same
/// variables, same answer), starts the interpreter, imports what the call needs, and runs the
/// env's console script.
pub fn library_main(abi: u32, args: Vec<OsString>) -> i32 {
    if abi != ABI {
        debug::line(format!(
            "in-process library: declined: ABI {abi}, library has {ABI}"
        ));
        return DECLINED;
    }
    if let Err(why) = ffi::check_abi() {
        debug::line(format!("in-process: declined: {why}"));
        return DECLINED;
    }
    match run_here(&args) {
        // As exit(3) would truncate it (`sys.exit(256)` exits 0, `sys.exit(-1)` 255), so that an
        // exit code is never mistaken for DECLINED.
        Ok(code) => code & 0xff,
        Err(why) => {
            debug::line(format!("in-process library: declined: {why}"));
            DECLINED
        }
    }
}

/// Library side of `zenml-launcher doctor`: resolves the env, starts the interpreter exactly as
/// tier 2 does, and prints what it computed (`sys.prefix`, `sys.path`, …). `args`: `json` or
/// `text`, then a JSON object of more entries to print. Errors are one line on stderr, exit 1.
pub fn library_describe(abi: u32, args: Vec<OsString>) -> i32 {
    if abi != ABI {
        eprintln!(
            "{}: error: the embedding library speaks ABI {ABI}, the caller {abi} (hint: reinstall the launcher: bash scripts/install.sh)",
            crate::error::PREFIX
        );
        return 1;
    }
    if let Err(why) = ffi::check_abi() {
        eprintln!(
            "{}: error: {why} (hint: reinstall the launcher: pip install --force-reinstall zenml-launcher)",
            crate::error::PREFIX
        );
        return 1;
    }
    let as_json = args.first().is_some_and(|a| a == "json");
    let extra = args.get(1).and_then(|a| a.to_str());
    i32::from(startup::run_embedded_code(|env| {
        startup::describe_with(env, as_json, false, extra)
            .map_err(|e| anyhow::anyhow!("describing the interpreter failed: {e}"))
    }))
}

/// The library side of [`run`]: the exit code of the console script, or why it did not run.
fn run_here(args: &[OsString]) -> Result<i32, Declined> {
    let modules = command_modules(args).ok_or("not a call tier 2 runs")?;
    let env = crate::env::resolve_checked().map_err(|e| Declined::new(e.to_string()))?;
    let install = package::find(&env).map_err(|e| Declined::new(e.to_string()))?;
    let version = install.version().unwrap_or_default();
    if !package::STORE_VERIFIED_VERSIONS.contains(&version.as_str()) {
        return Err(Declined::new(format!(
            "zenml {version:?} not verified in-process"
        )));
    }
    let (config, _argv0) = console_script_config(&env, &install, args)?;
    let (read, write) =
        crate::os::pipe_cloexec().map_err(|e| Declined::new(format!("pipe: {e}")))?;
    let setup = CString::new(setup_source(&env, &install, modules, &write))
        .map_err(|_| Declined::new("a NUL byte in the setup code"))?;
    debug::line(format!("in-process: preparing {modules:?}"));
    let mut report = Vec::new();
    let mut raised = false;
    let ran = ffi::run_main_after(config, &setup, |setup_raised| {
        report = crate::os::drain(&read);
        raised = setup_raised;
        let go = report == b"started" && !raised;
        if go {
            debug::line("in-process: running the console script");
        }
        go
    });
    match ran {
        Err(e) => Err(Declined::new(e.to_string())),
        Ok(Some(code)) => Ok(code),
        Ok(None) if report == b"interrupted" => crate::os::die_by_sigint(),
        // The setup raised something it does not catch (not an Exception, not SystemExit, which
        // ends the process) and Python printed it, as the CLI would have.
        Ok(None) if raised => Ok(1),
        Ok(None) => Err(Declined::new(match report.strip_prefix(b"declined: ") {
            Some(why) => String::from_utf8_lossy(why).into_owned(),
            None => format!(
                "unexpected setup report {:?}",
                String::from_utf8_lossy(&report)
            ),
        })),
    }
}

/// The PyConfig that runs the env's console script as `python bin/zenml <args>` would, and the
/// `sys.argv` entries before `args` (the script's path, or `-c` and the bin dir). When `bin/zenml`
/// is this launcher, delegation's stub runs under the script's name instead (as `python -c`).
pub fn console_script_config(
    env: &PythonEnv,
    install: &ZenmlInstall,
    args: &[OsString],
) -> Result<(ffi::Config, Vec<OsString>), Declined> {
    let argv0 = call_argv0(env)?;
    let script = delegate::console_script(env);
    let mut argv = argv0.clone();
    argv.extend(args.iter().cloned());
    let mut config = startup::config_for(env, &argv).map_err(|e| e.to_string())?;
    match &script {
        Some(path) => config.set_run_filename(path.as_os_str()),
        None => config.set_run_command(&delegate::bootstrap(env, &install.entry_point)),
    }
    .map_err(|e| e.to_string())?;
    Ok((config, argv0))
}

fn setup_source(
    env: &PythonEnv,
    install: &ZenmlInstall,
    modules: &[&str],
    fd: &std::os::fd::OwnedFd,
) -> String {
    use std::os::fd::AsRawFd;
    let text = |s: &str| startup::bytes_literal(s.as_bytes()) + ".decode()";
    let mut source = String::new();
    if debug::enabled() {
        let describe = startup::describe_source(env, false, true, None);
        source.push_str(&format!(
            "exec({}.decode(), {{}})\n",
            startup::bytes_literal(describe.as_bytes())
        ));
    }
    source.push_str(&format!(
        "_zl_fd = {}\n_zl_module = {}\n_zl_attr = {}\n_zl_commands = [{}]\n",
        fd.as_raw_fd(),
        text(&install.entry_point.module),
        text(&install.entry_point.attr),
        modules
            .iter()
            .map(|m| text(m))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    source.push_str(HELPER);
    source
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_calls_have_command_modules() {
        let args = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            command_modules(&args(&["stack", "list", "--name", "x"])),
            Some(&["zenml.cli.stack"][..])
        );
        assert_eq!(command_modules(&args(&["stack", "describe"])), None);
        assert_eq!(command_modules(&args(&["stack"])), None);
        assert_eq!(command_modules(&args(&[])), None);
    }

    #[test]
    fn the_helper_is_ascii() {
        assert!(HELPER.is_ascii());
    }
}
