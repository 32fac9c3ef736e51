//! Env resolution order: ZENML_PYTHON, the env the launcher was installed into (it serves its own
//! env whatever is activated, as pip's console script does), VIRTUAL_ENV, CONDA_PREFIX (the venv
//! wins when both are set), the launcher's own prefix (installed into an env and run without activation), then the
//! first `python3` on PATH (a pyenv shim is a script, so it is asked for its real interpreter).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::layout::InstallLayout;
use super::{Kind, PyVersion, PythonEnv, PyvenvCfg, Source};
use crate::error::UserError;
use crate::vars;

/// Everything discovery looks at, captured so that it can be tested without touching the process.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryInput {
    pub zenml_python: Option<OsString>,
    pub virtual_env: Option<OsString>,
    pub conda_prefix: Option<OsString>,
    /// Paths the running launcher is known by (argv[0] when it has a slash, then /proc/self/exe).
    pub launcher_paths: Vec<PathBuf>,
    pub path: Option<OsString>,
}

impl DiscoveryInput {
    pub fn from_process() -> Self {
        let non_empty = |name| vars::os(name).filter(|v| !v.is_empty());
        let mut input = DiscoveryInput {
            zenml_python: non_empty(vars::ZENML_PYTHON),
            virtual_env: non_empty(vars::VIRTUAL_ENV),
            conda_prefix: non_empty(vars::CONDA_PREFIX),
            launcher_paths: Vec::new(),
            path: vars::os(vars::PATH),
        };
        // Only looked at when ZENML_PYTHON does not name the env: spare the readlink otherwise.
        if input.zenml_python.is_none() {
            if let Some(arg0) = std::env::args_os().next() {
                if arg0.as_bytes().contains(&b'/') {
                    input.launcher_paths.push(PathBuf::from(arg0));
                }
            }
            if let Ok(exe) = std::env::current_exe() {
                input.launcher_paths.push(exe);
            }
        }
        input
    }
}

/// Picks the env. Only stats and reads small files (a PATH shim costs one subprocess).
/// Whether the env is sound is `preflight`'s job.
pub fn resolve(input: &DiscoveryInput) -> Result<PythonEnv, UserError> {
    if let Some(python) = &input.zenml_python {
        let exe = PathBuf::from(python);
        if !exe.exists() {
            return Err(UserError::new(
                format!(
                    "{} points to an interpreter that does not exist: {}",
                    vars::ZENML_PYTHON,
                    exe.display()
                ),
                format!(
                    "set {} to the `python` of the env to use, or unset it",
                    vars::ZENML_PYTHON
                ),
            ));
        }
        return env_from_interpreter(Source::ZenmlPython, exe);
    }
    if let Some(layout) = input
        .launcher_paths
        .iter()
        .find_map(|p| InstallLayout::of_binary(p))
    {
        return Ok(env_from_root(Source::Installed, layout.root, None));
    }
    if let Some(root) = &input.virtual_env {
        return Ok(env_from_root(
            Source::VirtualEnv,
            PathBuf::from(root),
            Some(Kind::Venv),
        ));
    }
    if let Some(root) = &input.conda_prefix {
        return Ok(env_from_root(
            Source::CondaPrefix,
            PathBuf::from(root),
            None,
        ));
    }
    for launcher in &input.launcher_paths {
        if let Some(root) = launcher.parent().and_then(|bin| {
            (bin.file_name() == Some(OsStr::new("bin")) && is_file(&bin.join("python")))
                .then(|| bin.parent().map(Path::to_path_buf))
                .flatten()
        }) {
            return Ok(env_from_root(Source::LauncherPrefix, root, None));
        }
    }
    if let Some(exe) = input
        .path
        .as_deref()
        .and_then(|p| find_on_path(p, "python3"))
    {
        return env_from_interpreter(Source::Path, exe);
    }
    Err(UserError::new(
        "no Python environment found: no VIRTUAL_ENV, no CONDA_PREFIX, no `python` next to the launcher and no `python3` on PATH",
        "activate the venv or conda env that has ZenML installed, or set ZENML_PYTHON to its interpreter",
    ))
}

