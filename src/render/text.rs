//! Prints text the way rich's `Console.print` does, from pieces the installed rich produced
//! (see `gen_cache.py`): word wrap at the console width (`rich._wrap.divide_line`, fold overflow,
//! trailing whitespace kept within the width), crop, and one SGR run per styled piece.

use serde::Deserialize;

use crate::render::cells::CellTable;
use crate::render::terminal::{ColorSystem, RichMode};

/// The SGR parameters of one rich `Style` in each colour system, and its hyperlink.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StyleCodes {
    pub standard: String,
    pub eight_bit: String,
    pub truecolor: String,
    pub no_color: String,
    /// The URL of a `[link=…]` (an OSC 8 hyperlink on a terminal); never in the cache.
    #[serde(skip)]
    pub link: Option<String>,
}

/// A run of text and its style index (`-1`: unstyled). Every character is one cell wide.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Piece(pub String, pub i32);

/// One logical line (what rich gets between two `\n`).
pub type Line = Vec<Piece>;

/// Renders `lines` for `mode` and appends the bytes to `out`, every character one cell wide
/// (text the installed rich printed itself: the cached banners and help).
pub fn render(lines: &[Line], styles: &[StyleCodes], mode: &RichMode, out: &mut Vec<u8>) {
    // The cache's pieces carry no links: no id is ever drawn.
    let mut ids = LinkIds::random();
    render_with(lines, styles, mode, &CellTable::narrow(), &mut ids, out);
}

/// rich's hyperlink ids: `rich.style._id_generator`, a counter from a random 24-bit start that
/// every linked `Style` rich creates advances, for one console's prints. In one
/// `console.print`, rich creates: for each `[link]` span, a parsed style the first time the
/// process sees its URL (`Style.parse` is cached) and a copy (`Console.get_style`); per line of
/// output, one combined style for each combination of spans with a link not combined before in
/// this print (`Text.render`'s cache; the link span comes after the highlighter's, so one
/// addition yields it); then, per linked segment of the line, the copy `Segment.apply_style`
/// makes, whose id is the one printed.
#[derive(Debug, Clone, Default)]
pub struct LinkIds {
    /// `None` until the first print with a link draws the random start.
    next: Option<u64>,
    parsed: Vec<String>,
    unstyled: bool,
}

impl LinkIds {
    /// A counter from `start` (a process's `getrandbits(24)`).
    pub fn starting_at(start: u64) -> LinkIds {
        LinkIds {
            next: Some(start),
            ..LinkIds::default()
        }
    }

    /// A counter from a random 24-bit start, drawn (from the hasher keys std seeds from the
    /// OS) only when a print has a link: the routes that print none make no extra syscall.
    pub fn random() -> LinkIds {
        LinkIds::default()
    }

    fn next(&mut self) -> &mut u64 {
        self.next.get_or_insert_with(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0u8) & 0xff_ffff
        })
    }

    fn advance(&mut self, by: u64) {
        *self.next() += by;
    }

    fn take(&mut self) -> u64 {
        let next = self.next();
        *next += 1;
        *next - 1
    }

    /// Whether the print has a style of its own (`console.print(…, style=…)`, as ZenML's
    /// `declare` does): then `Segment.apply_style` copies every linked segment's style.
    pub fn set_print_style(&mut self, styled: bool) {
        self.unstyled = !styled;
    }

    /// The id of each linked segment (a run of one piece) of each output line of one print:
    /// `Text.render`'s `style_map` first (after wrapping, a link span is one span per output
    /// line it reaches: its run of consecutive pieces with the URL; `markup` refuses adjacent
    /// links), then line by line the combinations new in this print (its `style_cache`), then
    /// the copies `apply_style` makes (without a print style, the combination's id is printed).
    /// Under NO_COLOR, `_render_buffer`'s `Segment.remove_color` then copies each distinct
    /// linked style once more, and those ids are printed.
    fn number(
        &mut self,
        wrapped: &[Vec<(char, i32, usize)>],
        styles: &[StyleCodes],
        remove_color: bool,
    ) -> Vec<Vec<(usize, u64)>> {
        // (piece, style) of each linked segment of an output line.
        let linked = |sub: &[(char, i32, usize)]| -> Vec<(usize, i32)> {
            runs(sub)
                .map(|r| (r[0].2, r[0].1))
                .filter(|&(_, style)| link_of(style, styles).is_some())
                .collect()
        };
        for sub in wrapped {
            let mut previous = None;
            for run in runs(sub) {
                let link = link_of(run[0].1, styles);
                if let Some(url) = link.filter(|_| link != previous) {
                    if !self.parsed.iter().any(|u| u == url) {
                        self.parsed.push(url.to_string());
                        self.advance(1);
                    }
                    self.advance(1);
                }
                previous = link;
            }
        }
        let mut combined: Vec<(i32, u64)> = Vec::new();
        let mut numbered = Vec::new();
        for sub in wrapped {
            let runs = linked(sub);
            for &(_, style) in &runs {
                if !combined.iter().any(|&(s, _)| s == style) {
                    let id = self.take();
                    combined.push((style, id));
                }
            }
            let mut line = Vec::new();
            for &(piece, style) in &runs {
                let id = if self.unstyled {
                    combined
                        .iter()
                        .find(|&&(s, _)| s == style)
                        .map_or(0, |c| c.1)
                } else {
                    self.take()
                };
                line.push((piece, id));
            }
            numbered.push(line);
        }
        if remove_color {
            let mut colorless: Vec<(i32, u64)> = Vec::new();
            for (sub, line) in wrapped.iter().zip(&mut numbered) {
                for ((_, style), (_, id)) in linked(sub).into_iter().zip(line.iter_mut()) {
                    *id = match colorless.iter().find(|&&(s, _)| s == style) {
                        Some(&(_, known)) => known,
                        None => {
                            let new = self.take();
                            colorless.push((style, new));
                            new
                        }
                    };
                }
            }
        }
        numbered
    }
}

