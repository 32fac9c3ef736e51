//! Cell widths as rich measures them (`rich/cells.py` of rich 15): `get_character_cell_size`,
//! `cell_len` (its single-cell fast path, and the zero-width-joiner / variation-selector-16
//! rules), `split_graphemes`, `chop_cells` and `set_cell_size`, over a [`CellTable`] that
//! `gen_cache.py` reads from the *installed* rich at run time (`rich._unicode_data.load`) and
//! stores in the cache's `theme.json` (`text_data`). No width data is kept in this repository.
//!
//! [`CellTable::narrow`] is the table for text that the installed rich printed itself (cached
//! pieces: banners, help): every character one cell, as before this module existed.
//!
//! Characters a table does not [`cover`](CellTable::covers) must be refused by the caller
//! before anything is measured: control characters (rich strips some, prints others raw, and
//! the terminal decides how they look), bidi controls, lone surrogates cannot occur in `str`,
//! and — when `UNICODE_VERSION` asks rich for another table — anything outside the single-cell
//! fast path.

use serde::Deserialize;

/// What `gen_cache.py` records (`text_data`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TextData {
    pub unicode_version: String,
    /// `(start, end, width)` code point ranges, sorted (`CellTable.widths`).
    pub widths: Vec<(u32, u32, u8)>,
    /// Code points a following VS16 makes two cells wide (`CellTable.narrow_to_wide`).
    pub narrow_to_wide: Vec<u32>,
    /// `_SINGLE_CELL_UNICODE_RANGES`: strings made only of these are `len()` cells.
    pub single_cell_ranges: Vec<(u32, u32)>,
    /// The code points Python's `re` matches with `\w`, `\d`, `\s` (as ranges).
    pub python_classes: PythonClasses,
    /// PyYAML's implicit resolvers (`yaml.Dumper.yaml_implicit_resolvers`), verbose patterns
    /// already made compact.
    pub yaml_resolvers: Vec<YamlResolver>,
    pub yaml_str_tag: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PythonClasses {
    pub word: Vec<(u32, u32)>,
    pub digit: Vec<(u32, u32)>,
    pub space: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct YamlResolver {
    pub first: String,
    pub tag: String,
    pub pattern: String,
}

/// Whether `c` lies in one of the sorted, disjoint `ranges`.
pub fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    ranges
        .binary_search_by(|&(s, e)| {
            if e < c {
                std::cmp::Ordering::Less
            } else if s > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

const ZWJ: char = '\u{200D}';
const VS16: char = '\u{FE0F}';

/// rich's cell table, or the all-narrow one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellTable {
    widths: Vec<(u32, u32, u8)>,
    narrow_to_wide: Vec<u32>,
    single: Vec<(u32, u32)>,
    /// Only the single-cell ranges are trusted (`UNICODE_VERSION` set).
    single_only: bool,
    narrow: bool,
}

/// `(start, end, cells)` of one grapheme as `split_graphemes` returns it (char offsets).
pub type CellSpan = (usize, usize, usize);

impl CellTable {
    /// Every character one cell: for text the installed rich rendered itself.
    pub fn narrow() -> CellTable {
        CellTable {
            widths: Vec::new(),
            narrow_to_wide: Vec::new(),
            single: Vec::new(),
            single_only: false,
            narrow: true,
        }
    }

    /// rich's table from the cache. Checks it is sorted, so lookups are binary searches.
    pub fn from_data(data: &TextData) -> Option<CellTable> {
        let sorted = data
            .widths
            .windows(2)
            .all(|w| w[0].0 <= w[0].1 && w[0].1 < w[1].0)
            && data
                .single_cell_ranges
                .windows(2)
                .all(|w| w[0].0 <= w[0].1 && w[0].1 < w[1].0);
        if !sorted || data.widths.is_empty() {
            return None;
        }
        let mut narrow_to_wide = data.narrow_to_wide.clone();
        narrow_to_wide.sort_unstable();
        Some(CellTable {
            widths: data.widths.clone(),
            narrow_to_wide,
            single: data.single_cell_ranges.clone(),
            single_only: false,
            narrow: false,
        })
    }

    /// The table as the running process's rich would use it: `UNICODE_VERSION` set makes
    /// `rich._unicode_data.load("auto")` pick a table by that value, so only the single-cell
    /// fast path (independent of the table) is trusted then.
    pub fn for_process(mut self) -> CellTable {
        if crate::vars::os(crate::vars::UNICODE_VERSION).is_some() {
            self.single_only = true;
        }
        self
    }

    pub fn is_narrow(&self) -> bool {
        self.narrow
    }

    /// Whether texts with `c` are measured exactly: not a C0/C1 control (except `\n`, which
    /// callers split on), not DEL, not a bidi control, and within the trusted ranges.
    pub fn covers(&self, c: char) -> bool {
        let u = c as u32;
        if c != '\n' && (u < 0x20 || (0x7F..0xA0).contains(&u)) {
            return false;
        }
        if matches!(u, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069) {
            return false; // bidi controls: the terminal decides the order
        }
        if matches!(u, 0x2028 | 0x2029) {
            return false; // line/paragraph separators: `str.splitlines` splits on them
        }
        if self.narrow {
            return true;
        }
        !self.single_only || self.is_single(c)
    }

    fn is_single(&self, c: char) -> bool {
        in_ranges(&self.single, c)
    }

    /// `get_character_cell_size`.
    pub fn char_width(&self, c: char) -> usize {
        if self.narrow {
            return 1;
        }
        let u = c as u32;
        if (u != 0 && u < 32) || (0x7F..0xA0).contains(&u) {
            return 0;
        }
        let Some(last) = self.widths.last() else {
            return 1;
        };
        if u > last.1 {
            return 1;
        }
        match self.widths.binary_search_by(|&(s, e, _)| {
            if e < u {
                std::cmp::Ordering::Less
            } else if s > u {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        }) {
            Ok(i) => usize::from(self.widths[i].2),
            Err(_) => 1,
        }
    }

    /// `_is_single_cell_widths(text)`.
    pub fn all_single(&self, text: &[char]) -> bool {
        self.narrow || text.iter().all(|&c| self.is_single(c))
    }

    fn narrow_to_wide(&self, c: char) -> bool {
        self.narrow_to_wide.binary_search(&(c as u32)).is_ok()
    }

    /// `cell_len(text)`.
    pub fn cell_len(&self, text: &[char]) -> usize {
        if self.all_single(text) {
            return text.len();
        }
        if !text.iter().any(|&c| c == ZWJ || c == VS16) {
            return text.iter().map(|&c| self.char_width(c)).sum();
        }
        let mut total = 0;
        let mut last: Option<char> = None;
        let mut index = 0;
        while index < text.len() {
            let c = text[index];
            if c == ZWJ {
                index += 1; // the joined character is skipped too
            } else if c == VS16 {
                if let Some(l) = last.take() {
                    total += usize::from(self.narrow_to_wide(l));
                }
            } else {
                let w = self.char_width(c);
                if w > 0 {
                    last = Some(c);
                    total += w;
                }
            }
            index += 1;
        }
        total
    }

    /// `cell_len` of a string.
    pub fn str_len(&self, text: &str) -> usize {
        if text.is_ascii() {
            return text.len();
        }
        self.cell_len(&text.chars().collect::<Vec<_>>())
    }

    /// `split_graphemes(text)`: the graphemes and the total width.
    pub fn split_graphemes(&self, text: &[char]) -> (Vec<CellSpan>, usize) {
        let n = text.len();
        let mut index = 0;
        let mut last: Option<char> = None;
        let mut total = 0;
        let mut spans: Vec<CellSpan> = Vec::new();
        while index < n {
            let c = text[index];
            if c == ZWJ || c == VS16 {
                let Some(&(start, _, mut cells)) = spans.last() else {
                    spans.push((index, index + 1, 0));
                    index += 1;
                    continue;
                };
                if c == ZWJ {
                    index += if index < n - 1 { 2 } else { 1 };
                } else {
                    index += 1;
                    if let Some(l) = last {
                        if self.narrow_to_wide(l) {
                            last = None;
                            cells += 1;
                            total += 1;
                        }
                    }
                }
                *spans.last_mut().unwrap_or(&mut (0, 0, 0)) = (start, index, cells);
                continue;
            }
            let w = self.char_width(c);
            if w > 0 {
                last = Some(c);
                spans.push((index, index + 1, w));
                total += w;
                index += 1;
            } else if let Some(span) = spans.last_mut() {
                index += 1;
                span.1 = index;
            } else {
                spans.push((index, index + 1, 0));
                index += 1;
            }
        }
        (spans, total)
    }

    /// `chop_cells(text, width)`: the lengths (in chars) of the lines, in order.
    pub fn chop_cells(&self, text: &[char], width: usize) -> Vec<usize> {
        if self.all_single(text) {
            let w = width.max(1);
            return text.chunks(w).map(<[char]>::len).collect();
        }
        let (spans, _) = self.split_graphemes(text);
        let mut line_size = 0;
        let mut lines = Vec::new();
        let mut line_offset = 0;
        for (start, _, cells) in spans {
            if line_size + cells > width {
                lines.push(start - line_offset);
                line_offset = start;
                line_size = 0;
            }
            line_size += cells;
        }
        if line_size > 0 {
            lines.push(text.len() - line_offset);
        }
        lines
    }

    /// `set_cell_size(text, total)` as (chars kept from the start, spaces appended). When the
    /// cut falls inside a wide character, `_split_text` keeps what precedes it and adds one
    /// space (the space takes the place, and the styles, of the cut character).
    pub fn set_cell_size(&self, text: &[char], total: usize) -> (usize, usize) {
        if self.all_single(text) {
            let size = text.len();
            if size < total {
                return (size, total - size);
            }
            return (total, 0);
        }
        if total == 0 {
            return (0, 0);
        }
        let size = self.cell_len(text);
        if size == total {
            return (text.len(), 0);
        }
        if size < total {
            return (text.len(), total - size);
        }
        self.split_at_cell(text, total)
    }

    /// `_split_text(text, cell_position)[0]` as (chars kept, spaces appended: 0 or 1).
    fn split_at_cell(&self, text: &[char], position: usize) -> (usize, usize) {
        if position == 0 {
            return (0, 0);
        }
        let (spans, cell_length) = self.split_graphemes(text);
        if cell_length == 0 {
            // Python divides by zero here; callers never reach it (size > total > 0).
            return (text.len(), 0);
        }
        // The same walk as rich, from its guessed offset (the result does not depend on it).
        let mut offset = ((position as f64 / cell_length as f64) * spans.len() as f64) as usize;
        let mut left: usize = spans[..offset.min(spans.len())].iter().map(|s| s.2).sum();
        loop {
            if left == position {
                if offset >= spans.len() {
                    return (text.len(), 0);
                }
                return (spans[offset].0, 0);
            }
            if left < position {
                let Some(&(start, _, cells)) = spans.get(offset) else {
                    return (text.len(), 0);
                };
                if left + cells > position {
                    return (start, 1);
                }
                offset += 1;
                left += cells;
            } else {
                let (start, _, cells) = spans[offset - 1];
                if left - cells < position {
                    return (start, 1);
                }
                offset -= 1;
                left -= cells;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small hand-made table in rich's shape (the real one comes from the installed rich).
    fn table() -> CellTable {
        CellTable {
            widths: vec![
                (0, 0, 0),
                (0x300, 0x36F, 0),
                (0x200B, 0x200F, 0),
                (0x2764, 0x2764, 1),
                (0x3000, 0x303E, 2),
                (0x4E00, 0x9FFF, 2),
                (0xFE00, 0xFE0F, 0),
                (0x1F600, 0x1F64F, 2),
            ],
            narrow_to_wide: vec![0x2764],
            single: vec![(0x20, 0x7E), (0xA0, 0xAC), (0xAE, 0x2FF)],
            single_only: false,
            narrow: false,
        }
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn widths_and_sequences() {
        let t = table();
        assert_eq!(t.cell_len(&chars("abc")), 3);
        assert_eq!(t.cell_len(&chars("日本")), 4);
        assert_eq!(t.cell_len(&chars("e\u{301}")), 1);
        assert_eq!(t.cell_len(&chars("\u{2764}\u{FE0F}")), 2);
        assert_eq!(t.cell_len(&chars("\u{1F600}\u{200D}\u{1F600}")), 2);
        assert_eq!(t.cell_len(&chars("\u{FE0F}")), 0);
        let (spans, total) = t.split_graphemes(&chars("a\u{2764}\u{FE0F}日\u{301}"));
        assert_eq!(spans, vec![(0, 1, 1), (1, 3, 2), (3, 5, 2)]);
        assert_eq!(total, 5);
    }

    #[test]
    fn chop_and_set_size() {
        let t = table();
        assert_eq!(t.chop_cells(&chars("日本語x"), 3), vec![1, 1, 2]);
        assert_eq!(t.chop_cells(&chars("日"), 1), vec![0, 1]);
        assert_eq!(t.set_cell_size(&chars("日本語"), 3), (1, 1));
        assert_eq!(t.set_cell_size(&chars("日本語"), 4), (2, 0));
        assert_eq!(t.set_cell_size(&chars("日本"), 6), (2, 2));
        assert_eq!(t.set_cell_size(&chars("abc"), 2), (2, 0));
    }

    #[test]
    fn coverage() {
        let t = table();
        assert!(t.covers('日') && t.covers('\n') && !t.covers('\t') && !t.covers('\u{202E}'));
        let pinned = CellTable {
            single_only: true,
            ..table()
        };
        assert!(pinned.covers('é') && !pinned.covers('日'));
    }
}
