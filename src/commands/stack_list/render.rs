//! Rows → output: the row dicts ZenML builds for the listing, `prepare_output`'s column
//! selection, and the table (stdout, plus the console messages) or the json/yaml/csv/tsv text.

use super::read::{StackRecord, python_datetime};
use super::table_policy;
use crate::commands::Context;
use crate::declined::Declined;
use crate::render::pyformat::{self, Py};
use crate::render::pyyaml;
use crate::vars;
use crate::zenml::config::uuid_text;

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
    yaml: Option<&pyyaml::YamlResolvers>,
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
                    Some(resolvers) => pyyaml::yaml_with(&doc, resolvers),
                    None => pyyaml::yaml(&doc),
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
pub fn render_table_output(
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
    let env = table_policy::TableEnv::from_terminal(ctx.terminal)?;
    let mut stdout = table_policy::render_table_with(&selected, &cells, width, &env, cell_table)?;
    if !stdout.is_empty() && !stdout.ends_with(b"\n") {
        stdout.push(b'\n');
    }
    if table_policy::large_table_warning(&selected, &cells, width) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
