//! rich's `Table` as `console.print(Padding(table, (0, 0, bottom, left)))` prints it into a
//! buffer (rich 15), for the shape [`Table`] describes. The columns, their options and their
//! cells are the caller's.
//!
//! The port follows rich step by step: column measurement (`Table._measure_column` of `Padding`
//! cells), `Table._calculate_column_widths` (`_collapse_widths`, `ratio_reduce` with Python's
//! banker's rounding, the last-resort even reduction and the re-measure that clamps columns back
//! up to their `min_width`), `Text.wrap` (`divide_line`, `rstrip_end`, left/center justify,
//! crop/fold/ellipsis; in `cell.rs`), the `SIMPLE_HEAD` box without edge, the `Padding` and the
//! crop/pad of every line. Output is emitted segment by segment as rich's `_render_buffer` does:
//! each styled segment is its own `ESC[…m…ESC[0m` run.
//!
//! Widths are rich's cell widths (a [`CellTable`] from the cache, or the narrow one for printable
//! ASCII). A cell value's markup is read as rich reads it ([`cell_plain`]); anything outside the
//! ported subset is refused with [`Declined`].

use std::fmt::Write as _;

use crate::declined::Declined;
use crate::render::cells::CellTable;

mod cell;

pub use cell::{Justify, Overflow, Paint, RText, cell_plain, check_text};
use cell::{Seg, SegLine, adjust_line_length, wrap};

/// What escape codes the console emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codes {
    /// Not a terminal (`force_terminal=False`) or a dumb one: no escapes.
    Off,
    /// `no_color=True` on a terminal: attributes only.
    Attributes,
    /// Attributes and colours (the standard colours render alike in every colour system).
    Full,
}

/// A rich `Console` printing into a buffer, as far as a table print reads it: its escape codes
/// and its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Console {
    codes: Codes,
    /// The console width (the Padding's width).
    width: usize,
}

impl Console {
    /// `Console(width=width, force_terminal=force_terminal, no_color=no_color)` with the
    /// variables `TERM` and `LINES` as given: `dumb`/`unknown` (any case) on the forced terminal
    /// ⇒ no escapes and width 80, unless `LINES` is all digits; `no_color` ⇒ attributes only.
    /// [`Declined`]: non-ASCII `TERM` or `LINES`.
    pub fn new(
        width: usize,
        force_terminal: bool,
        no_color: bool,
        term: Option<&str>,
        lines: Option<&str>,
    ) -> Result<Self, Declined> {
        let term = term.unwrap_or("");
        if !term.is_ascii() {
            return Err(Declined::new("non-ASCII TERM"));
        }
        let dumb =
            force_terminal && matches!(term.to_ascii_lowercase().as_str(), "dumb" | "unknown");
        // Console.__init__ keeps `LINES` as the height when it is `str.isdigit()`; with both an
        // explicit width and a height, `size` never looks at the dumb-terminal rule.
        let lines_set = match lines {
            None => false,
            Some(l) if !l.is_ascii() => return Err(Declined::new("non-ASCII LINES")),
            Some(l) => !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()),
        };
        let width = if dumb && !lines_set { 80 } else { width };
        let codes = if !force_terminal || dumb {
            Codes::Off
        } else if no_color {
            Codes::Attributes
        } else {
            Codes::Full
        };
        Ok(Console { codes, width })
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

/// A column as `Table.add_column(header, justify=…, overflow=…, no_wrap=…, min_width=…)` adds
/// it, with its cells (`add_row`'s values for this column, in row order).
#[derive(Debug, Clone)]
pub struct Column {
    pub header: RText,
    pub justify: Justify,
    pub overflow: Overflow,
    pub no_wrap: bool,
    pub min_width: Option<i64>,
    pub cells: Vec<RText>,
}

/// A column's `(left, right)` cell padding: rich's `(0, 1)` with `pad_edge=False`, none at the
/// table's outer edges.
type Pad = (usize, usize);

/// rich's `Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style=…)` with a
/// header row (default `(0, 1)` padding, no title, caption, footer, ratios, fixed widths or
/// `expand`).
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
    /// `header_style`: the style under the header row's cells.
    pub header_style: Option<Paint>,
}

