//! A table cell as rich handles it: the value's markup ([`cell_plain`]), its `Text` with at most
//! one styled span ([`RText`]: measure, `wrap` with divide/rstrip/justify/truncate, render to
//! segments) and rich's `Segment`s ([`Seg`], `adjust_line_length`).

use crate::declined::Declined;
use crate::render::cells::CellTable;

/// The styles that occur in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
}

/// A rich `Segment`: text and an optional style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub text: Vec<char>,
    pub paint: Option<Paint>,
}

impl Seg {
    pub fn new(text: Vec<char>, paint: Option<Paint>) -> Self {
        Seg { text, paint }
    }

    pub fn spaces(n: usize, paint: Option<Paint>) -> Self {
        Seg::new(vec![' '; n], paint)
    }
}

pub type SegLine = Vec<Seg>;

/// A rich `Text` with at most one span (all the table ever builds: a whole value in a markup tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RText {
    chars: Vec<char>,
    span: Option<(usize, usize, Paint)>,
}

impl RText {
    pub fn plain(s: &str) -> Self {
        RText {
            chars: s.chars().collect(),
            span: None,
        }
    }

    pub fn styled(s: &str, paint: Paint) -> Self {
        let chars: Vec<char> = s.chars().collect();
        let span = (!chars.is_empty()).then_some((0, chars.len(), paint));
        RText { chars, span }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    /// `Text._trim_spans` after the plain text got shorter.
    fn trim_spans(&mut self) {
        let max = self.chars.len();
        self.span = self
            .span
            .filter(|&(s, _, _)| s < max)
            .map(|(s, e, p)| (s, e.min(max), p));
    }

    /// `Text.right_crop(amount)`.
    fn right_crop(&mut self, amount: usize) {
        let max = self.chars.len() - amount;
        self.span = self
            .span
            .filter(|&(s, _, _)| s < max)
            .map(|(s, e, p)| (s, e.min(max), p));
        self.chars.truncate(max);
    }

    /// `Text.rstrip_end(size)`.
    fn rstrip_end(&mut self, size: usize) {
        let len = self.len();
        if len > size {
            let excess = len - size;
            let ws = crate::render::text::trailing_whitespace(&self.chars);
            if ws > 0 {
                self.right_crop(ws.min(excess));
            }
        }
    }

    /// `Text.rstrip()`.
    fn rstrip(&mut self) {
        let ws = crate::render::text::trailing_whitespace(&self.chars);
        if ws > 0 {
            let len = self.len() - ws;
            self.chars.truncate(len);
            self.trim_spans();
        }
    }

    /// `Text.truncate(max_width, overflow=…, pad=…)`: in cells, `set_cell_size` (a wide
    /// character cut in two becomes a space).
    fn truncate(&mut self, max_width: usize, overflow: Overflow, pad: bool, cells: &CellTable) {
        let length = cells.cell_len(&self.chars);
        if length > max_width {
            let old = self.chars.len();
            let size = if overflow == Overflow::Ellipsis {
                max_width.saturating_sub(1)
            } else {
                max_width
            };
            let (keep, spaces) = cells.set_cell_size(&self.chars, size);
            self.chars.truncate(keep);
            self.chars.extend(std::iter::repeat_n(' ', spaces));
            if overflow == Overflow::Ellipsis {
                self.chars.push('…');
            }
            if self.chars.len() < old {
                self.trim_spans();
            }
        }
        if pad && length < max_width {
            // `_text = [plain + spaces]`: spans are not extended.
            self.chars
                .extend(std::iter::repeat_n(' ', max_width - length));
        }
    }

    fn pad_left(&mut self, count: usize) {
        if count > 0 {
            self.chars.splice(0..0, std::iter::repeat_n(' ', count));
            self.span = self.span.map(|(s, e, p)| (s + count, e + count, p));
        }
    }

    fn pad_right(&mut self, count: usize) {
        self.chars.extend(std::iter::repeat_n(' ', count));
    }

    /// `Text.divide(offsets)`.
    fn divide(&self, offsets: &[usize]) -> Vec<RText> {
        if offsets.is_empty() {
            return vec![self.clone()];
        }
        let mut bounds = vec![0];
        bounds.extend_from_slice(offsets);
        bounds.push(self.len());
        bounds
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                let span = self.span.and_then(|(s, e, p)| {
                    let ns = s.saturating_sub(a);
                    let ne = e.min(b).saturating_sub(a);
                    (e > a && ne > ns).then_some((ns, ne, p))
                });
                RText {
                    chars: self.chars[a..b].to_vec(),
                    span,
                }
            })
            .collect()
    }

    /// `Text.render`: the non-empty pieces before, inside and after the span.
    pub fn segments(&self) -> SegLine {
        let Some((s, e, p)) = self.span else {
            return vec![Seg::new(self.chars.clone(), None)];
        };
        let mut out = Vec::new();
        for (a, b, paint) in [(0, s, None), (s, e, Some(p)), (e, self.len(), None)] {
            if b > a {
                out.push(Seg::new(self.chars[a..b].to_vec(), paint));
            }
        }
        out
    }

    /// `Text.__rich_measure__`: (longest word, longest line), in cells.
    pub fn measure(&self, cells: &CellTable) -> (i64, i64) {
        let max = cells.cell_len(&self.chars) as i64;
        let min = self
            .chars
            .split(|c| c.is_whitespace())
            .map(|w| cells.cell_len(w) as i64)
            .max()
            .filter(|_| self.chars.iter().any(|c| !c.is_whitespace()))
            .unwrap_or(max);
        (min, max)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Crop,
    Fold,
    Ellipsis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justify {
    Left,
    Center,
}

/// `Text.wrap(console, width, justify=…, overflow=…, no_wrap=…)`: lines of exactly `width` cells.
pub fn wrap(
    text: &RText,
    width: usize,
    justify: Justify,
    overflow: Overflow,
    no_wrap: bool,
    cells: &CellTable,
) -> Vec<RText> {
    let mut lines = if no_wrap {
        vec![text.clone()]
    } else {
        let offsets = crate::render::text::divide_line_cells(
            &text.chars,
            width,
            overflow == Overflow::Fold,
            cells,
        );
        let mut lines = text.divide(&offsets);
        for line in &mut lines {
            line.rstrip_end(width);
        }
        lines
    };
    for line in &mut lines {
        match justify {
            Justify::Left => line.truncate(width, overflow, true, cells),
            Justify::Center => {
                line.rstrip();
                line.truncate(width, overflow, false, cells);
                let len = cells.cell_len(&line.chars);
                line.pad_left(width.saturating_sub(len) / 2);
                let len = cells.cell_len(&line.chars);
                line.pad_right(width.saturating_sub(len));
            }
        }
        line.truncate(width, overflow, false, cells);
    }
    lines
}

fn line_len(line: &SegLine, cells: &CellTable) -> usize {
    line.iter().map(|s| cells.cell_len(&s.text)).sum()
}

/// `Segment.adjust_line_length(line, length, pad=True)` with unstyled padding.
pub fn adjust_line_length(line: &SegLine, length: usize, cells: &CellTable) -> SegLine {
    let current = line_len(line, cells);
    if current < length {
        let mut out = line.clone();
        out.push(Seg::spaces(length - current, None));
        out
    } else if current > length {
        let mut out = Vec::new();
        let mut used = 0;
        for seg in line {
            let seg_len = cells.cell_len(&seg.text);
            if used + seg_len < length {
                out.push(seg.clone());
                used += seg_len;
            } else {
                let (keep, spaces) = cells.set_cell_size(&seg.text, length - used);
                let mut text = seg.text[..keep].to_vec();
                text.extend(std::iter::repeat_n(' ', spaces));
                out.push(Seg::new(text, seg.paint));
                break;
            }
        }
        out
    } else {
        line.clone()
    }
}

/// The plain text rich's markup makes of a cell value (`render_str` with markup and emoji,
/// no highlighting): with rich's cell table, any character it covers, literal brackets and
/// escaped tags; with the narrow table (no recorded widths), printable ASCII without `[`.
pub fn cell_plain(s: &str, cells: &CellTable) -> Result<String, Declined> {
    if cells.is_narrow() {
        check_text(s)?;
        return Ok(s.to_string());
    }
    if s.chars()
        .any(|c| c == '\t' || c == '\n' || !cells.covers(c))
    {
        return Err(Declined::new("table value with control or bidi characters"));
    }
    let pieces = crate::render::markup::plain_pieces(s)
        .map_err(|_| Declined::new("table value with console markup"))?;
    if !pieces.iter().all(|p| emoji_free(p)) {
        return Err(Declined::new("table value with an emoji code"));
    }
    Ok(pieces.concat())
}

/// What the port handles without rich's recorded cell widths (and in headers): printable ASCII,
/// no markup (`[`) and no emoji code.
pub fn check_text(s: &str) -> Result<(), Declined> {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Declined::new(
            "table value with non-ASCII or control characters",
        ));
    }
    if s.contains('[') {
        return Err(Declined::new("table value with console markup"));
    }
    if !emoji_free(s) {
        return Err(Declined::new("table value with an emoji code"));
    }
    Ok(())
}

/// True when rich's `_emoji_replace` (`(:(\S*?)(?:(?:\-)(emoji|text))?:)`) leaves `s` alone for
/// certain: every `:name:` it matches has an empty or all-digit name that is not an emoji
/// (`100` and `1234` are), as in times `20:26:23`.
fn emoji_free(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let at = |j: usize, lit: &str| {
        chars[j.min(n)..]
            .iter()
            .copied()
            .take(lit.len())
            .eq(lit.chars())
    };
    let mut i = 0;
    while i < n {
        if chars[i] != ':' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let found = loop {
            if at(j, "-emoji:") {
                break Some((j, j + 7));
            }
            if at(j, "-text:") {
                break Some((j, j + 6));
            }
            if j < n && chars[j] == ':' {
                break Some((j, j + 1));
            }
            if j < n && !chars[j].is_whitespace() {
                j += 1;
                continue;
            }
            break None;
        };
        match found {
            Some((name_end, match_end)) => {
                let name: String = chars[i + 1..name_end].iter().collect();
                let digits = name.bytes().all(|b| b.is_ascii_digit());
                if !digits || name == "100" || name == "1234" {
                    return false;
                }
                i = match_end;
            }
            None => i += 1,
        }
    }
    true
}
