//! Styles *dynamic* text (known only at run time: a status line with a path, a quoted name, …)
//! exactly as the zenml console prints it with `console.print(text, style=<base>)` —
//! `cli_utils.declare` (base `info`), `warning` (base `warning`), a plain `console.print` (no
//! base) — as [`Line`]s of pieces plus a [`StyleTable`], ready for [`crate::render::text::render`],
//! which then wraps, crops and emits the same bytes as rich in a terminal or a pipe, for every
//! colour system and NO_COLOR.
//!
//! What rich does, and what is reproduced here (rich 15, `Console.render_str`, `Text.render`):
//!
//! 1. Markup and emoji codes are applied first (`console.markup`/`emoji` are on): square
//!    brackets that form no tag and escaped tags become their plain text as rich makes it
//!    (`markup.rs`); a real tag is [`Declined`], and so is any match of rich's emoji-code
//!    regex whose name could be an emoji name (all its lower-cased characters occur in rich's
//!    emoji names; without that list, any match).
//! 2. `ReprHighlighter`: each of its regexes in order, `finditer` over the whole text; every
//!    named group that took part with a non-empty span adds a span styled `repr.<group>`.
//! 3. `Text.render` (after the text is split at `\n` and word-wrapped): a segment starts at
//!    every span start and end — also where the style does not change — and its style is the
//!    combination, in span order, of the spans covering it; `console.print(style=base)` then
//!    puts the base under it (`base + segment style`).
//!
//! The regexes, the emoji regex, the theme (zenml's overrides over rich's defaults, resolved),
//! rich's palettes and cell widths, and which characters Python's `re` counts as `\w`, `\d` and
//! `\s` are data the installed rich/zenml/Python gave `gen_cache.py`; none of them is copied
//! here. The regexes run on `fancy-regex` as Python's `re` runs them through
//! [`pyregex`](crate::render::pyregex) (Python's classes as explicit characters, per alphabet,
//! each alternative compiled on first need). Also [`Declined`]: tabs, control and bidi
//! characters and whatever [`CellTable::covers`] refuses (without the recorded text data: any
//! character outside printable ASCII and those Latin letters), and a regex `pyregex` does not
//! reproduce (one that does not compile or exceeds the backtrack limit, an empty match).
//!
//! ```no_run
//! # use zenml_launcher::render::{highlight::{Highlighter, StyleTable, ThemeData}, terminal::Terminal, text};
//! # fn demo(meta: &ThemeData, fd: usize, terminal: &Terminal) -> Result<Vec<u8>, zenml_launcher::declined::Declined> {
//! let highlighter = Highlighter::from_theme(meta)?;
//! let info = highlighter.theme_style("info")?; // cli_utils.declare
//! let mut table = StyleTable::new();
//! let lines = highlighter.styled_lines("Using configuration from: '/root/.config/zenml'", Some(&info), &mut table)?;
//! let mut out = Vec::new();
//! text::render(&lines, table.codes(), &terminal.rich(fd)?, &mut out);
//! # Ok(out)
//! # }
//! ```

use std::collections::BTreeMap;

use fancy_regex::Captures;
use serde::Deserialize;

use crate::declined::Declined;
use crate::render::cells::CellTable;
use crate::render::pyregex::{
    self, Alternative, Compiled, PyRegexes, RawRegex, RegexAlternative, Variant, alphabet,
    check_chars,
};
use crate::render::style::{Palettes, Style, StyleSpec};
use crate::render::text::{Line, Piece, StyleCodes};

/// The style table pieces index into: [`StyleCodes`] per distinct output, `-1` for a style that
/// prints no escape codes in any colour system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StyleTable {
    codes: Vec<StyleCodes>,
}

impl StyleTable {
    pub fn new() -> StyleTable {
        StyleTable::default()
    }

    /// Continues an existing table (e.g. the cache's `meta.styles`), so pieces from the cache
    /// and from the highlighter can be rendered together.
    pub fn from_codes(codes: Vec<StyleCodes>) -> StyleTable {
        StyleTable { codes }
    }

