//! ZenML's `config.yaml` files (global and repository), read without Python.
//!
//! They are written by PyYAML's `yaml.dump(..., sort_keys=True)` in block style. Only that plain
//! shape is read ([`block_mapping`], also used for `credentials.yaml`): nested mappings by
//! indentation and plain scalars, each typed as PyYAML's `safe_load` types it
//! ([`resolve_plain`]: strings, booleans, integers, nulls, floats). Anything else (quotes, flow
//! collections, anchors, multi-line scalars, tabs, characters PyYAML rejects, timestamps, keys
//! that are not strings) is refused, and the caller delegates. tests/hostile_input.rs compares it
//! with PyYAML.

use crate::declined::Declined;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// A scalar as PyYAML's `safe_load` constructs it, for the types the launcher reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Bool(bool),
    Int(i64),
    /// `null`, `~`, or a key with nothing under it.
    Null,
    /// A float (never read by the launcher: only its type is kept).
    Float,
}

impl Scalar {
    /// The Python type's name (`str`, `bool`, `int`, `null`, `float`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "str",
            Scalar::Bool(_) => "bool",
            Scalar::Int(_) => "int",
            Scalar::Null => "null",
            Scalar::Float => "float",
        }
    }

    /// The value as the reference prints it (`None` for null and float).
    pub fn text(&self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s.clone()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Null | Scalar::Float => None,
        }
    }
}

/// PyYAML's implicit resolvers (`yaml/resolver.py`, YAML 1.1), by the first character they are
/// registered for, in PyYAML's order.
struct Resolvers {
    float: fancy_regex::Regex,
    int: fancy_regex::Regex,
    timestamp: fancy_regex::Regex,
}

fn resolvers() -> &'static Resolvers {
    static R: OnceLock<Resolvers> = OnceLock::new();
    R.get_or_init(|| {
        let re = |p: &str| fancy_regex::Regex::new(&format!(r"\A(?:{p})\z")).expect("pattern");
        Resolvers {
            float: re(concat!(
                r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
                r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
                r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
                r"|[-+]?\.(?:inf|Inf|INF)",
                r"|\.(?:nan|NaN|NAN)"
            )),
            int: re(concat!(
                r"[-+]?0b[0-1_]+",
                r"|[-+]?0[0-7_]+",
                r"|[-+]?(?:0|[1-9][0-9_]*)",
                r"|[-+]?0x[0-9a-fA-F_]+",
                r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
            )),
            timestamp: re(concat!(
                r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
                r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
                r"(?:[Tt]|[ \t]+)[0-9][0-9]?",
                r":[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?",
                r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?"
            )),
        }
    })
}

const TRUE_WORDS: &[&str] = &[
    "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
];
const FALSE_WORDS: &[&str] = &[
    "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
];

/// What PyYAML's `safe_load` makes of the plain scalar `text`: the implicit resolver of its
/// first character that matches, then the constructor. `Err` for the types not modelled
/// (timestamps, `<<`, `=`) and for what the constructor fails on or gives beyond `i64`.
pub fn resolve_plain(text: &str) -> Result<Scalar, Declined> {
    let Some(first) = text.chars().next() else {
        return Ok(Scalar::Null);
    };
    let r = resolvers();
    let is = |re: &fancy_regex::Regex| re.is_match(text).unwrap_or(false);
    if "yYnNtTfFoO".contains(first) {
        if TRUE_WORDS.contains(&text) {
            return Ok(Scalar::Bool(true));
        }
        if FALSE_WORDS.contains(&text) {
            return Ok(Scalar::Bool(false));
        }
    }
    if "-+0123456789.".contains(first) && is(&r.float) {
        return Ok(Scalar::Float);
    }
    if "-+0123456789".contains(first) && is(&r.int) {
        return construct_int(text)
            .map(Scalar::Int)
            .ok_or_else(|| Declined::new(format!("integer {text:?} not modelled")));
    }
    if text == "<<" || text == "=" {
        return Err(Declined::new(format!("YAML {text:?} scalar")));
    }
    if "~nN".contains(first) && ["~", "null", "Null", "NULL"].contains(&text) {
        return Ok(Scalar::Null);
    }
    if first.is_ascii_digit() && is(&r.timestamp) {
        return Err(Declined::new("a timestamp"));
    }
    Ok(Scalar::Str(text.to_string()))
}

