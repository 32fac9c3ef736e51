//! Prints text the way rich's `Console.print` does, from pieces the installed rich produced
//! (see `gen_cache.py`): word wrap at the console width (`rich._wrap.divide_line`, fold overflow,
//! trailing whitespace kept within the width), crop, and one SGR run per styled piece.

use serde::Deserialize;

use crate::render::cells::CellTable;
use crate::render::terminal::{ColorSystem, RichMode};

/// The SGR parameters of one rich `Style` in each colour system.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StyleCodes {
    pub standard: String,
    pub eight_bit: String,
    pub truecolor: String,
    pub no_color: String,
}

/// A run of text and its style index (`-1`: unstyled). Every character is one cell wide.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Piece(pub String, pub i32);

/// One logical line (what rich gets between two `\n`).
pub type Line = Vec<Piece>;

/// Renders `lines` for `mode` and appends the bytes to `out`, every character one cell wide
/// (text the installed rich printed itself: the cached banners and help).
pub fn render(lines: &[Line], styles: &[StyleCodes], mode: &RichMode, out: &mut Vec<u8>) {
    render_with(lines, styles, mode, &CellTable::narrow(), out);
}

/// Renders `lines` for `mode`, measuring with rich's cell widths (`cells`): the characters of
/// `lines` must be ones `cells` covers. Per line, as `Console.print` → `Text.wrap` →
/// `split_and_crop_lines`: `divide_line` (fold), `rstrip_end(width)`, `truncate(width)`
/// (`set_cell_size`: a wide character cut in two becomes a space), then the crop of each
/// segment line to the width.
pub fn render_with(
    lines: &[Line],
    styles: &[StyleCodes],
    mode: &RichMode,
    cells: &CellTable,
    out: &mut Vec<u8>,
) {
    let width = mode.width.max(1);
    for line in lines {
        // Characters with the style of the piece they come from.
        let chars: Vec<(char, i32, usize)> = line
            .iter()
            .enumerate()
            .flat_map(|(i, Piece(text, style))| text.chars().map(move |c| (c, *style, i)))
            .collect();
        let plain: Vec<char> = chars.iter().map(|c| c.0).collect();
        let mut bounds = vec![0];
        bounds.extend(divide_line_cells(&plain, width, true, cells));
        bounds.push(plain.len());
        for pair in bounds.windows(2) {
            let (start, mut end) = (pair[0], pair[1]);
            // Text.rstrip_end(width): drop trailing whitespace beyond the width (in code points).
            if end - start > width {
                let excess = end - start - width;
                end -= trailing_whitespace(&plain[start..end]).min(excess);
            }
            let mut sub: Vec<(char, i32, usize)> = chars[start..end].to_vec();
            // Text.truncate(width): cut to the width in cells.
            let sub_plain: Vec<char> = sub.iter().map(|c| c.0).collect();
            if cells.cell_len(&sub_plain) > width {
                let (keep, pad) = cells.set_cell_size(&sub_plain, width);
                let filler = sub.get(keep).copied();
                sub.truncate(keep);
                if let Some((_, style, piece)) = filler.filter(|_| pad > 0) {
                    sub.push((' ', style, piece));
                }
            }
            emit(&crop_segments(&sub, width, cells), styles, mode, out);
            out.push(b'\n');
        }
    }
}

/// `Segment.adjust_line_length(segments, width, pad=False)` of the console's crop: segments are
/// runs of one piece.
fn crop_segments(
    chars: &[(char, i32, usize)],
    width: usize,
    cells: &CellTable,
) -> Vec<(char, i32, usize)> {
    let mut segments: Vec<&[(char, i32, usize)]> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j].2 == chars[i].2 {
            j += 1;
        }
        segments.push(&chars[i..j]);
        i = j;
    }
    let len =
        |seg: &[(char, i32, usize)]| cells.cell_len(&seg.iter().map(|c| c.0).collect::<Vec<_>>());
    let total: usize = segments.iter().map(|s| len(s)).sum();
    if total <= width {
        return chars.to_vec();
    }
    let mut out = Vec::new();
    let mut used = 0;
    for seg in segments {
        let l = len(seg);
        if used + l < width {
            out.extend_from_slice(seg);
            used += l;
        } else {
            let plain: Vec<char> = seg.iter().map(|c| c.0).collect();
            let (keep, pad) = cells.set_cell_size(&plain, width - used);
            out.extend_from_slice(&seg[..keep]);
            let (_, style, piece) = seg[0];
            out.extend(std::iter::repeat_n((' ', style, piece), pad));
            break;
        }
    }
    out
}

/// Writes one rendered line: consecutive characters of the same piece form one segment.
fn emit(chars: &[(char, i32, usize)], styles: &[StyleCodes], mode: &RichMode, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < chars.len() {
        let piece = chars[i].2;
        let style = chars[i].1;
        let mut j = i;
        let mut text = String::new();
        while j < chars.len() && chars[j].2 == piece {
            text.push(chars[j].0);
            j += 1;
        }
        let codes = sgr(style, styles, mode);
        if codes.is_empty() {
            out.extend_from_slice(text.as_bytes());
        } else {
            out.extend_from_slice(format!("\x1b[{codes}m{text}\x1b[0m").as_bytes());
        }
        i = j;
    }
}