fn link_of(style: i32, styles: &[StyleCodes]) -> Option<&str> {
    usize::try_from(style)
        .ok()
        .and_then(|i| styles.get(i)?.link.as_deref())
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
    ids: &mut LinkIds,
    out: &mut Vec<u8>,
) {
    let width = mode.width.max(1);
    let mut wrapped: Vec<Vec<(char, i32, usize)>> = Vec::new();
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
            wrapped.push(sub);
        }
    }
    let line_ids = ids.number(&wrapped, styles, mode.no_color && mode.color.is_some());
    for (sub, line_ids) in wrapped.iter().zip(&line_ids) {
        emit(
            &crop_segments(sub, width, cells),
            styles,
            mode,
            line_ids,
            out,
        );
        out.push(b'\n');
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

/// The segments of a rendered line: runs of characters of one piece.
fn runs(chars: &[(char, i32, usize)]) -> impl Iterator<Item = &[(char, i32, usize)]> {
    chars.chunk_by(|a, b| a.2 == b.2)
}

/// Writes one rendered line (`Style.render` per segment); `ids`: the hyperlink id of each
/// linked piece on this line.
fn emit(
    chars: &[(char, i32, usize)],
    styles: &[StyleCodes],
    mode: &RichMode,
    ids: &[(usize, u64)],
    out: &mut Vec<u8>,
) {
    for run in runs(chars) {
        let (piece, style) = (run[0].2, run[0].1);
        let text: String = run.iter().map(|c| c.0).collect();
        let codes = sgr(style, styles, mode);
        let link = link_of(style, styles).filter(|_| mode.color.is_some());
        let id = ids.iter().find(|(p, _)| *p == piece).map(|(_, id)| id);
        if let (Some(url), Some(id)) = (link, id) {
            out.extend_from_slice(format!("\x1b]8;id={id};{url}\x1b\\").as_bytes());
        }
        if codes.is_empty() {
            out.extend_from_slice(text.as_bytes());
        } else {
            out.extend_from_slice(format!("\x1b[{codes}m{text}\x1b[0m").as_bytes());
        }
        if link.is_some() && id.is_some() {
            out.extend_from_slice(b"\x1b]8;;\x1b\\");
        }
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
            link: None,
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

    #[test]
    fn hyperlinks_are_numbered_as_rich_numbers_them() {
        // rich 15, `console.print(markup, style="dim white")` at width 40, its id counter at
        // 1000: "Connected to a remote ZenML server: `[link=U]U[/link]`" then
        // "  Dashboard: [link=U]U[/link]" (repr.url highlights the URL and the closing `).
        let url = "https://127.0.0.1:43215";
        let codes = |sgr: &str, link: Option<&str>| StyleCodes {
            standard: sgr.into(),
            eight_bit: sgr.into(),
            truecolor: sgr.into(),
            no_color: sgr.into(),
            link: link.map(str::to_string),
        };
        let styles = vec![
            codes("2;37", None),
            codes("2;4;94", Some(url)),
            codes("2;4;94", None),
        ];
        let first = vec![vec![
            Piece("Connected to a remote ZenML server: `".into(), 0),
            Piece(url.into(), 1),
            Piece("`".into(), 2),
        ]];
        let second = vec![vec![Piece("  Dashboard: ".into(), 0), Piece(url.into(), 1)]];
        let mode = RichMode {
            color: Some(ColorSystem::TrueColor),
            no_color: false,
            width: 40,
        };
        let mut ids = LinkIds::starting_at(1000);
        let mut out = Vec::new();
        let cells = CellTable::narrow();
        render_with(&first, &styles, &mode, &cells, &mut ids, &mut out);
        render_with(&second, &styles, &mode, &cells, &mut ids, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[2;37mConnected to a remote ZenML server: \x1b[0m\n\x1b[2;37m`\x1b[0m\x1b]8;id=1003;https://127.0.0.1:43215\x1b\\\x1b[2;4;94mhttps://127.0.0.1:43215\x1b[0m\x1b]8;;\x1b\\\x1b[2;4;94m`\x1b[0m\n\x1b[2;37m  Dashboard: \x1b[0m\x1b]8;id=1006;https://127.0.0.1:43215\x1b\\\x1b[2;4;94mhttps://127.0.0.1:43215\x1b[0m\x1b]8;;\x1b\\\n"
        );
        // A random start: below 2^24, then counted up the same way.
        let mut random = LinkIds::random();
        let mut out = Vec::new();
        render_with(&second, &styles, &mode, &cells, &mut random, &mut out);
        let text = String::from_utf8(out).unwrap();
        let id: u64 = text
            .split("id=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3..(1 << 24) + 3).contains(&id), "{id}");
        // Not a terminal (no colour system): the text alone.
        let mut out = Vec::new();
        let pipe = RichMode {
            color: None,
            ..mode
        };
        render_with(&second, &styles, &pipe, &cells, &mut ids, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("  Dashboard: {url}\n")
        );
    }
}
