//! The `stack list` table: what `zenml/cli/utils.py::_render_table` (ZenML 0.98.0, rich 15)
//! returns — and `zenml_cli.clean_output` writes to stdout — for a list of row dicts
//! (docs/zenml-cli-behaviour.md §3.7.5).
//!
//! The port follows rich step by step: cell text (`_colorize_value`, console markup), column
//! measurement (`Table._measure_column` of `Padding` cells), `Table._calculate_column_widths`
//! (`_collapse_widths`, `ratio_reduce` with Python's banker's rounding, the last-resort even
//! reduction and the re-measure that clamps ID/NAME columns back up to their `min_width`),
//! `Text.wrap` (`divide_line`, `rstrip_end`, left/center justify, crop/fold/ellipsis), the
//! `SIMPLE_HEAD` box without edge, `Padding(table, (0, 0, 1, 2))` and the crop/pad of every
//! line. Output is emitted segment by segment as rich's `_render_buffer` does: each styled
//! segment is its own `ESC[…m…ESC[0m` run.
//!
//! Widths are rich's cell widths ([`render_table_with`] and a [`CellTable`] from the cache;
//! [`render_table`] keeps to printable ASCII). Anything outside the ported subset (markup tags
//! other than the active marker, emoji codes, links, control or bidi characters, duplicate
//! keys) is refused with [`Declined`]: the caller then hands the command to Python.

use std::fmt::Write as _;

use crate::declined::Declined;
use crate::render::cells::CellTable;
use crate::render::terminal::Terminal;

mod cell;

use cell::{
    Justify, Overflow, Paint, RText, Seg, SegLine, adjust_line_length, cell_plain, check_text, wrap,
};

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

/// What escape codes the table console emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codes {
    /// Not a terminal (NO_COLOR non-empty) or a dumb one: no escapes.
    Off,
    /// `no_color=True` on a terminal: attributes only.
    Attributes,
    /// Attributes and colours (the standard colours render alike in every colour system).
    Full,
}

/// The console `_render_table` creates, decided from the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConsoleMode {
    /// `not os.getenv("NO_COLOR")`: values get `_colorize_value` markup.
    colorize: bool,
    codes: Codes,
    /// The console width (the Padding's width).
    width: usize,
}

impl ConsoleMode {
    fn new(w_table: usize, env: &TableEnv) -> Result<Self, Declined> {
        let colorize = env.no_color.as_deref().is_none_or(str::is_empty);
        let force_terminal = colorize;
        let no_color = env.no_color.is_some();
        let term = env.term.as_deref().unwrap_or("");
        if !term.is_ascii() {
            return Err(Declined::new("non-ASCII TERM"));
        }
        let dumb =
            force_terminal && matches!(term.to_ascii_lowercase().as_str(), "dumb" | "unknown");
        // Console.__init__ keeps `LINES` as the height when it is `str.isdigit()`; with both an
        // explicit width and a height, `size` never looks at the dumb-terminal rule.
        let lines_set = match env.lines.as_deref() {
            None => false,
            Some(l) if !l.is_ascii() => return Err(Declined::new("non-ASCII LINES")),
            Some(l) => !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()),
        };
        let width = if dumb && !lines_set { 80 } else { w_table };
        let codes = if !force_terminal || dumb {
            Codes::Off
        } else if no_color {
            Codes::Attributes
        } else {
            Codes::Full
        };
        Ok(ConsoleMode {
            colorize,
            codes,
            width,
        })
    }
}

impl Paint {
    fn sgr(self, codes: Codes) -> &'static str {
        match (codes, self) {
            (Codes::Off, _) => "",
            (_, Paint::Bold) => "1",
            (_, Paint::Dim) => "2",
            (Codes::Attributes, _) => "",
            (Codes::Full, Paint::Green) => "32",
            (Codes::Full, Paint::Yellow) => "33",
            (Codes::Full, Paint::Red) => "31",
        }
    }
}

/// A column as `_render_table` adds it.
#[derive(Debug, Clone)]
struct Column {
    header: RText,
    justify: Justify,
    overflow: Overflow,
    no_wrap: bool,
    min_width: Option<i64>,
    pad_left: usize,
    pad_right: usize,
    cells: Vec<RText>,
}

impl Column {
    fn pad_width(&self) -> i64 {
        (self.pad_left + self.pad_right) as i64
    }
}

/// `Measurement.normalize`.
fn normalize((min, max): (i64, i64)) -> (i64, i64) {
    let min = min.max(0).min(max);
    (min.max(0), min.max(max).max(0))
}

fn with_maximum((min, max): (i64, i64), width: i64) -> (i64, i64) {
    (min.min(width), max.min(width))
}

