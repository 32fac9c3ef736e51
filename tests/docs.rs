//! The docs stay true to the code: docs/environment.md is what src/vars.rs's doc comments generate
//! (as uv generates its environment-variable reference), and no comment in the code points at
//! notes outside the repository: a cited document is a docs/ file, with sections that exist.

#[path = "support/env_docs.rs"]
mod env_docs;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn environment_md_is_generated_from_vars_rs() {
    let expected = env_docs::markdown(&read(&root().join("src/vars.rs")))
        .unwrap_or_else(|why| panic!("{why}"));
    let actual = read(&root().join("docs/environment.md"));
    if actual != expected {
        let (n, (want, got)) = expected
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(actual.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap();
        panic!(
            "docs/environment.md is stale (first difference at line {}):\n  generated: {want}\n  \
             in the file: {got}\nregenerate it from src/vars.rs: {}",
            n + 1,
            env_docs::REGENERATE
        );
    }
}

#[test]
fn the_generator_reads_every_constant_and_refuses_an_undocumented_one() {
    let (_, sections) = env_docs::parse(&read(&root().join("src/vars.rs"))).unwrap();
    let entries: Vec<&env_docs::Entry> = sections.iter().flat_map(|s| &s.entries).collect();
    let source = read(&root().join("src/vars.rs"));
    assert_eq!(entries.len(), source.matches("\npub const ").count());
    let complete = entries.iter().find(|e| e.name == "ZENML_COMPLETE").unwrap();
    assert_eq!(complete.value.as_deref(), Some("_ZENML_COMPLETE"));
    let delegate = entries
        .iter()
        .find(|e| e.name == "DELEGATE_IF_SET")
        .unwrap();
    assert_eq!(
        delegate.items.first().map(String::as_str),
        Some("_ZENML_COMPLETE")
    );

    // A doc comment that slides onto the next constant leaves its own constant without one.
    let slid = "// Section.\n/// Doc of A.\n/// Doc of B.\npub const B: &str = \"B\";\n\
                pub const A: &str = \"A\";\n";
    let err = env_docs::parse(slid).unwrap_err();
    assert!(err.contains("`A` has no doc comment"), "{err}");
}

/// Text files under `dir`, `target/` directories skipped.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                text_files(&path, out);
            }
        } else if std::fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

/// The problems of one line of code or comment: a pointer outside the repository, a cited note
/// that is not a docs/ file, a section sign without the file it belongs to, a docs/ file or
/// section that does not exist.
fn citation_problems(line: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = line.to_lowercase();
    for outside in [concat!("../", "shared"), concat!("/work/", "shared")] {
        if lower.contains(outside) {
            problems.push(format!("points outside the repository ({outside})"));
        }
    }
    for note in [
        concat!("behaviour ", "notes"),
        concat!("embedding", "-notes"),
        concat!("embedding ", "notes"),
        concat!("command-server ", "notes"),
    ] {
        if lower.contains(note) && !lower.contains("docs/") {
            problems.push(format!("cites \"{note}\" without its docs/ file"));
        }
    }
    let section_sign = '\u{a7}';
    if line.contains(section_sign) && !line.contains("docs/") {
        problems.push("a section sign without the docs/ file it belongs to".into());
    }
    // Every `docs/<name>.md` exists, and every section cited after it on the line is a heading.
    let mut rest = line;
    while let Some(i) = rest.find("docs/") {
        let after = &rest[i..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/-_.".contains(c)))
            .unwrap_or(after.len());
        let cited = after[..end].trim_end_matches('.');
        rest = &after[end..];
        if !cited.ends_with(".md") {
            continue;
        }
        let Ok(doc) = std::fs::read_to_string(root().join(cited)) else {
            problems.push(format!("cites {cited}, which does not exist"));
            continue;
        };
        // A docs/ page followed by `, "Heading"`: a section cited by its name.
        if let Some(name) = rest.strip_prefix(", \"").and_then(|r| r.split('"').next()) {
            if !doc.lines().any(|l| l.starts_with('#') && l.contains(name)) {
                problems.push(format!(
                    "cites {cited}, \"{name}\", which has no such heading"
                ));
            }
        }
        let until_next = rest.find("docs/").unwrap_or(rest.len());
        for part in rest[..until_next].split(section_sign).skip(1) {
            let number: String = part
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            let heading = doc.lines().any(|l| {
                let title = l.trim_start_matches('#').trim_start();
                l.starts_with('#')
                    && title.starts_with(number)
                    && (title[number.len()..].starts_with(' ')
                        || title[number.len()..].starts_with(". "))
            });
            if number.is_empty() || !heading {
                problems.push(format!(
                    "cites {cited} \u{a7}{number}, which has no such heading"
                ));
            }
        }
    }
    problems
}

#[test]
fn no_comment_points_outside_the_repository() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples", "embedlib", "scripts", ".ci"] {
        text_files(&root().join(dir), &mut files);
    }
    files.push(root().join("build.rs"));
    files.push(root().join("README.md"));
    text_files(&root().join("docs"), &mut files);
    assert!(files.len() > 50, "scanned: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        // docs/ may use section signs for its own sections; only pointers outside are checked.
        let in_docs = file.starts_with(root().join("docs"));
        for (n, line) in read(file).lines().enumerate() {
            for problem in citation_problems(line) {
                if in_docs && !problem.starts_with("points outside") {
                    continue;
                }
                let rel = file.strip_prefix(root()).unwrap().display().to_string();
                found.push(format!("{rel}:{}: {problem}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite docs/<file>.md and its section instead (move the material into docs/):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_citation_check_finds_each_kind_of_problem() {
    let s = '\u{a7}';
    let bad = [
        format!(
            "//! see `{}/embedding{}.md` {s}3",
            concat!("..", "/shared"),
            "-notes"
        ),
        format!(
            "//! Click semantics ({} {s}3.1)",
            concat!("behaviour ", "notes")
        ),
        format!("// everything after it belongs to the sub-command ({s}3.1)"),
        format!("//! ({} {s}3)", concat!("embedding", "-notes")),
        format!("//! ({}no-such-page.md {s}1)", "docs/"),
        "/// (docs/command-server.md, \"No such heading\")".to_string(),
        format!("//! (docs/zenml-cli-behaviour.md {s}9.9)"),
    ];
    for line in &bad {
        assert!(!citation_problems(line).is_empty(), "not caught: {line}");
    }
    let good = [
        format!("//! Click semantics (docs/zenml-cli-behaviour.md {s}3.1, {s}3.3)"),
        "//! the layout (docs/architecture.md)".to_string(),
        format!("//! (docs/embedding.md {s}3; docs/zenml-cli-behaviour.md {s}1.2)"),
        "/// the master's imports (docs/command-server.md, \"Warm-up\")".to_string(),
    ];
    for line in &good {
        assert_eq!(citation_problems(line), Vec::<String>::new(), "{line}");
    }
}
