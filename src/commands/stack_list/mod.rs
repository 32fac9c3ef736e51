//! `zenml stack list` read directly from the local SQLite store
//! (docs/zenml-cli-behaviour.md §3.7): the default invocation, `-o table|json|yaml|csv|tsv` and
//! `-c/--columns`, for ZenML releases whose store layout was verified. Filters, sorting and
//! paging, other stores, a terminal on stderr (ZenML draws a timing-dependent spinner there),
//! highlighted JSON/YAML on a terminal, and values the renderers here do not reproduce are
//! delegated before anything is printed.

use crate::cli_spec::{FORMATS, StackListArgs};

use super::{CommandResult, Context, Output, ZenConsole};
use crate::declined::Declined;
use crate::render::pyformat::{self, Py};
use crate::render::table;
use crate::zenml::config::{uuid_hex, uuid_text};
use crate::zenml::paths::PathInput;
use crate::zenml::rest_store::Server;
use crate::zenml::sql_store::Snapshot;
use crate::zenml::state::{Local, StoreKind};
use crate::{debug, vars};

/// `-c/--columns` default.
pub const DEFAULT_COLUMNS: &str = "active,id,name,user,artifact_store,orchestrator,deployer";
/// `ZENML_PAGINATION_DEFAULT_LIMIT`'s default: the page size.
pub const PAGE_SIZE: usize = 20;

/// A cell value as ZenML's row dict holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Bool(bool),
    None,
    /// A datetime, kept as `YYYY-MM-DD HH:MM:SS[.ffffff]` (Python `str(datetime)`).
    DateTime(String),
}

/// One row: keys in ZenML's order.
pub type Row = Vec<(String, Value)>;

/// A stack as read from the store.
#[derive(Debug, Clone)]
pub struct StackRecord {
    pub id_hex: String,
    pub name: String,
    pub created: String,
    pub updated: String,
    pub user_id_hex: Option<String>,
    pub user: Option<String>,
    /// (component type, component name)
    pub components: Vec<(String, String)>,
}

/// The page ZenML would list, active stack first, plus the total count.
#[derive(Debug, Clone)]
pub struct Listing {
    pub stacks: Vec<StackRecord>,
    pub total: usize,
    pub active_hex: Option<String>,
}

/// Python's `str(datetime)` of a stored `YYYY-MM-DD HH:MM:SS.ffffff`: microseconds only when
/// non-zero. `None` for any other shape.
pub fn python_datetime(stored: &str) -> Option<String> {
    let b = stored.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    match &stored[19..] {
        "" => Some(stored.to_string()),
        frac if frac.len() == 7 && frac.starts_with('.') && digits(20..26) => {
            Some(if frac == ".000000" {
                stored[..19].to_string()
            } else {
                stored.to_string()
            })
        }
        _ => None,
    }
}

/// Reads the page of stacks `zenml stack list` shows without filters.
pub fn read_listing(local: &Local, show_active: bool) -> Result<Listing, Declined> {
    let active = local.active_stack()?;
    local.read(|s| {
        let total = s.count("SELECT count(*) FROM stack")?;
        let mut ids = s.strings(
            "SELECT id FROM stack ORDER BY created DESC, id DESC LIMIT ?1",
            &[&(PAGE_SIZE as i64)],
        )?;
        if s.stack_name_by_id(&active.hex)?.is_none() {
            return Err("active stack not found".into());
        }
        let active_hex = put_active_first(&mut ids, &active.hex, show_active);
        let stacks = ids
            .iter()
            .map(|id| read_stack(s, id))
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            stacks,
            total,
            active_hex,
        })
    })
}

