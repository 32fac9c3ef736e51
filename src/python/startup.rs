//! Starting the embedded interpreter for a resolved env: the PyConfig recipe of
//! docs/embedding.md §2 (Python config, `parse_argv = 0`, `executable = <env>/bin/python` as raw
//! bytes, `home` only for a standalone prefix without a user PYTHONHOME).

use std::ffi::OsString;
use std::process::ExitCode;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::debug;
use crate::env::{Kind, PythonEnv, preflight};
use crate::error::UserError;
use crate::python::ffi::{self, Config, Interpreter};
use crate::vars;

/// Python code that describes the running interpreter; `as_json` picks JSON or `key: repr` lines.
/// Reads `env_*` names from its globals (bytes decoded with the filesystem encoding), and
/// `extra_json`: more top-level entries (the admin binary's `doctor` adds the library's).
const DESCRIBE: &str = r#"
import json, os, sys
_env = {"source": env_source, "kind": env_kind, "root": os.fsdecode(env_root), "version": env_version}
_info = {
    "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "exec_prefix": sys.exec_prefix, "base_exec_prefix": sys.base_exec_prefix,
    "executable": sys.executable, "path": list(sys.path), "env": _env,
}
if extra_json is not None:
    _info.update(json.loads(extra_json))
if as_json:
    _out = json.dumps(_info) + "\n"
else:
    _out = "".join(f"{line_prefix}{k}: {v!r}\n" for k, v in _info.items())
_stream = sys.stderr if to_stderr else sys.stdout
_stream.write(_out)
_stream.flush()
"#;

/// Checks the env for embedding and builds its PyConfig.
pub fn config_for(env: &PythonEnv, argv: &[OsString]) -> Result<Config, UserError> {
    let problems = preflight::check(
        env,
        &preflight::CheckInput::from_process(Some(ffi::linked_python())),
    );
    for p in &problems {
        debug::line(format!("preflight {:?}: {}", p.severity, p.error));
    }
    if let Some(p) = preflight::first_embed_blocker(&problems) {
        return Err(p.error.clone());
    }
    let mut config = Config::python();
    config.set_parse_argv(false);
    let fail = |e: ffi::InitError| {
        UserError::new(
            e.to_string(),
            "report this with ZENML_DEBUG_PYTHON=1 output",
        )
    };
    config
        .set_executable(env.executable.as_os_str())
        .map_err(fail)?;
    if env.kind == Kind::Standalone && vars::os(vars::PYTHONHOME).is_none_or(|h| h.is_empty()) {
        config.set_home(env.root.as_os_str()).map_err(fail)?;
    }
    config.set_argv(argv).map_err(fail)?;
    for (name, value) in config.fields() {
        debug::line(format!("PyConfig.{name} = {:?}", value));
    }
    Ok(config)
}

/// Starts the embedded interpreter for `env` (pre-flight checks included).
pub fn start(env: &PythonEnv) -> Result<Interpreter, UserError> {
    let config = config_for(env, &[OsString::from("zenml")])?;
    debug::line(format!(
        "embedding {}",
        ffi::linked_version_text().replace('\n', " ")
    ));
    let interpreter = ffi::initialize(config).map_err(|e| {
        UserError::new(
            format!("{e} (env {})", env.root.display()),
            "check the env with examples/print_sys_path, or recreate it",
        )
    })?;
    if debug::enabled() {
        let _ = describe(env, false, true);
    }
    Ok(interpreter)
}

/// Resolves the env as the launcher does, starts the embedded interpreter, runs `work`, finalizes.
/// Exit code 0, 120 when the final flush failed (as CPython), 1 with a one-line error otherwise.
pub fn run_embedded(work: impl FnOnce(&PythonEnv) -> anyhow::Result<()>) -> ExitCode {
    ExitCode::from(run_embedded_code(work))
}

/// [`run_embedded`], with the exit code as a number.
pub fn run_embedded_code(work: impl FnOnce(&PythonEnv) -> anyhow::Result<()>) -> u8 {
    let result = (|| -> anyhow::Result<u8> {
        let env = crate::env::resolve_checked()?;
        let interpreter = start(&env)?;
        let outcome = work(&env);
        let flushed = interpreter.finalize();
        outcome?;
        Ok(if flushed == 0 { 0 } else { 120 })
    })();
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::error::report(&err);
            1
        }
    }
}

/// Prints `sys.prefix`, `sys.path`, … of the running interpreter (plus the env) on stdout, or on
/// stderr with the debug prefix.
pub fn describe(env: &PythonEnv, as_json: bool, to_stderr: bool) -> PyResult<()> {
    describe_with(env, as_json, to_stderr, None)
}

/// [`describe`], with `extra_json` (a JSON object) merged into the top-level entries.
pub fn describe_with(
    env: &PythonEnv,
    as_json: bool,
    to_stderr: bool,
    extra_json: Option<&str>,
) -> PyResult<()> {
    Python::attach(|py| {
        let code = std::ffi::CString::new(describe_source(env, as_json, to_stderr, extra_json))
            .expect("the source is ASCII without NUL");
        py.run(&code, Some(&PyDict::new(py)), None)
    })
}

/// The Python source behind [`describe`]: ASCII, its inputs as literals (the env root as raw
/// bytes, decoded with the filesystem encoding), meant to run in a namespace of its own (tier 2
/// runs it with `exec(…, {})`, so `__main__` stays as the CLI has it).
pub fn describe_source(
    env: &PythonEnv,
    as_json: bool,
    to_stderr: bool,
    extra_json: Option<&str>,
) -> String {
    use std::os::unix::ffi::OsStrExt;
    let text = |s: &str| bytes_literal(s.as_bytes()) + ".decode()";
    let py_bool = |b: bool| if b { "True" } else { "False" };
    let prefix = if to_stderr {
        format!("{} sys.", debug::PREFIX)
    } else {
        "sys.".to_string()
    };
    format!(
        "env_source = {}\nenv_kind = {}\nenv_root = {}\nenv_version = {}\n\
         as_json = {}\nto_stderr = {}\nline_prefix = {}\nextra_json = {}\n{DESCRIBE}",
        text(env.source.as_str()),
        text(env.kind.as_str()),
        bytes_literal(env.root.as_os_str().as_bytes()),
        env.version
            .map_or_else(|| "None".to_string(), |v| text(&v.to_string())),
        py_bool(as_json),
        py_bool(to_stderr),
        text(&prefix),
        extra_json.map_or_else(|| "None".to_string(), text),
    )
}

/// A Python `bytes` literal (ASCII source) holding exactly `bytes`.
pub fn bytes_literal(bytes: &[u8]) -> String {
    let mut out = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' | b'\'' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::bytes_literal;

    #[test]
    fn bytes_literals_escape_quotes_backslashes_and_non_ascii() {
        assert_eq!(bytes_literal(b"a'b\\c"), "b'a\\'b\\\\c'");
        assert_eq!(bytes_literal(&[0xff, b'\n', b' ']), "b'\\xff\\x0a '");
    }
}
