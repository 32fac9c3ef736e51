//! Differential test of the table (`commands/stack_list/table_policy.rs` driving `render/table/`)
//! against the real zenml/rich: `tests/support/table_expected.py`
//! generates ~160 row sets (seeded: default columns with 1/4/25 rows, long names, names with
//! spaces, `None` users, `-` cells, `-c all`-like 22-column sets with datetimes, a hydrated first
//! row, 2-, 1- and 0-column sets, status/state/health columns, random column subsets, widths
//! 80…200 and out-of-range ones, values the port refuses) and renders each with zenml's own
//! `_render_table` in the 0.98.0 test env, once per set of terminal variables (NO_COLOR unset /
//! empty / `1`, TERM=dumb/unknown, LINES, COLORTERM, FORCE_COLOR, TTY_COMPATIBLE). Every
//! supported case must be byte-identical, the "Large tables" warning decision must agree, and
//! exactly the cases marked unsupported must be refused.

mod common;

use std::path::Path;

use common::{ZENML_VERSION, clean_command, output, scratch, show, zenml_env};
use serde::Deserialize;
use zenml_launcher::commands::stack_list::table_policy::{
    TableEnv, large_table_warning, render_table, render_table_with,
};
use zenml_launcher::render::cells::CellTable;

/// Terminal variables set for one Python process.
type Vars = &'static [(&'static str, &'static str)];

/// Sets of terminal variables, each rendered by its own Python process.
const MODES: &[(&str, Vars)] = &[
    ("plain", &[]),
    (
        "xterm-truecolor",
        &[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")],
    ),
    ("no-color-empty", &[("NO_COLOR", "")]),
    ("no-color-1", &[("NO_COLOR", "1"), ("TERM", "xterm")]),
    ("dumb", &[("TERM", "dumb")]),
    ("dumb-lines", &[("TERM", "dumb"), ("LINES", "40")]),
    (
        "unknown-no-color-empty",
        &[("TERM", "UNKNOWN"), ("NO_COLOR", "")],
    ),
    ("dumb-no-color-1", &[("TERM", "dumb"), ("NO_COLOR", "1")]),
    (
        "force-color-off",
        &[
            ("FORCE_COLOR", ""),
            ("TTY_COMPATIBLE", "0"),
            ("COLUMNS", "250"),
            ("LINES", "x"),
        ],
    ),
];

#[derive(Deserialize)]
struct Case {
    name: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    width: usize,
    supported: bool,
    /// Whether the port with rich's cell table must render it (names of any script).
    supported_unicode: bool,
    stdout: String,
    warning: bool,
}

fn expected(env: &Path, dir: &Path, vars: &[(&str, &str)]) -> Vec<Case> {
    let answer = dir.join("answer.json");
    let mut cmd = clean_command(env.join("bin/python"), dir);
    cmd.arg(common::repo().join("tests/support/table_expected.py"))
        .arg(&answer)
        .envs(vars.iter().copied());
    let out = output(&mut cmd);
    assert!(
        out.status.success(),
        "table_expected.py failed: {}",
        show(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(&answer).unwrap()).unwrap()
}

fn table_env(vars: &[(&str, &str)]) -> TableEnv {
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    TableEnv {
        no_color: get("NO_COLOR"),
        term: get("TERM"),
        lines: get("LINES"),
    }
}

/// The first differing line of two outputs, escapes visible.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.split('\n').collect(), got.split('\n').collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return format!("line {i}:\n  want {a:?}\n  got  {b:?}");
        }
    }
    "identical".into()
}

#[test]
fn table_matches_zenml_render_table() {
    let env = zenml_env(ZENML_VERSION);
    let meta = common::generate_meta(&env, &scratch("table-meta"));
    let cells = CellTable::from_data(meta.text_data.as_ref().expect("text data generated"))
        .expect("cell table");
    let results: Vec<(&str, Vars, Vec<Case>)> = std::thread::scope(|s| {
        let handles: Vec<_> = MODES
            .iter()
            .map(|&(mode, vars)| {
                let env = &env;
                s.spawn(move || {
                    let dir = scratch(&format!("table-{mode}"));
                    (mode, vars, expected(env, &dir, vars))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let (mut total, mut matched, mut refused) = (0, 0, 0);
    let mut unicode_rendered = 0;
    let mut failures = Vec::new();
    // Each case through the ASCII port (`render_table`, the narrow table) and through the port
    // with rich's cell table (`render_table_with`), each with its own expectation.
    for (unicode, (mode, vars, cases)) in [false, true]
        .into_iter()
        .flat_map(|u| results.iter().map(move |r| (u, r)))
    {
        let tenv = table_env(vars);
        for case in cases {
            total += 1;
            let w_table = case.width.clamp(80, 200);
            let label = format!(
                "[{mode}{}] {}",
                if unicode { " unicode" } else { "" },
                case.name
            );
            let warning = large_table_warning(&case.columns, &case.rows, w_table);
            let supported = if unicode {
                case.supported_unicode
            } else {
                case.supported
            };
            let rendered = if unicode {
                render_table_with(&case.columns, &case.rows, w_table, &tenv, &cells)
            } else {
                render_table(&case.columns, &case.rows, w_table, &tenv)
            };
            if unicode && rendered.is_ok() && !case.supported {
                unicode_rendered += 1;
            }
            match rendered {
                Err(why) => {
                    refused += 1;
                    if supported {
                        failures.push(format!("{label}: refused ({why:?}) but marked supported"));
                    }
                }
                Ok(_) if !supported => {
                    failures.push(format!("{label}: rendered but marked unsupported"));
                }
                Ok(bytes) => {
                    let got = String::from_utf8(bytes).unwrap();
                    if got != case.stdout {
                        failures.push(format!(
                            "{label}: output differs, {}",
                            first_difference(&case.stdout, &got)
                        ));
                    } else if warning != case.warning {
                        failures.push(format!(
                            "{label}: warning {warning}, zenml {}",
                            case.warning
                        ));
                    } else {
                        matched += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "table parity: {total} renders ({} cases × {} variable sets × ASCII/Unicode port), \
         {matched} byte-identical ({unicode_rendered} only with the cell table), \
         {refused} refused as unsupported, {} failures",
        results[0].2.len(),
        results.len(),
        failures.len()
    );
    assert!(
        total >= 2 * 150 * MODES.len(),
        "too few cases generated: {total}"
    );
    assert!(
        unicode_rendered >= 30 * MODES.len(),
        "too few cases rendered only by the Unicode port: {unicode_rendered}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