/// `list_stacks`' active-stack rule (only without filters): the active stack is inserted when
/// the page lacks it (ZenML inserts the hydrated model: its row has more keys, see row()), then
/// moved first by a stable sort. Returns the id to mark active.
fn put_active_first(ids: &mut Vec<String>, active: &str, show_active: bool) -> Option<String> {
    if !show_active {
        return None;
    }
    if !ids.iter().any(|id| id == active) {
        ids.insert(0, active.to_string());
    }
    ids.sort_by_key(|id| id != active);
    Some(active.to_string())
}

/// The same page, read from a ZenML server with the requests the Python client makes: the
/// server info (same release, no authentication), the active project, the active stack, the
/// first page of stacks, and each listed stack hydrated (for its components).
pub fn read_server_listing(
    local: &Local,
    server: &Server,
    show_active: bool,
) -> Result<Listing, Declined> {
    let project = local.active_project()?;
    let active = local.active_stack()?;
    let info = server.get_json("/api/v1/info")?;
    if info["version"].as_str() != Some(local.zenml_version.as_str()) {
        return Err(Declined::new(format!("server version {}", info["version"])));
    }
    if info["auth_scheme"].as_str() != Some("NO_AUTH") && !server.authenticated() {
        return Err(Declined::new(format!(
            "server auth scheme {}",
            info["auth_scheme"]
        )));
    }
    server.get_json(&format!(
        "/api/v1/projects/{}?hydrate=True",
        uuid_text(&project.hex)
    ))?;
    let stack = |hex: &str| {
        let json = server.get_json(&format!("/api/v1/stacks/{}?hydrate=True", uuid_text(hex)))?;
        server_stack(&json)
            .ok_or_else(|| Declined::new(format!("stack {hex}: response not modelled")))
    };
    let active_stack = stack(&active.hex)?;
    let page = server
        .get_json(&format!(
            "/api/v1/stacks?hydrate=False&sort_by=desc%3Acreated&logical_operator=and&page=1&size={PAGE_SIZE}"
        ))
        ?;
    let total = page["total"]
        .as_u64()
        .ok_or_else(|| Declined::new("page without total"))? as usize;
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .ok_or_else(|| Declined::new("page without items"))?
        .iter()
        .map(|item| item["id"].as_str().and_then(uuid_hex))
        .collect::<Option<_>>()
        .ok_or_else(|| Declined::new("a stack id not modelled"))?;
    let active_hex = put_active_first(&mut ids, &active.hex, show_active);
    let stacks = ids
        .iter()
        .map(|id| {
            if *id == active.hex {
                Ok(active_stack.clone())
            } else {
                stack(id)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Listing {
        stacks,
        total,
        active_hex,
    })
}

/// A hydrated `StackResponse` as a record; `None` for a shape not modelled. Datetimes are
/// naive ISO (`…T…`), turned into the store's `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn server_stack(json: &serde_json::Value) -> Option<StackRecord> {
    let datetime = |v: &serde_json::Value| -> Option<String> {
        let text = v.as_str()?.replacen('T', " ", 1);
        let padded = match text.len() {
            19 => text,
            20..=25 if text.as_bytes()[19] == b'.' => format!("{text:0<26}"),
            26 => text,
            _ => return None,
        };
        python_datetime(&padded).map(|_| padded)
    };
    let body = &json["body"];
    let user_id_hex = match &body["user_id"] {
        serde_json::Value::Null => None,
        v => Some(uuid_hex(v.as_str()?)?),
    };
    let user = match &json["resources"]["user"] {
        serde_json::Value::Null => None,
        u => Some(u["name"].as_str()?.to_string()),
    };
    let mut components = Vec::new();
    for (ty, list) in json["metadata"]["components"].as_object()? {
        for component in list.as_array()? {
            components.push((ty.clone(), component["name"].as_str()?.to_string()));
        }
    }
    Some(StackRecord {
        id_hex: uuid_hex(json["id"].as_str()?)?,
        name: json["name"].as_str()?.to_string(),
        created: datetime(&body["created"])?,
        updated: datetime(&body["updated"])?,
        user_id_hex,
        user,
        components,
    })
}

fn read_stack(s: &Snapshot, id: &str) -> Result<StackRecord, Declined> {
    let (name, created, updated, user_id) = s.stack_row(id)?.ok_or("stack vanished")?;
    let user = match &user_id {
        Some(uid) => Some(s.user_name_by_id(uid)?.ok_or("stack user not found")?),
        None => None,
    };
    let components = s.stack_components(id)?;
    Ok(StackRecord {
        id_hex: id.to_string(),
        name,
        created,
        updated,
        user_id_hex: user_id,
        user,
        components,
    })
}

/// The row dict of `format_page_items` + `generate_stack_row`, in key order:
/// `id, name, created, updated, user_id, user, active, <component types…>`. Table rows use the
/// upper-case component headers and the active marker markup; the others the enum values and
/// booleans. `None` when the row is one this module does not model.
pub fn row(
    stack: &StackRecord,
    active_hex: Option<&str>,
    table: bool,
    types: &[String],
) -> Option<Row> {
    let created = python_datetime(&stack.created)?;
    let updated = python_datetime(&stack.updated)?;
    let mut row: Row = vec![
        ("id".into(), Value::Str(uuid_text(&stack.id_hex))),
        ("name".into(), Value::Str(stack.name.clone())),
        ("created".into(), Value::DateTime(created)),
        ("updated".into(), Value::DateTime(updated)),
        (
            "user_id".into(),
            stack
                .user_id_hex
                .as_deref()
                .map_or(Value::None, |u| Value::Str(uuid_text(u))),
        ),
        (
            "user".into(),
            stack.user.clone().map_or(Value::None, Value::Str),
        ),
    ];
    let is_active = active_hex == Some(stack.id_hex.as_str());
    row.push((
        "active".into(),
        if table {
            Value::Str(if is_active {
                "[green]●[/green]".into()
            } else {
                String::new()
            })
        } else {
            Value::Bool(is_active)
        },
    ));
    for ty in types {
        let names: Vec<&str> = stack
            .components
            .iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, n)| n.as_str())
            .collect();
        if names.len() > 1 {
            return None; // several components of one type: ZenML's ordering not modelled
        }
        let key = if table {
            ty.to_uppercase().replace('_', " ")
        } else {
            ty.clone()
        };
        row.push((
            key,
            Value::Str(names.first().map_or("-".to_string(), |n| n.to_string())),
        ));
    }
    if stack.components.iter().any(|(t, _)| !types.contains(t)) {
        return None;
    }
    Some(row)
}