/// `Measurement.get(console, options(max_width), Padding(text, pad))`.
fn measure_cell(text: &RText, extra: i64, max_width: i64, cells: &CellTable) -> (i64, i64) {
    if max_width < 1 {
        return (0, 0);
    }
    // Padding.__rich_measure__
    let padded = if max_width - extra < 1 {
        (max_width, max_width)
    } else {
        let inner = with_maximum(normalize(text.measure(cells)), max_width);
        let inner = if inner.1 < 1 {
            (0, 0)
        } else {
            normalize(inner)
        };
        with_maximum((inner.0 + extra, inner.1 + extra), max_width)
    };
    let m = with_maximum(normalize(padded), max_width);
    if m.1 < 1 { (0, 0) } else { normalize(m) }
}

/// `Table._measure_column`.
fn measure_column(col: &Column, max_width: i64, cells: &CellTable) -> (i64, i64) {
    if max_width < 1 {
        return (0, 0);
    }
    let extra = col.pad_width();
    let (mut min, mut max) = (i64::MIN, i64::MIN);
    for cell in std::iter::once(&col.header).chain(&col.cells) {
        let (a, b) = measure_cell(cell, extra, max_width, cells);
        min = min.max(a);
        max = max.max(b);
    }
    let mut m = with_maximum((min, max), max_width);
    if let Some(mw) = col.min_width {
        let w = (mw + extra).max(0);
        m = (m.0.max(w), m.1.max(w));
    }
    m
}

/// Python's `round(a / b)` for `a >= 0`, `b > 0` (round half to even).
fn round_div(a: i64, b: i64) -> i64 {
    let (q, r) = (a / b, a % b);
    match (2 * r).cmp(&b) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
        std::cmp::Ordering::Less => q,
    }
}

/// `rich._ratio.ratio_reduce`.
fn ratio_reduce(total: i64, ratios: &[i64], maximums: &[i64], values: &[i64]) -> Vec<i64> {
    let ratios: Vec<i64> = ratios
        .iter()
        .zip(maximums)
        .map(|(&r, &m)| if m != 0 { r } else { 0 })
        .collect();
    let mut total_ratio: i64 = ratios.iter().sum();
    if total_ratio == 0 {
        return values.to_vec();
    }
    let mut total_remaining = total;
    let mut result = Vec::with_capacity(values.len());
    for ((&ratio, &maximum), &value) in ratios.iter().zip(maximums).zip(values) {
        if ratio != 0 && total_ratio > 0 {
            let distributed = maximum.min(round_div(ratio * total_remaining, total_ratio));
            result.push(value - distributed);
            total_remaining -= distributed;
            total_ratio -= ratio;
        } else {
            result.push(value);
        }
    }
    result
}

/// `Table._collapse_widths`.
fn collapse_widths(mut widths: Vec<i64>, wrapable: &[bool], max_width: i64) -> Vec<i64> {
    let mut total: i64 = widths.iter().sum();
    let mut excess = total - max_width;
    if wrapable.iter().any(|&w| w) {
        while total != 0 && excess > 0 {
            let max_column = widths
                .iter()
                .zip(wrapable)
                .filter(|(_, wr)| **wr)
                .map(|(w, _)| *w)
                .max()
                .unwrap_or(0);
            let second_max = widths
                .iter()
                .zip(wrapable)
                .map(|(&w, &wr)| if wr && w != max_column { w } else { 0 })
                .max()
                .unwrap_or(0);
            let difference = max_column - second_max;
            let ratios: Vec<i64> = widths
                .iter()
                .zip(wrapable)
                .map(|(&w, &wr)| i64::from(w == max_column && wr))
                .collect();
            if !ratios.iter().any(|&r| r != 0) || difference == 0 {
                break;
            }
            let max_reduce = vec![excess.min(difference); widths.len()];
            widths = ratio_reduce(excess, &ratios, &max_reduce, &widths);
            total = widths.iter().sum();
            excess = total - max_width;
        }
    }
    widths
}

/// `Table._calculate_column_widths` (no fixed widths, ratios or `expand`).
fn column_widths(columns: &[Column], max_width: i64, cells: &CellTable) -> Vec<i64> {
    let mut widths: Vec<i64> = columns
        .iter()
        .map(|c| match measure_column(c, max_width, cells).1 {
            0 => 1,
            w => w,
        })
        .collect();
    let table_width: i64 = widths.iter().sum();
    if table_width > max_width {
        let wrapable: Vec<bool> = columns.iter().map(|c| !c.no_wrap).collect();
        widths = collapse_widths(widths, &wrapable, max_width);
        let table_width: i64 = widths.iter().sum();
        if table_width > max_width {
            let excess = table_width - max_width;
            let ones = vec![1; widths.len()];
            widths = ratio_reduce(excess, &ones, &widths, &widths);
        }
        widths = columns
            .iter()
            .zip(&widths)
            .map(|(c, &w)| measure_column(c, w.max(0), cells).1)
            .collect();
    }
    widths
}

