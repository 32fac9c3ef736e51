//! The `stack list` table: what `zenml/cli/utils.py::_render_table` (ZenML 0.98.0, rich 15)
//! returns — and `zenml_cli.clean_output` writes to stdout — for a list of row dicts
//! (docs/zenml-cli-behaviour.md §3.7.5).
//!
//! ZenML's table policy, driving rich's table ([`crate::render::table`]): the console it
//! creates (`NO_COLOR`, the forced terminal, the width), the "Large tables" warning, the header
//! names (`key.replace("_", " ").upper()`, `active`), the columns' options (the active marker
//! column centred and cropped, ID/NAME columns folded with their longest value as `min_width`,
//! the others with an ellipsis) and `_colorize_value` (status words, `-` and blanks dimmed).
//!
//! Widths are rich's cell widths ([`render_table_with`] and a [`CellTable`] from the cache;
//! [`render_table`] keeps to printable ASCII). Anything outside the ported subset (markup tags
//! other than the active marker, emoji codes, links, control or bidi characters, duplicate
//! keys) is refused with [`Declined`]: the caller then hands the command to Python.

use crate::declined::Declined;
use crate::render::cells::CellTable;
use crate::render::table::{
    Column, Console, Justify, Overflow, Paint, RText, Table, cell_plain, check_text,
};
use crate::render::terminal::Terminal;

/// The `active` cell of the active row as `generate_stack_row` builds it for the table format
/// (`_active_status`); inactive rows have `""`.
pub const ACTIVE_MARKER: &str = "[green]●[/green]";

/// The environment variables the table's own rich `Console` looks at (everything else it would
/// read is overridden by `_render_table`'s explicit `width`/`force_terminal`/`no_color`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableEnv {
    /// `NO_COLOR`: unset ⇒ coloured; set empty ⇒ colours dropped, bold/dim kept; non-empty ⇒
    /// no colouring markup and no escape codes at all.
    pub no_color: Option<String>,
    /// `TERM`: `dumb`/`unknown` (any case) on the forced terminal ⇒ no escapes and width 80.
    pub term: Option<String>,
    /// `LINES`: all digits ⇒ the console keeps its explicit width even on a dumb terminal.
    pub lines: Option<String>,
}

impl TableEnv {
    /// The variables as the process sees them; non-UTF-8 values are not modelled.
    pub fn from_terminal(t: &Terminal) -> Result<Self, Declined> {
        fn text(
            v: &Option<std::ffi::OsString>,
            what: &'static str,
        ) -> Result<Option<String>, Declined> {
            match v {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or(Declined::new(what)),
            }
        }
        Ok(TableEnv {
            no_color: text(&t.no_color, "non-UTF-8 NO_COLOR")?,
            term: text(&t.term, "non-UTF-8 TERM")?,
            lines: text(&t.lines, "non-UTF-8 LINES")?,
        })
    }
}

/// The console `_render_table` creates, decided from the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConsoleMode {
    /// `not os.getenv("NO_COLOR")`: values get `_colorize_value` markup.
    colorize: bool,
    /// `Console(width=W_table, force_terminal=not NO_COLOR, no_color=NO_COLOR is not None)`.
    console: Console,
}

impl ConsoleMode {
    fn new(w_table: usize, env: &TableEnv) -> Result<Self, Declined> {
        let colorize = env.no_color.as_deref().is_none_or(str::is_empty);
        let force_terminal = colorize;
        let no_color = env.no_color.is_some();
        let console = Console::new(
            w_table,
            force_terminal,
            no_color,
            env.term.as_deref(),
            env.lines.as_deref(),
        )?;
        Ok(ConsoleMode { colorize, console })
    }
}

/// `_colorize_value(column, value)` plus rich's markup parsing of the result, as one `Text`.
fn cell_text(key: &str, value: &str, colorize: bool, cells: &CellTable) -> Result<RText, Declined> {
    if value == ACTIVE_MARKER {
        // Not a status word, not blank: markup left as is, parsed by rich.
        return Ok(RText::styled("●", Paint::Green));
    }
    let plain = cell_plain(value, cells)?;
    if !colorize {
        return Ok(RText::plain(&plain));
    }
    let lower_key = key.to_ascii_lowercase();
    if ["status", "state", "health"]
        .iter()
        .any(|k| lower_key.contains(k))
    {
        let v = value.to_ascii_lowercase();
        let paint = match v.as_str() {
            "active" | "healthy" | "succeeded" | "completed" | "verified" => Some(Paint::Green),
            "running" | "pending" | "initializing" | "starting" | "warning" | "creating"
            | "updating" => Some(Paint::Yellow),
            "failed" | "error" | "unhealthy" | "stopped" | "crashed" | "deleted" => {
                Some(Paint::Red)
            }
            _ => None,
        };
        if let Some(paint) = paint {
            return Ok(RText::styled(&plain, paint));
        }
    } else {
        let stripped = value.trim_matches(|c: char| c.is_whitespace());
        if stripped == "-" || stripped.is_empty() {
            return Ok(RText::styled("-", Paint::Dim));
        }
    }
    if value.starts_with("http") && !value.contains(' ') {
        return Err(Declined::new("table value rendered as a link (OSC 8)"));
    }
    Ok(RText::plain(&plain))
}

