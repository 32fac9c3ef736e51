//! The local ZenML state shared by the commands that read it without Python (`status`,
//! `stack list`): the global config, the active repository, and the store: the SQLite file, or a
//! local ZenML server read over its REST API (`rest_store`), checked to be in the steady state
//! those commands model. Anything else is [`Declined`] and delegated.

use std::path::{Path, PathBuf};

use crate::declined::Declined;
use crate::vars;
use crate::zenml::config::{YamlMap, uuid_hex};
use crate::zenml::package;
use crate::zenml::paths::{self, PathInput, Repository};
use crate::zenml::rest_store::Server;
use crate::zenml::sql_store::{Snapshot, Store, StoreResult};

/// The config side of a local-store invocation.
#[derive(Debug, Clone)]
pub struct Local {
    pub zenml_version: String,
    pub config_dir: PathBuf,
    pub local_stores: PathBuf,
    pub store_url: String,
    pub store: StoreKind,
    pub repository: Option<Repository>,
    global: YamlMap,
    repo_config: Option<YamlMap>,
}

/// Where the store is.
#[derive(Debug, Clone)]
pub enum StoreKind {
    /// The SQLite file of the default local store.
    Sql(PathBuf),
    /// A ZenML server read over its REST API (HTTP or HTTPS, with the stored API token).
    Rest(Box<Server>),
}

/// An active id (project or stack) as stored in SQLite, and whether an env variable chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveId {
    pub hex: String,
    pub from_env: bool,
}

impl Local {
    /// Reads the config files and checks every condition the Rust commands rely on.
    /// `site_packages`: the env's, where `requests` finds certifi's CA bundle.
    pub fn open(
        input: &PathInput,
        zenml_version: &str,
        site_packages: Option<&Path>,
    ) -> Result<Local, Declined> {
        if !package::STORE_VERIFIED_VERSIONS.contains(&zenml_version) {
            return Err(Declined::new(format!(
                "local store not verified for ZenML {zenml_version}"
            )));
        }
        if let Some(name) = vars::first_set(vars::STORE_DELEGATE_VARS) {
            return Err(Declined::new(format!("{name} is set")));
        }
        let config_dir = paths::config_dir(input)?;
        let global = YamlMap::read(&paths::global_config_file(&config_dir))?;
        if global.get("version") != Some(zenml_version) {
            return Err(Declined::new(format!(
                "config version {:?} is not {zenml_version}",
                global.get("version")
            )));
        }
        let store_url = global
            .get("store.url")
            .ok_or_else(|| Declined::new("no store url"))?
            .to_string();
        let store = match global.get("store.type") {
            Some("sql") => {
                if paths::local_server_present(&config_dir) {
                    return Err(Declined::new("a local server deployment exists"));
                }
                StoreKind::Sql(paths::sqlite_path(&store_url).ok_or_else(|| {
                    Declined::new(format!("store {store_url} is not a local SQLite file"))
                })?)
            }
            Some("rest") => {
                let home = input.home.as_deref().map(Path::new);
                StoreKind::Rest(Box::new(Server::from_config(
                    &global,
                    &config_dir,
                    home,
                    site_packages,
                )?))
            }
            other => return Err(Declined::new(format!("store type {other:?}"))),
        };
        let local_stores = paths::local_stores(input, &config_dir)?;
        let repository = paths::find_repository(input)?;
        let repo_config = match &repository {
            Some(repo) => Some(YamlMap::read(&repo.config_dir.join("config.yaml"))?),
            None => None,
        };
        Ok(Local {
            zenml_version: zenml_version.to_string(),
            config_dir,
            local_stores,
            store_url,
            store,
            repository,
            global,
            repo_config,
        })
    }

    /// `env` if set (must be a UUID), else the repository's config, else the global config.
    fn active_id(&self, env: &str, key: &str) -> Result<ActiveId, Declined> {
        if let Some(v) = vars::text(env).filter(|v| !v.is_empty()) {
            let hex = uuid_hex(&v).ok_or_else(|| Declined::new(format!("{env} is not a UUID")))?;
            return Ok(ActiveId {
                hex,
                from_env: true,
            });
        }
        let source = self.repo_config.as_ref().unwrap_or(&self.global);
        let value = source
            .get(key)
            .ok_or_else(|| Declined::new(format!("no {key} configured")))?;
        let hex = uuid_hex(value).ok_or_else(|| Declined::new(format!("{key} is not a UUID")))?;
        Ok(ActiveId {
            hex,
            from_env: false,
        })
    }

    pub fn active_project(&self) -> Result<ActiveId, Declined> {
        self.active_id(vars::ZENML_ACTIVE_PROJECT_ID, "active_project_id")
    }

    pub fn active_stack(&self) -> Result<ActiveId, Declined> {
        self.active_id(vars::ZENML_ACTIVE_STACK_ID, "active_stack_id")
    }

    /// `repository` when a repository is active, else `global`.
    pub fn scope(&self) -> &'static str {
        if self.repository.is_some() {
            "repository"
        } else {
            "global"
        }
    }

    /// Opens the store read-only and runs `f` on one snapshot, after checking that opening it in
    /// Python would neither migrate nor create anything.
    pub fn read<T>(&self, f: impl FnOnce(&Snapshot) -> StoreResult<T>) -> Result<T, Declined> {
        let StoreKind::Sql(db) = &self.store else {
            return Err(Declined::new("the store is a server, not SQLite"));
        };
        let mut store = Store::open(db)?;
        store.snapshot(|s| {
            let versions = s.schema_versions()?;
            if versions != [self.zenml_version.as_str()] {
                return Err(Declined::new(format!(
                    "store schema {versions:?} is not {}",
                    self.zenml_version
                )));
            }
            if !s.project_exists_by_name("default")? || !s.stack_exists_by_name("default")? {
                return Err("default project or stack missing (ZenML would create it)".into());
            }
            if !s.server_active()? {
                return Err("server settings not active (ZenML would activate them)".into());
            }
            f(s)
        })
    }
}
