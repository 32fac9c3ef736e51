//! Python's own serialisations as ZenML's list commands use them, byte for byte:
//! `json.dumps(obj, indent=2)` (ensure_ascii) and `csv.DictWriter` with `lineterminator="\n"`
//! (QUOTE_MINIMAL), of [`Py`] values. `yaml.dump` (PyYAML's emitter) is in `render/pyyaml.rs`.

/// A JSON-like value in insertion order (Python dicts keep it).
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    List(Vec<Py>),
    Dict(Vec<(String, Py)>),
}

/// `json.dumps(value, indent=2)`.
pub fn json(value: &Py) -> String {
    let mut out = String::new();
    json_into(value, 0, &mut out);
    out
}

fn json_into(value: &Py, level: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Py::Str(s) => json_str(s, out),
        Py::Int(i) => out.push_str(&i.to_string()),
        Py::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Py::None => out.push_str("null"),
        Py::List(items) if items.is_empty() => out.push_str("[]"),
        Py::Dict(items) if items.is_empty() => out.push_str("{}"),
        Py::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&pad(level + 1));
                json_into(item, level + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(level));
            out.push(']');
        }
        Py::Dict(items) => {
            out.push_str("{\n");
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&pad(level + 1));
                json_str(k, out);
                out.push_str(": ");
                json_into(v, level + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(level));
            out.push('}');
        }
    }
}

/// A JSON string literal with `ensure_ascii=True`.
fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `csv.DictWriter(delimiter=d, lineterminator="\n")`: header, then rows (`None` cells are
/// written as `restval` ""), the whole text `.strip()`ped as ZenML does.
pub fn delimited(header: &[String], rows: &[Vec<Option<String>>], delimiter: char) -> String {
    let field = |f: &str, only: bool| -> String {
        if f.contains(delimiter) || f.contains('"') || f.contains('\n') || f.contains('\r') {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else if f.is_empty() && only {
            "\"\"".to_string()
        } else {
            f.to_string()
        }
    };
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let only = cells.len() == 1;
        let joined: Vec<String> = cells.iter().map(|c| field(c, only)).collect();
        out.push_str(&joined.join(&delimiter.to_string()));
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(
            row.iter().map(|c| c.clone().unwrap_or_default()).collect(),
            &mut out,
        );
    }
    python_strip(&out).to_string()
}

/// Python's `str.strip()` (whitespace per `str.isspace`).
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_python() {
        let v = Py::Dict(vec![
            (
                "items".into(),
                Py::List(vec![
                    Py::Dict(vec![("a".into(), Py::Bool(true)), ("b".into(), Py::None)]),
                    Py::Dict(vec![]),
                ]),
            ),
            ("n".into(), Py::Int(1)),
            ("s".into(), Py::Str("é\"\\\u{1F600}".into())),
        ]);
        assert_eq!(
            json(&v),
            "{\n  \"items\": [\n    {\n      \"a\": true,\n      \"b\": null\n    },\n    {}\n  ],\n  \"n\": 1,\n  \"s\": \"\\u00e9\\\"\\\\\\ud83d\\ude00\"\n}"
        );
    }

    #[test]
    fn csv_like_python() {
        let header = vec!["active".to_string(), "name".to_string()];
        let rows = vec![
            vec![Some("True".into()), Some("a,b".into())],
            vec![Some("False".into()), None],
        ];
        assert_eq!(
            delimited(&header, &rows, ','),
            "active,name\nTrue,\"a,b\"\nFalse,"
        );
        assert_eq!(
            delimited(&["user".into()], &[vec![None]], ','),
            "user\n\"\""
        );
        assert_eq!(
            delimited(&header, &rows, '\t'),
            "active\tname\nTrue\ta,b\nFalse"
        );
    }
}
