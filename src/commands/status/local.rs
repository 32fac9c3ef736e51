//! `zenml status`'s lines for the local SQLite store, read directly
//! (docs/zenml-cli-behaviour.md §2, §3.5). Every state outside what was verified against the live
//! CLI is delegated: another store or server, first run (no config or DB: Python creates them and
//! logs), version mismatches (Python migrates), a local server deployment, missing defaults ZenML would create, variables that
//! change what GlobalConfiguration reads, and names rich would not print verbatim.

use std::path::PathBuf;

use super::{Item, local_items};
use crate::declined::Declined;
use crate::vars;
use crate::zenml::state::Local;

/// What status reports, read from the config files and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub store_url: String,
    pub user: String,
    pub project: String,
    pub project_from_env: bool,
    pub stack: String,
    pub repository_root: Option<PathBuf>,
    pub config_dir: PathBuf,
    pub local_stores: PathBuf,
}

/// Reads the state from the local store, or says why the launcher must delegate.
pub fn read_state(local: Local) -> Result<State, Declined> {
    let project_id = local.active_project()?;
    let stack_id = local.active_stack()?;
    let user_name = vars::text(vars::ZENML_DEFAULT_USER_NAME)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "default".into());
    let (user, project, stack) = local.read(|s| {
        let user = s.user_name(&user_name)?.ok_or("default user missing")?;
        let project = s
            .project_name_by_id(&project_id.hex)?
            .ok_or("active project not found")?;
        let stack = s
            .stack_name_by_id(&stack_id.hex)?
            .ok_or("active stack not found")?;
        Ok((user, project, stack))
    })?;
    Ok(State {
        store_url: local.store_url,
        user,
        project,
        project_from_env: project_id.from_env,
        stack,
        repository_root: local.repository.map(|r| r.root),
        config_dir: local.config_dir,
        local_stores: local.local_stores,
    })
}

/// The non-default-project warning of `Client.active_project` (zenml/client.py), as ZenML's
/// console log formatter prints it (yellow, the URL blue; colours even in a pipe).
fn project_warning(project: &str) -> String {
    const URL: &str = "https://zenml.io/pro";
    format!(
        "\x1b[33mThe ZenML OSS dashboard only works with the default project ('default'). You are \
         currently working with project '{project}', so your pipelines won't be visible in the OSS \
         dashboard. To use multiple projects with full dashboard support, please visit \
         \x1b[0m\x1b[34m{URL}\x1b[33m to learn more.\x1b[0m"
    )
}

/// The lines of `zenml status` for a state (cli/server.py::status).
pub fn items(state: &State) -> Result<Vec<Item>, Declined> {
    let scope = if state.repository_root.is_some() {
        "repository"
    } else {
        "global"
    };
    let mut items = vec![
        Item::Declare("-----ZenML Client Status-----".into()),
        Item::Declare(format!(
            "Connected to the local ZenML database: '{}'",
            state.store_url
        )),
        Item::Declare(format!("  The active user is: '{}'", state.user)),
    ];
    if state.project != "default" && !state.project_from_env && project_warning_shown()? {
        // ZenML's log formatter restyles `…` spans and URLs inside the message.
        if ["`", "http://", "https://"]
            .iter()
            .any(|s| state.project.contains(s))
        {
            return Err(Declined::new(
                "project name the log formatter would restyle",
            ));
        }
        items.push(Item::Log(project_warning(&state.project)));
    }
    items.push(Item::Declare(format!(
        "  The active project is: '{}' ({scope})",
        state.project
    )));
    items.push(Item::Declare(format!(
        "  The active stack is: '{}' ({scope})",
        state.stack
    )));
    items.extend(local_items(
        state.repository_root.as_deref(),
        &state.config_dir,
        &state.local_stores,
    )?);
    Ok(items)
}

/// Whether ZenML's logging shows a WARNING with colours as modelled here.
fn project_warning_shown() -> Result<bool, Declined> {
    if vars::os(vars::ZENML_LOGGING_COLORS_DISABLED).is_some() {
        return Err(Declined::new(format!(
            "{} is set",
            vars::ZENML_LOGGING_COLORS_DISABLED
        )));
    }
    let level = vars::text(vars::ZENML_LOGGING_VERBOSITY).map(|l| l.to_uppercase());
    match level.as_deref() {
        None | Some("INFO") | Some("WARN") | Some("WARNING") => Ok(true),
        Some("ERROR") | Some("CRITICAL") | Some("NOTSET") => Ok(false),
        Some(other) => Err(Declined::new(format!("logging verbosity {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_in_order_with_warning_before_the_project_line() {
        let state = State {
            store_url: "sqlite:////c/zenml.db".into(),
            user: "default".into(),
            project: "p2".into(),
            project_from_env: false,
            stack: "s".into(),
            repository_root: Some("/r".into()),
            config_dir: "/c".into(),
            local_stores: "/c/local_stores".into(),
        };
        let items = items(&state).unwrap();
        assert!(matches!(&items[3], Item::Log(l) if l.contains("project 'p2'")));
        assert_eq!(
            items[4],
            Item::Declare("  The active project is: 'p2' (repository)".into())
        );
        assert_eq!(items[6], Item::Declare("Active repository root: /r".into()));
        assert_eq!(items.len(), 11);
    }
}