    pub fn codes(&self) -> &[StyleCodes] {
        &self.codes
    }

    pub fn into_codes(self) -> Vec<StyleCodes> {
        self.codes
    }

    /// The index of `style`'s codes, added when new.
    pub fn intern(&mut self, style: &Style, palettes: Option<&Palettes>) -> Result<i32, Declined> {
        self.intern_linked(style, None, palettes)
    }

    /// [`StyleTable::intern`] for `style` with hyperlink `link`.
    pub fn intern_linked(
        &mut self,
        style: &Style,
        link: Option<&str>,
        palettes: Option<&Palettes>,
    ) -> Result<i32, Declined> {
        let codes = StyleCodes {
            link: link.map(str::to_string),
            ..style.codes(palettes)?
        };
        if codes.link.is_none()
            && codes.standard.is_empty()
            && codes.eight_bit.is_empty()
            && codes.truecolor.is_empty()
            && codes.no_color.is_empty()
        {
            return Ok(-1);
        }
        let index = match self.codes.iter().position(|c| *c == codes) {
            Some(i) => i,
            None => {
                self.codes.push(codes);
                self.codes.len() - 1
            }
        };
        i32::try_from(index).map_err(|_| Declined::new("style table overflow"))
    }
}
/// What `gen_cache.py` recorded of the zenml console and the installed rich for highlighting
/// (the cache's `theme.json`): the data a [`Highlighter`] is built from.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ThemeData {
    /// Parts the generator could not reproduce (`all`, `theme`): nothing is highlighted then.
    #[serde(default)]
    pub unsupported: BTreeMap<String, String>,
    /// The zenml console's resolved theme styles by name (`repr.*`, `info`, `warning`, …), with the fields
    /// below, absent when `unsupported.theme` is set.
    #[serde(default)]
    pub theme: Option<BTreeMap<String, StyleSpec>>,
    /// `ReprHighlighter.highlights` and `.base_style`, as the installed rich has them.
    #[serde(default)]
    pub repr_highlights: Option<Vec<String>>,
    #[serde(default)]
    pub repr_base_style: Option<String>,
    /// Each of those regexes split at its top-level `|`, with the strings a match needs.
    #[serde(default)]
    pub repr_alternatives: Option<Vec<Vec<RegexAlternative>>>,
    /// rich's emoji-code regex (`_emoji_replace`) and the characters emoji names use.
    #[serde(default)]
    pub emoji_pattern: Option<String>,
    #[serde(default)]
    pub emoji_alternatives: Option<Vec<RegexAlternative>>,
    #[serde(default)]
    pub emoji_name_chars: Option<String>,
    /// The emoji names made of ASCII digits only (`100`): with them, a time such as `10:30:45`
    /// is known to hold no emoji code.
    #[serde(default)]
    pub emoji_digit_names: Option<Vec<String>>,
    /// The zenml console's `markup` and `emoji` flags.
    #[serde(default)]
    pub console_markup: Option<bool>,
    #[serde(default)]
    pub console_emoji: Option<bool>,
    /// rich's standard and 8-bit palettes (colour downgrades).
    #[serde(default)]
    pub palettes: Option<Palettes>,
    /// rich's cell widths, Python's `\w`/`\d`/`\s` and PyYAML's resolvers, as installed
    /// (`cells.rs`); absent when `unsupported.text_data` is set.
    #[serde(default)]
    pub text_data: Option<crate::render::cells::TextData>,
}

impl ThemeData {
    pub fn supports(&self, part: &str) -> bool {
        !self.unsupported.contains_key("all") && !self.unsupported.contains_key(part)
    }
}