fn key_lower_stripped(key: &str) -> String {
    key.to_ascii_lowercase()
        .trim_matches(|c: char| c.is_whitespace())
        .to_string()
}

/// `_is_id_column` / `_is_name_column`.
fn is_id_or_name(key: &str) -> bool {
    let lower = key_lower_stripped(key);
    ["id", "name"].iter().any(|w| {
        lower == *w || lower.ends_with(&format!(" {w}")) || lower.ends_with(&format!("_{w}"))
    })
}

/// `key.replace("_", " ").upper()`: the header text (and the basis of `longest_values`).
fn header_display(key: &str) -> String {
    key.replace('_', " ").to_ascii_uppercase()
}

/// `longest_values[key]`: raw lengths (Python `len`), markup included.
fn longest_values<S: AsRef<str>, V: AsRef<str>>(columns: &[S], rows: &[Vec<V>]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let header = header_display(key.as_ref()).chars().count();
            let values = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |v| v.as_ref().chars().count()))
                .max()
                .unwrap_or(0);
            header.max(values)
        })
        .collect()
}

/// Whether `_render_table` first prints (through `declare`, on stderr) the "Large tables may
/// wrap, truncate, or hide columns…" warning: `Σ longest_values + 3·ncols > W_table`.
/// No rows ⇒ `prepare_output` returns before the table code: no warning.
pub fn large_table_warning<S: AsRef<str>, V: AsRef<str>>(
    columns: &[S],
    rows: &[Vec<V>],
    w_table: usize,
) -> bool {
    if rows.is_empty() {
        return false;
    }
    longest_values(columns, rows).iter().sum::<usize>() + 3 * columns.len() > w_table
}

/// The bytes `zenml stack list` (table output) writes to stdout: what `_render_table` returns
/// (it always ends with `\n`, so `clean_output` adds nothing).
///
/// * `columns`: the selected row-dict keys in output order (`prepare_output`'s result), e.g.
///   `active, id, name, user, ARTIFACT STORE, ORCHESTRATOR, DEPLOYER` for the defaults;
/// * `rows`: per row, `str(value)` for each column: `None` ⇒ `"None"`, a datetime ⇒
///   `"2026-11-23 20:26:23.363031"`, the active cell ⇒ [`ACTIVE_MARKER`] or `""`, and a key the
///   row dict lacks ⇒ `""` (`row.get(key, "")`);
/// * `w_table`: `max(80, min(T, 200))` as `_render_table` computes it;
/// * `env`: the variables the table console reads.
///
/// No rows ⇒ empty output (`prepare_output` returns `""` and nothing is written).
pub fn render_table<S: AsRef<str>, V: AsRef<str>>(
    columns: &[S],
    rows: &[Vec<V>],
    w_table: usize,
    env: &TableEnv,
) -> Result<Vec<u8>, Declined> {
    render_table_with(columns, rows, w_table, env, &CellTable::narrow())
}

