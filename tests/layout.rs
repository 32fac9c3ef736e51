//! The house rules of `src/`, checked on the source itself: which part of the flow may use which
//! (docs/architecture.md, "Layering rules"), no import loop between modules, and `unsafe` only
//! where the FFI is.
//!
//! A module's uses are the `crate::…`, `super::…` and `self::…` paths in its whole file (its
//! `#[cfg(test)]` items, comments and strings excluded), resolved to the longest module path
//! that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/render/table.rs` → `render::table`, `src/env/mod.rs` → `env`.
fn module_name(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The file without its `#[cfg(test)]` items (a `mod tests { … }` block or a single item; tests
/// may reach anything), wherever they stand, and without comments and string literals.
fn code_of(path: &Path) -> String {
    strip_tests(&strip_comments_and_strings(
        &std::fs::read_to_string(path).unwrap(),
    ))
}

/// Comments become a space, string and char literals empty, so that neither a doc comment nor a
/// message that mentions `crate::x` counts as a use.
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            out.push(' ');
        } else if b[i] == b'r' && !ident_before && matches!(b.get(i + 1), Some(b'"' | b'#')) {
            // A raw string: r"…", r#"…"#.
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            i = text[start..]
                .find(&close)
                .map_or(b.len(), |e| start + e + close.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // '\n', '\'', '\u{…}'
            i = text[i + 3..].find('\'').map_or(b.len(), |e| i + 3 + e + 1);
            out.push_str("' '");
        } else if b[i] == b'\'' && text[i + 1..].chars().nth(1) == Some('\'') {
            i += 2 + text[i + 1..].chars().next().unwrap().len_utf8();
            out.push_str("' '");
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Removes each `#[cfg(test)]` attribute and the item after it (up to its `;` or the end of its
/// balanced `{ … }` block), keeping everything that follows.
fn strip_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let item = &rest[i + "#[cfg(test)]".len()..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = item.len();
                for (j, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + j + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every path that starts with `crate::`, `super::` or `self::` in `code`, use-groups expanded at
/// any depth (`crate::a::{b, c::{d, self}}` → `crate a b`, `crate a c d`, `crate a c`), each as
/// its words.
fn relative_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            // Only where a path starts: not `x::super::` nor `my_crate::`.
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let head = start.trim_end_matches(':').to_string();
            expand(&code[from..], vec![head], &mut out);
        }
    }
    out
}

/// Reads a path's continuation from `rest` (what follows a `::`), pushing every complete path.
fn expand(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut item_start = 0;
        let mut items = Vec::new();
        for (j, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[item_start..j]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[item_start..j]);
                    item_start = j + 1;
                }
                _ => {}
            }
        }
        for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
            if item == "self" || item.starts_with("self ") {
                out.push(prefix.clone());
            } else {
                expand(item, prefix.clone(), out);
            }
        }
        return;
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if word.is_empty() {
        out.push(prefix);
        return;
    }
    let tail = &rest[word.len()..];
    let mut path = prefix;
    path.push(word);
    match tail.strip_prefix("::") {
        Some(tail) => expand(tail, path, out),
        None => out.push(path),
    }
}

/// `path` as a module path from the crate root, seen from `module` (`super` and `self`
/// resolved); `None` when it climbs out of the crate.
fn absolute(module: &str, path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = module
        .split("::")
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    let mut words = path.iter().peekable();
    match words.next().map(String::as_str) {
        Some("crate") => base.clear(),
        Some("self") => {}
        // In `a/b.rs` and in `a/b/mod.rs` alike (module `a::b`), `super` is `a`.
        Some("super") => {
            base.pop()?;
        }
        _ => return None,
    }
    while words.peek().is_some_and(|w| *w == "super") {
        words.next();
        base.pop()?;
    }
    base.extend(words.cloned());
    Some(base)
}

