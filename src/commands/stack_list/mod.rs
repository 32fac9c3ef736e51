//! `zenml stack list` read directly from the local SQLite store
//! (docs/zenml-cli-behaviour.md §3.7): the default invocation, `-o table|json|yaml|csv|tsv` and
//! `-c/--columns`, for ZenML releases whose store layout was verified. Filters, sorting and
//! paging, other stores, a terminal on stderr (ZenML draws a timing-dependent spinner there),
//! highlighted JSON/YAML on a terminal, and values the renderers here do not reproduce are
//! delegated before anything is printed.

pub mod read;
pub mod render;
pub mod table_policy;

use crate::cli_spec::{FORMATS, StackListArgs};

use super::{CommandResult, Context, Output, ZenConsole};
use crate::declined::Declined;
use crate::zenml::paths::PathInput;
use crate::zenml::state::{Local, StoreKind};
use crate::{debug, vars};
use read::{PAGE_SIZE, read_listing, read_server_listing};
use render::{Message, Row, render_data, render_table_output, row};

/// `-c/--columns` default.
pub const DEFAULT_COLUMNS: &str = "active,id,name,user,artifact_store,orchestrator,deployer";

/// `ZENML_DEFAULT_OUTPUT` when it names a format, else `table` (read at import by ZenML).
fn default_format() -> String {
    match vars::text(vars::ZENML_DEFAULT_OUTPUT) {
        Some(f) if FORMATS.contains(&f.as_str()) => f,
        _ => "table".into(),
    }
}

pub fn run(ctx: &Context, args: &StackListArgs) -> CommandResult {
    let meta = &ctx.cache.meta;
    let fd = meta.out_fd();
    if ctx.terminal.rich_is_terminal(fd) {
        return Err(Declined::new("ZenML draws a spinner on a terminal"));
    }
    if vars::os(vars::ZENML_PAGINATION_DEFAULT_LIMIT).is_some() {
        return Err(Declined::new("custom page size"));
    }
    let types = meta
        .stack_component_types
        .as_ref()
        .ok_or(Declined::new("component types not generated"))?;
    let format = args.output.clone().unwrap_or_else(default_format);
    let no_color = vars::os(vars::NO_COLOR).is_some_and(|v| !v.is_empty());
    if (format == "json" || format == "yaml") && ctx.terminal.isatty[1] && !no_color {
        return Err(Declined::new("highlighted JSON/YAML on a terminal"));
    }
    let columns = args
        .columns
        .clone()
        .unwrap_or_else(|| DEFAULT_COLUMNS.to_string());
    let input = PathInput::from_process()?;
    let local = Local::open(&input, ctx.version, ctx.site_packages)?;
    let listing = match &local.store {
        StoreKind::Sql(_) => read_listing(&local, true),
        StoreKind::Rest(server) => read_server_listing(&local, server, true),
    }?;
    let table = format == "table";
    let rows: Vec<Row> = listing
        .stacks
        .iter()
        .map(|s| row(s, listing.active_hex.as_deref(), table, types))
        .collect::<Option<_>>()
        .ok_or(Declined::new("a stack row not modelled"))?;
    if listing.stacks.len() > PAGE_SIZE && columns.trim().eq_ignore_ascii_case("all") {
        return Err(Declined::new("hydrated active stack with all columns"));
    }
    let total = listing.total as i64;
    let pagination = [
        ("index", 1),
        ("max_size", PAGE_SIZE as i64),
        (
            "total_pages",
            ((total + PAGE_SIZE as i64 - 1) / PAGE_SIZE as i64).max(1),
        ),
        ("total", total),
    ];
    let mut console = ZenConsole::new(ctx)?;
    let rendered = if table {
        render_table_output(
            ctx,
            &rows,
            &columns,
            total,
            pagination[2].1,
            console.cells(),
        )?
    } else {
        let yaml = (format == "yaml")
            .then(|| console.yaml_resolvers())
            .flatten();
        render_data(&format, &rows, &columns, &pagination, yaml.as_ref()).map_err(|e| {
            debug::line(format!("stack list: {e}"));
            Declined::new("value not rendered here")
        })?
    };
    let mut out = Output {
        stdout: rendered.stdout,
        ..Output::default()
    };
    for (kind, text) in &rendered.messages {
        let style = match kind {
            Message::Declare => "info",
            Message::Warning => "warning",
        };
        console.print(style, text, &mut out)?;
    }
    Ok(out)
}