/// The zenml console's highlighting, built from the cache's `theme.json` at run time. Regexes
/// are compiled on first need; keep one highlighter to style several texts.
#[derive(Debug)]
pub struct Highlighter {
    /// `ReprHighlighter.highlights`, then rich's emoji-code regex when the console replaces
    /// emoji codes, each with the theme style of its named groups.
    regexes: PyRegexes<Style>,
    /// How many of `regexes` are `ReprHighlighter.highlights` (the emoji regex follows them).
    patterns: usize,
    base_style: String,
    /// The characters rich's emoji names are made of (`None`: unknown).
    emoji_name_chars: Option<Vec<char>>,
    emoji_digit_names: Option<Vec<String>>,
    /// The console interprets `[…]` markup.
    markup: bool,
    theme: BTreeMap<String, Result<Style, Declined>>,
    palettes: Option<Palettes>,
    /// rich's cell widths ([`CellTable::narrow`] without the recorded data: then only
    /// [`check_chars`]' characters are accepted).
    cells: CellTable,
}

impl Highlighter {
    /// Builds the highlighter from what `gen_cache.py` recorded (step 7); [`Declined`] when
    /// it was not recorded or is not reproducible.
    pub fn from_theme(meta: &ThemeData) -> Result<Highlighter, Declined> {
        let missing = Declined::new("console theme not generated");
        if !meta.supports("theme") {
            return Err(missing);
        }
        let theme = meta
            .theme
            .as_ref()
            .ok_or(missing.clone())?
            .iter()
            .map(|(name, spec)| (name.clone(), Style::from_spec(spec)))
            .collect();
        let highlights = meta.repr_highlights.as_ref().ok_or(missing.clone())?;
        let mut raw: Vec<RawRegex> = highlights
            .iter()
            .enumerate()
            .map(|(i, pattern)| RawRegex {
                pattern: pattern.clone(),
                split: meta
                    .repr_alternatives
                    .as_ref()
                    .and_then(|all| all.get(i))
                    .cloned(),
            })
            .collect();
        let patterns = raw.len();
        if meta.console_emoji.unwrap_or(true) {
            let pattern = meta.emoji_pattern.as_deref().ok_or(missing.clone())?;
            raw.push(RawRegex {
                pattern: pattern.to_string(),
                split: meta.emoji_alternatives.clone(),
            });
        }
        let text_data = meta.text_data.as_ref();
        let cells = text_data
            .and_then(CellTable::from_data)
            .map_or_else(CellTable::narrow, CellTable::for_process);
        let python_classes = text_data
            .filter(|_| !cells.is_narrow())
            .map(|d| d.python_classes.clone());
        Ok(Highlighter {
            regexes: PyRegexes::new(raw, python_classes)?,
            patterns,
            base_style: meta.repr_base_style.clone().ok_or(missing)?,
            emoji_name_chars: meta.emoji_name_chars.as_ref().map(|s| s.chars().collect()),
            emoji_digit_names: meta.emoji_digit_names.clone(),
            markup: meta.console_markup.unwrap_or(true),
            theme,
            palettes: meta.palettes.clone(),
            cells,
        })
    }

    /// rich's cell widths as the console measures text.
    pub fn cells(&self) -> &CellTable {
        &self.cells
    }

    /// Prepares the regexes for all of `texts` at once (texts printed one after the other):
    /// a later text whose characters are among these reuses the same compiled regexes.
    pub fn prepare(&self, texts: &[&str]) {
        self.regexes.prepare(texts);
    }

    /// A style of the console's theme by name (`info`, `warning`, `error`, `success`, `none`,
    /// `repr.*`), as `console.get_style(name)` resolves it.
    pub fn theme_style(&self, name: &str) -> Result<Style, Declined> {
        self.theme
            .get(name)
            .cloned()
            .unwrap_or(Err(Declined::new("style not in the recorded theme")))
    }

    /// rich's palettes, for [`StyleTable::intern`] of styles built by the caller.
    pub fn palettes(&self) -> Option<&Palettes> {
        self.palettes.as_ref()
    }

