//! The ZenML installed in an env, found by reading files only: the package directory (for
//! `zenml/VERSION` and the data the launcher reads), and the console-script entry point declared
//! in `zenml-*.dist-info/entry_points.txt` (`zenml_cli:cli` since 0.93, `zenml.cli.cli:cli` before).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::env::PythonEnv;
use crate::error::UserError;

/// ZenML releases whose config and store layout the Rust `status` was verified against (live
/// CLI comparisons in tests/status_parity.rs). Other releases are delegated.
pub const STORE_VERIFIED_VERSIONS: &[&str] = &["0.98.0"];

/// `module:attr` of the `zenml` console script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    pub module: String,
    pub attr: String,
}

impl EntryPoint {
    /// Since 0.93 the CLI reroutes stdout to stderr (its `zenml_cli` package does it on import).
    pub fn reroutes_stdout(&self) -> bool {
        self.module == "zenml_cli"
    }
}

#[derive(Debug, Clone)]
pub struct ZenmlInstall {
    /// The site-packages (or other sys.path dir) holding the dist-info.
    pub site_packages: PathBuf,
    pub dist_info: PathBuf,
    pub entry_point: EntryPoint,
    /// The `zenml` package directory, when it could be located without Python.
    pub package_dir: Option<PathBuf>,
    /// `zenml/VERSION` as read when the install was found (read once per call).
    pub version_file: Option<String>,
}

impl ZenmlInstall {
    /// `zenml/VERSION`, stripped: what `zenml.__version__` is.
    pub fn version(&self) -> Option<String> {
        let v = self.version_file.as_deref()?.trim();
        (!v.is_empty()).then(|| v.to_string())
    }
}

/// Finds ZenML in the env's site-packages (and the base's when the venv includes system site
/// packages).
pub fn find(env: &PythonEnv) -> Result<ZenmlInstall, UserError> {
    let mut dirs = Vec::new();
    if let Some(site) = env.site_packages() {
        dirs.push(site);
    }
    if env.pyvenv.as_ref().is_some_and(|c| c.system_site_packages) {
        if let (Some(base), Some(v)) = (env.base_prefix(), env.version) {
            dirs.push(
                base.join("lib")
                    .join(v.lib_dir_name())
                    .join("site-packages"),
            );
        }
    }
    for site in &dirs {
        if let Some(install) = find_in(site) {
            return Ok(install);
        }
    }
    Err(UserError::new(
        format!(
            "ZenML is not installed in the env at {}",
            env.root.display()
        ),
        format!(
            "install it with `{} -m pip install zenml`",
            env.executable.display()
        ),
    ))
}

fn find_in(site: &Path) -> Option<ZenmlInstall> {
    let package_dir = locate_package(site);
    let version_file = package_dir
        .as_ref()
        .and_then(|dir| std::fs::read_to_string(dir.join("VERSION")).ok());
    // Fast path: the dist-info named after zenml/VERSION (one read instead of a directory scan).
    let named = version_file.as_ref().and_then(|v| {
        let dir = site.join(format!("zenml-{}.dist-info", v.trim()));
        let text = std::fs::read_to_string(dir.join("entry_points.txt")).ok()?;
        Some((dir, text))
    });
    let (dist_info, text) = match named {
        Some(found) => found,
        None => {
            let mut dist_infos: Vec<PathBuf> = std::fs::read_dir(site)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().map(OsStr::as_bytes).unwrap_or_default();
                    name.starts_with(b"zenml-") && name.ends_with(b".dist-info")
                })
                .collect();
            dist_infos.sort();
            let dir = dist_infos.pop()?;
            let text = std::fs::read_to_string(dir.join("entry_points.txt")).ok()?;
            (dir, text)
        }
    };
    let entry_point = parse_entry_point(&text)?;
    Some(ZenmlInstall {
        site_packages: site.to_path_buf(),
        dist_info,
        entry_point,
        package_dir,
        version_file,
    })
}

/// The `zenml = module:attr` line of the `[console_scripts]` section.
pub fn parse_entry_point(text: &str) -> Option<EntryPoint> {
    let mut in_scripts = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_scripts = line == "[console_scripts]";
            continue;
        }
        if !in_scripts {
            continue;
        }
        let Some((name, target)) = line.split_once('=') else {
            continue;
        };
        if name.trim() != "zenml" {
            continue;
        }
        let target = target.split('[').next()?.trim();
        let (module, attr) = target.split_once(':')?;
        let (module, attr) = (module.trim(), attr.trim());
        let valid = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
        if valid(module) && valid(attr) {
            return Some(EntryPoint {
                module: module.to_string(),
                attr: attr.to_string(),
            });
        }
    }
    None
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `<site>/zenml`, or the directory an editable install points at: a path line of a `.pth` file,
/// or the `'zenml': '<dir>'` mapping of a setuptools `__editable___*_finder.py`.
fn locate_package(site: &Path) -> Option<PathBuf> {
    let direct = site.join("zenml");
    if direct.join("__init__.py").is_file() {
        return Some(direct);
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(site)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    for path in &entries {
        let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
        if name.ends_with(b".pth") {
            let content = std::fs::read(path).ok()?;
            for line in content.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() || line.starts_with(b"#") || line.starts_with(b"import") {
                    continue;
                }
                let dir = Path::new(OsStr::from_bytes(line));
                let dir = if dir.is_absolute() {
                    dir.to_path_buf()
                } else {
                    site.join(dir)
                };
                if dir.join("zenml/__init__.py").is_file() {
                    return Some(dir.join("zenml"));
                }
            }
        } else if name.starts_with(b"__editable___") && name.ends_with(b"_finder.py") {
            let content = std::fs::read_to_string(path).ok()?;
            if let Some(dir) = editable_mapping(&content, "zenml") {
                if dir.join("__init__.py").is_file() {
                    return Some(dir);
                }
            }
        }
    }
    None
}

fn editable_mapping(finder: &str, package: &str) -> Option<PathBuf> {
    let line = finder.lines().find(|l| l.starts_with("MAPPING"))?;
    let key = format!("'{package}': '");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('\'')? + start;
    Some(PathBuf::from(&line[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_of_both_eras() {
        let new = "[console_scripts]\nzenml = zenml_cli:cli\n";
        let old = "[console_scripts]\nzenml=zenml.cli.cli:cli\n\n[other]\nzenml = nope:x\n";
        assert_eq!(
            parse_entry_point(new),
            Some(EntryPoint {
                module: "zenml_cli".into(),
                attr: "cli".into()
            })
        );
        assert!(parse_entry_point(new).unwrap().reroutes_stdout());
        let old = parse_entry_point(old).unwrap();
        assert_eq!(old.module, "zenml.cli.cli");
        assert!(!old.reroutes_stdout());
    }

    #[test]
    fn rejects_code_injection_and_other_sections() {
        assert_eq!(
            parse_entry_point("[console_scripts]\nzenml = os;x:cli\n"),
            None
        );
        assert_eq!(parse_entry_point("[gui_scripts]\nzenml = a:b\n"), None);
    }

    #[test]
    fn editable_finder_mapping() {
        let finder = "import sys\nMAPPING = {'zenml': '/src/zenml/src/zenml', 'zenml_cli': '/x'}\n";
        assert_eq!(
            editable_mapping(finder, "zenml"),
            Some(PathBuf::from("/src/zenml/src/zenml"))
        );
    }
}
