//! Property tests of the hand-written parsers of untrusted input (issue #22, "Hostile input"):
//! `pyvenv.cfg`, ZenML's `config.yaml` and `credentials.yaml`, rich markup, the proxy variables
//! and the argv router. Each property generates cases from `proptest` strategies with a fixed
//! seed (printed), sends them in one batch to one long-lived reference process (the 0.98.0
//! env's python running `tests/support/hostile_reference.py`: CPython's getpath and site.py,
//! PyYAML, ZenML's credentials model, rich, requests, Click on the installed CLI's command tree)
//! and compares every answer. A parser must never panic, and must either give what Python gives
//! or refuse (the launcher then leaves the call to Python). Cases are generated until 10,000 of
//! them are answered by the launcher, and those are compared (a refusal needs no comparison); a
//! property fails when the launcher refuses more than nine cases in ten, so it cannot pass by
//! refusing. The first difference is shrunk (proptest's value trees, one reference call per step)
//! and printed as a minimal input. The bugs found are named regression tests at the end, and
//! their inputs fixed cases of the properties.

mod common;

use std::ffi::OsString;
use std::fmt::Debug;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Instant;

use proptest::prelude::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use common::{ZENML_VERSION, clean_command, repo, scratch, zenml_env};
use zenml_launcher::cli_spec::RootSpec;
use zenml_launcher::env::PyvenvCfg;
use zenml_launcher::render::markup;
use zenml_launcher::route::{self, Route};
use zenml_launcher::zenml::config::{Scalar, YamlMap};
use zenml_launcher::zenml::http::VerifySsl;
use zenml_launcher::zenml::{credentials, proxy, rest_store};

/// Cases per property and run.
const CASES: usize = 10_000;
/// Failures printed as found (before the first one is shrunk).
const SHOWN_FAILURES: usize = 8;
/// Shrinking stops after this many steps (one reference call each).
const MAX_SHRINK_STEPS: usize = 2_000;
/// Generation stops after this many cases even if fewer than `CASES` were answered by the
/// launcher (the property then fails: it would prove too little).
const MAX_GENERATED: usize = 10 * CASES;

// ------------------------------------------------------------------------------ the reference

/// One long-lived `hostile_reference.py MODE` process: JSON lines in, JSON lines out.
struct Reference {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The first line it printed (`router`: the root spec).
    ready: Value,
}

impl Reference {
    fn start(mode: &str, extra: &[OsString]) -> Reference {
        let env = zenml_env(ZENML_VERSION);
        let home = scratch(&format!("hostile-{mode}"));
        let mut cmd = clean_command(env.join("bin/python"), &home);
        cmd.arg(repo().join("tests/support/hostile_reference.py"))
            .arg(mode)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the {mode} reference did not start ({e}): {line:?}"));
        assert_eq!(ready["ready"], mode, "{line}");
        Reference {
            child,
            stdin,
            stdout,
            ready,
        }
    }

