//! Differential test of `pyformat.rs` and `pyyaml.rs` against ZenML's own `_render_json`,
//! `_render_yaml` and `_render_delimited` in the 0.98.0 test env
//! (`tests/support/pyformat_expected.py`): seeded rows whose names come from mixed scripts
//! (tests/common/names.rs) and from strings PyYAML treats specially (booleans, nulls, numbers,
//! timestamps, indicators, quotes, control characters, line breaks, leading/trailing spaces, long
//! texts it folds). JSON and CSV/TSV must always be byte-identical; YAML through the resolvers the
//! generator read from the installed PyYAML (`yaml_with`) must always answer and be identical; the
//! conservative fallback (`yaml`) may refuse, but never print something else.

mod common;

use common::names::{Rng, name};
use common::{ZENML_VERSION, clean_command, output, repo, scratch, show, zenml_env};
use zenml_launcher::render::pyformat::{self, Py};
use zenml_launcher::render::pyyaml::{self, YamlResolvers};

const SEED: u64 = 1313;

const YAML_SPECIAL: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "null",
    "Null",
    "~",
    "",
    "1e3",
    "1.5e+3",
    "0o7",
    "0x1F",
    "1_000",
    "-12",
    "+3",
    "12:30",
    "190:20:30",
    "2026-11-23",
    "2026-11-23 20:26:23",
    "2026-1-2T3:04:05Z",
    ".inf",
    "-.Inf",
    ".NaN",
    ".5",
    "1.",
    "-",
    "- x",
    "-x",
    "#x",
    "a #b",
    "a#b",
    "a: b",
    "a:b",
    "key:",
    "? x",
    "?x",
    "!tag",
    "&a",
    "*b",
    "|",
    ">",
    "%",
    "@",
    "`",
    "'q'",
    "\"dq\"",
    "it's",
    "a\tb",
    "a\nb",
    "a\n\nb",
    "a\r\nb",
    "trail\n",
    "\nlead",
    " lead",
    "trail ",
    "a  b",
    "a \nb",
    "x\u{85}y",
    "x\u{2028}y",
    "x\u{A0}y",
    "\u{FEFF}bom",
    "\u{7}bell",
    "\u{1b}esc",
    "<<",
    "=",
    "---",
    "...",
    "--- x",
    "[a]",
    "{b}",
    "a,b",
    "\"",
    "\\",
    "a\\b",
    ",",
    "\"a,b\"",
    "line1\nline2,x",
    "tab\tsep",
];

fn words(rng: &mut Rng, count: usize) -> String {
    let pool = [
        "stack",
        "prod",
        "日本語",
        "ü",
        "a",
        "longer-word",
        "x'y",
        "q\"r",
        "über",
        "🚀",
        "-",
        ":",
        "#",
        "1",
        "\\",
        "'",
    ];
    (0..count)
        .map(|_| rng.pick(&pool))
        .collect::<Vec<_>>()
        .join(if rng.below(4) == 0 { "  " } else { " " })
}

fn value(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => rng.pick(YAML_SPECIAL).to_string(),
        1 => {
            let count = 10 + rng.below(40);
            words(rng, count)
        }
        2 => format!("{}{}", rng.pick(YAML_SPECIAL), name(rng)),
        _ => name(rng),
    }
}

#[derive(Clone)]
enum V {
    S(String),
    B(bool),
    N,
}

fn cases() -> Vec<Vec<Vec<(String, V)>>> {
    let mut rng = Rng::new(SEED);
    let mut cases = Vec::new();
    for i in 0..120 {
        let rows = (0..1 + rng.below(4))
            .map(|r| {
                let mut row = vec![
                    ("active".to_string(), V::B(r == 0)),
                    (
                        "id".to_string(),
                        V::S(format!("{i:08x}-1bf5-4b32-871d-03c49cbeff91")),
                    ),
                    ("name".to_string(), V::S(value(&mut rng))),
                    (
                        "user".to_string(),
                        if rng.below(3) == 0 {
                            V::N
                        } else {
                            V::S(value(&mut rng))
                        },
                    ),
                ];
                for key in ["artifact_store", "orchestrator", "deployer"] {
                    let v = if rng.below(3) == 0 {
                        "-".to_string()
                    } else {
                        value(&mut rng)
                    };
                    row.push((key.to_string(), V::S(v)));
                }
                row
            })
            .collect();
        cases.push(rows);
    }
    cases
}