/// `prepare_output`'s column selection: `all`, or each requested name matched exactly or
/// case-insensitively with `_` ≡ space. Returns the selected keys and the unknown names.
pub fn select_columns(available: &[String], columns: &str) -> (Vec<String>, Vec<String>) {
    if columns.trim().to_lowercase() == "all" {
        return (available.to_vec(), Vec::new());
    }
    let norm = |s: &str| s.to_lowercase().replace('_', " ");
    let mut selected: Vec<(String, String)> = Vec::new(); // (requested, key): a dict, insertion order
    let mut unknown = Vec::new();
    for req in columns.split(',').map(str::trim) {
        let key = if available.iter().any(|k| k == req) {
            Some(req.to_string())
        } else {
            available.iter().find(|k| norm(k) == norm(req)).cloned()
        };
        match key {
            Some(key) => match selected.iter_mut().find(|(r, _)| r == req) {
                Some(entry) => entry.1 = key,
                None => selected.push((req.to_string(), key)),
            },
            None => unknown.push(req.to_string()),
        }
    }
    // Two names for one key select it once (ZenML builds a dict from the keys).
    let mut keys: Vec<String> = Vec::new();
    for (_, key) in selected {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    (keys, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_like_python() {
        assert_eq!(
            python_datetime("2026-11-23 20:26:23.363031").as_deref(),
            Some("2026-11-23 20:26:23.363031")
        );
        assert_eq!(
            python_datetime("2026-11-23 20:26:23.000000").as_deref(),
            Some("2026-11-23 20:26:23")
        );
        assert_eq!(python_datetime("2026-11-23T20:26:23"), None);
    }

    #[test]
    fn columns_like_prepare_output() {
        let keys: Vec<String> = ["active", "id", "name", "ARTIFACT STORE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (sel, unknown) = select_columns(&keys, "name, artifact_store,foo,Active");
        assert_eq!(sel, ["name", "ARTIFACT STORE", "active"]);
        assert_eq!(unknown, ["foo"]);
        assert_eq!(select_columns(&keys, " ALL ").0, keys);
    }
}

/// The value ZenML's JSON/YAML output holds for a cell.
fn py_value(value: &Value) -> Py {
    match value {
        Value::Str(s) => Py::Str(s.clone()),
        Value::Bool(b) => Py::Bool(*b),
        Value::None => Py::None,
        // pydantic's encoder: datetime.isoformat().
        Value::DateTime(d) => Py::Str(d.replacen(' ', "T", 1)),
    }
}

/// `str(value)` as the csv module writes it (`None` is the empty restval).
fn csv_value(value: &Value) -> Option<String> {
    match value {
        Value::Str(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::None => None,
        Value::DateTime(d) => Some(d.clone()),
    }
}

/// Everything `zenml stack list` prints, built before any of it is written.
pub struct Rendered {
    pub stdout: Vec<u8>,
    /// Lines ZenML's console prints on its stream (rich-wrapped by the caller), in order.
    pub messages: Vec<(Message, String)>,
}

/// How a console message is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Declare,
    Warning,
}

/// `prepare_output`'s column selection over the rows' keys (those of the first row), and the
/// unknown-column warning it prints. Empty `columns`: all keys.
fn selection(rows: &[Row], columns: &str) -> (Vec<String>, Vec<(Message, String)>) {
    let available: Vec<String> = rows
        .first()
        .map(|r| r.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let (selected, unknown) = if columns.is_empty() {
        (available.clone(), Vec::new())
    } else {
        select_columns(&available, columns)
    };
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        let mut normalized: Vec<String> = available
            .iter()
            .map(|k| k.to_lowercase().replace(' ', "_"))
            .collect();
        normalized.sort();
        normalized.dedup();
        messages.push((
            Message::Warning,
            format!(
                "Unknown column(s) ignored: {}. Available: {}",
                unknown.join(", "),
                normalized.join(", ")
            ),
        ));
    }
    (selected, messages)
}

/// The non-table formats (json, yaml, csv, tsv) of the selected rows.
pub fn render_data(
    format: &str,
    rows: &[Row],
    columns: &str,
    pagination: &[(&str, i64)],
    yaml: Option<&pyformat::YamlResolvers>,
) -> Result<Rendered, Declined> {
    let (selected, messages) = selection(rows, columns);
    let filtered: Vec<Vec<(String, Value)>> = rows
        .iter()
        .map(|r| {
            selected
                .iter()
                .filter_map(|k| r.iter().find(|(key, _)| key == k).cloned())
                .collect()
        })
        .collect();
    let text = match format {
        "json" | "yaml" => {
            let items = Py::List(
                filtered
                    .iter()
                    .map(|r| Py::Dict(r.iter().map(|(k, v)| (k.clone(), py_value(v))).collect()))
                    .collect(),
            );
            let pagination = Py::Dict(
                pagination
                    .iter()
                    .map(|(k, v)| (k.to_string(), Py::Int(*v)))
                    .collect(),
            );
            let doc = Py::Dict(vec![
                ("items".into(), items),
                ("pagination".into(), pagination),
            ]);
            if format == "json" {
                pyformat::json(&doc)
            } else {
                match yaml {
                    Some(resolvers) => pyformat::yaml_with(&doc, resolvers),
                    None => pyformat::yaml(&doc),
                }?
            }
        }
        "csv" | "tsv" => {
            let header: Vec<String> = filtered
                .first()
                .map(|r| r.iter().map(|(k, _)| k.clone()).collect())
                .unwrap_or_default();
            if header.is_empty() {
                String::new()
            } else {
                let body: Vec<Vec<Option<String>>> = filtered
                    .iter()
                    .map(|r| {
                        header
                            .iter()
                            .map(|h| {
                                r.iter()
                                    .find(|(k, _)| k == h)
                                    .and_then(|(_, v)| csv_value(v))
                            })
                            .collect()
                    })
                    .collect();
                pyformat::delimited(&header, &body, if format == "csv" { ',' } else { '\t' })
            }
        }
        other => return Err(Declined::new(format!("format {other} not rendered here"))),
    };
    // zenml_cli.clean_output: the text, plus a newline unless it ends with one; nothing if empty.
    let mut stdout = text.into_bytes();
    if !stdout.is_empty() && !stdout.ends_with(b"\n") {
        stdout.push(b'\n');
    }
    Ok(Rendered { stdout, messages })
}

/// `_get_terminal_width()` clamped as `_render_table` does: `ZENML_CLI_COLUMN_WIDTH` when a
/// positive int, else `shutil.get_terminal_size().columns`; then `max(80, min(T, 200))`.
fn table_width(ctx: &Context) -> Result<usize, Declined> {
    let forced = vars::text(vars::ZENML_CLI_COLUMN_WIDTH).map(|v| v.trim().parse::<i64>());
    let width = match forced {
        Some(Ok(w)) if w > 0 => w as usize,
        Some(Err(_)) if vars::os(vars::ZENML_CLI_COLUMN_WIDTH).is_some_and(|v| !v.is_empty()) => {
            return Err(Declined::new("ZENML_CLI_COLUMN_WIDTH not an int"));
        }
        _ => ctx.terminal.shutil_columns()?,
    };
    Ok(width.clamp(80, 200))
}

/// The table on stdout, the "Large tables…" note and the page line on the console stream.
fn render_table_output(
    ctx: &Context,
    rows: &[Row],
    columns: &str,
    total: i64,
    total_pages: i64,
    cell_table: &crate::render::cells::CellTable,
) -> Result<Rendered, Declined> {
    let (selected, mut messages) = selection(rows, columns);
    // str(v) of each selected value; a key a row lacks is "".
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            selected
                .iter()
                .map(
                    |k| match r.iter().find(|(key, _)| key == k).map(|(_, v)| v) {
                        Some(Value::Str(s)) => s.clone(),
                        Some(Value::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
                        Some(Value::None) => "None".to_string(),
                        Some(Value::DateTime(d)) => d.clone(),
                        None => String::new(),
                    },
                )
                .collect()
        })
        .collect();
    let width = table_width(ctx)?;
    let env = table::TableEnv::from_terminal(ctx.terminal)?;
    let mut stdout = table::render_table_with(&selected, &cells, width, &env, cell_table)?;
    if !stdout.is_empty() && !stdout.ends_with(b"\n") {
        stdout.push(b'\n');
    }
    if table::large_table_warning(&selected, &cells, width) {
        messages.push((
            Message::Declare,
            "Large tables may wrap, truncate, or hide columns depending on terminal width.\n\
             - Use --output =json|yaml|csv|tsv for full data\n\
             - Or optionally limit visible columns with --columns\n"
                .to_string(),
        ));
    }
    // print_page_info, its `[cyan]` markup taken out: only reached when the console is not a
    // terminal, where markup styles print nothing.
    messages.push((
        Message::Declare,
        format!(
            "Page ({}/{}), {} items found for the applied filters.",
            1, total_pages, total
        ),
    ));
    Ok(Rendered { stdout, messages })
}

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
