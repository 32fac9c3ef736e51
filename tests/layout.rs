//! The house rules of `src/`, checked on the source itself: which part of the flow may use which
//! (docs/architecture.md, "Layering rules"), no import loop between modules, and `unsafe` only
//! where the FFI is.
//!
//! A module's uses are the `crate::…` paths in its file (its `#[cfg(test)] mod tests` excluded),
//! resolved to the longest module path that exists.

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

/// The file without its unit-test module (tests may reach anything).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Every `crate::a::b::{c, d::e}` path in `code`, expanded (`a::b::c`, `a::b::d::e`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let prefix: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let after = &rest[prefix.len()..];
        if prefix.ends_with("::") && after.starts_with('{') {
            let inner = &after[1..after.find('}').unwrap_or(after.len())];
            for item in inner.split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                match item {
                    "" => {}
                    "self" => out.push(prefix.trim_end_matches(':').to_string()),
                    _ => out.push(format!("{prefix}{item}")),
                }
            }
        } else {
            out.push(prefix.trim_end_matches(':').to_string());
        }
    }
    out
}

/// Module → the other modules it uses.
fn use_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<String, PathBuf> =
        files.into_iter().map(|f| (module_name(&f), f)).collect();
    assert!(modules.len() > 20, "src/ scanned: {:?}", modules.keys());
    let mut graph = BTreeMap::new();
    for (name, file) in &modules {
        let mut uses = BTreeSet::new();
        for path in crate_paths(&code_of(file)) {
            let mut parts: Vec<&str> = path.split("::").collect();
            while !parts.is_empty() && !modules.contains_key(&parts.join("::")) {
                parts.pop();
            }
            let target = parts.join("::");
            if !target.is_empty() && target != *name {
                uses.insert(target);
            }
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
            &["python", "app", "cache"],
            "the router is pure: it reaches neither python/ nor delegation",
        ),
        (
            "commands",
            &["python", "app"],
            "the Rust commands never start Python",
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
fn the_path_parser_sees_grouped_uses() {
    assert_eq!(
        crate_paths("use crate::env::{self, preflight};\nlet x = crate::vars::os(\"A\");"),
        ["env", "env::preflight", "vars::os"]
    );
}