fn sgr<'a>(style: i32, styles: &'a [StyleCodes], mode: &RichMode) -> &'a str {
    let (Some(system), Ok(index)) = (mode.color, usize::try_from(style)) else {
        return "";
    };
    let Some(codes) = styles.get(index) else {
        return "";
    };
    if mode.no_color {
        return &codes.no_color;
    }
    match system {
        ColorSystem::Standard => &codes.standard,
        ColorSystem::EightBit => &codes.eight_bit,
        ColorSystem::TrueColor => &codes.truecolor,
    }
}

/// `rich._wrap.divide_line(text, width, fold)` for single-cell characters.
pub fn divide_line(text: &[char], width: usize, fold: bool) -> Vec<usize> {
    divide_line_cells(text, width, fold, &CellTable::narrow())
}

/// `rich._wrap.divide_line(text, width, fold)`: the offsets (in characters) at which the line
/// breaks. A word longer than the width is folded with `chop_cells` (`fold`), or put on a line
/// of its own to be cropped.
pub fn divide_line_cells(text: &[char], width: usize, fold: bool, cells: &CellTable) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut cell_offset = 0usize;
    for (start, end) in words(text) {
        let word = &text[start..end];
        let trailing = trailing_whitespace(word);
        let word_length = cells.cell_len(&word[..word.len() - trailing]);
        let remaining = width as isize - cell_offset as isize;
        if remaining >= word_length as isize {
            cell_offset += cells.cell_len(word);
        } else if word_length > width && fold {
            let lines = cells.chop_cells(word, width);
            let mut line_start = start;
            for (i, &line_len) in lines.iter().enumerate() {
                if line_start != 0 {
                    breaks.push(line_start);
                }
                if i + 1 == lines.len() {
                    cell_offset = cells.cell_len(&text[line_start..line_start + line_len]);
                } else {
                    line_start += line_len;
                }
            }
        } else if word_length > width {
            if start != 0 {
                breaks.push(start);
            }
            cell_offset = cells.cell_len(word);
        } else if cell_offset != 0 && start != 0 {
            breaks.push(start);
            cell_offset = cells.cell_len(word);
        }
    }
    breaks
}

/// How many whitespace characters end `text` (what `rstrip()` would remove).
pub fn trailing_whitespace(text: &[char]) -> usize {
    text.iter().rev().take_while(|c| c.is_whitespace()).count()
}

/// Spans of `\s*\S+\s*` matched one after another from the start (as `re.match` in a loop).
fn words(text: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut pos = 0;
    loop {
        let mut i = pos;
        while i < text.len() && text[i].is_whitespace() {
            i += 1;
        }
        let word_start = i;
        while i < text.len() && !text[i].is_whitespace() {
            i += 1;
        }
        if i == word_start {
            return spans;
        }
        while i < text.len() && text[i].is_whitespace() {
            i += 1;
        }
        spans.push((pos, i));
        pos = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str, width: usize) -> String {
        let lines: Vec<Line> = text
            .split('\n')
            .map(|l| vec![Piece(l.to_string(), -1)])
            .collect();
        let mut out = Vec::new();
        render(
            &lines,
            &[],
            &RichMode {
                color: None,
                no_color: false,
                width,
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn wraps_words_and_keeps_trailing_space_within_width() {
        assert_eq!(
            plain(
                "Connected to the local ZenML database: 'sqlite:////x/zenml.db'",
                50
            ),
            "Connected to the local ZenML database: \n'sqlite:////x/zenml.db'\n"
        );
        assert_eq!(plain("abc   ", 80), "abc   \n");
        assert_eq!(plain("", 80), "\n");
    }

    #[test]
    fn folds_long_words_and_crops_whitespace_beyond_width() {
        assert_eq!(plain("abcdefghij", 4), "abcd\nefgh\nij\n");
        assert_eq!(plain("ab          ", 4), "ab  \n");
        assert_eq!(plain("  x", 2), "  \nx\n");
    }

    #[test]
    fn styled_pieces_become_sgr_runs() {
        let styles = vec![StyleCodes {
            standard: "2;37".into(),
            eight_bit: "2;37".into(),
            truecolor: "2;37".into(),
            no_color: "2".into(),
        }];
        let lines = vec![vec![Piece("ab".into(), 0), Piece("cd".into(), -1)], vec![]];
        let mut out = Vec::new();
        let mode = RichMode {
            color: Some(ColorSystem::Standard),
            no_color: false,
            width: 80,
        };
        render(&lines, &styles, &mode, &mut out);
        assert_eq!(out, b"\x1b[2;37mab\x1b[0mcd\n\n");
        let mut out = Vec::new();
        render(
            &lines,
            &styles,
            &RichMode {
                no_color: true,
                ..mode
            },
            &mut out,
        );
        assert_eq!(out, b"\x1b[2mab\x1b[0mcd\n\n");
    }
}
