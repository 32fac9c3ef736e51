//! Delegation: replace this process with the env's own Python running the installed ZenML CLI.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::debug;
use crate::env::PythonEnv;
use crate::env::layout::InstallLayout;
use crate::error::UserError;
use crate::zenml::package::EntryPoint;

/// Mirrors the console script pip writes (`bin/zenml`): `sys.path[0]` is the script's directory,
/// `sys.argv[0]` its path (so Click's program name is `zenml`). `-c` is used instead of running
/// `bin/zenml` because that file may be this launcher. See [`bootstrap_source`].
pub fn bootstrap(env: &PythonEnv, entry: &EntryPoint) -> String {
    let kept = InstallLayout::new(&env.root).saved_console_script();
    bootstrap_source(entry, kept.is_file().then_some(kept.as_path()))
}

/// The `python -c` source of [`bootstrap`] (its argv: the bin dir, then the call's arguments).
/// It runs pip's script as the installed launcher kept it (`kept`), else the script pip would
/// write for `entry`, compiled under the name `<bin dir>/zenml` as `python bin/zenml` compiles
/// it, so that a traceback's frames are pip's script's: the script's lines are put in `linecache`
/// under that name (rich and `traceback` read them there, not from the binary now at that path;
/// with no mtime, `linecache.checkcache` keeps them), and the frames above the script's own (this
/// source's, which `python bin/zenml` does not have) are left out of what `sys.excepthook` is
/// given. The script runs in a namespace of its own, as before (the `__main__` module is the
/// `-c` one, without a `__file__` that multiprocessing's spawn would run).
pub fn bootstrap_source(entry: &EntryPoint, kept: Option<&Path>) -> String {
    use std::os::unix::ffi::OsStrExt;
    let literal = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('"', "\\\"")
    };
    let kept = kept.map_or_else(
        || "None".to_string(),
        |path| crate::python::startup::bytes_literal(path.as_os_str().as_bytes()),
    );
    format!(
        "import sys\n\
         _bin = sys.argv[1]\n\
         sys.path[0] = _bin\n\
         sys.argv = [_bin + '/zenml'] + sys.argv[2:]\n\
         def _zl_run(stub, kept):\n\
         \x20   import linecache\n\
         \x20   name = sys.argv[0]\n\
         \x20   source = None\n\
         \x20   if kept is not None:\n\
         \x20       try:\n\
         \x20           with open(kept, 'rb') as f:\n\
         \x20               source = f.read().decode('utf-8')\n\
         \x20           code = compile(source, name, 'exec', dont_inherit=True)\n\
         \x20       except (OSError, UnicodeDecodeError, SyntaxError, ValueError):\n\
         \x20           source = None\n\
         \x20   if source is None:\n\
         \x20       source = stub\n\
         \x20       code = compile(source, name, 'exec', dont_inherit=True)\n\
         \x20   linecache.cache[name] = (len(source), None, source.splitlines(True), name)\n\
         \x20   try:\n\
         \x20       exec(code, {{'__name__': '__main__', '__builtins__': __builtins__}})\n\
         \x20   except SystemExit:\n\
         \x20       raise\n\
         \x20   except BaseException:\n\
         \x20       hook = sys.excepthook\n\
         \x20       def excepthook(kind, value, tb):\n\
         \x20           top = tb\n\
         \x20           while top is not None and top.tb_frame.f_code is not code:\n\
         \x20               top = top.tb_next\n\
         \x20           return hook(kind, value, tb if top is None else top)\n\
         \x20       sys.excepthook = excepthook\n\
         \x20       raise\n\
         _zl_run(\"{stub}\", {kept})\n",
        stub = literal(&stub(entry)),
    )
}