fn py(v: &V) -> Py {
    match v {
        V::S(s) => Py::Str(s.clone()),
        V::B(b) => Py::Bool(*b),
        V::N => Py::None,
    }
}

#[test]
fn json_yaml_csv_match_zenml() {
    let env = zenml_env(ZENML_VERSION);
    let dir = scratch("pyformat-parity");
    let meta = common::generate_meta(&env, &dir);
    let resolvers =
        YamlResolvers::from_data(meta.text_data.as_ref().expect("text data")).expect("resolvers");
    let cases = cases();
    let request: Vec<Vec<Vec<serde_json::Value>>> = cases
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                V::S(s) => serde_json::Value::from(s.as_str()),
                                V::B(b) => serde_json::Value::from(*b),
                                V::N => serde_json::Value::Null,
                            };
                            serde_json::json!([k, v])
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let request_path = dir.join("request.json");
    std::fs::write(&request_path, serde_json::to_string(&request).unwrap()).unwrap();
    let answer_path = dir.join("answer.json");
    let out = output(
        clean_command(env.join("bin/python"), &dir)
            .arg(repo().join("tests/support/pyformat_expected.py"))
            .arg(&request_path)
            .arg(&answer_path),
    );
    assert!(out.status.success(), "{}", show(&out.stderr));
    let answer: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&answer_path).unwrap()).unwrap();
    assert_eq!(answer.len(), cases.len());

    let mut failures = Vec::new();
    let (mut fallback_answered, mut fallback_refused) = (0, 0);
    for (i, (rows, want)) in cases.iter().zip(&answer).enumerate() {
        let items = Py::List(
            rows.iter()
                .map(|r| Py::Dict(r.iter().map(|(k, v)| (k.clone(), py(v))).collect()))
                .collect(),
        );
        let pagination = Py::Dict(
            [
                ("index", 1),
                ("max_size", 20),
                ("total_pages", 1),
                ("total", 1),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), Py::Int(*v)))
            .collect(),
        );
        let doc = Py::Dict(vec![
            ("items".into(), items),
            ("pagination".into(), pagination),
        ]);
        let label = format!("case {i} (seed {SEED})");
        if pyformat::json(&doc) != want["json"].as_str().unwrap() {
            failures.push(format!(
                "{label} json:\n  want {:?}\n  got  {:?}",
                want["json"],
                pyformat::json(&doc)
            ));
        }
        let want_yaml = want["yaml"].as_str().unwrap();
        match pyyaml::yaml_with(&doc, &resolvers) {
            Ok(got) if got == want_yaml => {}
            Ok(got) => failures.push(format!(
                "{label} yaml:\n  want {want_yaml:?}\n  got  {got:?}"
            )),
            Err(e) => failures.push(format!("{label} yaml refused: {e:?}")),
        }
        match pyyaml::yaml(&doc) {
            Ok(got) if got == want_yaml => fallback_answered += 1,
            Ok(got) => failures.push(format!(
                "{label} fallback yaml differs:\n  want {want_yaml:?}\n  got  {got:?}"
            )),
            Err(_) => fallback_refused += 1,
        }
        let header: Vec<String> = rows[0].iter().map(|(k, _)| k.clone()).collect();
        let body: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(_, v)| match v {
                        V::S(s) => Some(s.clone()),
                        V::B(b) => Some(if *b { "True" } else { "False" }.to_string()),
                        V::N => None,
                    })
                    .collect()
            })
            .collect();
        for (key, delimiter) in [("csv", ','), ("tsv", '\t')] {
            let got = pyformat::delimited(&header, &body, delimiter);
            if got != want[key].as_str().unwrap() {
                failures.push(format!(
                    "{label} {key}:\n  want {:?}\n  got  {got:?}",
                    want[key]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(12)].join("\n")
    );
    eprintln!(
        "{} cases × json/yaml/csv/tsv byte-identical; the fallback YAML answered {fallback_answered}, \
         refused {fallback_refused}",
        cases.len()
    );
}
