//! PyYAML's `yaml.dump(obj, default_flow_style=False, sort_keys=False)` as ZenML's list
//! commands use it, byte for byte, for the plain shapes it can be sure of ([`yaml`]) or with the
//! installed resolvers and PyYAML's emitter ([`yaml_with`]). A value YAML would need an
//! analysis not ported here for is an error: the caller delegates.

use crate::declined::Declined;
use crate::render::pyformat::Py;

/// `yaml.dump(value, default_flow_style=False, sort_keys=False)` for a top-level dict of plain
/// keys whose values are scalars, dicts of scalars, or lists of such dicts.
pub fn yaml(value: &Py) -> Result<String, Declined> {
    let Py::Dict(items) = value else {
        return Err(Declined::new("top level is not a dict"));
    };
    let mut out = String::new();
    yaml_dict(items, 0, &mut out)?;
    Ok(out)
}

fn yaml_dict(items: &[(String, Py)], indent: usize, out: &mut String) -> Result<(), Declined> {
    for (i, (key, value)) in items.iter().enumerate() {
        // The first key of a list item follows the "- " on the same line.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        if !is_plain_key(key) {
            return Err(Declined::new(format!("key {key:?}")));
        }
        out.push_str(key);
        out.push(':');
        match value {
            Py::Dict(d) if d.is_empty() => out.push_str(" {}\n"),
            Py::Dict(d) => {
                out.push('\n');
                yaml_dict(d, indent + 2, out)?;
            }
            Py::List(l) if l.is_empty() => out.push_str(" []\n"),
            Py::List(l) => {
                out.push('\n');
                for item in l {
                    out.push_str(&" ".repeat(indent));
                    match item {
                        Py::Dict(d) if d.is_empty() => out.push_str("- {}\n"),
                        Py::Dict(d) => {
                            out.push_str("- ");
                            yaml_dict(d, indent + 2, out)?;
                        }
                        _ => return Err(Declined::new("list of scalars")),
                    }
                }
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar, indent + key.len() + 2)?);
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn is_plain_key(key: &str) -> bool {
    key.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// YAML 1.1 words PyYAML's resolver reads as booleans or null.
const BOOL_NULL_WORDS: &[&str] = &[
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", "null", "Null", "NULL", "~",
];

fn yaml_scalar(value: &Py, column: usize) -> Result<String, Declined> {
    match value {
        Py::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
        Py::None => Ok("null".into()),
        Py::Int(i) => Ok(i.to_string()),
        Py::Str(s) => yaml_str(s, column),
        _ => Err(Declined::new("nested value")),
    }
}

fn yaml_str(s: &str, column: usize) -> Result<String, Declined> {
    let unsupported = || Err(Declined::new(format!("string {s:?}")));
    if s.is_empty() || s == "-" {
        return Ok(format!("'{s}'"));
    }
    if is_timestamp(s) {
        return Ok(format!("'{s}'"));
    }
    if BOOL_NULL_WORDS.contains(&s) {
        // PyYAML's resolver reads "y"/"n" as booleans too, and quotes them.
        return Ok(format!("'{s}'"));
    }
    let first = s.chars().next().unwrap_or(' ');
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c));
    let numeric_like = s
        .chars()
        .all(|c| c.is_ascii_digit() || "_.+-:eExXoObB".contains(c));
    if !chars_ok || numeric_like || !(first.is_ascii_alphanumeric() || first == '_' || first == '/')
    {
        return unsupported();
    }
    if s.ends_with(' ') || s.contains("  ") || s.starts_with("0x") {
        return unsupported();
    }
    // PyYAML folds plain scalars with spaces past its 80-column best width.
    if s.contains(' ') && column + s.len() > 80 {
        return unsupported();
    }
    // A leading number-like token could still resolve as a float or int ("1e3", "0o7").
    if first.is_ascii_digit()
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == '_')
    {
        return unsupported();
    }
    Ok(s.to_string())
}

/// PyYAML's implicit resolvers as the installed `yaml` has them (`cells::TextData`): which
/// plain scalars would read back as something other than a string.
#[derive(Debug)]
pub struct YamlResolvers {
    /// (first character, or "" for the empty string; pattern) in the Dumper's order.
    by_first: Vec<(String, fancy_regex::Regex)>,
}