/// The env whose root is `root` (named on a command line, as by `zenml-launcher self install`).
pub fn env_at(root: PathBuf) -> PythonEnv {
    env_from_root(Source::Named, root, None)
}

/// An env given by its root: `<root>/bin/python` is its interpreter.
fn env_from_root(source: Source, root: PathBuf, kind: Option<Kind>) -> PythonEnv {
    let cfg_path = root.join("pyvenv.cfg");
    let pyvenv = PyvenvCfg::read(&cfg_path).ok();
    let kind = kind.unwrap_or(if pyvenv.is_some() {
        Kind::Venv
    } else {
        Kind::Standalone
    });
    let executable = root.join("bin").join("python");
    let version = match (&pyvenv, kind) {
        (Some(cfg), Kind::Venv) => cfg.version,
        _ => standalone_version(&root, &executable),
    };
    PythonEnv {
        source,
        kind,
        root,
        executable,
        version,
        pyvenv,
    }
}

/// An env given by an interpreter path: `<root>/bin/<python>`.
fn env_from_interpreter(source: Source, exe: PathBuf) -> Result<PythonEnv, UserError> {
    let exe = if is_script(&exe) {
        ask_interpreter(&exe)?
    } else {
        exe
    };
    let root = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            UserError::new(
                format!("cannot tell the env of the interpreter {}", exe.display()),
                "point ZENML_PYTHON at <env>/bin/python",
            )
        })?;
    let pyvenv = PyvenvCfg::read(&root.join("pyvenv.cfg")).ok();
    let kind = if pyvenv.is_some() {
        Kind::Venv
    } else {
        Kind::Standalone
    };
    let version = match &pyvenv {
        Some(cfg) => cfg.version,
        None => standalone_version(&root, &exe),
    };
    Ok(PythonEnv {
        source,
        kind,
        root,
        executable: exe,
        version,
        pyvenv,
    })
}

/// The version of a standalone prefix: from the interpreter's name (`python3.11`, possibly behind
/// a symlink), else the only `lib/pythonX.Y/os.py` there is.
fn standalone_version(root: &Path, exe: &Path) -> Option<PyVersion> {
    let from_name = |p: &Path| {
        let name = p.file_name()?.to_str()?;
        let version = PyVersion::parse(name.strip_prefix("python")?)?;
        Some(version)
    };
    if let Some(v) = from_name(exe) {
        return Some(v);
    }
    if let Ok(target) = std::fs::read_link(exe) {
        if let Some(v) = from_name(&target) {
            return Some(v);
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("lib")).ok()?.flatten() {
        let name = entry.file_name();
        if let Some(v) = name
            .to_str()
            .and_then(|n| n.strip_prefix("python"))
            .and_then(PyVersion::parse)
        {
            if entry.path().join("os.py").is_file() {
                found.push(v);
            }
        }
    }
    (found.len() == 1).then(|| found[0])
}

fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// A `#!` script (a pyenv or asdf shim), not an interpreter binary.
fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"#!"
}

/// Runs a shim to learn which interpreter it stands for.
fn ask_interpreter(shim: &Path) -> Result<PathBuf, UserError> {
    let output = Command::new(shim)
        .args([
            "-c",
            "import os, sys; sys.stdout.buffer.write(os.fsencode(sys.executable))",
        ])
        .output()
        .map_err(|e| {
            UserError::new(
                format!("cannot run {}: {e}", shim.display()),
                "activate an env, or set ZENML_PYTHON to an interpreter",
            )
        })?;
    let path = PathBuf::from(OsStr::from_bytes(&output.stdout));
    if !output.status.success() || !path.is_absolute() {
        return Err(UserError::new(
            format!("{} did not report its interpreter", shim.display()),
            "activate an env, or set ZENML_PYTHON to an interpreter",
        ));
    }
    Ok(path)
}