/// `console.render_lines(Padding(text, pad), options(width), style=cell_style)` for one cell.
fn render_cell(
    col: &Column,
    text: &RText,
    width: usize,
    cell_paint: Option<Paint>,
    cells: &CellTable,
) -> Vec<SegLine> {
    if width < 1 {
        return Vec::new();
    }
    let Some(inner) = width
        .checked_sub(col.pad_left + col.pad_right)
        .filter(|&w| w >= 1)
    else {
        return Vec::new();
    };
    wrap(text, inner, col.justify, col.overflow, col.no_wrap, cells)
        .iter()
        .map(|line| {
            let mut segs = Vec::new();
            if col.pad_left > 0 {
                segs.push(Seg::spaces(col.pad_left, None));
            }
            segs.extend(line.segments());
            if col.pad_right > 0 {
                segs.push(Seg::spaces(col.pad_right, None));
            }
            // Segment.apply_style(cell_style): the cell style under each segment's own.
            for seg in &mut segs {
                seg.paint = seg.paint.or(cell_paint);
            }
            segs
        })
        .collect()
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
            pad_left: usize::from(i != 0),
            pad_right: usize::from(i + 1 != n),
            cells,
        });
    }

    // Padding(table, (0, 0, 1, 2)) on the console width: the table gets W - 2.
    let inner_width = mode.width - 2;
    let mut lines: Vec<SegLine> = Vec::new();
    if n == 0 {
        // Table with no columns: a single "\n".
        lines.push(Vec::new());
    } else {
        let max_width = (inner_width as i64 - (n as i64 - 1)).max(0);
        let widths: Vec<usize> = column_widths(&table, max_width, cells)
            .into_iter()
            .map(|w| w.max(0) as usize)
            .collect();
        for row in 0..=rows.len() {
            let header_row = row == 0;
            let cell_paint = header_row.then_some(Paint::Bold);
            let mut row_cells: Vec<Vec<SegLine>> = table
                .iter()
                .zip(&widths)
                .map(|(col, &w)| {
                    let text = if header_row {
                        &col.header
                    } else {
                        &col.cells[row - 1]
                    };
                    render_cell(col, text, w, cell_paint, cells)
                })
                .collect();
            let row_height = row_cells.iter().map(Vec::len).max().unwrap_or(0);
            let max_height = row_height.max(1);
            for (cell, &w) in row_cells.iter_mut().zip(&widths) {
                // align_bottom (header) / align_top (data) with the cell style's blank lines …
                let extra = row_height - cell.len();
                if extra > 0 {
                    let blank = vec![Seg::spaces(w, cell_paint)];
                    let blanks = std::iter::repeat_n(blank, extra);
                    if header_row {
                        cell.splice(0..0, blanks);
                    } else {
                        cell.extend(blanks);
                    }
                }
                // … then set_shape(width, max_height) with unstyled blanks.
                for line in cell.iter_mut() {
                    *line = adjust_line_length(line, w, cells);
                }
                while cell.len() < max_height {
                    cell.push(vec![Seg::spaces(w, None)]);
                }
            }
            for line_no in 0..max_height {
                let mut line = Vec::new();
                for (k, cell) in row_cells.iter().enumerate() {
                    if k > 0 {
                        line.push(Seg::spaces(1, None));
                    }
                    line.extend(cell[line_no].iter().cloned());
                }
                lines.push(line);
            }
            if header_row {
                let rule = widths.iter().sum::<usize>() + n - 1;
                lines.push(vec![Seg::new(vec!['─'; rule], None)]);
            }
        }
    }

    let mut out = String::new();
    for line in &lines {
        out.push_str("  ");
        for seg in adjust_line_length(line, inner_width, cells) {
            emit(&mut out, &seg, mode.codes);
        }
        out.push('\n');
    }
    out.extend(std::iter::repeat_n(' ', mode.width));
    out.push('\n');
    Ok(out.into_bytes())
}

/// `Style.render`: one `ESC[…m…ESC[0m` run per styled segment, raw text otherwise.
fn emit(out: &mut String, seg: &Seg, codes: Codes) {
    if seg.text.is_empty() {
        return;
    }
    let text: String = seg.text.iter().collect();
    match seg.paint.map(|p| p.sgr(codes)).unwrap_or("") {
        "" => out.push_str(&text),
        sgr => {
            let _ = write!(out, "\x1b[{sgr}m{text}\x1b[0m");
        }
    }
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
    fn banker_rounding() {
        assert_eq!(round_div(5, 2), 2);
        assert_eq!(round_div(7, 2), 4);
        assert_eq!(round_div(1, 3), 0);
        assert_eq!(round_div(2, 3), 1);
        assert_eq!(ratio_reduce(3, &[1, 1], &[5, 5], &[10, 10]), vec![8, 9]);
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

    #[test]
    fn divide_line_folds_or_keeps_long_words() {
        let t: Vec<char> = "abc defghijkl mn".chars().collect();
        assert_eq!(
            crate::render::text::divide_line(&t, 5, true),
            vec![4, 9, 14]
        );
        assert_eq!(crate::render::text::divide_line(&t, 5, false), vec![4, 14]);
    }
}