impl YamlResolvers {
    pub fn from_data(data: &crate::render::cells::TextData) -> Result<YamlResolvers, Declined> {
        let mut by_first: Vec<(String, fancy_regex::Regex)> = Vec::new();
        for r in &data.yaml_resolvers {
            if r.tag == data.yaml_str_tag {
                continue; // resolving to str changes nothing
            }
            // One pattern serves many first characters: compile it once.
            let regex = match by_first.iter().find(|(_, re)| re.as_str() == r.pattern) {
                Some((_, re)) => re.clone(),
                None => fancy_regex::Regex::new(&r.pattern)
                    .map_err(|_| Declined::new(format!("resolver pattern {}", r.pattern)))?,
            };
            by_first.push((r.first.clone(), regex));
        }
        Ok(YamlResolvers { by_first })
    }

    /// `implicit[0]`: the plain scalar `value` resolves to a string.
    fn plain_is_str(&self, value: &str) -> Result<bool, Declined> {
        let first: String = value.chars().next().map(String::from).unwrap_or_default();
        for (f, regex) in &self.by_first {
            if *f == first
                && regex
                    .is_match(value)
                    .map_err(|_| Declined::new("resolver regex failed"))?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `yaml.dump(value, default_flow_style=False, sort_keys=False)` (no `allow_unicode`, width 80,
/// indent 2) for a top-level dict of plain keys whose values are scalars, dicts of scalars, or
/// lists of such dicts: PyYAML's emitter for every string (`analyze_scalar`,
/// `choose_scalar_style`, plain / single-quoted / double-quoted writers with their line
/// folding and escapes), its resolvers deciding which plain scalars need quotes.
pub fn yaml_with(value: &Py, resolvers: &YamlResolvers) -> Result<String, Declined> {
    let Py::Dict(items) = value else {
        return Err(Declined::new("top level is not a dict"));
    };
    let mut out = String::new();
    yaml_dict_full(items, 0, resolvers, &mut out)?;
    Ok(out)
}

fn yaml_dict_full(
    items: &[(String, Py)],
    indent: usize,
    resolvers: &YamlResolvers,
    out: &mut String,
) -> Result<(), Declined> {
    for (i, (key, value)) in items.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        if !is_plain_key(key) || !resolvers.plain_is_str(key)? {
            return Err(Declined::new(format!("key {key:?}")));
        }
        out.push_str(key);
        out.push(':');
        match value {
            Py::Dict(d) if d.is_empty() => out.push_str(" {}\n"),
            Py::Dict(d) => {
                out.push('\n');
                yaml_dict_full(d, indent + 2, resolvers, out)?;
            }
            Py::List(l) if l.is_empty() => out.push_str(" []\n"),
            Py::List(l) => {
                out.push('\n');
                for item in l {
                    out.push_str(&" ".repeat(indent));
                    match item {
                        Py::Dict(d) if d.is_empty() => out.push_str("- {}\n"),
                        Py::Dict(d) => {
                            out.push_str("- ");
                            yaml_dict_full(d, indent + 2, resolvers, out)?;
                        }
                        _ => return Err(Declined::new("list of scalars")),
                    }
                }
            }
            Py::Str(s) => {
                let mut e = Emitter {
                    out: String::new(),
                    column: indent + key.chars().count() + 1,
                    whitespace: false,
                    indention: false,
                    indent: indent + 2,
                };
                e.scalar(s, resolvers)?;
                out.push_str(&e.out);
                out.push('\n');
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar, indent + key.len() + 2)?);
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// The state of PyYAML's `Emitter` while it writes one scalar value of a block mapping.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    /// The scalar's indent (the mapping's plus 2).
    indent: usize,
}

const BEST_WIDTH: usize = 80;
const BREAKS: &[char] = &['\n', '\u{85}', '\u{2028}', '\u{2029}'];

/// What `analyze_scalar` finds (the parts `choose_scalar_style` reads in block context).
struct Analysis {
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn analyze_scalar(text: &[char]) -> Analysis {
    if text.is_empty() {
        return Analysis {
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let ws = |c: char| "\0 \t\r\n\u{85}\u{2028}\u{2029}".contains(c);
    let s: String = text.iter().collect();
    let (mut block_indicators, mut line_breaks, mut special) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = text.len() == 1 || ws(text[1]);
    let (mut previous_space, mut previous_break) = (false, false);
    let n = text.len();
    for (index, &ch) in text.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if "?:".contains(ch) && followed_by_whitespace {
                block_indicators = true;
            }
            if ch == '-' && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if BREAKS.contains(&ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || ('\x20'..='\x7E').contains(&ch)) {
            // Unicode or not, without allow_unicode it is special.
            special = true;
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == n - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if BREAKS.contains(&ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == n - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = ws(ch);
        followed_by_whitespace = index + 2 >= n || ws(text[index + 2]);
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks || block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        allow_block_plain,
        allow_single_quoted,
    }
}

impl Emitter {
    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn write_indent(&mut self) {
        let indent = self.indent;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.out.push_str(&pad);
            self.column = indent;
        }
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool) {
        let data = if self.whitespace || !need_whitespace {
            indicator.to_string()
        } else {
            format!(" {indicator}")
        };
        self.whitespace = false;
        self.indention = false;
        self.write(&data);
    }

    fn scalar(&mut self, value: &str, resolvers: &YamlResolvers) -> Result<(), Declined> {
        let text: Vec<char> = value.chars().collect();
        let analysis = analyze_scalar(&text);
        if resolvers.plain_is_str(value)? && analysis.allow_block_plain {
            self.write_plain(&text);
        } else if analysis.allow_single_quoted {
            self.write_single_quoted(&text);
        } else {
            self.write_double_quoted(&text);
        }
        Ok(())
    }

    fn write_plain(&mut self, text: &[char]) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let (mut spaces, mut start, mut end) = (false, 0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = text[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || BREAKS.contains(&c)) {
                let data: String = text[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &[char]) {
        self.write_indicator("'", true);
        let (mut spaces, mut breaks, mut start, mut end) = (false, false, 0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && start != 0
                        && end != text.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = text[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !BREAKS.contains(&c)) {
                    if text[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &text[start..end] {
                        self.write_line_break((br != '\n').then_some(br));
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || BREAKS.contains(&c)) && start < end
            {
                let data: String = text[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = BREAKS.contains(&c);
            }
            end += 1;
        }
        self.write_indicator("'", false);
    }

    fn write_double_quoted(&mut self, text: &[char]) {
        self.write_indicator("\"", true);
        let (mut start, mut end) = (0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            let escape = ch.is_none_or(|c| {
                "\"\\\u{85}\u{2028}\u{2029}\u{FEFF}".contains(c) || !('\x20'..='\x7E').contains(&c)
            });
            if escape {
                if start < end {
                    let data: String = text[start..end].iter().collect();
                    self.write(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".to_string(),
                        '\x08' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\x0B' => "\\v".to_string(),
                        '\x0C' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\x1B' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{A0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&data);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < text.len()
                && (ch == Some(' ') || start >= end)
                && self.column as isize + end as isize - start as isize > BEST_WIDTH as isize
            {
                let mut data: String = text[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if text[start] == ' ' {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false);
    }
}

/// PyYAML's timestamp resolver pattern (`YYYY-MM-DD[(T|t| +)HH:MM:SS[.f*][tz]]`), for the shapes
/// datetimes take here.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if !(b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10))
    {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    b.len() >= 19
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (b.len() == 19 || (b[19] == b'.' && digits(20..b.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_like_pyyaml() {
        let v = Py::Dict(vec![
            (
                "items".into(),
                Py::List(vec![Py::Dict(vec![
                    ("active".into(), Py::Bool(true)),
                    (
                        "id".into(),
                        Py::Str("f07a065c-1bf5-4b32-871d-03c49cbeff91".into()),
                    ),
                    ("user".into(), Py::None),
                    ("deployer".into(), Py::Str("-".into())),
                    (
                        "created".into(),
                        Py::Str("2026-11-23T20:26:23.363031".into()),
                    ),
                    ("name".into(), Py::Str("third stack".into())),
                ])]),
            ),
            (
                "pagination".into(),
                Py::Dict(vec![("index".into(), Py::Int(1))]),
            ),
        ]);
        assert_eq!(
            yaml(&v).unwrap(),
            "items:\n- active: true\n  id: f07a065c-1bf5-4b32-871d-03c49cbeff91\n  user: null\n  deployer: '-'\n  created: '2026-11-23T20:26:23.363031'\n  name: third stack\npagination:\n  index: 1\n"
        );
        assert!(yaml_str("123", 0).is_err());
        assert!(yaml_str("a: b", 0).is_err());
        assert_eq!(yaml_str("yes", 0).unwrap(), "'yes'");
    }
}
