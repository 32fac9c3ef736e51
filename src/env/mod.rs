//! Which Python environment a `zenml` invocation belongs to, found before any Python starts.
//!
//! `discovery` picks the env root (ZENML_PYTHON, VIRTUAL_ENV, CONDA_PREFIX, the launcher's own
//! prefix, PATH), `layout` says where an installed launcher keeps its files, `pyvenv` reads
//! `pyvenv.cfg`, and `preflight` refuses the shapes that would start an interpreter silently
//! wrong (docs/embedding.md §3).

pub mod discovery;
pub mod layout;
pub mod libpython;
pub mod preflight;
pub mod pyvenv;

use std::fmt;
use std::path::{Path, PathBuf};

pub use discovery::{DiscoveryInput, resolve};
pub use preflight::{Problem, Severity};
pub use pyvenv::PyvenvCfg;

/// `major.minor[.micro]` of a Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    pub major: u8,
    pub minor: u8,
    pub micro: Option<u16>,
}

impl PyVersion {
    /// Parses `3.11`, `3.11.7`, `3.13.0rc1`, or the start of `Py_GetVersion()` (`3.11.7 (main, …)`).
    pub fn parse(text: &str) -> Option<Self> {
        let head = text.split_whitespace().next()?;
        let mut parts = head.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let micro = parts.next().and_then(|m| {
            let digits: String = m.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
        Some(PyVersion {
            major,
            minor,
            micro,
        })
    }

    pub fn same_minor(&self, other: &PyVersion) -> bool {
        self.major == other.major && self.minor == other.minor
    }

    /// `python3.11`: the name of the stdlib directory under `lib/`.
    pub fn lib_dir_name(&self) -> String {
        format!("python{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.micro {
            Some(micro) => write!(f, "{}.{}.{}", self.major, self.minor, micro),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// Which rule chose the env.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ZenmlPython,
    VirtualEnv,
    CondaPrefix,
    /// The env the launcher was installed into (`layout`): it serves that env, as pip's console
    /// script runs its own env's python whatever is activated.
    Installed,
    /// Named on the admin binary's command line.
    Named,
    LauncherPrefix,
    Path,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::ZenmlPython => crate::vars::ZENML_PYTHON,
            Source::VirtualEnv => crate::vars::VIRTUAL_ENV,
            Source::CondaPrefix => crate::vars::CONDA_PREFIX,
            Source::Installed => "installed",
            Source::Named => "command-line",
            Source::LauncherPrefix => "launcher-prefix",
            Source::Path => crate::vars::PATH,
        }
    }
}

/// A venv (has `pyvenv.cfg`, base interpreter elsewhere) or a standalone prefix (conda, pyenv, /usr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Venv,
    Standalone,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Venv => "venv",
            Kind::Standalone => "standalone",
        }
    }
}

/// A resolved environment. Paths keep the bytes the OS gave (never canonicalized, never lossy).
#[derive(Debug, Clone)]
pub struct PythonEnv {
    pub source: Source,
    pub kind: Kind,
    pub root: PathBuf,
    /// The interpreter path handed to `PyConfig.executable` and exec'd for delegation.
    pub executable: PathBuf,
    pub version: Option<PyVersion>,
    pub pyvenv: Option<PyvenvCfg>,
}

impl PythonEnv {
    /// The prefix whose stdlib this env runs on: pyvenv.cfg `home`'s parent for a venv, else the root.
    pub fn base_prefix(&self) -> Option<PathBuf> {
        match self.kind {
            Kind::Venv => self.pyvenv.as_ref()?.base_prefix(),
            Kind::Standalone => Some(self.root.clone()),
        }
    }

    /// `<root>/lib/pythonX.Y/site-packages`.
    pub fn site_packages(&self) -> Option<PathBuf> {
        let version = self.version?;
        Some(
            self.root
                .join("lib")
                .join(version.lib_dir_name())
                .join("site-packages"),
        )
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }
}

/// `<prefix>/lib/pythonX.Y/os.py`, the landmark CPython's getpath looks for.
pub fn stdlib_landmark(prefix: &Path, version: &PyVersion) -> PathBuf {
    prefix
        .join("lib")
        .join(version.lib_dir_name())
        .join("os.py")
}

/// Resolves the env the launcher runs for, refusing broken ones (fatal pre-flight problems).
pub fn resolve_checked() -> Result<PythonEnv, crate::error::UserError> {
    let env = resolve(&DiscoveryInput::from_process())?;
    crate::debug::line(format!(
        "env: source={} kind={} root={} version={} executable={}",
        env.source.as_str(),
        env.kind.as_str(),
        env.root.display(),
        env.version
            .map_or_else(|| "?".to_string(), |v| v.to_string()),
        env.executable.display()
    ));
    let problems = preflight::check(&env, &preflight::CheckInput::from_process(None));
    for p in &problems {
        crate::debug::line(format!("preflight {:?}: {}", p.severity, p.error));
    }
    if let Some(p) = preflight::first_fatal(&problems) {
        return Err(p.error.clone());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            PyVersion::parse("3.11"),
            Some(PyVersion {
                major: 3,
                minor: 11,
                micro: None
            })
        );
        assert_eq!(
            PyVersion::parse("3.11.7 (main, Jan  1 2024, 00:00:00) [GCC 12.2.0]"),
            Some(PyVersion {
                major: 3,
                minor: 11,
                micro: Some(7)
            })
        );
        assert_eq!(
            PyVersion::parse("3.13.0rc1").map(|v| v.micro),
            Some(Some(0))
        );
        assert_eq!(PyVersion::parse("three"), None);
        assert_eq!(PyVersion::parse(""), None);
    }
}