/// The first executable `name` in a PATH value.
pub fn find_on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.as_bytes()
        .split(|&b| b == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(OsStr::from_bytes(dir)).join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zl-disc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        dir
    }

    #[test]
    fn virtual_env_wins_over_conda_prefix() {
        let venv = tmp("venv");
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\nversion = 3.11.2\n",
        )
        .unwrap();
        let input = DiscoveryInput {
            virtual_env: Some(venv.clone().into()),
            conda_prefix: Some("/opt/conda".into()),
            ..Default::default()
        };
        let env = resolve(&input).unwrap();
        assert_eq!(env.source, Source::VirtualEnv);
        assert_eq!(env.kind, Kind::Venv);
        assert_eq!(env.root, venv);
        assert_eq!(env.executable, venv.join("bin/python"));
        assert_eq!(env.version.unwrap().to_string(), "3.11.2");
    }

    #[test]
    fn conda_prefix_is_standalone_with_version_from_lib() {
        let prefix = tmp("conda");
        std::fs::create_dir_all(prefix.join("lib/python3.12")).unwrap();
        std::fs::write(prefix.join("lib/python3.12/os.py"), "").unwrap();
        let input = DiscoveryInput {
            conda_prefix: Some(prefix.clone().into()),
            ..Default::default()
        };
        let env = resolve(&input).unwrap();
        assert_eq!(
            (env.source, env.kind),
            (Source::CondaPrefix, Kind::Standalone)
        );
        assert_eq!(env.version.unwrap().to_string(), "3.12");
        assert_eq!(env.base_prefix(), Some(prefix));
    }

    #[test]
    fn launcher_prefix_needs_a_python_next_to_it() {
        let prefix = tmp("installed");
        std::fs::write(
            prefix.join("pyvenv.cfg"),
            "home = /x/bin\nversion_info = 3.10.13\n",
        )
        .unwrap();
        let launcher = prefix.join("bin/zenml");
        let input = DiscoveryInput {
            launcher_paths: vec![launcher.clone()],
            ..Default::default()
        };
        assert!(resolve(&input).is_err(), "no bin/python yet: nothing found");
        std::fs::write(prefix.join("bin/python"), "").unwrap();
        let env = resolve(&input).unwrap();
        assert_eq!((env.source, env.kind), (Source::LauncherPrefix, Kind::Venv));
        assert_eq!(env.version.unwrap().to_string(), "3.10.13");
    }

    #[test]
    fn an_installed_launcher_serves_its_own_env_over_an_activated_one() {
        let own = tmp("installed-own");
        std::fs::write(own.join("pyvenv.cfg"), "home = /x/bin\nversion = 3.12.1\n").unwrap();
        std::fs::write(own.join("bin/python"), "").unwrap();
        let other = tmp("installed-other");
        let launcher = own.join("bin/zenml");
        let mut input = DiscoveryInput {
            virtual_env: Some(other.clone().into()),
            launcher_paths: vec![launcher],
            ..Default::default()
        };
        // Not installed (no marker): the activated env wins, as before.
        assert_eq!(resolve(&input).unwrap().root, other);
        let layout = InstallLayout::new(&own);
        std::fs::create_dir_all(layout.dir()).unwrap();
        std::fs::write(layout.marker(), "zenml\n").unwrap();
        let env = resolve(&input).unwrap();
        assert_eq!((env.source, env.root.clone()), (Source::Installed, own));
        // ZENML_PYTHON still names the env explicitly.
        input.zenml_python = Some(other.join("bin/python").into());
        std::fs::write(other.join("bin/python"), "").unwrap();
        assert_eq!(resolve(&input).unwrap().source, Source::ZenmlPython);
    }

    #[test]
    fn missing_zenml_python_names_the_path() {
        let input = DiscoveryInput {
            zenml_python: Some("/nope/bin/python".into()),
            ..Default::default()
        };
        let err = resolve(&input).unwrap_err();
        assert!(err.to_string().contains("/nope/bin/python"), "{err}");
    }

    #[test]
    fn nothing_found_is_an_error_with_a_hint() {
        let err = resolve(&DiscoveryInput::default()).unwrap_err();
        assert!(err.hint.contains("activate"));
    }
}
