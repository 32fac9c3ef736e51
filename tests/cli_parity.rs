//! Live parity of the Rust-answered commands with the real Python CLI of the same env:
//! stdout, stderr and exit code byte-equal, in pipes and under ptys, across the terminal
//! conditions that change ZenML's output (docs/zenml-cli-behaviour.md §1.2–§1.5, §3.1–§3.3).
//! Every launcher run also proves the Rust route was taken (the debug route line), so a silent
//! delegation cannot make these tests pass.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

#[derive(Clone, Debug)]
struct Condition {
    name: &'static str,
    tty: bool,
    /// With `tty`: only this stream is a terminal (`"stdout"` or `"stderr"`); stdin is null.
    only: Option<&'static str>,
    cols: u16,
    env: &'static [(&'static str, &'static str)],
}

const fn pipe(name: &'static str, env: &'static [(&'static str, &'static str)]) -> Condition {
    Condition {
        name,
        tty: false,
        only: None,
        cols: 80,
        env,
    }
}
const fn tty(
    name: &'static str,
    cols: u16,
    env: &'static [(&'static str, &'static str)],
) -> Condition {
    Condition {
        name,
        tty: true,
        only: None,
        cols,
        env,
    }
}

type EnvVars = &'static [(&'static str, &'static str)];
type Args = &'static [&'static str];

const XTERM: &[(&str, &str)] = &[("TERM", "xterm")];

fn conditions() -> Vec<Condition> {
    vec![
        pipe("pipe", &[]),
        pipe("pipe COLUMNS=60", &[("COLUMNS", "60")]),
        pipe("pipe COLUMNS=120", &[("COLUMNS", "120")]),
        pipe("pipe FORCE_COLOR=1", &[("FORCE_COLOR", "1")]),
        tty("tty80", 80, XTERM),
        tty("tty60", 60, XTERM),
        tty("tty81", 81, XTERM),
        tty("tty120", 120, XTERM),
        tty("tty200 256color", 200, &[("TERM", "xterm-256color")]),
        tty(
            "tty80 truecolor",
            80,
            &[("TERM", "xterm"), ("COLORTERM", "truecolor")],
        ),
        tty(
            "tty80 NO_COLOR",
            80,
            &[("TERM", "xterm"), ("NO_COLOR", "1")],
        ),
        tty("tty80 dumb", 80, &[("TERM", "dumb")]),
        tty(
            "tty120 FORCE_COLOR empty",
            120,
            &[("TERM", "xterm"), ("FORCE_COLOR", "")],
        ),
        tty(
            "tty80 COLUMNS=200",
            80,
            &[("TERM", "xterm"), ("COLUMNS", "200")],
        ),
        Condition {
            name: "stderr tty only (| less)",
            tty: true,
            only: Some("stderr"),
            cols: 100,
            env: XTERM,
        },
        Condition {
            name: "stdout tty only (2>file)",
            tty: true,
            only: Some("stdout"),
            cols: 100,
            env: XTERM,
        },
    ]
}

/// A covering subset of `conditions()` for the outputs that do not depend on the width class
/// the way the root help does (no arguments prints the same rendered help as `--help`, which
/// runs under every condition, with another exit code and wiring): every terminal mode (pipe, all three ttys, stdout only, stderr only), every kind of
/// colour setting (none, FORCE_COLOR, NO_COLOR, 256 colours, truecolor, TERM=dumb), a narrow
/// and a wide terminal, and COLUMNS in a pipe. The other conditions are widths and colour
/// variants that only the rendered help and banners tell apart: 0.98's help and banners run
/// under all of them. 0.85 renders through the same code with its own cached text, and differs
/// in its stream wiring (stdout), which every terminal mode here exercises: its help and
/// banners run under this set.
fn covering_conditions() -> Vec<Condition> {
    const NAMES: [&str; 10] = [
        "pipe",
        "pipe COLUMNS=60",
        "pipe FORCE_COLOR=1",
        "tty60",
        "tty200 256color",
        "tty80 truecolor",
        "tty80 NO_COLOR",
        "tty80 dumb",
        "stderr tty only (| less)",
        "stdout tty only (2>file)",
    ];
    let all = conditions();
    let picked: Vec<Condition> = all
        .into_iter()
        .filter(|c| NAMES.contains(&c.name))
        .collect();
    assert_eq!(
        picked.len(),
        NAMES.len(),
        "a covering condition was renamed"
    );
    picked
}