    /// The pieces of `console.print(text, style=base)` (`base: None`: no style), one
    /// [`Line`] per `\n`-separated line of `text` (wrapping is [`crate::render::text::render`]'s
    /// job), with their styles added to `table`.
    pub fn styled_lines(
        &self,
        text: &str,
        base: Option<&Style>,
        table: &mut StyleTable,
    ) -> Result<Vec<Line>, Declined> {
        let (text, links) = &self.plain_text(text)?;
        let owned;
        let variant: &Variant<Style> = match alphabet([text.as_str()]) {
            a if a.is_empty() => self.regexes.base(),
            a => {
                owned = self.regexes.variant_for(&a)?;
                &owned
            }
        };
        let text = text.as_str();
        let spans = self.spans(variant, text)?;
        let base = base.copied().unwrap_or_default();
        let chars: Vec<char> = text.chars().collect();
        let mut lines = Vec::new();
        let mut start = 0;
        for line_text in text.split('\n') {
            let end = start + line_text.chars().count();
            // Text.split / Text.divide: spans clipped to the line; a segment per boundary.
            let mut cuts = vec![start, end];
            let bounds = spans.iter().map(|&(s, e, _)| (s, e));
            for (s, e) in bounds.chain(links.iter().map(|l| (l.start, l.end))) {
                let (s, e) = (s.max(start), e.min(end));
                if e > s {
                    cuts.extend([s, e]);
                }
            }
            cuts.sort_unstable();
            cuts.dedup();
            let mut line = Vec::new();
            for pair in cuts.windows(2) {
                let (p, q) = (pair[0], pair[1]);
                let style = spans
                    .iter()
                    .filter(|&&(s, e, _)| s <= p && e >= q)
                    .fold(base, |acc, (_, _, span_style)| acc + *span_style);
                // A link adds no SGR codes; rich adds its span after the highlighter's.
                let link = links.iter().find(|l| l.start <= p && l.end >= q);
                let link = link.map(|l| l.url.as_str());
                let index = table.intern_linked(&style, link, self.palettes.as_ref())?;
                line.push(Piece(chars[p..q].iter().collect(), index));
            }
            lines.push(line);
            start = end + 1;
        }
        Ok(lines)
    }

    /// The text rich highlights for `text`: its characters checked, markup applied (literal
    /// brackets and hyperlinks only), and no emoji code that rich would replace; and the
    /// hyperlinks.
    fn plain_text(
        &self,
        text: &str,
    ) -> Result<(String, Vec<crate::render::markup::Link>), Declined> {
        if self.cells.is_narrow() {
            check_chars(text)?;
        } else {
            for c in text.chars() {
                if c == '\t' {
                    return Err(Declined::new("tab in dynamic text"));
                }
                if !self.cells.covers(c) {
                    return Err(Declined::new(
                        "control, wide or non-Latin character in dynamic text",
                    ));
                }
            }
        }
        let (pieces, links) = if self.markup {
            if self.cells.is_narrow() && text.contains('[') {
                return Err(Declined::new("console markup ('[') in dynamic text"));
            }
            crate::render::markup::pieces_and_links(text)
                .map_err(|_| Declined::new("console markup ('[') in dynamic text"))?
        } else {
            (vec![text.to_string()], Vec::new())
        };
        for piece in &pieces {
            let variant = match alphabet([piece.as_str()]) {
                a if a.is_empty() => None,
                a => Some(self.regexes.variant_for(&a)?),
            };
            self.check_emoji(variant.as_deref().unwrap_or(self.regexes.base()), piece)?;
        }
        Ok((pieces.concat(), links))
    }

    /// The theme style of a named group of a `ReprHighlighter` regex.
    fn group_style(&self, name: &str) -> Result<Style, Declined> {
        let style = self.theme.get(&format!("{}{name}", self.base_style));
        style
            .cloned()
            .unwrap_or(Err(Declined::new("highlight style missing from the theme")))
    }

    /// [`pyregex::find_iter`] with the theme styles of the named groups.
    fn find_iter<'t>(
        &self,
        alternatives: &[Alternative<Style>],
        text: &'t str,
        found: impl FnMut(&Compiled<Style>, &Captures<'t, str>),
    ) -> Result<(), Declined> {
        pyregex::find_iter(alternatives, text, &|name| self.group_style(name), found)
    }

