//! docs/environment.md from src/vars.rs: every `pub const` with its own `///` doc comment, grouped
//! under the `//` section comment above it. Shared by tests/docs.rs (which fails when the page is
//! stale) and `examples/gen_env_docs.rs` (which writes it).

/// One constant of src/vars.rs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The Rust name (`ZENML_COMPLETE`).
    pub name: String,
    /// The variable's name for a `&str` constant (`_ZENML_COMPLETE`); `None` for a list.
    pub value: Option<String>,
    /// A list constant's items, names of other constants resolved to their values.
    pub items: Vec<String>,
    /// Its doc comment, lines joined with spaces.
    pub doc: String,
}

/// A `//` section of src/vars.rs and its constants, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub entries: Vec<Entry>,
}

/// The module doc (`//!`) and the sections of `source` (the text of src/vars.rs).
pub fn parse(source: &str) -> Result<(String, Vec<Section>), String> {
    let mut intro = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    let mut values: Vec<(String, String)> = Vec::new();
    let mut lines = source.lines().enumerate();
    let mut section_open = false;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        let was_open = std::mem::replace(&mut section_open, false);
        if let Some(text) = trimmed.strip_prefix("//!") {
            intro.push(text.trim().to_string());
        } else if let Some(text) = trimmed.strip_prefix("///") {
            doc.push(text.trim().to_string());
        } else if let Some(text) = trimmed.strip_prefix("//") {
            if !line.starts_with("//") {
                continue; // a comment inside an item
            }
            section_open = was_open;
            if !doc.is_empty() {
                return Err(format!(
                    "src/vars.rs:{}: a section comment between a doc comment and its item",
                    n + 1
                ));
            }
            let text = text.trim().trim_end_matches('.');
            match sections.last_mut() {
                // A section comment over several lines.
                Some(section) if section_open && section.entries.is_empty() => {
                    section.title = format!("{} {text}", section.title);
                }
                _ => sections.push(Section {
                    title: text.to_string(),
                    entries: Vec::new(),
                }),
            }
            section_open = true;
            continue;
        } else if trimmed.starts_with("pub const ") {
            let mut item = trimmed.to_string();
            while !item.ends_with(';') {
                let (_, more) = lines
                    .next()
                    .ok_or_else(|| format!("src/vars.rs:{}: unterminated constant", n + 1))?;
                item.push(' ');
                item.push_str(more.trim());
            }
            let entry =
                constant(&item, &doc).map_err(|why| format!("src/vars.rs:{}: {why}", n + 1))?;
            if let Some(value) = &entry.value {
                values.push((entry.name.clone(), value.clone()));
            }
            let section = sections.last_mut().ok_or_else(|| {
                format!(
                    "src/vars.rs:{}: a constant before any section comment",
                    n + 1
                )
            })?;
            section.entries.push(entry);
            doc.clear();
        } else if !trimmed.starts_with("#[") {
            // Anything else (a function, a blank line, code) ends a pending doc comment.
            doc.clear();
        }
    }
    for entry in sections.iter_mut().flat_map(|s| s.entries.iter_mut()) {
        for item in &mut entry.items {
            if let Some(name) = item.strip_prefix(UNRESOLVED) {
                let known = values.iter().find(|(n, _)| n == name);
                let (_, value) =
                    known.ok_or(format!("`{name}` in `{}` is not a constant", entry.name))?;
                *item = value.clone();
            }
        }
    }
    // The page's introduction: the module doc's first paragraph.
    let intro = join(&intro).split("\n\n").next().unwrap_or("").to_string();
    Ok((intro, sections))
}

/// Doc comment lines as one text: lines joined with spaces, an empty line as a paragraph break.
fn join(lines: &[String]) -> String {
    lines
        .split(|l| l.is_empty())
        .filter(|p| !p.is_empty())
        .map(|p| p.join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Marks a list item that names another constant, until the whole file is read.
const UNRESOLVED: &str = "\0";

/// `pub const NAME: &str = "value";` or `pub const NAME: &[&str] = &["A", OTHER, …];`.
fn constant(item: &str, doc: &[String]) -> Result<Entry, String> {
    let rest = &item["pub const ".len()..];
    let (name, rest) = rest.split_once(':').ok_or("no type")?;
    let (ty, value) = rest.split_once('=').ok_or("no value")?;
    let value = value.trim().trim_end_matches(';').trim();
    let name = name.trim().to_string();
    let doc = join(doc);
    if doc.is_empty() {
        return Err(format!("`{name}` has no doc comment of its own"));
    }
    match ty.trim() {
        "&str" => Ok(Entry {
            value: Some(string_literal(value)?),
            items: Vec::new(),
            name,
            doc,
        }),
        "&[&str]" => {
            let inner = value
                .strip_prefix("&[")
                .and_then(|v| v.strip_suffix(']'))
                .ok_or("a list that is not `&[…]`")?;
            let mut items = Vec::new();
            for item in inner.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                if item.starts_with('"') {
                    items.push(string_literal(item)?);
                } else {
                    // Another constant's name, resolved once the whole file is read.
                    items.push(format!("{UNRESOLVED}{item}"));
                }
            }
            Ok(Entry {
                value: None,
                items,
                name,
                doc,
            })
        }
        other => Err(format!(
            "`{name}` has the type `{other}`, not `&str` or `&[&str]`"
        )),
    }
}

fn string_literal(text: &str) -> Result<String, String> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or(format!("`{text}` is not a string literal"))?;
    if inner.contains(['\\', '"']) {
        return Err(format!("`{text}`: escapes are not read here"));
    }
    Ok(inner.to_string())
}

/// The command that rewrites docs/environment.md.
pub const REGENERATE: &str = "cargo run --example gen_env_docs";

/// docs/environment.md for `source` (the text of src/vars.rs).
pub fn markdown(source: &str) -> Result<String, String> {
    let (intro, sections) = parse(source)?;
    let mut out = String::new();
    out.push_str("# Environment variables\n\n");
    out.push_str(&format!(
        "<!-- Generated from src/vars.rs by `{REGENERATE}`: edit the doc comments there. \
         tests/docs.rs fails when this page is stale. -->\n\n"
    ));
    out.push_str(&links(&intro));
    out.push_str(
        "\n\nThe lists are sets of names the launcher checks as one rule (a name ending in ",
    );
    out.push_str("`*` or `_` is a prefix); their Rust name is given in brackets.\n");
    for section in &sections {
        out.push_str(&format!("\n## {}\n\n", links(&capitalize(&section.title))));
        for entry in &section.entries {
            match &entry.value {
                Some(value) => out.push_str(&format!("- `{value}`: {}\n", links(&entry.doc))),
                None => {
                    let items: Vec<String> = entry.items.iter().map(|i| format!("`{i}`")).collect();
                    out.push_str(&format!(
                        "- [{}] {}\n  {}\n",
                        entry.name,
                        links(&entry.doc),
                        items.join(", ")
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A docs/ page named in a doc comment becomes a link that works from docs/ (`[name.md](name.md)`).
fn links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("docs/") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "docs/".len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(after.len());
        let name = after[..name_len].trim_end_matches('.');
        if name.ends_with(".md") {
            out.push_str(&format!("[{name}]({name})"));
            rest = &after[name.len()..];
        } else {
            out.push_str("docs/");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
