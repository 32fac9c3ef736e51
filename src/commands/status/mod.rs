//! `zenml status` (cli/server.py::status): the config is read once, then the lines come from the
//! local SQLite store ([`local`]) or from a ZenML server ([`remote`]), and are printed through
//! ZenML's console the same way. Every condition either does not model is declined before
//! anything is printed.

mod local;
mod remote;

use std::path::Path;

use super::{CommandResult, Context, Output, ZenConsole};
use crate::declined::Declined;
use crate::zenml::paths::PathInput;
use crate::zenml::state::{Local, StoreKind};

/// One thing `status` prints, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `cli_utils.declare(text)`: the zenml console, style "info".
    Declare(String),
    /// A `logger.warning(...)` line, already formatted by ZenML's console log formatter.
    Log(String),
}

pub fn run(ctx: &Context) -> CommandResult {
    let input = PathInput::from_process()?;
    let local = Local::open(&input, ctx.version, ctx.site_packages)?;
    let items = match &local.store {
        StoreKind::Rest(server) => remote::items(&local, server)?,
        StoreKind::Sql(_) => local::items(&local::read_state(local)?)?,
    };
    let mut console = ZenConsole::new(ctx)?;
    let texts: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            Item::Declare(text) => Some(text.as_str()),
            Item::Log(_) => None,
        })
        .collect();
    console.prepare(&texts);
    let mut out = Output::default();
    for item in items {
        match item {
            Item::Declare(text) => console.print("info", &text, &mut out)?,
            // The log handler writes to the CLI's stdout too (rerouted with it).
            Item::Log(line) => console.raw(format!("{line}\n").as_bytes(), &mut out),
        }
    }
    Ok(out)
}

/// The lines both status routes (local store and server) end with: the repository, the config
/// and local-store directories, and the local server that is not running.
pub fn local_items(
    repository_root: Option<&Path>,
    config_dir: &Path,
    local_stores: &Path,
) -> Result<Vec<Item>, Declined> {
    let mut items = Vec::new();
    if let Some(root) = repository_root {
        items.push(Item::Declare(format!(
            "Active repository root: {}",
            text(root)?
        )));
    }
    items.push(Item::Declare(format!(
        "Using configuration from: '{}'",
        text(config_dir)?
    )));
    items.push(Item::Declare(format!(
        "Local store files are located at: '{}'",
        text(local_stores)?
    )));
    items.push(Item::Declare(
        "\n-----Local ZenML Server Status-----".into(),
    ));
    items.push(Item::Declare(
        "The local server has not been started.".into(),
    ));
    Ok(items)
}

fn text(path: &Path) -> Result<&str, Declined> {
    path.to_str()
        .ok_or_else(|| Declined::new(format!("non-UTF-8 path {}", path.display())))
}