    /// `ReprHighlighter.highlight`: (start, end, style) in character offsets, in span order.
    fn spans(
        &self,
        variant: &Variant<Style>,
        text: &str,
    ) -> Result<Vec<(usize, usize, Style)>, Declined> {
        let mut char_at = vec![0usize; text.len() + 1];
        let mut count = 0;
        for (i, (byte, _)) in text.char_indices().enumerate() {
            char_at[byte] = i;
            count = i + 1;
        }
        char_at[text.len()] = count;
        let mut spans = Vec::new();
        for alternatives in &variant.0[..self.patterns] {
            self.find_iter(alternatives, text, |compiled, captures| {
                for &(index, style) in &compiled.groups {
                    if let Some(m) = captures.get(index).filter(|m| m.end() > m.start()) {
                        spans.push((char_at[m.start()], char_at[m.end()], style));
                    }
                }
            })?;
        }
        Ok(spans)
    }

    /// `_emoji_replace` would leave the text unchanged: no match names a possible emoji.
    fn check_emoji(&self, variant: &Variant<Style>, text: &str) -> Result<(), Declined> {
        let Some(emoji) = variant.0.get(self.patterns) else {
            return Ok(());
        };
        let mut possible = false;
        self.find_iter(emoji, text, |_, captures| {
            // `_emoji_replace`'s `do_replace`: groups (code, name, variant).
            let name = captures.get(2).map_or("", |m| m.as_str());
            let digits = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
            possible |= match (&self.emoji_name_chars, &self.emoji_digit_names) {
                (_, Some(names)) if digits => names.iter().any(|n| n == name),
                (None, _) => true,
                (Some(chars), _) => name.to_lowercase().chars().all(|c| chars.contains(&c)),
            };
        })?;
        if possible {
            return Err(Declined::new("emoji code (':name:') in dynamic text"));
        }
        Ok(())
    }
}

