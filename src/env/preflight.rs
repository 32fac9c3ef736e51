//! Pre-flight checks: stat, readlink and pyvenv.cfg only, run before any Python starts. They catch
//! the env shapes that would otherwise start silently wrong (docs/embedding.md §3).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Kind, PyVersion, PythonEnv, Source, stdlib_landmark};
use crate::error::UserError;
use crate::vars;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a line under ZENML_DEBUG_PYTHON; changes nothing.
    Warning,
    /// The embedded interpreter would be the wrong one; the env's own python is still fine.
    EmbedOnly,
    /// No interpreter of this env can run ZenML as the user expects: refuse.
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub error: UserError,
}

/// What the launcher embeds, read from the linked libpython before initialisation.
#[derive(Debug, Clone)]
pub struct LinkedPython {
    pub version: PyVersion,
    /// The shared library file the loader picked (dladdr), when known.
    pub library: Option<PathBuf>,
}

/// Everything beyond the env that the checks look at.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    pub pythonhome: Option<std::ffi::OsString>,
    pub linked: Option<LinkedPython>,
}

impl CheckInput {
    pub fn from_process(linked: Option<LinkedPython>) -> Self {
        CheckInput {
            pythonhome: vars::os(vars::PYTHONHOME).filter(|v| !v.is_empty()),
            linked,
        }
    }
}

/// All problems of `env`, most severe first.
pub fn check(env: &PythonEnv, input: &CheckInput) -> Vec<Problem> {
    let mut problems = Vec::new();
    let fatal_problem = |message: String, hint: String| Problem {
        severity: Severity::Fatal,
        error: UserError::new(message, hint),
    };
    macro_rules! fatal {
        ($m:expr, $h:expr $(,)?) => {
            problems.push(fatal_problem($m, $h))
        };
    }
    let leave = match env.source {
        Source::VirtualEnv => "recreate the venv, or run `deactivate`",
        Source::CondaPrefix => "recreate the env, or run `conda deactivate`",
        Source::ZenmlPython => "set ZENML_PYTHON to a working interpreter, or unset it",
        _ => "recreate the env, or activate another one",
    };

    if !env.root.is_dir() {
        fatal!(
            format!(
                "{} points to a directory that does not exist: {}",
                env.source.as_str(),
                env.root.display()
            ),
            leave.to_string(),
        );
        return finish(problems);
    }
    if !env.executable.exists() {
        let what = if env.executable.symlink_metadata().is_ok() {
            "a dangling link"
        } else {
            "missing"
        };
        fatal!(
            format!(
                "the env's interpreter is {what}: {}",
                env.executable.display()
            ),
            format!("the Python it was made from may have been removed; {leave}"),
        );
        return finish(problems);
    }
    let cfg_path = env.root.join("pyvenv.cfg");
    if env.kind == Kind::Venv && env.pyvenv.is_none() {
        fatal!(
            format!(
                "{} has no pyvenv.cfg, so it would run as the base Python: {}",
                env.source.as_str(),
                cfg_path.display()
            ),
            leave.to_string(),
        );
        return finish(problems);
    }
    if let Some(why) = env.pyvenv.as_ref().and_then(|c| c.refused.as_ref()) {
        fatal!(
            format!("{}: {why}", cfg_path.display()),
            format!("fix or recreate that file; {leave}"),
        );
        return finish(problems);
    }
    let Some(version) = env.version else {
        fatal!(
            format!(
                "cannot tell which Python version the env at {} runs",
                env.root.display()
            ),
            match env.kind {
                Kind::Venv => format!("pyvenv.cfg has no `version` or `version_info`; {leave}"),
                Kind::Standalone =>
                    "expected exactly one lib/pythonX.Y/os.py under the prefix".to_string(),
            },
        );
        return finish(problems);
    };
    if env.kind == Kind::Venv {
        let cfg = env.pyvenv.as_ref().expect("checked above");
        match &cfg.home {
            None => fatal!(
                format!("pyvenv.cfg has no `home`: {}", cfg_path.display()),
                leave.to_string()
            ),
            Some(home) if !home.is_dir() => fatal!(
                format!(
                    "the base Python named by pyvenv.cfg `home` does not exist: {}",
                    home.display()
                ),
                format!("the Python this env was made from was removed or moved; {leave}"),
            ),
            Some(_) => {}
        }
    }
    if let Some(base) = env.base_prefix() {
        let landmark = stdlib_landmark(&base, &version);
        if !landmark.is_file() && problems.is_empty() {
            fatal!(
                format!(
                    "the base Python's standard library is missing: {}",
                    landmark.display()
                ),
                format!("the Python this env was made from is gone or broken; {leave}"),
            );
        }
    }
    if env.kind == Kind::Venv {
        if let Some(site) = env.site_packages().filter(|s| !s.is_dir()) {
            fatal!(
                format!(
                    "the env has no site-packages for Python {}.{}: {}",
                    version.major,
                    version.minor,
                    site.display()
                ),
                format!("pyvenv.cfg may claim the wrong version; {leave}"),
            );
        }
    }
    if let Some(home) = &input.pythonhome {
        // PYTHONHOME is `prefix[:exec_prefix]`.
        let prefix = home
            .as_bytes()
            .split(|&b| b == b':')
            .next()
            .unwrap_or_default();
        let landmark = stdlib_landmark(Path::new(OsStr::from_bytes(prefix)), &version);
        if !landmark.is_file() {
            fatal!(
                format!(
                    "PYTHONHOME has no standard library for Python {}.{}: {}",
                    version.major,
                    version.minor,
                    landmark.display()
                ),
                "unset PYTHONHOME (environments do not need it)".to_string(),
            );
        } else {
            problems.push(warning(format!(
                "PYTHONHOME is set: {}",
                Path::new(home).display()
            )));
        }
    }
    if std::str::from_utf8(env.root.as_os_str().as_bytes()).is_err() {
        problems.push(warning(format!(
            "the env path is not UTF-8: {}",
            env.root.display()
        )));
    }
    if let Some(linked) = &input.linked {
        check_linked(env, &version, linked, &mut problems);
    }
    finish(problems)
}