impl Table {
    /// The bytes `console.print(Padding(table, (0, 0, bottom, left)))` writes: each line `left`
    /// spaces and the table's line cropped or padded to the rest of the console width, then
    /// `bottom` blank lines of the full width (a table with no columns: one empty line).
    /// [`Declined`]: columns with different numbers of cells, or a console not wider than `left`.
    pub fn print_padded(
        &self,
        console: &Console,
        left: usize,
        bottom: usize,
        cells: &CellTable,
    ) -> Result<Vec<u8>, Declined> {
        let n = self.columns.len();
        let rows = self.columns.first().map_or(0, |c| c.cells.len());
        if self.columns.iter().any(|c| c.cells.len() != rows) {
            return Err(Declined::new(
                "table columns with different numbers of cells",
            ));
        }
        if console.width <= left {
            return Err(Declined::new("table console not wider than its padding"));
        }
        let pads: Vec<Pad> = (0..n)
            .map(|i| (usize::from(i != 0), usize::from(i + 1 != n)))
            .collect();
        // Padding(table, (0, 0, bottom, left)) on the console width: the table gets W - left.
        let inner_width = console.width - left;
        let mut lines: Vec<SegLine> = Vec::new();
        if n == 0 {
            // Table with no columns: a single "\n".
            lines.push(Vec::new());
        } else {
            let max_width = (inner_width as i64 - (n as i64 - 1)).max(0);
            let widths: Vec<usize> = column_widths(&self.columns, &pads, max_width, cells)
                .into_iter()
                .map(|w| w.max(0) as usize)
                .collect();
            for row in 0..=rows {
                let header_row = row == 0;
                let cell_paint = if header_row { self.header_style } else { None };
                let mut row_cells: Vec<Vec<SegLine>> = self
                    .columns
                    .iter()
                    .zip(&pads)
                    .zip(&widths)
                    .map(|((col, &pad), &w)| {
                        let text = if header_row {
                            &col.header
                        } else {
                            &col.cells[row - 1]
                        };
                        render_cell(col, pad, text, w, cell_paint, cells)
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
            out.extend(std::iter::repeat_n(' ', left));
            for seg in adjust_line_length(line, inner_width, cells) {
                emit(&mut out, &seg, console.codes);
            }
            out.push('\n');
        }
        for _ in 0..bottom {
            out.extend(std::iter::repeat_n(' ', console.width));
            out.push('\n');
        }
        Ok(out.into_bytes())
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
fn measure_column(col: &Column, pad: Pad, max_width: i64, cells: &CellTable) -> (i64, i64) {
    if max_width < 1 {
        return (0, 0);
    }
    let extra = (pad.0 + pad.1) as i64;
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
fn column_widths(columns: &[Column], pads: &[Pad], max_width: i64, cells: &CellTable) -> Vec<i64> {
    let mut widths: Vec<i64> = columns
        .iter()
        .zip(pads)
        .map(
            |(c, &pad)| match measure_column(c, pad, max_width, cells).1 {
                0 => 1,
                w => w,
            },
        )
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
            .zip(pads)
            .zip(&widths)
            .map(|((c, &pad), &w)| measure_column(c, pad, w.max(0), cells).1)
            .collect();
    }
    widths
}

/// `console.render_lines(Padding(text, pad), options(width), style=cell_style)` for one cell.
fn render_cell(
    col: &Column,
    (pad_left, pad_right): Pad,
    text: &RText,
    width: usize,
    cell_paint: Option<Paint>,
    cells: &CellTable,
) -> Vec<SegLine> {
    if width < 1 {
        return Vec::new();
    }
    let Some(inner) = width.checked_sub(pad_left + pad_right).filter(|&w| w >= 1) else {
        return Vec::new();
    };
    wrap(text, inner, col.justify, col.overflow, col.no_wrap, cells)
        .iter()
        .map(|line| {
            let mut segs = Vec::new();
            if pad_left > 0 {
                segs.push(Seg::spaces(pad_left, None));
            }
            segs.extend(line.segments());
            if pad_right > 0 {
                segs.push(Seg::spaces(pad_right, None));
            }
            // Segment.apply_style(cell_style): the cell style under each segment's own.
            for seg in &mut segs {
                seg.paint = seg.paint.or(cell_paint);
            }
            segs
        })
        .collect()
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

    #[test]
    fn banker_rounding() {
        assert_eq!(round_div(5, 2), 2);
        assert_eq!(round_div(7, 2), 4);
        assert_eq!(round_div(1, 3), 0);
        assert_eq!(round_div(2, 3), 1);
        assert_eq!(ratio_reduce(3, &[1, 1], &[5, 5], &[10, 10]), vec![8, 9]);
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