/// One-shot form of [`Highlighter::styled_lines`]: `base` is a theme style name (`info` for
/// `declare`, `warning` for `warning`, `None` for a plain `console.print`). Builds a
/// [`Highlighter`] on every call; keep one to style several texts.
pub fn styled_lines(
    text: &str,
    base: Option<&str>,
    meta: &ThemeData,
    table: &mut StyleTable,
) -> Result<Vec<Line>, Declined> {
    let highlighter = Highlighter::from_theme(meta)?;
    let base = base.map(|name| highlighter.theme_style(name)).transpose()?;
    highlighter.styled_lines(text, base.as_ref(), table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::style::{Attribute, Color};

    #[test]
    fn style_table_dedups_and_leaves_plain_styles_unindexed() {
        let mut table = StyleTable::from_codes(vec![StyleCodes {
            standard: "1".into(),
            eight_bit: "1".into(),
            truecolor: "1".into(),
            no_color: "1".into(),
            link: None,
        }]);
        let bold = Style::new().with(Attribute::Bold, true);
        let red = Style::new().with_color(Some(Color::Standard(1)));
        assert_eq!(table.intern(&bold, None).unwrap(), 0);
        assert_eq!(table.intern(&red, None).unwrap(), 1);
        assert_eq!(table.intern(&red, None).unwrap(), 1);
        assert_eq!(table.intern(&Style::new(), None).unwrap(), -1);
        let off = Style::new().with(Attribute::Italic, false);
        assert_eq!(table.intern(&off, None).unwrap(), -1);
        assert_eq!(table.codes().len(), 2);
        assert_eq!(table.codes()[1].no_color, "");
    }

    /// A made-up console: two regexes (one split into alternatives), a small theme.
    fn meta() -> ThemeData {
        serde_json::from_value(serde_json::json!({
            "schema": 1,
            "unsupported": {},
            "theme": {
                "x.brace": {"bold": true},
                "x.word": {"color": {"type": "standard", "number": 1, "name": "red"}},
                "x.num": {"dim": false, "color": {"type": "standard", "number": 6, "name": "cyan"}},
                "x.tag": {"italic": true},
                "info": {"dim": true, "color": {"type": "standard", "number": 7, "name": "white"}},
            },
            "repr_highlights": ["(?P<brace>[()])", "(?P<word>ab|cd)|(?P<num>[0-9]+)", "(?P<tag><[\\w\\W]*>)"],
            "repr_base_style": "x.",
            "repr_alternatives": [
                [{"pattern": "(?P<brace>[()])", "requires": [["(", ")"]]}],
                [
                    {"pattern": "(?P<word>ab|cd)", "requires": [["ab", "cd"]]},
                    {"pattern": "(?P<num>[0-9]+)", "requires": []},
                ],
            ],
            "emoji_pattern": "(:(\\S*?)(?:(?:\\-)(emoji|text))?:)",
            "emoji_name_chars": "_abcdefghijklmnopqrstuvwxyz",
        }))
        .unwrap()
    }

    fn pieces(lines: &[Line]) -> Vec<Vec<(&str, i32)>> {
        lines
            .iter()
            .map(|l| l.iter().map(|Piece(t, s)| (t.as_str(), *s)).collect())
            .collect()
    }

    #[test]
    fn spans_become_pieces_in_rich_order() {
        let meta = meta();
        let h = Highlighter::from_theme(&meta).unwrap();
        let mut table = StyleTable::new();
        // Every span boundary starts a piece, also between equal styles ("((").
        let lines = h.styled_lines("x((ab)) 12", None, &mut table).unwrap();
        let (brace, word, num) = (0, 1, 2);
        assert_eq!(
            pieces(&lines),
            vec![vec![
                ("x", -1),
                ("(", brace),
                ("(", brace),
                ("ab", word),
                (")", brace),
                (")", brace),
                (" ", -1),
                ("12", num)
            ]]
        );
        assert_eq!(table.codes()[word as usize].standard, "31");
        // The base goes under the spans; spans combine in order; `dim: false` wins over info.
        let info = h.theme_style("info").unwrap();
        let mut table = StyleTable::new();
        let lines = h
            .styled_lines("(7) <a(b\nc)>", Some(&info), &mut table)
            .unwrap();
        let codes: Vec<Vec<(&str, &str)>> = lines
            .iter()
            .map(|l| {
                l.iter()
                    .map(|Piece(t, s)| (t.as_str(), table.codes()[*s as usize].standard.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                vec![
                    ("(", "1;2;37"),
                    ("7", "36"),
                    (")", "1;2;37"),
                    (" ", "2;37"),
                    ("<a", "2;3;37"),
                    ("(", "1;2;3;37"),
                    ("b", "2;3;37")
                ],
                vec![("c", "2;3;37"), (")", "1;2;3;37"), (">", "2;3;37")],
            ]
        );
        // Empty text and empty lines.
        assert_eq!(
            pieces(&h.styled_lines("", None, &mut table).unwrap()),
            vec![vec![]]
        );
        assert_eq!(
            pieces(&h.styled_lines("a\n", None, &mut table).unwrap()),
            vec![vec![("a", -1)], vec![]]
        );
    }

    #[test]
    fn markup_and_possible_emoji_codes_are_unsupported() {
        let meta = meta();
        let h = Highlighter::from_theme(&meta).unwrap();
        let mut table = StyleTable::new();
        assert!(h.styled_lines("a [b]", None, &mut table).is_err());
        assert!(h.styled_lines(":smile:", None, &mut table).is_err());
        assert!(h.styled_lines("::", None, &mut table).is_err());
        // A name with a character no emoji name has cannot be an emoji: printed as it is.
        assert!(h.styled_lines("http://x:1", None, &mut table).is_ok());
        assert!(h.styled_lines("a:B-C:", None, &mut table).is_ok());
        // Without the recorded theme: nothing is reproduced.
        let mut no_theme = meta.clone();
        no_theme.unsupported.insert("theme".into(), "failed".into());
        assert!(Highlighter::from_theme(&no_theme).is_err());
        let mut table = StyleTable::new();
        assert!(styled_lines("x", Some("info"), &meta, &mut table).is_ok());
        assert!(styled_lines("x", Some("warning"), &meta, &mut table).is_err());
    }
}
