//! Where ZenML keeps its state, by ZenML's own rules (docs/zenml-cli-behaviour.md §2.1, §2.5):
//! the global config directory, the local stores, the repository (`.zen`) and the local server
//! deployment.
//! Every ZenML path rule the launcher applies lives here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::declined::Declined;
use crate::vars;

/// Inputs of the path rules, captured so they can be tested.
#[derive(Debug, Clone, Default)]
pub struct PathInput {
    pub cwd: PathBuf,
    pub home: Option<OsString>,
    pub zenml_config_path: Option<OsString>,
    pub xdg_config_home: Option<OsString>,
    pub local_stores_path: Option<OsString>,
    pub repository_path: Option<OsString>,
    pub repository_dir_name: Option<OsString>,
}

impl PathInput {
    pub fn from_process() -> Result<Self, Declined> {
        Ok(PathInput {
            cwd: std::env::current_dir().map_err(|e| Declined::new(format!("no cwd: {e}")))?,
            home: vars::os(vars::HOME),
            zenml_config_path: vars::os(vars::ZENML_CONFIG_PATH),
            xdg_config_home: vars::os(vars::XDG_CONFIG_HOME),
            local_stores_path: vars::os(vars::ZENML_LOCAL_STORES_PATH),
            repository_path: vars::os(vars::ZENML_REPOSITORY_PATH),
            repository_dir_name: vars::os(vars::ZENML_REPOSITORY_DIRECTORY_NAME),
        })
    }
}

/// `io_utils.get_global_config_directory()`: `$ZENML_CONFIG_PATH` resolved (absolute, symlinks
/// resolved), else `click.get_app_dir("zenml")` = `${XDG_CONFIG_HOME:-~/.config}/zenml` as is.
/// Only an existing directory is returned: a missing one is ZenML's first run.
pub fn config_dir(input: &PathInput) -> Result<PathBuf, Declined> {
    let dir = match input.zenml_config_path.as_ref().filter(|v| !v.is_empty()) {
        Some(value) => {
            let path = input.cwd.join(value);
            std::fs::canonicalize(&path).map_err(|_| {
                Declined::new(format!("config dir {} does not exist", path.display()))
            })?
        }
        None => {
            let base = match &input.xdg_config_home {
                Some(x) if x.is_empty() => {
                    return Err(Declined::new("XDG_CONFIG_HOME is empty"));
                }
                Some(x) => PathBuf::from(x),
                None => {
                    let home = input.home.as_ref().filter(|h| !h.is_empty());
                    let home = home.ok_or_else(|| Declined::new("HOME is unset"))?;
                    PathBuf::from(home).join(".config")
                }
            };
            if !base.is_absolute() {
                return Err(Declined::new("relative config base"));
            }
            base.join("zenml")
        }
    };
    if !dir.is_dir() {
        return Err(Declined::new(format!(
            "config dir {} does not exist",
            dir.display()
        )));
    }
    Ok(dir)
}

/// `GlobalConfiguration.local_stores_path`: `$ZENML_LOCAL_STORES_PATH` verbatim, else
/// `<config>/local_stores`. ZenML creates it when missing; then the launcher delegates.
pub fn local_stores(input: &PathInput, config_dir: &Path) -> Result<PathBuf, Declined> {
    let path = match input.local_stores_path.as_ref().filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => config_dir.join("local_stores"),
    };
    if !input.cwd.join(&path).is_dir() {
        return Err(Declined::new(format!(
            "local stores dir {} does not exist",
            path.display()
        )));
    }
    Ok(path)
}

/// `<config>/config.yaml`.
pub fn global_config_file(config_dir: &Path) -> PathBuf {
    config_dir.join("config.yaml")
}

/// True when a local server deployment exists (`<config>/zen_server/…`): the launcher delegates.
/// `credentials.yaml`: the tokens and API keys ZenML stores for servers.
pub fn credentials_file(config_dir: &Path) -> PathBuf {
    config_dir.join("credentials.yaml")
}