    /// All requests written by one thread while this one reads the answers (no pipe deadlock,
    /// also when the reference fails: every line is read before anything is checked).
    fn batch(&mut self, requests: &[Value]) -> Vec<Value> {
        let stdin = self.stdin.as_mut().unwrap();
        let stdout = &mut self.stdout;
        let lines = std::thread::scope(|s| {
            s.spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, stdin);
                for r in requests {
                    let line = serde_json::to_string(r).unwrap() + "\n";
                    if out.write_all(line.as_bytes()).is_err() {
                        return;
                    }
                }
                let _ = out.flush();
            });
            let mut lines = Vec::with_capacity(requests.len());
            for _ in requests {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    Ok(n) if n > 0 => lines.push(line),
                    _ => break,
                }
            }
            lines
        });
        assert_eq!(
            lines.len(),
            requests.len(),
            "the reference process ended early (its error is above)"
        );
        lines
            .iter()
            .map(|line| {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON answer ({e}): {line:?}"));
                assert!(
                    v.get("reference_failed").is_none(),
                    "the reference failed: {}",
                    v["reference_failed"].as_str().unwrap_or_default()
                );
                v
            })
            .collect()
    }

    fn one(&mut self, request: &Value) -> Value {
        self.batch(std::slice::from_ref(request)).pop().unwrap()
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        // Killed, not waited for: after a failure it may be blocked writing answers no one reads.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --------------------------------------------------------------------------------- the driver

/// What the launcher's parser made of one case, against the reference.
enum Verdict {
    /// Parsed, and the same as Python.
    Same,
    /// Refused: the launcher leaves the call to Python.
    Refused,
    /// Parsed, and not what Python parses (or a panic).
    Differs(String),
}

/// Bytes that show as `b"..."` in a failure.
#[derive(Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The launcher's side of a case, with a panic turned into a difference.
fn judged<T>(value: &T, answer: &Value, judge: &dyn Fn(&T, &Value) -> Verdict) -> Verdict {
    match catch_unwind(AssertUnwindSafe(|| judge(value, answer))) {
        Ok(v) => v,
        Err(panic) => Verdict::Differs(format!(
            "the launcher's parser panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

fn answers(answered: bool) -> Launcher {
    if answered {
        Launcher::Answers
    } else {
        Launcher::Refused
    }
}

/// Whether the launcher answered a case or refused it.
enum Launcher {
    /// Refused: the launcher leaves the call to Python (no comparison needed).
    Refused,
    /// Answered: compared with Python.
    Answers,
}

/// Runs one property: cases of `strategy` (seeded) until `CASES` of them are answered by the
/// launcher (`launcher`; the refused ones are counted, as any Python answer is fine for them),
/// and the `fixed` regression cases; one batch to `reference`, each answer judged; the first
/// difference (or panic) shrunk and reported.
#[allow(clippy::too_many_arguments)]
fn check<S>(
    name: &str,
    seed: u64,
    strategy: S,
    fixed: &[S::Value],
    reference: &mut Reference,
    request: &dyn Fn(&S::Value) -> Value,
    launcher: &dyn Fn(&S::Value) -> Launcher,
    judge: &dyn Fn(&S::Value, &Value) -> Verdict,
) where
    S: Strategy,
    S::Value: Debug + Clone,
{
    let started = Instant::now();
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    // The generated trees the launcher answered or panicked on (shrinkable), then the fixed
    // cases.
    let mut trees: Vec<S::Tree> = Vec::with_capacity(CASES);
    let (mut generated, mut refused_first) = (0usize, 0usize);
    let mut panics = Vec::new();
    while trees.len() < CASES && generated < MAX_GENERATED {
        generated += 1;
        let tree = strategy.new_tree(&mut runner).unwrap();
        match catch_unwind(AssertUnwindSafe(|| launcher(&tree.current()))) {
            Ok(Launcher::Refused) => refused_first += 1,
            Ok(Launcher::Answers) => trees.push(tree),
            Err(_) => {
                panics.push(trees.len());
                trees.push(tree);
            }
        }
    }
    assert_eq!(
        trees.len(),
        CASES,
        "{name}: the launcher refused {refused_first} of {generated} generated cases: the \
         property proves too little"
    );
    let values: Vec<S::Value> = trees
        .iter()
        .map(ValueTree::current)
        .chain(fixed.iter().cloned())
        .collect();
    let requests: Vec<Value> = values.iter().map(request).collect();
    let generation = started.elapsed().as_secs_f64();
    let answers = reference.batch(&requests);
    let answered = started.elapsed().as_secs_f64();
    let (mut same, mut refused) = (0usize, 0usize);
    let mut first_failure = None;
    let mut failures = 0usize;
    for (i, (value, answer)) in values.iter().zip(&answers).enumerate() {
        match judged(value, answer, judge) {
            Verdict::Same => same += 1,
            Verdict::Refused => refused += 1,
            Verdict::Differs(why) => {
                assert!(
                    i < CASES,
                    "{name}: the fixed case {value:?} differs:\n    {why}\n    python: {answer}"
                );
                if failures < SHOWN_FAILURES {
                    eprintln!("{name}: differs: {value:?}\n    {why}");
                }
                failures += 1;
                first_failure.get_or_insert(i);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: seed {seed}: {generated} cases generated, {refused_first} refused by the \
         launcher, {CASES} answered and compared with Python, and {} fixed cases, in \
         {seconds:.1} s (generating {generation:.1} s, Python {:.1} s): {same} the same, \
         {refused} refused after all, {failures} different ({} panics)",
        fixed.len(),
        answered - generation,
        panics.len()
    );
    if let Some(i) = first_failure {
        // proptest's shrinking, one reference call per step.
        let tree = &mut trees[i];
        let fails = |v: &S::Value, reference: &mut Reference| {
            let answer = reference.one(&request(v));
            match judged(v, &answer, judge) {
                Verdict::Differs(why) => Some((answer, why)),
                _ => None,
            }
        };
        let mut best = tree.current();
        let mut best_failure = fails(&best, reference).expect("the failure reproduces");
        let mut steps = 0;
        if tree.simplify() {
            while steps < MAX_SHRINK_STEPS {
                steps += 1;
                let v = tree.current();
                match fails(&v, reference) {
                    Some(f) => {
                        best = v;
                        best_failure = f;
                        if !tree.simplify() {
                            break;
                        }
                    }
                    None => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        panic!(
            "{name}: {failures} of {CASES} cases differ from Python (seed {seed}); minimal case:\n  \
             input: {best:?}\n  python: {}\n  launcher: {}",
            best_failure.0, best_failure.1
        );
    }
}

/// Identifiers, as the keys of a config (few enough to repeat now and then).
const IDENTIFIERS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
    "psi", "omega", "a_b", "c_d", "e_f", "g_h", "i_j", "k_l", "m_n", "o_p", "q_r", "s_t", "u_v",
    "w_x", "y_z", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "_x", "X_Y",
];

/// A string strategy from weighted token pools: `count` tokens, concatenated.
fn tokens(pool: &'static [&'static str], count: std::ops::Range<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(pool), count)
        .prop_map(|t| t.concat())
        .boxed()
}

/// Short strings of any characters (mostly printable ASCII), for the tokens no list has.
fn wild() -> BoxedStrategy<String> {
    let c = prop_oneof![
        6 => prop::char::range(' ', '~'),
        1 => prop::char::range('\0', '\u{9f}'),
        1 => any::<char>(),
    ];
    prop::collection::vec(c, 0..6)
        .prop_map(|c| c.into_iter().collect())
        .boxed()
}

// ----------------------------------------------------------------------------------- pyvenv.cfg

const PYVENV_KEYS: &[&str] = &[
    "home",
    "home",
    "home",
    "HOME",
    "Home",
    " home",
    "home ",
    "\thome",
    "\u{a0}home",
    "home\u{3000}",
    "\x1chome",
    "\u{85}home",
    "hom",
    "homes",
    "#home",
    "include-system-site-packages",
    "include-system-site-packages",
    "INCLUDE-SYSTEM-SITE-PACKAGES",
    "include-system-site-pac\u{212a}ages",
    " include-system-site-packages ",
    "version",
    "version",
    "version_info",
    "VERSION",
    "prompt",
    "executable",
    "implementation",
    "uv",
    "[section]",
    "",
];

const PYVENV_SEPARATORS: &[&str] = &[
    " = ",
    " = ",
    " = ",
    "=",
    " =",
    "= ",
    "\t=\t",
    "==",
    " = =",
    "=\u{3000}",
    ": ",
    "",
];

const PYVENV_VALUES: &[&str] = &[
    "/usr/bin",
    "/root/.pyenv/versions/3.11.7/bin",
    "/x/bin/",
    "/opt/py 3/bin",
    " /a/b ",
    "/a/b\u{a0}",
    "\u{2003}/a/b",
    "\x1c/a/b\x1f",
    "/a/\u{85}b",
    "/a/b\x0b",
    "/a/b\x0c",
    "/ünï/bin",
    "a=b",
    "",
    "true",
    "false",
    "True",
    "TRUE",
    "FALSE",
    " true ",
    "yes",
    "1",
    "tru\u{212a}",
    "3.11.7",
    "3.12.1",
    "3.11",
    "3.13.0rc1",
    "3.11.7 (main)",
    "3.x",
];

const PYVENV_ENDS: &[&str] = &[
    "\n", "\n", "\n", "\n", "\r\n", "\r", "\n\r", "\r\r\n", "\x0b", "\x0c", "\u{85}", "\u{2028}",
    "\x1c", "",
];

/// The bytes of a `pyvenv.cfg`: generated lines, sometimes a stray byte (invalid UTF-8, NUL),
/// sometimes a file past getpath's 32 KiB, sometimes any bytes at all.
fn pyvenv_file() -> impl Strategy<Value = Bytes> {
    let value =
        prop_oneof![6 => prop::sample::select(PYVENV_VALUES).prop_map(str::to_string), 1 => wild()];
    let line = (
        prop::sample::select(PYVENV_KEYS),
        prop::sample::select(PYVENV_SEPARATORS),
        value,
        prop::sample::select(PYVENV_ENDS),
    )
        .prop_map(|(k, s, v, e)| format!("{k}{s}{v}{e}").into_bytes());
    let stray = prop_oneof![
        Just(b"\xff".to_vec()),
        Just(b"\xc3".to_vec()),
        Just(b"\xed\xa0\x80".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
    ];
    let lines = (
        prop::collection::vec(line, 0..7),
        prop::option::weighted(0.1, (any::<prop::sample::Index>(), stray)),
        prop::option::weighted(0.01, Just(())),
    )
        .prop_map(|(lines, stray, big)| {
            let mut out: Vec<u8> = lines.concat();
            if let Some((at, bytes)) = stray {
                let at = at.index(out.len() + 1);
                out.splice(at..at, bytes);
            }
            if big.is_some() {
                out.extend(std::iter::repeat_n(b'#', 32 * 1024));
            }
            out
        });
    prop_oneof![20 => lines, 1 => prop::collection::vec(any::<u8>(), 0..40)].prop_map(Bytes)
}

/// The minimal cases of the bugs found, checked against CPython on every run.
fn pyvenv_regressions() -> Vec<Bytes> {
    [
        &b""[..],
        b"home = /usr/bin\nprompt = \xff\n",
        b"Home=/usr/bin\n",
        b"home = /usr/bin\x0b\n",
        b"home = /a/bin\nhome = /b/bin\n",
        b"include-system-site-packages = false\rhome = /usr/bin\n",
    ]
    .iter()
    .map(|b| Bytes(b.to_vec()))
    .collect()
}

#[test]
fn pyvenv_cfg_is_read_as_cpython_reads_it() {
    let mut reference = Reference::start("pyvenv", &[]);
    check(
        "pyvenv.cfg",
        22_001,
        pyvenv_file(),
        &pyvenv_regressions(),
        &mut reference,
        &|bytes| json!({ "b": hex(&bytes.0) }),
        &|bytes| answers(PyvenvCfg::parse(&bytes.0).refused.is_none()),
        &|bytes, answer| judge_pyvenv(&bytes.0, answer),
    );
}

fn judge_pyvenv(bytes: &[u8], answer: &Value) -> Verdict {
    let cfg = PyvenvCfg::parse(bytes);
    if cfg.refused.is_some() {
        return Verdict::Refused;
    }
    let getpath = &answer["getpath"];
    let site = &answer["site"];
    if let Some(e) = getpath["error"].as_str().or(site["error"].as_str()) {
        return Verdict::Differs(format!("read {cfg:?}; CPython fails at start-up: {e}"));
    }
    let home = getpath["home"].as_str().map(unhex);
    let ours = cfg.home.as_ref().map(|h| h.as_os_str().as_bytes().to_vec());
    if ours != home {
        return Verdict::Differs(format!(
            "home {:?}, getpath's {:?}",
            ours.map(|h| String::from_utf8_lossy(&h).into_owned()),
            home.map(|h| String::from_utf8_lossy(&h).into_owned())
        ));
    }
    if Some(cfg.system_site_packages) != site["system"].as_bool() {
        return Verdict::Differs(format!(
            "include-system-site-packages {}, site.py's {}",
            cfg.system_site_packages, site["system"]
        ));
    }
    Verdict::Same
}

// ---------------------------------------------------------------------------------- YAML shared

/// The scalars a config most often holds (strings, booleans, integers, nulls, floats).
const YAML_PLAIN_SCALARS: &[&str] = &[
    "0.98.0",
    "sql",
    "rest",
    "sqlite:////tmp/c/local_stores/default_zen_store/zenml.db",
    "https://zenml.example.com",
    "f07a065c-1bf5-4b32-871d-03c49cbeff91",
    "password",
    "true",
    "false",
    "yes",
    "Off",
    "null",
    "~",
    "30",
    "010",
    "0x1F",
    "1_000",
    "-12",
    "1.5",
    "x",
    "a b",
];

/// The keys a config most often holds.
const YAML_PLAIN_KEYS: &[&str] = &[
    "version",
    "store",
    "url",
    "type",
    "active_stack_id",
    "analytics_opt_in",
    "http_timeout",
    "verify_ssl",
    "a",
    "b_c",
];

/// Plain scalars PyYAML resolves to every type, and strings it treats specially.
const YAML_SCALARS: &[&str] = &[
    // strings
    "0.98.0",
    "sql",
    "rest",
    "sqlite:////tmp/c/local_stores/default_zen_store/zenml.db",
    "http://127.0.0.1:8237",
    "https://zenml.example.com",
    "f07a065c-1bf5-4b32-871d-03c49cbeff91",
    "F07A065C-1BF5-4B32-871D-03C49CBEFF91",
    "password",
    "default",
    "a b",
    "a  b",
    "a#b",
    "a #b",
    "a:b",
    "a: b",
    "a:",
    "it's",
    "x\u{85}y",
    "x\u{2028}y",
    "x\u{a0}y",
    "\u{feff}x",
    "x\x7f",
    "x\x01",
    "x\0",
    "é",
    "日本語",
    "😀",
    "-x",
    "- x",
    "-",
    "?x",
    "? x",
    ".x",
    "<<x",
    "=x",
    "~x",
    "a,b",
    "a]b",
    "a}b",
    "[a",
    "]a",
    "{a",
    "}a",
    "!tag",
    "&a",
    "*b",
    "|",
    ">",
    "%",
    "@",
    "`",
    ",",
    "#",
    "'q'",
    "'it''s'",
    "'a'b'",
    "''",
    "'",
    "\"dq\"",
    "\"",
    // booleans and nulls
    "true",
    "false",
    "True",
    "FALSE",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "tRue",
    "null",
    "Null",
    "NULL",
    "~",
    "nUll",
    // ints
    "0",
    "30",
    "-12",
    "+3",
    "010",
    "+010",
    "08",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:30",
    "190:20:30",
    "-0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999",
    // floats
    "1.5",
    "1e3",
    "1.0e+3",
    "1.0e3",
    ".5",
    "1.",
    "1:30.5",
    ".inf",
    "-.Inf",
    ".NaN",
    "._5",
    // timestamps
    "2026-11-23",
    "2026-11-23 20:26:23",
    "2026-1-2 3:04:05",
    "2026-11-29T10:00:00.123456Z",
    "2026-11-29t10:00:00Z",
    "2026-11-29 10:00:00 +01:00",
    "2026-13-45",
    "2026-02-30T00:00:00Z",
    "2026-11-29T10:00:60Z",
    // merge, value
    "<<",
    "=",
];

const YAML_KEYS: &[&str] = &[
    "version",
    "store",
    "url",
    "type",
    "active_stack_id",
    "active_project_id",
    "analytics_opt_in",
    "user_id",
    "http_timeout",
    "verify_ssl",
    "a",
    "b_c",
    "A1",
    "x",
    "true",
    "yes",
    "no",
    "on",
    "null",
    "Null",
    "1",
    "010",
    "0x1",
    "1.5",
    "~",
    "<<",
    "=",
    "2026-11-23",
    "k-dash",
    "k.dot",
    "key with space",
    "é",
    "'q'",
];

/// A block mapping as lines of (indent, key, separator, value): nested by indentation.
#[derive(Debug, Clone)]
struct YamlLine {
    indent: usize,
    key: String,
    colon: &'static str,
    value: String,
    comment: &'static str,
    end: &'static str,
}

/// One generated line before its indentation is known: how many levels it closes, and its
/// parts (mostly well-formed, each part sometimes not).
type LineParts = (
    usize,
    String,
    &'static str,
    String,
    &'static str,
    &'static str,
    bool,
);

/// Lines nested as PyYAML's block mappings nest (a `key:` with no value opens a level, a line
/// may close levels), indented by a step of 2 (sometimes 4, 1 or 3), with a line now and then
/// off by one column.
fn yaml_lines(
    keys: BoxedStrategy<String>,
    values: BoxedStrategy<String>,
) -> impl Strategy<Value = Vec<YamlLine>> {
    let line = (
        prop::sample::select(&[0usize, 0, 0, 1, 1, 2][..]),
        keys,
        prop_oneof![
            30 => Just(": "),
            1 => Just(":"),
            1 => Just(":  "),
            1 => Just(" : "),
        ],
        prop_oneof![4 => values, 1 => Just(String::new())],
        prop_oneof![
            40 => Just(""),
            1 => Just(" # c"),
            1 => Just("#c"),
            1 => Just(" "),
        ],
        prop_oneof![
            80 => Just("\n"),
            3 => Just("\r\n"),
            2 => Just("\r"),
            1 => Just("\u{85}"),
            1 => Just("\u{2028}"),
        ],
        prop::bool::weighted(0.04),
    );
    (
        prop::sample::select(&[2usize, 2, 2, 2, 4, 1, 3][..]),
        prop::collection::vec(line, 0..9),
    )
        .prop_map(|(step, lines): (usize, Vec<LineParts>)| {
            let mut depth = 0usize;
            let mut opens = false;
            lines
                .into_iter()
                .map(|(close, key, colon, value, comment, end, off)| {
                    depth = if opens {
                        depth + 1
                    } else {
                        depth.saturating_sub(close)
                    };
                    opens = value.is_empty() && depth < 3;
                    YamlLine {
                        indent: depth * step + usize::from(off),
                        key,
                        colon,
                        value,
                        comment,
                        end,
                    }
                })
                .collect()
        })
}

/// The text of the lines, with sometimes a stray piece (a document marker, a list item, a BOM,
/// a blank line, a tab) inserted somewhere.
fn yaml_text(lines: impl Strategy<Value = Vec<YamlLine>>) -> impl Strategy<Value = String> {
    let stray = prop::sample::select(
        &[
            "---\n",
            "...\n",
            "- item\n",
            "\u{feff}",
            "\n",
            "  \n",
            "\t",
            " ",
            "#",
            "%YAML 1.1\n",
            "&a ",
            "*a",
            "!!str ",
            "? ",
            "{",
            "[",
        ][..],
    );
    (
        lines,
        prop::option::weighted(0.15, (any::<prop::sample::Index>(), stray)),
    )
        .prop_map(|(lines, stray)| {
            let mut text: String = lines
                .iter()
                .map(|l| {
                    let colon = if l.value.is_empty() {
                        l.colon.trim_end_matches([' ', '\t'])
                    } else {
                        l.colon
                    };
                    format!(
                        "{}{}{colon}{}{}{}",
                        " ".repeat(l.indent),
                        l.key,
                        l.value,
                        l.comment,
                        l.end
                    )
                })
                .collect();
            if let Some((at, piece)) = stray {
                let boundaries: Vec<usize> = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([text.len()])
                    .collect();
                let at = boundaries[at.index(boundaries.len())];
                text.insert_str(at, piece);
            }
            text
        })
}

/// PyYAML's answer as (dotted key → (type, value text)).
fn flat_answer(flat: &Value) -> Vec<(String, String, Option<String>)> {
    flat.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                e[1].as_str().unwrap().to_string(),
                e[2].as_str().map(str::to_string),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------- config.yaml

/// The minimal cases of the bugs found, checked against PyYAML on every run.
fn config_regressions() -> Vec<String> {
    [
        "true: 0.98.0\n",
        "version: 2026-11-23\n",
        "store:\n  http_timeout: 010\n",
        "store:\n  verify_ssl: yes\n",
        "version:0.98.0\n",
        "a: \u{e}\n",
        "\t",
        "a: x\u{2028}y\n",
        "type: a:\n",
        "a:\n    b: 1\n  c: 2\n",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn config_yaml_is_read_as_pyyaml_reads_it() {
    let mut reference = Reference::start("config", &[]);
    let keys = prop_oneof![
        8 => prop::sample::select(YAML_PLAIN_KEYS).prop_map(str::to_string),
        32 => prop::sample::select(IDENTIFIERS).prop_map(str::to_string),
        3 => prop::sample::select(YAML_KEYS).prop_map(str::to_string),
        1 => wild(),
    ]
    .boxed();
    let values = prop_oneof![
        24 => prop::sample::select(YAML_PLAIN_SCALARS).prop_map(str::to_string),
        4 => prop::sample::select(YAML_SCALARS).prop_map(str::to_string),
        1 => wild(),
    ]
    .boxed();
    check(
        "config.yaml",
        22_002,
        yaml_text(yaml_lines(keys, values)),
        &config_regressions(),
        &mut reference,
        &|text| json!({ "t": text }),
        &|text| answers(YamlMap::parse(text).is_ok()),
        &|text, answer| judge_config(text, answer),
    );
}

fn judge_config(text: &str, answer: &Value) -> Verdict {
    let Ok(map) = YamlMap::parse(text) else {
        return Verdict::Refused;
    };
    if let Some(e) = answer.get("error") {
        return Verdict::Differs(format!("read {map:?}; PyYAML fails: {e}"));
    }
    if let Some(t) = answer.get("notdict") {
        return Verdict::Differs(format!("read {map:?}; PyYAML reads a {t}, not a mapping"));
    }
    let python = flat_answer(&answer["flat"]);
    let ours: Vec<(String, String, Option<String>)> = map
        .entries()
        .map(|(k, v)| (k.to_string(), v.type_name().to_string(), v.text()))
        .collect();
    let comparable = |v: &[(String, String, Option<String>)]| {
        let mut v: Vec<(String, String, Option<String>)> = v
            .iter()
            .map(|(k, t, x)| {
                // Floats are compared by type only (the launcher never reads one).
                let x = if t == "float" { None } else { x.clone() };
                (k.clone(), t.clone(), x)
            })
            .collect();
        v.sort();
        v
    };
    if comparable(&ours) != comparable(&python) {
        return Verdict::Differs(format!("read {ours:?}; PyYAML reads {python:?}"));
    }
    Verdict::Same
}

// ----------------------------------------------------------------------------- credentials.yaml

const URLS: &[&str] = &[
    "https://127.0.0.1:18443",
    "http://other:8080",
    "https://a",
    "https://a/",
    "http://h:1",
];

const CREDENTIAL_FIELDS: &[&str] = &[
    "url",
    "api_key",
    "username",
    "password",
    "deployment_type",
    "server_id",
    "server_name",
    "status",
    "version",
    "organization_name",
    "organization_id",
    "workspace_name",
    "workspace_id",
    "pro_api_url",
    "pro_dashboard_url",
    "extra_field",
];

const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "expires_at",
    "expires_in",
    "leeway",
    "device_id",
    "device_metadata",
];

const CREDENTIAL_VALUES: &[&str] = &[
    "ZENKEY_abc==",
    "eyJ.tok.en",
    "'eyJ.tok.en'",
    "''",
    "'x'",
    "'it''s'",
    "available",
    "'available'",
    "other",
    "cloud",
    "local",
    "docker",
    "kubernetes",
    "0.98.0",
    "default",
    "f07a065c-1bf5-4b32-871d-03c49cbeff91",
    "'f07a065c-1bf5-4b32-871d-03c49cbeff91'",
    "f07a065c1bf54b32871d03c49cbeff91",
    "https://127.0.0.1:18443",
    "http://other:8080",
    "3600",
    "30",
    "0",
    "-30",
    "010",
    "0x10",
    "1_0",
    "'30'",
    "30.0",
    "true",
    "null",
    "~",
    "'2026-11-29T10:00:00.123456Z'",
    "'2026-11-29T10:00:00Z'",
    "'2026-11-29T10:00:00+00:00'",
    "'2026-11-29T10:00:00+01:00'",
    "'2026-11-29 10:00:00'",
    "'2026-11-29T10:00:00'",
    "'2026-11-29T10:00:00.1234567Z'",
    "'2026-02-30T00:00:00Z'",
    "'2026-11-29T10:00:60Z'",
    "'2026-11-29T24:00:00Z'",
    "'1700000000'",
    "2026-11-29 10:00:00",
    "2026-11-29T10:00:00Z",
    "2026-11-29T10:00:00.5",
    "2026-11-29",
    "2026-02-30 00:00:00",
];

/// Values of the type pydantic expects for a field.
fn typed_values(field: &str) -> &'static [&'static str] {
    match field {
        "url" | "pro_api_url" | "pro_dashboard_url" => &[
            "https://127.0.0.1:18443",
            "http://other:8080",
            "https://a",
            "'https://a'",
        ],
        "server_id" | "organization_id" | "workspace_id" | "device_id" => &[
            "f07a065c-1bf5-4b32-871d-03c49cbeff91",
            "'F07A065C-1BF5-4B32-871D-03C49CBEFF91'",
            "null",
        ],
        "deployment_type" => &["other", "cloud", "local", "docker", "'kubernetes'", "null"],
        "expires_at" => &[
            "'2026-11-29T10:00:00.123456Z'",
            "'2026-11-29T10:00:00Z'",
            "'2026-11-29 10:00:00'",
            "'2026-11-29T10:00:00+00:00'",
            "'2028-02-29T23:59:59.5'",
            "'0001-01-01T00:00:00'",
            "null",
        ],
        "expires_in" | "leeway" => &["3600", "30", "0", "-30", "010", "0x10", "null"],
        "device_metadata" => &["null"],
        _ => &[
            "ZENKEY_abc==",
            "eyJ.tok.en",
            "'eyJ.tok.en'",
            "available",
            "'it''s'",
            "0.98.0",
            "default",
            "null",
            "x",
        ],
    }
}

/// Fields named from `names`, each name once (now and then one twice), each value mostly of
/// the type pydantic expects for it, sometimes anything.
fn fields(names: &'static [&'static str], most: usize) -> BoxedStrategy<Vec<(String, String)>> {
    let slot = (
        prop::sample::select(names),
        any::<prop::sample::Index>(),
        prop::sample::select(CREDENTIAL_VALUES),
        wild(),
        0..15u8,
    );
    (
        prop::collection::vec(slot, 0..=most),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(slots, twice)| {
            let mut out: Vec<(String, String)> = Vec::new();
            for (name, index, any_value, wild, kind) in slots {
                if out.iter().any(|(n, _)| n == name) && !twice {
                    continue;
                }
                let value = match kind {
                    0..12 => index.get(typed_values(name)).to_string(),
                    12..14 => any_value.to_string(),
                    _ => wild,
                };
                out.push((name.to_string(), value));
            }
            out
        })
        .boxed()
}

/// An entry's fields, token fields, whether it has its `url` field, and its indentation step.
type EntryParts = (
    Vec<(String, String)>,
    Option<Vec<(String, String)>>,
    bool,
    usize,
);

fn entry_parts() -> impl Strategy<Value = EntryParts> {
    (
        fields(CREDENTIAL_FIELDS, 6),
        prop::option::weighted(0.6, fields(TOKEN_FIELDS, 4)),
        prop::bool::weighted(0.9),
        prop::sample::select(&[2usize, 2, 2, 4, 1][..]),
    )
}

/// An entry as `yaml.dump` lays it out (mostly with its `url` and the token's `access_token`).
fn entry_text(url: &str, (mut fields, mut token, usual, indent): EntryParts) -> String {
    if usual && !fields.iter().any(|(k, _)| k == "url") {
        fields.push(("url".into(), url.to_string()));
    }
    if let Some(token) = token.as_mut().filter(|_| usual) {
        if !token.iter().any(|(k, _)| k == "access_token") {
            token.insert(0, ("access_token".into(), "eyJ.tok.en".into()));
        }
    }
    let pad = " ".repeat(indent);
    let mut text = format!("{url}:\n");
    for (k, v) in &fields {
        text += &format!("{pad}{k}: {v}\n");
    }
    if let Some(token) = token {
        text += &format!("{pad}api_token:\n");
        for (k, v) in token {
            text += &format!("{pad}{pad}{k}: {v}\n");
        }
    }
    text
}

/// A `credentials.yaml`: server entries, each a mapping of fields, `api_token` nested; and the
/// URL looked up.
fn credentials_file() -> impl Strategy<Value = (String, String)> {
    let entries = (
        prop::collection::vec((prop::sample::select(URLS), entry_parts()), 0..=3),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(entries, twice)| {
            let mut seen = Vec::new();
            let mut text = String::new();
            for (url, parts) in entries {
                if seen.contains(&url) && !twice {
                    continue;
                }
                seen.push(url);
                text += &entry_text(url, parts);
            }
            text
        });
    let stray = yaml_text(Just(Vec::new())); // only a stray piece, rarely
    (entries, stray, prop::sample::select(URLS))
        .prop_map(|(entries, stray, url)| (entries + &stray, url.to_string()))
}

/// The minimal cases of the bugs found, checked against ZenML's loader on every run.
fn credentials_regressions() -> Vec<(String, String)> {
    let url = "https://127.0.0.1:18443";
    [
        "https://a:\n  api_key: ZENKEY_abc==\n",
        "https://127.0.0.1:18443:\n  deployment_type: ZENKEY_abc==\n  url: https://127.0.0.1:18443\n",
        "https://127.0.0.1:18443:\n  url: https://127.0.0.1:18443\n  status: 123\n",
        "https://127.0.0.1:18443:\n  url: https://127.0.0.1:18443\n  api_key: k\nhttps://127.0.0.1:18443:\n  url: https://127.0.0.1:18443\n",
        "https://127.0.0.1:18443:\n  url: https://127.0.0.1:18443\n  api_token:\n    access_token: t\n    expires_at: '2026-02-30T00:00:00Z'\n",
        "https://127.0.0.1:18443:\n  url: https://127.0.0.1:18443\n  api_key: ''\n",
        "https://a:\n",
    ]
    .iter()
    .map(|t| (t.to_string(), url.to_string()))
    .collect()
}

#[test]
fn credentials_yaml_is_read_as_zenml_reads_it() {
    let mut reference = Reference::start("credentials", &[]);
    // What ZenML itself writes for the usual logins is read, not refused.
    let mut fixed = credentials_regressions();
    for written in reference.ready["written"].as_array().unwrap() {
        let text = written[0].as_str().unwrap();
        for url in written[1].as_array().unwrap() {
            let url = url.as_str().unwrap();
            match credentials::parse(text, url) {
                Ok(Some(_)) => {}
                other => panic!("a credentials.yaml ZenML writes is not read ({other:?}):\n{text}"),
            }
            fixed.push((text.to_string(), url.to_string()));
        }
    }
    check(
        "credentials.yaml",
        22_003,
        credentials_file(),
        &fixed,
        &mut reference,
        &|(text, url)| json!({ "t": text, "url": url }),
        &|(text, url)| answers(credentials::parse(text, url).is_ok()),
        &|(text, url), answer| judge_credentials(text, url, answer),
    );
}

fn judge_credentials(text: &str, url: &str, answer: &Value) -> Verdict {
    let Ok(found) = credentials::parse(text, url) else {
        return Verdict::Refused;
    };
    for what in ["logged", "raises"] {
        if let Some(e) = answer.get(what) {
            return Verdict::Differs(format!("read {found:?}; ZenML's loader {what}: {e}"));
        }
    }
    let Some(c) = found else {
        return if answer["found"] == false {
            Verdict::Same
        } else {
            Verdict::Differs(format!("no entry read; ZenML finds {answer}"))
        };
    };
    if answer["found"] != true {
        return Verdict::Differs(format!("read {c:?}; ZenML finds no entry"));
    }
    let differs = |what: &str, ours: String, python: &Value| {
        Verdict::Differs(format!("{what}: {ours}, ZenML's {python}"))
    };
    if c.api_key.as_ref().map(|k| k.expose()) != answer["api_key"].as_str() {
        return differs(
            "api_key",
            format!("{:?}", c.api_key.as_ref().map(|k| k.expose())),
            &answer["api_key"],
        );
    }
    // `auth_status` checks `username and password is not None`, `can_refresh_token`
    // `username is not None and password is not None`: the launcher's `has_password` is both.
    let (user, password) = (&answer["username"], &answer["password"]);
    let auth_status = user.as_str().is_some_and(|u| !u.is_empty()) && !password.is_null();
    let can_refresh = !user.is_null() && !password.is_null();
    if c.has_password != auth_status || c.has_password != can_refresh {
        return differs(
            "has_password",
            c.has_password.to_string(),
            &json!({"username": user, "password": password}),
        );
    }
    let token = &answer["token"];
    match &c.api_token {
        None if token.is_null() => {}
        Some(t)
            if !token.is_null()
                && Some(t.access_token.expose()) == token["access_token"].as_str()
                && t.expires_with_leeway_us == token["expires_us"].as_i64() => {}
        ours => {
            return differs(
                "api_token",
                format!(
                    "{:?}",
                    ours.as_ref()
                        .map(|t| (t.access_token.expose(), t.expires_with_leeway_us))
                ),
                token,
            );
        }
    }
    let fields = &answer["fields"];
    for name in [
        "deployment_type",
        "server_name",
        "status",
        "version",
        "organization_name",
        "workspace_name",
        "pro_api_url",
        "pro_dashboard_url",
    ] {
        if c.field(name) != fields[name].as_str() {
            return differs(name, format!("{:?}", c.field(name)), &fields[name]);
        }
    }
    for name in ["server_id", "organization_id", "workspace_id"] {
        if c.field(name).is_some() == fields[name].is_null() {
            return differs(name, format!("{:?}", c.field(name)), &fields[name]);
        }
    }
    Verdict::Same
}

// ---------------------------------------------------------------------------------- rich markup

const MARKUP_TOKENS: &[&str] = &[
    "[",
    "[",
    "[",
    "]",
    "]",
    "]",
    "\\",
    "\\",
    "\\[",
    "[b]",
    "[/b]",
    "[/]",
    "[link=",
    "link=",
    "[link=https://h:1]",
    "[/link]",
    "[/link]",
    "/link",
    "https://h:1",
    "x",
    "x",
    "ab",
    "A",
    "1",
    " ",
    " ",
    "#",
    "@",
    "=",
    "/",
    ":",
    ":smile:",
    "é",
    "日",
    "\n",
    "\r",
    "\x07",
    "\t",
    "[a",
    "[1]",
    "[ x]",
    "[#f00]",
    "[@click]",
    "[link]",
    "[link= x]",
    "[link=a b]",
    "[LINK=x]",
    "[/LINK]",
    "[/link ]",
    "[link=x=y]",
];

#[test]
fn rich_markup_is_parsed_as_rich_parses_it() {
    let mut reference = Reference::start("markup", &[]);
    check(
        "rich markup",
        22_004,
        prop_oneof![
            6 => tokens(MARKUP_TOKENS, 0..14),
            1 => wild(),
        ],
        &[],
        &mut reference,
        &|m| json!({ "m": m }),
        &|m| answers(markup::pieces_and_links(m).is_ok()),
        &|m, answer| judge_markup(m, answer),
    );
}

fn judge_markup(m: &str, answer: &Value) -> Verdict {
    let Ok((pieces, links)) = markup::pieces_and_links(m) else {
        return Verdict::Refused;
    };
    // plain_pieces is pieces_and_links without links: it must agree on what it does not refuse.
    if let Ok(plain) = markup::plain_pieces(m) {
        if plain != pieces {
            return Verdict::Differs(format!(
                "plain_pieces {plain:?} but pieces_and_links {pieces:?}"
            ));
        }
    }
    if let Some(e) = answer.get("error") {
        return Verdict::Differs(format!("read {pieces:?} {links:?}; rich fails: {e}"));
    }
    let python_pieces: Vec<&str> = answer["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .filter(|p| !p.is_empty())
        .collect();
    let ours: Vec<&str> = pieces
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if ours != python_pieces {
        return Verdict::Differs(format!("pieces {ours:?}, rich's {python_pieces:?}"));
    }
    let spans: Vec<(u64, u64, String)> = answer["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0].as_u64().unwrap(),
                s[1].as_u64().unwrap(),
                s[2].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ours: Vec<(u64, u64, String)> = links
        .iter()
        .map(|l| (l.start as u64, l.end as u64, format!("link {}", l.url)))
        .collect();
    if ours != spans {
        return Verdict::Differs(format!("links {ours:?}, rich's spans {spans:?}"));
    }
    Verdict::Same
}

// ---------------------------------------------------------------------------------------- proxy

const HOSTS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "127.0.0.1",
    "10.1.2.3",
    "192.168.0.10",
    "127.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "1.2.3.4.5",
    "zenml.corp.example",
    "zenml.corp.example",
    "Zenml.Corp.Example",
    "h",
    "corp.example",
    "bücher.example",
    "BÜCHER.example",
    "xn--bcher-kva.example",
    "ho\tst",
    "ho\nst",
    "a..b",
    "a_b",
    "[::1]",
    "-h",
    "h.",
    ".h",
    "ﬀ.example",
    "١٢٧.٠.٠.١",
];

const PORTS: &[&str] = &[
    "", "", "", ":8080", ":8443", ":18443", ":0", ":65535", ":65536", ":", ":08", ":+80", ":80a",
];

const PROXY_NAMES: &[&str] = &[
    "HTTPS_PROXY",
    "HTTPS_PROXY",
    "https_proxy",
    "https_proxy",
    "Https_Proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "NO_PROXY",
    "NO_PROXY",
    "no_proxy",
    "no_proxy",
    "No_Proxy",
    "REQUEST_METHOD",
    "https://zenml.corp.example_proxy",
    "https://127.0.0.1_proxy",
    "all://zenml.corp.example_proxy",
    "HTTPS_PROXY_X",
    "_proxy",
    "FTP_PROXY",
    "hTTPS_proxy",
    "https_PROXY",
    "HTTPΣ_PROXY",
];

const NO_PROXY_ENTRIES: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "127.0.0.0/8",
    "10.0.0.0/8",
    "127.0.0.1/32",
    "127.0.0.0/1_6",
    "127.0.0.0/+8",
    "127.0.0.0/08",
    "127.0.0.0/0",
    "127.0.0.0/33",
    "127.1/8",
    ".example",
    "corp.example",
    "Corp.Example",
    "zenml.corp.example",
    "zenml.corp.example:8443",
    "zenml.corp.example:443",
    "*",
    "h",
    "ample",
    "bücher.example",
    "xn--bcher-kva.example",
    " h ",
    "\th",
    "h\u{a0}",
    "\x1ch",
    "127.1",
    "0.0.1",
    "::1",
    ".",
    "",
];

fn no_proxy_value() -> BoxedStrategy<String> {
    (
        prop::collection::vec(prop::sample::select(NO_PROXY_ENTRIES), 1..4),
        prop::sample::select(&[",", ", ", " ,", ",,"][..]),
    )
        .prop_map(|(entries, sep)| entries.join(sep))
        .boxed()
}

/// (url, environment): a store URL and the variables of a process, in order, names possibly
/// repeated and not UTF-8.
fn proxy_case() -> impl Strategy<Value = (String, Vec<(Bytes, Bytes)>)> {
    let url = (
        prop::sample::select(&["https://", "https://", "http://"][..]),
        prop_oneof![8 => prop::sample::select(HOSTS).prop_map(str::to_string), 1 => wild()],
        prop::sample::select(PORTS),
    )
        .prop_map(|(s, h, p)| format!("{s}{h}{p}"));
    let name = prop_oneof![
        10 => prop::sample::select(PROXY_NAMES).prop_map(|n| n.as_bytes().to_vec()),
        1 => Just(b"HTTPS\xff_PROXY".to_vec()),
        1 => Just(b"https_proxy\xff".to_vec()),
    ];
    let value = prop_oneof![
        4 => Just(b"http://proxy:3128".to_vec()),
        1 => Just(b"http://other:3128".to_vec()),
        2 => Just(Vec::new()),
        1 => Just(b"GET".to_vec()),
        1 => Just(b"http://proxy\xff:3128".to_vec()),
        4 => no_proxy_value().prop_map(String::into_bytes),
    ];
    (
        url,
        prop::collection::vec((name.prop_map(Bytes), value.prop_map(Bytes)), 0..6),
    )
}

/// The minimal cases of the bugs found, checked against requests on every run.
fn proxy_regressions() -> Vec<(String, Vec<(Bytes, Bytes)>)> {
    let var = |n: &str, v: &str| (Bytes(n.into()), Bytes(v.into()));
    vec![
        ("https://ho\tst".into(), vec![]),
        (
            "https://zenml.corp.example".into(),
            vec![var("https://zenml.corp.example_proxy", "localhost")],
        ),
        (
            "https://h".into(),
            vec![
                var("https_proxy", "http://proxy:3128"),
                var("https_proxy", ""),
            ],
        ),
    ]
}

#[test]
fn proxy_rules_are_the_rules_requests_follows() {
    let mut reference = Reference::start("proxy", &[]);
    check(
        "proxy rules",
        22_005,
        proxy_case(),
        &proxy_regressions(),
        &mut reference,
        &|(url, env)| {
            json!({
                "url": url,
                "env": env.iter().map(|(n, v)| [hex(&n.0), hex(&v.0)]).collect::<Vec<_>>(),
            })
        },
        &|(url, env)| answers(launcher_proxy(url, env).is_some()),
        &|(url, env), answer| judge_proxy(url, env, answer),
    );
}

/// What the launcher makes of a case: `None` when it refuses the URL or the environment, else
/// whether it finds a proxy requests would use.
fn launcher_proxy(url: &str, env: &[(Bytes, Bytes)]) -> Option<Option<String>> {
    let https = rest_store::check_url(url)?;
    let (host, port) = rest_store::host_and_port(url);
    let env: Vec<(OsString, OsString)> = env
        .iter()
        .map(|(n, v)| {
            (
                OsString::from_vec(n.0.clone()),
                OsString::from_vec(v.0.clone()),
            )
        })
        .collect();
    proxy::proxy_used(https, host, port, &env).ok()
}

fn judge_proxy(url: &str, env: &[(Bytes, Bytes)], answer: &Value) -> Verdict {
    match launcher_proxy(url, env) {
        None => Verdict::Refused,
        // A proxy that requests would use: the launcher leaves the call to Python.
        Some(Some(_)) if answer["proxy"].is_string() => Verdict::Same,
        Some(Some(_)) => Verdict::Refused,
        Some(None) => match (answer.get("error"), &answer["proxy"]) {
            (Some(e), _) => Verdict::Differs(format!("a direct connection; requests fails: {e}")),
            (None, Value::Null) => Verdict::Same,
            (None, p) => Verdict::Differs(format!("a direct connection; requests uses proxy {p}")),
        },
    }
}

// ----------------------------------------------------------------------------------- the router

const ARGV_TOKENS: &[&str] = &[
    "--version",
    "-v",
    "--help",
    "-h",
    "--vers",
    "-vv",
    "--version=1",
    "--",
    "-",
    "version",
    "version",
    "status",
    "status",
    "clean",
    "clean",
    "stack",
    "stack",
    "stack",
    "list",
    "list",
    "list",
    "describe",
    "login",
    "logout",
    "secret",
    "create",
    "user",
    "pipeline",
    "go",
    "-o",
    "-o",
    "--output",
    "-c",
    "--columns",
    "-ojson",
    "-o=json",
    "--output=json",
    "--output=",
    "--columns=name",
    "-cname",
    "json",
    "json",
    "yaml",
    "table",
    "csv",
    "tsv",
    "xml",
    "JSON",
    "name,id",
    "all",
    "--name",
    "--sort_by",
    "--size",
    "--yes",
    "-y",
    "--local",
    "x",
    "Stack",
    "",
];

const ARGV_PREFIXES: &[&[&str]] = &[
    &[],
    &["stack", "list"],
    &["stack", "list"],
    &["stack", "list"],
    &["status"],
    &["version"],
    &["clean"],
    &["--version"],
    &["--help"],
];

/// An argv: vocabulary tokens (some not UTF-8), mostly starting like the commands Rust answers.
fn argv() -> impl Strategy<Value = Vec<Bytes>> {
    let token = prop_oneof![
        20 => prop::sample::select(ARGV_TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        2 => wild().prop_map(String::into_bytes),
        1 => Just(b"-\xff".to_vec()),
        1 => Just(b"stack\xff".to_vec()),
    ];
    let prefix = prop::sample::select(ARGV_PREFIXES);
    (prefix, prop::collection::vec(token, 0..5)).prop_map(|(prefix, rest)| {
        prefix
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .chain(rest)
            .map(Bytes)
            .collect()
    })
}

#[test]
fn the_router_follows_clicks_parsing_of_the_installed_cli() {
    let generator = [
        repo().join("src/gen_cache_theme.py"),
        repo().join("src/gen_cache.py"),
    ];
    let mut extra: Vec<OsString> = vec!["zenml_cli".into(), "cli".into()];
    extra.extend(generator.iter().map(|p| p.clone().into_os_string()));
    let mut reference = Reference::start("router", &extra);
    let spec: RootSpec =
        serde_json::from_value(reference.ready["spec"].clone()).expect("the generator's root spec");
    check(
        "router",
        22_006,
        argv(),
        &[],
        &mut reference,
        &|args| json!({ "args": args.iter().map(|a| hex(&a.0)).collect::<Vec<_>>() }),
        // Every route is compared: a delegated one may still go to the command server.
        &|_| Launcher::Answers,
        &|args, answer| judge_route(args, &spec, answer),
    );
}

fn judge_route(args: &[Bytes], spec: &RootSpec, answer: &Value) -> Verdict {
    let args: Vec<OsString> = args
        .iter()
        .map(|a| OsString::from_vec(a.0.clone()))
        .collect();
    let route = route::decide(&args, false, Some(spec));
    // The command server must not run what needs a terminal or starts daemons.
    let path: Vec<&str> = answer["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let runs = answer.get("params").is_some();
    if runs {
        let not_served = route::NOT_SERVED.iter().any(|(cmd, sub, _)| {
            path.first() == Some(cmd) && (sub.is_empty() || path.get(1) == Some(sub))
        });
        if not_served && route::server_refusal(&args).is_none() {
            return Verdict::Differs(format!(
                "the server would run {path:?}, which is in NOT_SERVED"
            ));
        }
    }
    let defaults_except = |names: &[&str]| {
        answer["params"].as_object().is_some_and(|params| {
            params
                .iter()
                .all(|(n, v)| names.contains(&n.as_str()) || v[1] == "DEFAULT")
        })
    };
    let eager = answer["eager"].as_str();
    let runs_alone = |cmd: &[&str]| runs && path == cmd && defaults_except(&[]);
    let same = match &route {
        Route::Delegate(_) | Route::InProcess(_) | Route::UsePythonCli => return Verdict::Refused,
        Route::VersionFlag => eager == Some("version zenml"),
        Route::RootHelp => eager == Some("help zenml"),
        Route::NoArgsHelp => answer["no_args_help"] == true && path.is_empty(),
        Route::VersionCommand => runs_alone(&["version"]),
        Route::Status => runs_alone(&["status"]),
        Route::CleanPrompt => runs_alone(&["clean"]),
        Route::StackList(a) => {
            let params = &answer["params"];
            let option = |ours: &Option<String>, name: &str| match ours {
                None => params[name][1] == "DEFAULT",
                Some(v) => params[name][0] == v.as_str() && params[name][1] == "COMMANDLINE",
            };
            runs && path == ["stack", "list"]
                && defaults_except(&["output_format", "columns"])
                && option(&a.output, "output_format")
                && option(&a.columns, "columns")
        }
    };
    if same {
        Verdict::Same
    } else {
        Verdict::Differs(format!("route {route:?}; Click: {answer}"))
    }
}

// -------------------------------------------------------------- regressions (the bugs found here)

/// A store URL whose host has a tab: requests refuses it (`InvalidURL`), the launcher read the
/// server directly (and compared no_proxy entries with a host requests never sees).
#[test]
fn regression_a_control_character_in_the_store_host_is_refused() {
    assert_eq!(rest_store::check_url("https://ho\tst"), None);
    assert_eq!(rest_store::check_url("https://.h"), None);
    assert_eq!(rest_store::check_url("https://bücher.example"), None);
}

/// `https://zenml.corp.example_proxy=localhost`: requests' `select_proxy` uses the variable of
/// the scheme and host first; the launcher only looked at `https` and `all`, and connected
/// directly.
#[test]
fn regression_a_scheme_and_host_proxy_variable_is_seen() {
    let env = [(
        OsString::from("https://zenml.corp.example_proxy"),
        OsString::from("localhost"),
    )];
    assert_eq!(
        proxy::proxy_used(true, "zenml.corp.example", None, &env).unwrap(),
        Some("https://zenml.corp.example_proxy".into())
    );
}

/// An environment with `https_proxy` twice (possible with execve): CPython's `os.environ` keeps
/// the first (`http://proxy:3128`, so requests uses it); the launcher let the second (empty)
/// remove it and read the server directly.
#[test]
fn regression_the_first_of_two_equal_variable_names_is_the_one_python_sees() {
    let env = [
        (
            OsString::from("https_proxy"),
            OsString::from("http://proxy:3128"),
        ),
        (OsString::from("https_proxy"), OsString::new()),
    ];
    assert_eq!(
        proxy::proxy_used(true, "h", None, &env).unwrap(),
        Some("https_proxy".into())
    );
}

/// A pyvenv.cfg without `include-system-site-packages`: site.py's `venv()` starts from
/// `system_site = "true"`, so the base's site-packages are on sys.path; the launcher took
/// `false` and did not look for ZenML there.
#[test]
fn regression_a_pyvenv_cfg_without_the_key_includes_system_site_packages() {
    assert!(PyvenvCfg::parse(b"").system_site_packages);
    assert!(PyvenvCfg::parse(b"home = /usr/bin\n").system_site_packages);
    assert!(!PyvenvCfg::parse(b"include-system-site-packages = false\n").system_site_packages);
}

/// A pyvenv.cfg that is not UTF-8: site.py stops CPython's start-up (UnicodeDecodeError, checked
/// on 3.10-3.13); the launcher read `home` as bytes and ran the env. Now pre-flight refuses it,
/// one line naming the file.
#[test]
fn regression_a_pyvenv_cfg_python_cannot_decode_refuses_the_env() {
    use zenml_launcher::env::preflight;
    let dir = scratch("pyvenv-not-utf8");
    std::fs::create_dir(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(common::base_python(), dir.join("bin/python")).unwrap();
    std::fs::write(dir.join("pyvenv.cfg"), b"home = /usr/bin\nprompt = \xff\n").unwrap();
    let env = zenml_launcher::env::discovery::env_at(dir.clone());
    let problems = preflight::check(&env, &preflight::CheckInput::default());
    let fatal = preflight::first_fatal(&problems).expect("the env is refused");
    let shown = fatal.error.to_string();
    assert!(
        shown.contains("pyvenv.cfg: not UTF-8") && !shown.contains('\n'),
        "{shown}"
    );
}

/// `Home=/usr/bin`: getpath compares `key.strip().lower()` with `home`; the launcher saw no
/// `home` and refused a venv Python runs.
#[test]
fn regression_a_home_key_in_capitals_is_read() {
    let cfg = PyvenvCfg::parse(b"Home=/usr/bin\n");
    assert_eq!(cfg.home.as_deref(), Some(std::path::Path::new("/usr/bin")));
}

/// `home = /usr/bin\x0b`: Python's `strip()` removes U+000B (and U+001C..U+001F, U+00A0, ...);
/// the launcher's ASCII trim kept it, and looked for the base Python in `/usr/bin\x0b`.
#[test]
fn regression_values_are_stripped_of_pythons_white_space() {
    let cfg = PyvenvCfg::parse(b"home = /usr/bin\x0b\n");
    assert_eq!(cfg.home.as_deref(), Some(std::path::Path::new("/usr/bin")));
}

/// Two `home` lines: getpath takes the first (`break`); the launcher took the last, another base
/// Python than the interpreter's.
#[test]
fn regression_the_first_home_line_is_the_one_getpath_reads() {
    let cfg = PyvenvCfg::parse(b"home = /a/bin\nhome = /b/bin\n");
    assert_eq!(cfg.home.as_deref(), Some(std::path::Path::new("/a/bin")));
}

/// A lone `\r`: site.py reads the file in text mode, where it ends a line (so
/// `include-system-site-packages = false` counts), while getpath only splits at `\n` (so that
/// line has no `home` key). The launcher split at `\n` for both.
#[test]
fn regression_a_lone_carriage_return_ends_a_line_for_site_py_only() {
    let cfg = PyvenvCfg::parse(b"include-system-site-packages = false\rhome = /usr/bin\n");
    assert!(!cfg.system_site_packages);
    assert_eq!(cfg.home, None);
}

/// `true: 0.98.0`: PyYAML's key is the boolean `True`; the launcher read a key `"true"`.
#[test]
fn regression_a_key_pyyaml_reads_as_a_boolean_is_refused() {
    assert!(YamlMap::parse("true: 0.98.0\n").is_err());
    assert!(YamlMap::parse("1: x\n").is_err());
}

/// `version: 2026-11-23`: PyYAML constructs a `datetime.date`; the launcher read the string.
#[test]
fn regression_a_timestamp_is_refused() {
    assert!(YamlMap::parse("version: 2026-11-23\n").is_err());
}

/// `http_timeout: 010` is YAML 1.1's octal 8 for PyYAML (so for ZenML's timeout); the launcher
/// parsed 10.
#[test]
fn regression_an_octal_http_timeout_is_pyyamls_integer() {
    let map = YamlMap::parse("store:\n  http_timeout: 010\n").unwrap();
    assert_eq!(map.get_scalar("store.http_timeout"), Some(&Scalar::Int(8)));
    assert_eq!(map.get("store.http_timeout"), None);
}

/// `verify_ssl: yes` is PyYAML's `True`; the launcher took `yes` as the path of a CA bundle.
#[test]
fn regression_verify_ssl_yes_is_a_boolean() {
    let map = YamlMap::parse("store:\n  verify_ssl: yes\n").unwrap();
    assert_eq!(
        VerifySsl::from_config(map.get_scalar("store.verify_ssl")),
        Ok(VerifySsl::Yes)
    );
}

/// `version:0.98.0`: without a space after the colon PyYAML reads one plain scalar, the whole
/// document a string (ZenML: "not a valid YAML file"); the launcher read `version: 0.98.0`.
#[test]
fn regression_a_colon_without_a_space_is_not_a_key() {
    assert!(YamlMap::parse("version:0.98.0\n").is_err());
}

/// `a: \x0e` and a lone tab: PyYAML's reader and scanner reject them (ReaderError,
/// ScannerError); the launcher read `a` and an empty mapping.
#[test]
fn regression_characters_pyyaml_rejects_are_refused() {
    assert!(YamlMap::parse("a: \u{e}\n").is_err());
    assert!(YamlMap::parse("\t").is_err());
    assert!(YamlMap::parse("a: \u{7f}\n").is_err());
}

/// `a: x\u{2028}y`: U+2028 (and U+0085) end a line for PyYAML; the launcher kept them in the
/// value.
#[test]
fn regression_unicode_line_breaks_are_refused() {
    assert!(YamlMap::parse("a: x\u{2028}y\n").is_err());
    assert!(YamlMap::parse("a: x\u{85}y\n").is_err());
}

/// `type: a:` and a line indented between two levels: PyYAML fails ("mapping values are not
/// allowed here", "expected <block end>"); the launcher read `type = "a:"` and `a.c`.
#[test]
fn regression_lines_pyyaml_cannot_parse_are_refused() {
    assert!(YamlMap::parse("type: a:\n").is_err());
    assert!(YamlMap::parse("a:\n    b: 1\n  c: 2\n").is_err());
}

/// The credentials of the store's server, and a `credentials.yaml` whose other entry has no
/// `url`: ZenML's loader logs "Failed to load credentials for https://a" (printed by `zenml
/// status`); the launcher looked at its own entry only and printed nothing.
#[test]
fn regression_an_entry_zenml_rejects_for_another_server_is_refused() {
    let text = "https://a:\n  api_key: ZENKEY_abc==\nhttps://h:\n  url: https://h\n";
    assert!(credentials::parse(text, "https://h").is_err());
}

/// `deployment_type: ZENKEY_abc==` and `status: 123`: pydantic rejects the entry (an unknown
/// ServerDeploymentType, an int for a str), ZenML drops it with a warning; the launcher used it.
#[test]
fn regression_a_field_pydantic_rejects_is_refused() {
    let entry = |field: &str| format!("https://h:\n  url: https://h\n  {field}\n");
    for field in [
        "deployment_type: ZENKEY_abc==",
        "status: 123",
        "version: 1.5",
    ] {
        assert!(
            credentials::parse(&entry(field), "https://h").is_err(),
            "{field}"
        );
    }
}

/// The same server twice: PyYAML keeps the last entry; the launcher took the first (its API key).
#[test]
fn regression_a_repeated_server_entry_is_refused() {
    let text = "https://h:\n  url: https://h\n  api_key: k\nhttps://h:\n  url: https://h\n";
    assert!(credentials::parse(text, "https://h").is_err());
}

/// `expires_at: '2026-02-30T00:00:00Z'`: pydantic rejects the date (ZenML drops the entry with a
/// warning); the launcher computed March 2nd.
#[test]
fn regression_an_impossible_expiry_date_is_refused() {
    let text = "https://h:\n  url: https://h\n  api_token:\n    access_token: t\n    expires_at: '2026-02-30T00:00:00Z'\n";
    assert!(credentials::parse(text, "https://h").is_err());
    assert_eq!(credentials::unix_seconds("2026-02-30T00:00:00Z"), None);
    assert_eq!(credentials::unix_seconds("2026-11-29T10:00:60Z"), None);
    assert!(credentials::unix_seconds("2028-02-29T00:00:00Z").is_some());
}

/// `api_key: ''`: `auth_status` tests it for truth ("N/A"), `can_refresh_token` for `None`; the
/// launcher printed "API key".
#[test]
fn regression_an_empty_api_key_is_refused() {
    let text = "https://h:\n  url: https://h\n  api_key: ''\n";
    assert!(credentials::parse(text, "https://h").is_err());
}

/// A server entry with nothing under it: `ServerCredentials(**None)` raises a TypeError in
/// ZenML's loader; the launcher ignored it.
#[test]
fn regression_an_empty_server_entry_is_refused() {
    assert!(credentials::parse("https://a:\nhttps://h:\n  url: https://h\n", "https://h").is_err());
}