fn warning(message: String) -> Problem {
    Problem {
        severity: Severity::Warning,
        error: UserError::new(message, "nothing to do"),
    }
}

fn check_linked(
    env: &PythonEnv,
    version: &PyVersion,
    linked: &LinkedPython,
    problems: &mut Vec<Problem>,
) {
    let lib = linked
        .library
        .as_ref()
        .map_or_else(|| "libpython".to_string(), |p| p.display().to_string());
    let hint = "commands run by the env's own python instead; rebuild the launcher with PYO3_PYTHON set to \
                this env's python for the in-process fast paths";
    let embed_only = |message: String| Problem {
        severity: Severity::EmbedOnly,
        error: UserError::new(message, hint),
    };
    if !version.same_minor(&linked.version) {
        problems.push(embed_only(format!(
            "the env at {} runs Python {}.{} but the launcher embeds Python {} ({lib})",
            env.root.display(),
            version.major,
            version.minor,
            linked.version
        )));
        return;
    }
    if let (Some(a), Some(b)) = (version.micro, linked.version.micro) {
        if a != b {
            problems.push(embed_only(format!(
                "the env at {} runs Python {version} but the launcher embeds Python {} ({lib}), another build",
                env.root.display(),
                linked.version
            )));
            return;
        }
    }
    let (Some(library), Some(base)) = (&linked.library, env.base_prefix()) else {
        return;
    };
    let library_real = std::fs::canonicalize(library).unwrap_or_else(|_| library.clone());
    let base_real = std::fs::canonicalize(&base).unwrap_or(base.clone());
    if library_real.starts_with(&base_real) {
        return;
    }
    // A standalone prefix with a libpython of its own must be that same build.
    let own = own_libpython(&base, version);
    let same_build = match &own {
        None => env.kind == Kind::Standalone,
        Some(own) => same_file_or_copy(own, &library_real),
    };
    if !same_build {
        problems.push(embed_only(format!(
            "the launcher embeds {lib}, which is not the libpython of the env's base Python {}",
            base.display()
        )));
    }
}

fn own_libpython(prefix: &Path, version: &PyVersion) -> Option<PathBuf> {
    let name = format!("libpython{}.{}.so", version.major, version.minor);
    let candidate = prefix.join("lib").join(&name);
    candidate.exists().then_some(candidate)
}

fn same_file_or_copy(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            use std::os::unix::fs::MetadataExt;
            (ma.dev(), ma.ino()) == (mb.dev(), mb.ino()) || ma.len() == mb.len()
        }
        _ => false,
    }
}

fn finish(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    problems
}

/// The first fatal problem, if any.
pub fn first_fatal(problems: &[Problem]) -> Option<&Problem> {
    problems.iter().find(|p| p.severity == Severity::Fatal)
}

/// The first problem that rules out the embedded interpreter (fatal ones included).
pub fn first_embed_blocker(problems: &[Problem]) -> Option<&Problem> {
    problems.iter().find(|p| p.severity >= Severity::EmbedOnly)
}