/// The stream wirings of `conditions()` (a pipe, all three streams terminals, only stdout, only
/// stderr), for `--version`: the Rust route prints Click's message (a template from the cache,
/// no style) to the stream the cache names, and probes no terminal and reads none of the
/// terminal's variables for it (`app::run` gives the `VersionFlag` route `Terminal::default()`;
/// `commands::version::flag`); Click's `echo` of a message without escapes prints the same bytes
/// under any width or colour setting. What may differ is where the bytes go (the stream, a
/// terminal's line discipline), which these cover. The route's start (env, cache), shared by
/// every command, runs under every condition with `--help`.
fn wiring_conditions() -> Vec<Condition> {
    const NAMES: [&str; 4] = [
        "pipe",
        "tty80",
        "stderr tty only (| less)",
        "stdout tty only (2>file)",
    ];
    let picked: Vec<Condition> = conditions()
        .into_iter()
        .filter(|c| NAMES.contains(&c.name))
        .collect();
    assert_eq!(picked.len(), NAMES.len(), "a wiring condition was renamed");
    picked
}

type Capture = Captured;

fn home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| scratch("parity-home"))
}

/// Runs `program args` under `cond` (tests/support/ptyrun.py via `common::run_streams`).
fn run(
    cond: &Condition,
    envs: &[(&str, &std::ffi::OsStr)],
    program: &Path,
    args: &[&str],
) -> Capture {
    let mut cmd = clean_command(program, home());
    cmd.args(args);
    for (k, v) in cond.env {
        cmd.env(k, v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let ttys: Vec<&str> = match (cond.tty, cond.only) {
        (true, None) => vec!["stdin", "stdout", "stderr"],
        (true, Some(stream)) => vec![stream],
        (false, _) => Vec::new(),
    };
    run_streams(&cmd, cond.cols, &ttys, None)
}

/// This process's launcher cache for `version`: one `scratch` dir per version, made at its first
/// use.
fn cache_dir(version: &str) -> PathBuf {
    static DIRS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    DIRS.get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(version.to_string())
        .or_insert_with(|| scratch(&format!("parity-cache-{version}")))
        .clone()
}

/// The launcher under `cond`, with the debug lines split off: (capture, route lines).
fn launcher_run(version: &str, cond: &Condition, args: &[&str]) -> (Capture, Vec<String>) {
    let env = zenml_env(version);
    let cache = cache_dir(version);
    let mut cap = run(
        cond,
        &[
            ("VIRTUAL_ENV", env.as_os_str()),
            ("ZENML_LAUNCHER_CACHE_DIR", cache.as_os_str()),
            ("ZENML_DEBUG_PYTHON", "1".as_ref()),
        ],
        &launcher(),
        args,
    );
    let (stderr, routes) = split_debug(&cap.stderr);
    cap.stderr = stderr;
    (cap, routes)
}

/// The Python CLI under `cond`. Each distinct call runs once per process: the key is everything
/// the run gets (env version, condition: terminal streams, columns and variables, arguments;
/// HOME, config dir and cwd are the same for all), and these commands do not read or change any
/// state the tests change (they already run in any order, side by side, in one HOME).
fn python_run(version: &str, cond: &Condition, args: &[&str]) -> Capture {
    type Memo = std::sync::Mutex<std::collections::HashMap<String, Capture>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let key = format!(
        "{version} {:?} {:?} {} {:?} {args:?}",
        cond.tty, cond.only, cond.cols, cond.env
    );
    let memo = MEMO.get_or_init(Default::default);
    if let Some(hit) = memo.lock().unwrap().get(&key) {
        return hit.clone();
    }
    let fresh = run(cond, &[], &zenml_env(version).join("bin/zenml"), args);
    memo.lock().unwrap().insert(key, fresh.clone());
    fresh
}

fn assert_rust_route(routes: &[String], what: &str) {
    assert!(
        rust_route_taken(routes),
        "{what}: expected the Rust route, debug lines were:\n{}",
        routes.join("\n")
    );
}

/// Makes sure the cache exists (the first run generates it) and that the cold run was equal too.
fn warm(version: &str) {
    let cache = cache_dir(version);
    if cache.exists() {
        return;
    }
    let cond = pipe("pipe", &[]);
    let (cold, routes) = launcher_run(version, &cond, &["--version"]);
    let reference = python_run(version, &cond, &["--version"]);
    assert_eq!(
        cold, reference,
        "cold cache run differs\nlauncher {cold}\npython {reference}"
    );
    assert_rust_route(&routes, "cold run");
}

fn check_command(version: &str, conds: &[Condition], args: &[&str]) {
    warm(version);
    let mut failures = Vec::new();
    for cond in conds {
        let (mine, routes) = launcher_run(version, cond, args);
        let reference = python_run(version, cond, args);
        if mine != reference {
            failures.push(format!(
                "[{}] zenml {:?}\nlauncher {mine}\npython {reference}",
                cond.name, args
            ));
        }
        assert_rust_route(&routes, &format!("[{}] zenml {args:?}", cond.name));
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn version_flag_matches_0_98() {
    check_command(ZENML_VERSION, &wiring_conditions(), &["--version"]);
}

#[test]
fn eager_version_before_subcommand_matches_0_98() {
    check_command(
        ZENML_VERSION,
        &conditions()[..1],
        &["-v", "stack", "--bogus"],
    );
    check_command(ZENML_VERSION, &conditions()[..1], &["--version", "--help"]);
}

#[test]
fn root_help_matches_0_98() {
    check_command(ZENML_VERSION, &conditions(), &["--help"]);
}

#[test]
fn no_args_help_matches_0_98() {
    check_command(ZENML_VERSION, &covering_conditions(), &[]);
}

#[test]
fn version_flag_matches_0_85() {
    check_command(ZENML_OLD_VERSION, &wiring_conditions(), &["--version"]);
}

/// 0.85.0 predates the `zenml_cli` entry point: its output goes to stdout.
#[test]
fn root_help_matches_0_85() {
    check_command(ZENML_OLD_VERSION, &covering_conditions(), &["--help"]);
}

#[test]
fn no_args_help_matches_0_85() {
    check_command(ZENML_OLD_VERSION, &covering_conditions(), &[]);
}

/// The Python CLI's `zenml version` once per banner, in one process: `random.choice` pinned to
/// each index in turn (all else as bin/zenml does), a marker written to both fds between runs.
fn python_version_banners(version: &str, cond: &Condition) -> Vec<Capture> {
    const MARK: &[u8] = b"\x00--banner--\x00\n";
    let env = zenml_env(version);
    let entry = if version == ZENML_OLD_VERSION {
        "zenml.cli.cli"
    } else {
        "zenml_cli"
    };
    let code = format!(
        "import os, random, sys\n_b = sys.argv[1]\nsys.path[0] = _b\nsys.argv = [_b + '/zenml', 'version']\n\
         from {entry} import cli\n\
         for i in range(5):\n\
         \x20   random.choice = lambda seq, i=i: seq[i]\n\
         \x20   try:\n\
         \x20       cli()\n\
         \x20   except SystemExit as e:\n\
         \x20       assert not e.code, e.code\n\
         \x20   sys.stdout.flush(); sys.stderr.flush(); sys.__stdout__.flush(); sys.__stderr__.flush()\n\
         \x20   os.write(1, b'\\x00--banner--\\x00\\n'); os.write(2, b'\\x00--banner--\\x00\\n')\n"
    );
    let bin = env.join("bin");
    let all = run(
        cond,
        &[],
        &env.join("bin/python"),
        &["-c", &code, bin.to_str().unwrap()],
    );
    assert_eq!(all.code, 0, "[{}] reference run failed: {all}", cond.name);
    let split = |bytes: &[u8]| -> Vec<Vec<u8>> {
        let mut parts = Vec::new();
        let mut rest = bytes;
        while let Some(p) = rest.windows(MARK.len()).position(|w| w == MARK) {
            parts.push(rest[..p].to_vec());
            rest = &rest[p + MARK.len()..];
        }
        parts
    };
    let (outs, errs) = (split(&all.stdout), split(&all.stderr));
    assert_eq!(
        (outs.len(), errs.len()),
        (5, 5),
        "[{}] expected 5 banner runs",
        cond.name
    );
    outs.into_iter()
        .zip(errs)
        .map(|(stdout, stderr)| Capture {
            stdout,
            stderr,
            code: 0,
        })
        .collect()
}

fn check_version_command(version: &str, conds: &[Condition]) {
    warm(version);
    for cond in conds {
        let references: BTreeSet<Capture> =
            python_version_banners(version, cond).into_iter().collect();
        assert_eq!(
            references.len(),
            5,
            "[{}] expected 5 distinct banners",
            cond.name
        );
        let mut seen = BTreeSet::new();
        for _ in 0..60 {
            let (mine, routes) = launcher_run(version, cond, &["version"]);
            assert_rust_route(&routes, &format!("[{}] version", cond.name));
            assert!(
                references.contains(&mine),
                "[{}] launcher printed a banner the package does not render like this:\n{mine}\nreferences:\n{}",
                cond.name,
                references
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            seen.insert(mine);
            if seen.len() == references.len() {
                break;
            }
        }
        assert_eq!(
            seen.len(),
            5,
            "[{}] the launcher did not pick every banner in 60 runs",
            cond.name
        );
    }
}

#[test]
fn version_command_matches_0_98() {
    check_version_command(ZENML_VERSION, &conditions());
}

#[test]
fn version_command_matches_0_85() {
    check_version_command(ZENML_OLD_VERSION, &covering_conditions());
}

/// Conditions the launcher does not reproduce are delegated, so the output is still equal.
#[test]
fn unmodelled_conditions_are_delegated_and_equal() {
    let cases: &[(EnvVars, Args)] = &[
        (&[("ZENML_LOGGING_VERBOSITY", "bogus")], &["--version"]),
        (&[("COLUMNS", "0")], &["--help"]),
        (&[("ZENML_USE_PYTHON_CLI", "1")], &["--help"]),
    ];
    warm(ZENML_VERSION);
    for (env, args) in cases {
        let cond = Condition {
            name: "custom",
            tty: false,
            only: None,
            cols: 80,
            env,
        };
        let (mine, routes) = launcher_run(ZENML_VERSION, &cond, args);
        let reference = python_run(ZENML_VERSION, &cond, args);
        assert_eq!(
            mine, reference,
            "{env:?} {args:?}\nlauncher {mine}\npython {reference}"
        );
        assert!(
            routes.iter().any(|l| l.starts_with("route: delegate")),
            "{env:?}: expected delegation, got {routes:?}"
        );
    }
}

/// Usage errors at the root are delegated: same bytes as the Python CLI.
#[test]
fn root_usage_errors_match() {
    warm(ZENML_VERSION);
    let cond = pipe("pipe", &[]);
    for args in [
        &["--version", "--foo"][..],
        &["-h"][..],
        &["help"][..],
        &["--vers"][..],
        &["version", "foo"][..],
    ] {
        let (mine, routes) = launcher_run(ZENML_VERSION, &cond, args);
        let reference = python_run(ZENML_VERSION, &cond, args);
        assert_eq!(
            mine, reference,
            "{args:?}\nlauncher {mine}\npython {reference}"
        );
        assert_eq!(reference.code, 2, "{args:?} is a usage error");
        assert!(
            routes.iter().any(|l| l.starts_with("route: delegate")),
            "{args:?}: {routes:?}"
        );
    }
}

#[test]
fn base64_decoder_roundtrip() {
    assert_eq!(b64("aGVsbG8="), b"hello");
    assert_eq!(b64("G1sxbQ=="), b"\x1b[1m");
}