/// `SafeConstructor.construct_yaml_int` for a text the int resolver matched (`None`: it raises,
/// or the value does not fit an `i64`).
fn construct_int(text: &str) -> Option<i64> {
    let v: String = text.chars().filter(|&c| c != '_').collect();
    let (sign, v) = match v.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, v.strip_prefix('+').unwrap_or(&v)),
    };
    let digits = |d: &str, radix| {
        (!d.is_empty() && d.chars().all(|c| c.is_digit(radix)))
            .then(|| i128::from_str_radix(d, radix).ok())
            .flatten()
    };
    let n = if v == "0" {
        0
    } else if let Some(b) = v.strip_prefix("0b") {
        digits(b, 2)?
    } else if let Some(x) = v.strip_prefix("0x") {
        digits(x, 16)?
    } else if v.starts_with('0') {
        digits(v, 8)?
    } else if v.contains(':') {
        let mut n: i128 = 0;
        for part in v.split(':') {
            n = n.checked_mul(60)?.checked_add(digits(part, 10)?)?;
        }
        n
    } else {
        digits(v, 10)?
    };
    i64::try_from(sign * n).ok()
}

/// A parsed block mapping: dotted keys (`store.url`) to scalars.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YamlMap(pub BTreeMap<String, Scalar>);

impl YamlMap {
    /// The string at `key` (`None`: absent, or not a string for PyYAML).
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The scalar at `key`, of any type.
    pub fn get_scalar(&self, key: &str) -> Option<&Scalar> {
        self.0.get(key)
    }

    /// Every (dotted key, scalar).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Scalar)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn read(path: &Path) -> Result<Self, Declined> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Declined::new(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Declined::new(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, Declined> {
        fn flatten(prefix: &str, entries: Vec<(String, Node)>, map: &mut BTreeMap<String, Scalar>) {
            for (key, node) in entries {
                let dotted = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                match node {
                    Node::Scalar(s) => {
                        map.insert(dotted, s);
                    }
                    Node::Map(m) => flatten(&dotted, m, map),
                }
            }
        }
        let entries = block_mapping(text, &CONFIG_SHAPE)?;
        let mut map = BTreeMap::new();
        flatten("", entries, &mut map);
        Ok(YamlMap(map))
    }
}

/// The config's keys: ZenML's field names (no `.`, so the dotted keys are unambiguous).
const CONFIG_SHAPE: Shape = Shape {
    key: |k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
    quoted: false,
};

/// A value of a block mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Scalar(Scalar),
    /// The entries in file order.
    Map(Vec<(String, Node)>),
}

/// What a block mapping's keys and values may be, beyond the rest of [`block_mapping`]'s rules.
pub struct Shape {
    /// Which plain keys are accepted (they must also be strings for PyYAML).
    pub key: fn(&str) -> bool,
    /// Whether single-quoted scalar values (one line) are read.
    pub quoted: bool,
}