/// The netrc files `requests` reads credentials from (`~/.netrc`, `~/_netrc`; `$NETRC` is
/// checked by the caller).
pub fn netrc_files(home: Option<&Path>) -> Vec<PathBuf> {
    home.map(|h| vec![h.join(".netrc"), h.join("_netrc")])
        .unwrap_or_default()
}

pub fn local_server_present(config_dir: &Path) -> bool {
    config_dir.join("zen_server").exists()
}

/// The repository directory name (`.zen`, or `$ZENML_REPOSITORY_DIRECTORY_NAME`).
fn repo_dir_name(input: &PathInput) -> Result<OsString, Declined> {
    match &input.repository_dir_name {
        None => Ok(".zen".into()),
        Some(name) => {
            let p = Path::new(name);
            if name.is_empty() || p.components().count() != 1 || p.is_absolute() {
                return Err(Declined::new("unusual ZENML_REPOSITORY_DIRECTORY_NAME"));
            }
            Ok(name.clone())
        }
    }
}

/// A found repository: its root (resolved) and its `.zen` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub root: PathBuf,
    pub config_dir: PathBuf,
}

/// `Client.find_repository()`: `$ZENML_REPOSITORY_PATH` alone when set (non-empty), else cwd and
/// its parents; a root is a directory containing a *directory* `.zen`. The root is resolved.
pub fn find_repository(input: &PathInput) -> Result<Option<Repository>, Declined> {
    let name = repo_dir_name(input)?;
    let candidates: Vec<PathBuf> = match input.repository_path.as_ref().filter(|v| !v.is_empty()) {
        Some(p) => vec![input.cwd.join(p)],
        None => input.cwd.ancestors().map(Path::to_path_buf).collect(),
    };
    for dir in candidates {
        if dir.join(&name).is_dir() {
            let root = std::fs::canonicalize(&dir)
                .map_err(|e| Declined::new(format!("{}: {e}", dir.display())))?;
            let config_dir = root.join(&name);
            return Ok(Some(Repository { root, config_dir }));
        }
    }
    Ok(None)
}

/// The file of a `sqlite:///<path>` store URL (an absolute path gives four slashes).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:///")?;
    let path = PathBuf::from(rest);
    (path.is_absolute() && !rest.contains(['?', '#'])).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zl-paths-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn config_dir_rules() {
        let base = tmp("cfg");
        std::fs::create_dir_all(base.join("xdg/zenml")).unwrap();
        std::fs::create_dir_all(base.join("home/.config/zenml")).unwrap();
        let mut input = PathInput {
            cwd: base.clone(),
            home: Some(base.join("home").into()),
            ..Default::default()
        };
        assert_eq!(config_dir(&input).unwrap(), base.join("home/.config/zenml"));
        input.xdg_config_home = Some(base.join("xdg").into());
        assert_eq!(config_dir(&input).unwrap(), base.join("xdg/zenml"));
        input.zenml_config_path = Some("xdg/zenml/../zenml".into());
        assert_eq!(
            config_dir(&input).unwrap(),
            std::fs::canonicalize(base.join("xdg/zenml")).unwrap()
        );
        input.zenml_config_path = Some("".into());
        input.xdg_config_home = Some("".into());
        assert!(config_dir(&input).is_err());
    }

    #[test]
    fn repository_search_never_stops_at_a_file_and_honours_the_env_path() {
        let base = tmp("repo");
        std::fs::create_dir_all(base.join("a/.zen")).unwrap();
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::write(base.join("a/b/.zen"), "").unwrap(); // a file, not a repo
        let mut input = PathInput {
            cwd: base.join("a/b/c"),
            ..Default::default()
        };
        let repo = find_repository(&input).unwrap().unwrap();
        assert_eq!(repo.root, std::fs::canonicalize(base.join("a")).unwrap());
        input.repository_path = Some(base.join("a/b").into());
        assert_eq!(find_repository(&input).unwrap(), None);
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_path("sqlite:////x/zenml.db"),
            Some(PathBuf::from("/x/zenml.db"))
        );
        assert_eq!(sqlite_path("sqlite:///rel.db"), None);
        assert_eq!(sqlite_path("mysql://x"), None);
    }
}
