//! ZenML's `config.yaml` files (global and repository), read without Python.
//!
//! They are written by PyYAML's `yaml.dump(..., sort_keys=True)` in block style. Only that plain
//! shape is read: nested mappings by indentation and plain scalars. Anything else (quotes, flow
//! collections, anchors, multi-line scalars, tabs) is refused, and the caller delegates.

use crate::declined::Declined;
use std::collections::BTreeMap;
use std::path::Path;

/// A parsed block mapping: dotted keys (`store.url`) to plain scalar text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YamlMap(pub BTreeMap<String, String>);

impl YamlMap {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn read(path: &Path) -> Result<Self, Declined> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Declined::new(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Declined::new(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, Declined> {
        let mut map = BTreeMap::new();
        // (indent, key) of the open mappings.
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let err = |what: &str| Declined::new(format!("line {}: {what}", n + 1));
            if raw.trim().is_empty() {
                continue;
            }
            if raw.contains('\t') {
                return Err(err("tab"));
            }
            let indent = raw.len() - raw.trim_start().len();
            let line = raw.trim_start();
            if line.starts_with('#')
                || line.starts_with("- ")
                || line == "-"
                || line.starts_with("---")
            {
                return Err(err("not a plain block mapping"));
            }
            let (key, value) = line.split_once(':').ok_or_else(|| err("no key"))?;
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.is_empty() {
                return Err(err("unusual key"));
            }
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).chain([key]).collect();
            let dotted = path.join(".");
            let value = value.strip_prefix(' ').unwrap_or(value);
            if value.is_empty() {
                stack.push((indent, key.to_string()));
                continue;
            }
            if !plain_scalar(value) {
                return Err(err("not a plain scalar"));
            }
            if map.insert(dotted, value.to_string()).is_some() {
                return Err(err("duplicate key"));
            }
        }
        Ok(YamlMap(map))
    }
}

/// A PyYAML plain scalar that reads back as the same text.
fn plain_scalar(value: &str) -> bool {
    let first = value.chars().next().unwrap_or(' ');
    !"'\"{[&*!|>%@`#,?-".contains(first)
        && !value.contains(" #")
        && !value.contains(": ")
        && value.trim() == value
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
    fn refuses_what_it_does_not_model() {
        assert!(YamlMap::parse("url: 'quoted path'\n").is_err());
        assert!(YamlMap::parse("a: {b: 1}\n").is_err());
        assert!(YamlMap::parse("a: |\n  x\n").is_err());
        assert!(YamlMap::parse("a:\n- 1\n").is_err());
        assert!(YamlMap::parse("a: 1\na: 2\n").is_err());
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