/// The body of the console script pip would write for `entry`.
fn stub(entry: &EntryPoint) -> String {
    format!(
        "import sys\n\
         from {module} import {head} as _cli\n\
         {walk}\
         if __name__ == '__main__':\n    sys.exit(_cli())\n",
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

/// The env's pip-generated `bin/zenml`, when it is a Python script and not this launcher.
pub fn console_script(env: &PythonEnv) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let script = env.bin_dir().join("zenml");
    let meta = std::fs::metadata(&script).ok()?;
    if let Ok(me) = std::env::current_exe().and_then(std::fs::metadata) {
        if (me.dev(), me.ino()) == (meta.dev(), meta.ino()) {
            return None;
        }
    }
    let first_line = first_line(&script)?;
    (first_line.starts_with(b"#!") && first_line.windows(6).any(|w| w == b"python"))
        .then_some(script)
}

/// The first line of a file (at most 512 bytes of it), without its `\n`.
fn first_line(path: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    head[..n].split(|&b| b == b'\n').next().map(<[u8]>::to_vec)
}

/// The interpreter a console script's `#!` line names, when the line is a plain path (no
/// arguments, no `/bin/sh` trampoline).
pub fn shebang_interpreter(script: &std::path::Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let line = first_line(script)?;
    let path = line.strip_prefix(b"#!")?;
    let path = path.strip_suffix(b"\r").unwrap_or(path);
    (!path.is_empty() && !path.iter().any(u8::is_ascii_whitespace))
        .then(|| PathBuf::from(std::ffi::OsStr::from_bytes(path)))
}

/// The command delegation runs (exposed for the diagnosis and tests): the env's own console
/// script when there is one (tracebacks, `sys.argv[0]` and `__main__` are then exactly the
/// Python CLI's), else the env's python running the same stub under the script's name.
pub fn command(env: &PythonEnv, entry: &EntryPoint, args: &[OsString]) -> Command {
    if let Some(script) = console_script(env) {
        let mut cmd = Command::new(script);
        cmd.args(args);
        return cmd;
    }
    let mut cmd = Command::new(&env.executable);
    cmd.arg("-c")
        .arg(bootstrap(env, entry))
        .arg(env.bin_dir())
        .args(args);
    cmd
}

/// Execs the Python CLI. Returns only if the exec failed.
pub fn exec(env: &PythonEnv, entry: &EntryPoint, args: &[OsString]) -> UserError {
    debug::line(format!(
        "exec {} ({}:{})",
        console_script(env)
            .unwrap_or_else(|| env.executable.clone())
            .display(),
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
    fn shebang_lines() {
        let dir = std::env::temp_dir().join(format!("zl-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let check = |text: &str| {
            let path = dir.join("script");
            std::fs::write(&path, text).unwrap();
            shebang_interpreter(&path)
        };
        let python = Some(PathBuf::from("/env/bin/python"));
        assert_eq!(check("#!/env/bin/python\nimport sys\n"), python);
        assert_eq!(check("#!/env/bin/python\r\n"), python);
        assert_eq!(check("#!/env/bin/python -I\n"), None);
        assert_eq!(check("#!/bin/sh\n"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(check("import sys\n"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bootstrap_walks_dotted_attributes() {
        let entry = EntryPoint {
            module: "pkg.mod".into(),
            attr: "group.cli".into(),
        };
        let code = bootstrap_source(&entry, None);
        let body = stub(&entry);
        assert!(
            body.contains("from pkg.mod import group as _cli\n_cli = _cli.cli\n"),
            "{body}"
        );
        assert!(body.ends_with("sys.exit(_cli())\n"));
        assert!(
            code.ends_with("_zl_run(\"import sys\\nfrom pkg.mod import group as _cli\\n_cli = _cli.cli\\nif __name__ == '__main__':\\n    sys.exit(_cli())\\n\", None)\n"),
            "{code}"
        );
        let kept = bootstrap_source(&entry, Some(Path::new("/e/lib/zenml-launcher/it's")));
        assert!(
            kept.ends_with(", b'/e/lib/zenml-launcher/it\\'s')\n"),
            "{kept}"
        );
    }
}