/// A character PyYAML's reader accepts (printable) and that the lines here can hold: no tab, no
/// line break but `\n` (`\r` is translated first), no BOM.
fn modelled_char(c: char) -> bool {
    c == '\n'
        || (' '..='~').contains(&c)
        || (c >= '\u{a0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ))
}

/// PyYAML's `safe_load` of a file in the plain block shape `yaml.dump` writes: `key: value`
/// lines nested by indentation, plain scalars (typed as PyYAML types them) and, with
/// `shape.quoted`, one-line single-quoted strings. The text is first read as Python's text mode
/// reads it (universal newlines). Anything else is refused: characters PyYAML rejects, tabs and
/// other line breaks, comments, document markers, flow collections, anchors, tags, block
/// scalars and sequences, multi-line scalars, keys that are not strings or are repeated,
/// indentation PyYAML would read otherwise.
pub fn block_mapping(text: &str, shape: &Shape) -> Result<Vec<(String, Node)>, Declined> {
    struct Level {
        indent: usize,
        /// The key (in the level below) this mapping is the value of.
        key: Option<String>,
        entries: Vec<(String, Node)>,
    }
    let close = |levels: &mut Vec<Level>| {
        let level = levels.pop().expect("a nested level");
        let parent = levels.last_mut().expect("under the root");
        parent
            .entries
            .push((level.key.expect("nested"), Node::Map(level.entries)));
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if let Some(c) = text.chars().find(|&c| !modelled_char(c)) {
        return Err(Declined::new(format!("character {c:?} not modelled")));
    }
    let mut levels: Vec<Level> = Vec::new();
    // A `key:` with nothing after it: a mapping if deeper lines follow, else null.
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in text.split('\n').enumerate() {
        let err = |what: &str| Declined::new(format!("line {}: {what}", n + 1));
        let content = line.trim_start_matches(' ');
        if content.is_empty() {
            continue;
        }
        let indent = line.len() - content.len();
        match pending.take() {
            Some((above, key)) if indent > above => levels.push(Level {
                indent,
                key: Some(key),
                entries: Vec::new(),
            }),
            Some((_, key)) => {
                let top = levels.last_mut().expect("a pending key has a level");
                top.entries.push((key, Node::Scalar(Scalar::Null)));
            }
            None => {}
        }
        if levels.is_empty() {
            levels.push(Level {
                indent,
                key: None,
                entries: Vec::new(),
            });
        }
        while indent < levels.last().map_or(0, |l| l.indent) {
            if levels.len() == 1 {
                return Err(err("a line left of the first key"));
            }
            close(&mut levels);
        }
        let top = levels.last_mut().expect("a level");
        if indent != top.indent {
            return Err(err("indentation not modelled"));
        }
        let (key, rest) = match content.find(": ") {
            Some(i) => (&content[..i], &content[i + 2..]),
            None => match content.strip_suffix(':') {
                Some(key) => (key, ""),
                None => return Err(err("not a `key: value` line")),
            },
        };
        if key.is_empty()
            || key.chars().count() > 1000
            || !(shape.key)(key)
            || !plain_start(key)
            || key.ends_with([' ', ':'])
            || key.contains(" #")
            || !matches!(resolve_plain(key), Ok(Scalar::Str(_)))
        {
            return Err(err("a key not modelled"));
        }
        if top.entries.iter().any(|(k, _)| k == key) {
            return Err(err("a repeated key"));
        }
        if rest.trim_start_matches(' ').is_empty() {
            pending = Some((indent, key.to_string()));
            continue;
        }
        let value = scalar(rest, shape).map_err(|e| err(&e.to_string()))?;
        top.entries.push((key.to_string(), Node::Scalar(value)));
    }
    if let Some((_, key)) = pending {
        let top = levels.last_mut().expect("a pending key has a level");
        top.entries.push((key, Node::Scalar(Scalar::Null)));
    }
    while levels.len() > 1 {
        close(&mut levels);
    }
    Ok(levels.pop().map(|l| l.entries).unwrap_or_default())
}

/// PyYAML's `check_plain` in block context: a plain scalar may start with `-`, `?` or `:` only
/// when a non-space follows, and with no other indicator.
fn plain_start(text: &str) -> bool {
    let mut chars = text.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    !"-?:,[]{}#&*!|>'\"%@` ".contains(first)
        || ("-?:".contains(first) && second.is_some_and(|c| c != ' '))
}

/// A one-line value: plain (typed) or, with `shape.quoted`, single-quoted (a string).
fn scalar(text: &str, shape: &Shape) -> Result<Scalar, Declined> {
    if shape.quoted {
        if let Some(inner) = text.strip_prefix('\'') {
            let inner = inner
                .strip_suffix('\'')
                .ok_or_else(|| Declined::new("a quoted scalar with text after it"))?;
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\'' && chars.next() != Some('\'') {
                    return Err(Declined::new("a lone quote in a quoted scalar"));
                }
                out.push(c);
            }
            return Ok(Scalar::Str(out));
        }
    }
    if text.starts_with(' ')
        || !plain_start(text)
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with([' ', ':'])
    {
        return Err(Declined::new("not a plain scalar"));
    }
    resolve_plain(text)
}

/// `8-4-4-4-12` from 32 hex digits.
pub fn uuid_text(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A canonical UUID (`8-4-4-4-12` hex), as ZenML writes ids; returned as stored in SQLite
/// (`CHAR(32)`, lower-case hex without dashes).
pub fn uuid_hex(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if parts.len() != 5
        || parts
            .iter()
            .zip(lens)
            .any(|(p, l)| p.len() != l || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(parts.concat().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH: &str = "active_project_id: 1619aab9-cf33-4f2f-b291-22f5050654c7
active_stack_id: f07a065c-1bf5-4b32-871d-03c49cbeff91
analytics_opt_in: true
store:
  auth_mode: password
  database: /tmp/c/local_stores/default_zen_store/zenml.db
  secrets_store:
    type: sql
  ssl: false
  type: sql
  url: sqlite:////tmp/c/local_stores/default_zen_store/zenml.db
user_id: 2ba9ef13-4e15-42dd-93b2-822195a75e79
version: 0.98.0
";

    #[test]
    fn reads_the_global_config() {
        let m = YamlMap::parse(FRESH).unwrap();
        assert_eq!(m.get("version"), Some("0.98.0"));
        assert_eq!(
            m.get("store.url"),
            Some("sqlite:////tmp/c/local_stores/default_zen_store/zenml.db")
        );
        assert_eq!(m.get("store.secrets_store.type"), Some("sql"));
        assert_eq!(
            m.get("user_id"),
            Some("2ba9ef13-4e15-42dd-93b2-822195a75e79")
        );
    }

    #[test]
    fn scalars_typed_as_pyyaml_types_them() {
        let m = YamlMap::parse(FRESH).unwrap();
        assert_eq!(m.get_scalar("analytics_opt_in"), Some(&Scalar::Bool(true)));
        assert_eq!(m.get("analytics_opt_in"), None);
        assert_eq!(m.get_scalar("store.ssl"), Some(&Scalar::Bool(false)));
        for (text, scalar) in [
            ("30", Scalar::Int(30)),
            ("010", Scalar::Int(8)),
            ("0x1F", Scalar::Int(31)),
            ("0b101", Scalar::Int(5)),
            ("1_000", Scalar::Int(1000)),
            ("1:30", Scalar::Int(90)),
            ("-12", Scalar::Int(-12)),
            ("08", Scalar::Str("08".into())),
            ("yes", Scalar::Bool(true)),
            ("Off", Scalar::Bool(false)),
            ("y", Scalar::Str("y".into())),
            ("~", Scalar::Null),
            ("null", Scalar::Null),
            ("nUll", Scalar::Str("nUll".into())),
            ("1.5", Scalar::Float),
            ("1e3", Scalar::Str("1e3".into())),
            (".inf", Scalar::Float),
            ("0.98.0", Scalar::Str("0.98.0".into())),
        ] {
            assert_eq!(resolve_plain(text), Ok(scalar), "{text}");
        }
        for refused in [
            "2026-11-23",
            "2026-1-2 3:04:05",
            "<<",
            "=",
            "0b_",
            "99999999999999999999",
        ] {
            assert!(resolve_plain(refused).is_err(), "{refused}");
        }
        assert!(YamlMap::parse("on: x\n").is_err());
        assert!(YamlMap::parse("1: x\n").is_err());
        let m = YamlMap::parse("a:\nb:\n  c: 1\n").unwrap();
        assert_eq!(m.get_scalar("a"), Some(&Scalar::Null));
        assert_eq!(m.get_scalar("b"), None);
        assert_eq!(m.get_scalar("b.c"), Some(&Scalar::Int(1)));
    }

    #[test]
    fn refuses_what_it_does_not_model() {
        assert!(YamlMap::parse("url: 'quoted path'\n").is_err());
        assert!(YamlMap::parse("a: {b: 1}\n").is_err());
        assert!(YamlMap::parse("a: |\n  x\n").is_err());
        assert!(YamlMap::parse("a:\n- 1\n").is_err());
        assert!(YamlMap::parse("a: 1\na: 2\n").is_err());
        assert!(YamlMap::parse("b:\n  c: 1\nb:\n  d: 2\n").is_err());
        for bad in [
            "a:b\n",
            "a: b:\n",
            "a: x\u{1}\n",
            "a: x\u{85}y\n",
            "\t",
            "a:\n    b: 1\n  c: 2\n",
            "  a: 1\nb: 2\n",
            "a: 1\n  b: 2\n",
            "# c\na: 1\n",
        ] {
            assert!(YamlMap::parse(bad).is_err(), "{bad:?}");
        }
        let m = YamlMap::parse("a: -12\r\nb: x\rc: ?x\n").unwrap();
        assert_eq!(m.get_scalar("a"), Some(&Scalar::Int(-12)));
        assert_eq!(m.get("b"), Some("x"));
        assert_eq!(m.get("c"), Some("?x"));
    }

    #[test]
    fn uuids() {
        assert_eq!(
            uuid_hex("F07A065C-1bf5-4b32-871d-03c49cbeff91").as_deref(),
            Some("f07a065c1bf54b32871d03c49cbeff91")
        );
        assert_eq!(uuid_hex("f07a065c1bf54b32871d03c49cbeff91"), None);
    }
}