/// Module → the other modules it uses. A module running its own descendants (a parent and its
/// children) is not counted as a use; a child's use of its parent or siblings is.
fn use_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<String, PathBuf> =
        files.into_iter().map(|f| (module_name(&f), f)).collect();
    assert!(modules.len() > 20, "src/ scanned: {:?}", modules.keys());
    let mut graph = BTreeMap::new();
    for (name, file) in &modules {
        let mut uses = BTreeSet::new();
        for path in relative_paths(&code_of(file)) {
            let Some(mut parts) = absolute(name, &path) else {
                continue;
            };
            while !parts.is_empty() && !modules.contains_key(&parts.join("::")) {
                parts.pop();
            }
            let target = parts.join("::");
            if target.is_empty() || target == *name || in_part(&target, name) {
                continue;
            }
            uses.insert(target);
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

fn in_part(module: &str, part: &str) -> bool {
    module == part || module.starts_with(&format!("{part}::"))
}

/// The uses of modules in `from` that reach a module in `forbidden`.
fn violations(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    forbidden: &[&str],
) -> Vec<String> {
    let mut found = Vec::new();
    for (module, uses) in graph {
        if !in_part(module, from) {
            continue;
        }
        for used in uses {
            if forbidden.iter().any(|f| in_part(used, f)) {
                found.push(format!("{module} uses {used}"));
            }
        }
    }
    found
}

#[test]
fn the_parts_use_only_what_the_flow_allows() {
    let graph = use_graph();
    let rules: &[(&str, &[&str], &str)] = &[
        (
            "route",
            &[
                "python", "app", "cache", "commands", "env", "zenml", "render",
            ],
            "the router is pure: argv and the CLI's shape in, a route out",
        ),
        (
            "cache",
            &["route", "app", "commands", "python"],
            "the cache sits below the router and the commands (their shared shape is cli_spec)",
        ),
        (
            "cli_spec",
            &[
                "python", "app", "cache", "commands", "env", "zenml", "render", "route", "vars",
                "os", "debug",
            ],
            "cli_spec is a leaf",
        ),
        (
            "declined",
            &[
                "python", "app", "cache", "commands", "env", "zenml", "render", "route", "vars",
                "os", "debug", "cli_spec",
            ],
            "declined is a leaf",
        ),
        (
            "commands",
            &["python", "app", "route"],
            "the Rust commands never start Python, nor reach back up the flow",
        ),
        (
            "render",
            &[
                "zenml", "cache", "commands", "python", "env", "app", "route",
            ],
            "render/ knows nothing of ZenML's state",
        ),
        (
            "zenml",
            &["render", "commands", "python", "cache", "app", "route"],
            "zenml/ knows nothing of printing",
        ),
        (
            "env",
            &[
                "zenml", "render", "commands", "python", "cache", "app", "route",
            ],
            "env discovery knows nothing of ZenML",
        ),
    ];
    let mut broken = Vec::new();
    for (from, forbidden, why) in rules {
        for v in violations(&graph, from, forbidden) {
            broken.push(format!("{v} ({why})"));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn no_module_uses_itself_through_others() {
    let graph = use_graph();
    // Depth-first search for a back edge; a parent `mod.rs` declaring its children is not a use.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        loops: &mut Vec<String>,
    ) {
        if let Some(i) = stack.iter().position(|n| n == node) {
            loops.push(format!("{} -> {node}", stack[i..].join(" -> ")));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, loops);
        }
        stack.pop();
    }
    let mut loops = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut loops);
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn unsafe_only_in_the_ffi_modules() {
    let allowed = ["os", "python::ffi", "main"];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = module_name(&file);
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == "unsafe")
            {
                found.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "unsafe outside {allowed:?}: {found:?}");
}

#[test]
fn the_path_parser_sees_grouped_relative_and_late_uses() {
    let text = |ps: Vec<Vec<String>>| ps.into_iter().map(|p| p.join(" ")).collect::<Vec<_>>();
    assert_eq!(
        text(relative_paths(
            "use crate::env::{self, preflight::{check, Finding}};\nlet x = crate::vars::os(\"A\");"
        )),
        [
            "crate env",
            "crate env preflight check",
            "crate env preflight Finding",
            "crate vars os"
        ]
    );
    assert_eq!(
        text(relative_paths(
            "use super::{Item, local_items};\nself::x::y();"
        )),
        ["super Item", "super local_items", "self x y"]
    );
    // Comments and strings are not uses; code after a test module is scanned.
    let code = strip_tests(&strip_comments_and_strings(
        "// crate::a\nlet s = \"crate::b\";\n#[cfg(test)]\nmod tests { use crate::c; }\nuse crate::d;",
    ));
    assert_eq!(text(relative_paths(&code)), ["crate d"]);
    let abs = |m: &str, p: &[&str]| {
        absolute(m, &p.iter().map(|w| w.to_string()).collect::<Vec<_>>()).map(|v| v.join("::"))
    };
    assert_eq!(
        abs("commands::status::remote", &["super", "Item"]).as_deref(),
        Some("commands::status::Item")
    );
    assert_eq!(
        abs("commands::status", &["super", "status_remote", "run"]).as_deref(),
        Some("commands::status_remote::run")
    );
    assert_eq!(abs("app", &["super", "super", "x"]), None);
}