/// [`render_table`] measuring with rich's cell widths (`cells`, from the cache): values of any
/// script the table covers, literal brackets and escaped tags.
pub fn render_table_with<S: AsRef<str>, V: AsRef<str>>(
    columns: &[S],
    rows: &[Vec<V>],
    w_table: usize,
    env: &TableEnv,
    cells: &CellTable,
) -> Result<Vec<u8>, Declined> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if w_table < 3 {
        return Err(Declined::new("table width below 3"));
    }
    if rows.iter().any(|r| r.len() != columns.len()) {
        return Err(Declined::new(
            "table row with a different number of cells than columns",
        ));
    }
    let mode = ConsoleMode::new(w_table, env)?;
    let keys: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
    for (i, key) in keys.iter().enumerate() {
        check_text(key)?;
        if keys[..i].contains(key) {
            return Err(Declined::new("duplicate table column"));
        }
    }
    let longest = longest_values(columns, rows);
    let n = keys.len();

    let mut table: Vec<Column> = Vec::with_capacity(n);
    for (i, key) in keys.iter().enumerate() {
        let active = key_lower_stripped(key) == "active";
        let header = if active {
            "active".to_string()
        } else {
            header_display(key)
        };
        let (justify, overflow, no_wrap, min_width) = if active {
            (Justify::Center, Overflow::Crop, true, None)
        } else if is_id_or_name(key) {
            (
                Justify::Left,
                Overflow::Fold,
                false,
                Some(longest[i] as i64),
            )
        } else {
            (Justify::Left, Overflow::Ellipsis, false, None)
        };
        let cells = rows
            .iter()
            .map(|r| cell_text(key, r[i].as_ref(), mode.colorize, cells))
            .collect::<Result<Vec<_>, _>>()?;
        table.push(Column {
            header: RText::plain(&header),
            justify,
            overflow,
            no_wrap,
            min_width,
            cells,
        });
    }
    // Padding(table, (0, 0, 1, 2)) on the console width, header_style="bold".
    let table = Table {
        columns: table,
        header_style: Some(Paint::Bold),
    };
    table.print_padded(&mode.console, 2, 1, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> TableEnv {
        TableEnv::default()
    }

    fn default_columns() -> Vec<&'static str> {
        vec![
            "active",
            "id",
            "name",
            "user",
            "ARTIFACT STORE",
            "ORCHESTRATOR",
            "DEPLOYER",
        ]
    }

    fn row(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn default_single_stack_at_80_matches_the_capture() {
        let rows = vec![row(&[
            ACTIVE_MARKER,
            "f07a065c-1bf5-4b32-871d-03c49cbeff91",
            "default",
            "None",
            "default",
            "default",
            "default",
        ])];
        let out = String::from_utf8(render_table(&default_columns(), &rows, 80, &env()).unwrap())
            .unwrap();
        // The CLI's output for one default stack at width 80 (docs/zenml-cli-behaviour.md §3.7.5),
        // `\e` written as `{e}`.
        let expected = concat!(
            "  {e}[1m       {e}[0m {e}[1m                                      {e}[0m {e}[1m         {e}[0m {e}[1m      {e}[0m {e}[1m {e}[0m{e}[1mARTIFACT    {e}[0m{e}[1m {e}[0m\n",
            "  {e}[1mactive{e}[0m{e}[1m {e}[0m {e}[1m {e}[0m{e}[1mID                                  {e}[0m{e}[1m {e}[0m {e}[1m {e}[0m{e}[1mNAME   {e}[0m{e}[1m {e}[0m {e}[1m {e}[0m{e}[1mUSER{e}[0m{e}[1m {e}[0m {e}[1m {e}[0m{e}[1mSTORE       {e}[0m{e}[1m {e}[0m\n",
            "  ──────────────────────────────────────────────────────────────────────────────\n",
            "    {e}[32m●{e}[0m      f07a065c-1bf5-4b32-871d-03c49cbeff91   default   None   default      \n",
            "                                                                                \n",
        )
        .replace("{e}", "\x1b");
        assert_eq!(out, expected);
        assert!(large_table_warning(&default_columns(), &rows, 80));
        assert!(!large_table_warning(&default_columns(), &rows, 120));
    }

    #[test]
    fn no_color_variants() {
        let rows = vec![row(&["", "x", "s", "None", "-", "o", "d"])];
        let cols = default_columns();
        let set = |v: &str| TableEnv {
            no_color: Some(v.into()),
            ..env()
        };
        let plain = String::from_utf8(render_table(&cols, &rows, 120, &set("1")).unwrap()).unwrap();
        assert!(!plain.contains('\x1b'));
        // No `-` substitution with NO_COLOR=1: the inactive active cell stays blank.
        assert!(
            plain
                .lines()
                .nth(2)
                .unwrap()
                .starts_with(&format!("{}x", " ".repeat(11))),
            "{plain}"
        );
        let attrs = String::from_utf8(render_table(&cols, &rows, 120, &set("")).unwrap()).unwrap();
        assert!(attrs.contains("\x1b[2m-\x1b[0m") && attrs.contains("\x1b[1m"));
        let dumb = TableEnv {
            term: Some("DUMB".into()),
            ..env()
        };
        let out = String::from_utf8(render_table(&cols, &rows, 150, &dumb).unwrap()).unwrap();
        assert!(!out.contains('\x1b'));
        assert!(out.lines().all(|l| l.chars().count() == 80));
    }

    #[test]
    fn unsupported_values() {
        let cols = ["name"];
        for bad in ["a[b]", "https://x", "é", "tab\there", ":smile:", "x:100:y"] {
            assert!(
                render_table(&cols, &[row(&[bad])], 80, &env()).is_err(),
                "{bad}"
            );
        }
        for ok in ["2026-11-23 20:26:23.363031", "a:b", "::"] {
            assert!(
                render_table(&cols, &[row(&[ok])], 80, &env()).is_ok(),
                "{ok}"
            );
        }
        let no_links = TableEnv {
            no_color: Some("1".into()),
            ..env()
        };
        assert!(render_table(&cols, &[row(&["https://x"])], 80, &no_links).is_ok());
    }

    #[test]
    fn zero_columns_print_two_blank_lines() {
        let rows: Vec<Vec<String>> = vec![vec![], vec![]];
        let cols: [&str; 0] = [];
        let out = render_table(&cols, &rows, 100, &env()).unwrap();
        assert_eq!(
            out,
            format!("{}\n{}\n", " ".repeat(100), " ".repeat(100)).into_bytes()
        );
        assert!(
            render_table(&cols, &Vec::<Vec<String>>::new(), 100, &env())
                .unwrap()
                .is_empty()
        );
    }
}
