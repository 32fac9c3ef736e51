//! The command server under faults (issue #22), each case against the live Python CLI of
//! zenml 0.98.0. In every case: the CLI's bytes and exit status, or a one-line error and a
//! non-zero exit; never 0 for a call that did not run, never a call run twice (the probe counts
//! its runs, the server's log its workers), never a hang (every run has a deadline).
//!
//! - the real CLI, one world and one server whose socket path is longer than a Unix socket
//!   address holds: fd 0, 1 or 2 closed, a reader gone before the start, the locales CPython
//!   coerces (one server per key, each started once);
//! - the probe venv (tests/support/fault_probe.py as `bin/zenml`: it imports ZenML's CLI module as
//!   pip's script does, then reports the process's state, crashes or exits as asked), with a
//!   server of each kind: variables outside the key set, changed and unset between calls (each
//!   worker's `os.environ` and C `environ` exactly the CLI's), signals ignored or blocked by the
//!   caller, an environment a worker cannot take over, SIGSEGV, `sys.exit("msg")`,
//!   `sys.exit(256)`, `| head -1` with the worker's own child, `PYTHONFAULTHANDLER`, the python
//!   kind's server SIGKILLed during a call (the embedded kind's: tests/command_server.rs);
//! - a call longer than the idle timeout; a new key beyond the bound of servers while they are
//!   busy (tested with a bound of 1 and a second key: the code path of 8 and a ninth, at an
//!   eighth of the warm-ups);
//! - inotify watches exhausted (a user namespace with 16 watches);
//! - in a copy of the env: ZenML reinstalled during a call, then a burst of inotify events.
//!
//! Time: each test function owns its runtime dirs, so the functions run side by side; inside
//! one, the cases share a server where they can (warming one costs a ZenML import), and the CLI
//! reference of a case the two kinds share runs once.

mod common;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::served::*;
use common::world::World;
use common::*;

/// Any one run taking longer than this is a hang (a ZenML CLI run takes seconds; on a machine
/// loaded ten times over its cores, with the launcher's cache to generate, minutes).
const HANG: Duration = Duration::from_secs(300);

/// What makes the launcher serve an env with the env's own python (no embedding library).
const PYTHON_KIND: (&str, &str) = (
    "ZENML_LAUNCHER_EMBED_LIB",
    "/nonexistent/libzenml_launcher_embed.so",
);

/// A stack whose name rich and the locale must both get right.
const NAME: &str = "zl_é中";

/// The probe venv (made once): a venv on the base Python that sees the provisioned ZenML through
/// a `.pth` line, with its dist-info (the launcher reads the entry point there and the server
/// imports it), and tests/support/fault_probe.py as its `bin/zenml`.
fn probe() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let body = std::fs::read_to_string(repo().join("tests/support/fault_probe.py")).unwrap();
        let venv = scripted_venv(&scratch("faults-probe"), "probe", &body);
        prime(&World {
            home: venv.parent().unwrap().to_path_buf(),
            env: venv.clone(),
            cache: probe_cache(&venv),
        });
        venv
    })
}

/// The launcher cache every world of the probe venv shares.
fn probe_cache(venv: &Path) -> PathBuf {
    venv.parent().unwrap().join("launcher-cache")
}

/// Generates the launcher's cache of `world` (a Rust answer needs it) up front, with a deadline
/// generous for a loaded machine: the calls that warm a server have a minute each.
fn prime(world: &World) {
    let out = output_within(
        &mut world.command(&launcher(), &["--version"], &[]),
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "zenml --version: {}",
        show(&out.stderr)
    );
}

/// The probe venv served from a private socket dir `<name>-run`, with its own HOME.
fn probe_served(name: &str) -> Served {
    let home = scratch(name);
    Served::with_world(
        World {
            cache: probe_cache(probe()),
            home,
            env: probe().to_path_buf(),
        },
        name,
    )
}

/// How many times the probe ran with `token` among its arguments.
fn runs_of(token: &str) -> usize {
    std::fs::read_to_string(probe().join("runs.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').any(|w| w == token))
        .count()
}

/// A command with `like`'s environment and cwd, running `argv`.
fn rerun<S: AsRef<OsStr>>(like: &Command, argv: impl IntoIterator<Item = S>) -> Command {
    let mut argv = argv.into_iter();
    let mut cmd = Command::new(argv.next().expect("a program"));
    in_conditions_of(cmd.args(argv), like);
    cmd
}

/// `cmd`'s program and arguments.
fn argv_of(cmd: &Command) -> Vec<OsString> {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_os_string)
        .collect()
}

/// The Python CLI with exactly the launcher call's arguments, environment and cwd.
fn cli_of(s: &Served, mine: &Command) -> Command {
    let mut argv = vec![s.reference.clone().into_os_string()];
    argv.extend(mine.get_args().map(OsStr::to_os_string));
    rerun(mine, argv)
}

/// `cmd` run by `sh -c 'exec "$@" <redirect>'`.
fn through_sh(cmd: &Command, redirect: &str) -> Command {
    let mut argv: Vec<OsString> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("exec \"$@\" {redirect}").into(),
        "sh".into(),
    ];
    argv.extend(argv_of(cmd));
    rerun(cmd, argv)
}

/// `cmd` run by tests/support/exec_as.py with `options` (ignored and blocked signals, raw
/// environment entries).
fn exec_as(cmd: &Command, options: &[&str]) -> Command {
    let mut argv: Vec<OsString> = vec![
        base_python().into_os_string(),
        repo().join("tests/support/exec_as.py").into_os_string(),
    ];
    argv.extend(options.iter().map(OsString::from));
    argv.push("--".into());
    argv.extend(argv_of(cmd));
    rerun(cmd, argv)
}

/// How a run ended and what it printed, the launcher's debug lines split off and memory
/// addresses (`0x…`, different in any two processes) masked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ended {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

fn masked(bytes: &[u8]) -> String {
    let text = show(bytes);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        let hex = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        if hex >= 6 {
            out.push('…');
            rest = &rest[hex..];
        }
    }
    out + rest
}

fn ended(out: &Output) -> (Ended, Vec<String>) {
    let (stderr, debug) = split_debug(&out.stderr);
    (
        Ended {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: masked(&out.stdout),
            stderr: masked(&stderr),
        },
        debug,
    )
}

/// Runs `mine` (a launcher call) and `cli` (each within [`HANG`]): a difference in exit status,
/// stdout or stderr is a failure, and so is a tier other than `tier` (`None`: not checked, as
/// when stderr is closed). Returns the launcher's debug lines.
fn same(
    failures: &mut Vec<String>,
    what: &str,
    mine: &mut Command,
    cli: &mut Command,
    tier: Option<Tier>,
) -> Vec<String> {
    let (a, debug) = ended(&output_within(mine, HANG));
    let (b, _) = ended(&output_within(cli, HANG));
    if a != b {
        failures.push(format!(
            "{what}:\nlauncher {a:?}\npython   {b:?}\n{debug:#?}"
        ));
    } else if tier.is_some() && tier_taken(&debug) != tier {
        failures.push(format!("{what}: expected {tier:?}: {debug:#?}"));
    }
    debug
}

/// How many calls the servers of `s` have run (their logs' worker lines), once every call
/// made so far is logged.
fn workers_run(s: &Served) -> usize {
    s.settle();
    s.logs()
        .lines()
        .filter(|l| l.contains(": worker ") && l.contains(", status "))
        .count()
}

/// Runs `cmd` (within [`HANG`]) with stdout read up to its first newline and then closed, as
/// `| head -1` does; returns the status, that first line and stderr.
fn first_line_only(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let err = collect_stderr(&mut child);
    let mut out = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") && out.read(&mut byte).unwrap_or(0) == 1 {
        line.push(byte[0]);
    }
    drop(out);
    let status = wait_within(&mut child, cmd);
    Output {
        status,
        stdout: line,
        stderr: err.join().unwrap(),
    }
}

/// Runs `cmd` (within [`HANG`]) with a stdout pipe whose reader is gone before it starts.
fn reader_gone(cmd: &mut Command) -> Output {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors of the array we own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are new and owned by nobody else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let err = collect_stderr(&mut child);
    let status = wait_within(&mut child, cmd);
    Output {
        status,
        stdout: Vec::new(),
        stderr: err.join().unwrap(),
    }
}

/// Reads `child`'s stderr pipe to its end on a thread (so that a full pipe never blocks it).
fn collect_stderr(child: &mut std::process::Child) -> std::thread::JoinHandle<Vec<u8>> {
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    })
}

fn wait_within(child: &mut std::process::Child, cmd: &Command) -> std::process::ExitStatus {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names in `dir`, sorted.
fn dir_listing(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    names
}

fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `Command` is not `Clone`: the same program, arguments, environment and cwd.
trait CloneCmd {
    fn clone_cmd(&self) -> Command;
}

impl CloneCmd for Command {
    fn clone_cmd(&self) -> Command {
        rerun(self, argv_of(self))
    }
}

/// `prefix` made long enough that a socket in the runtime dir named after it has a path longer
/// than a Unix socket address holds (107 bytes), wherever the repository is.
fn long_name(prefix: &str) -> String {
    format!("{prefix}-{}", "long-socket-dir-".repeat(6))
}

/// Checks that `s`'s sockets have paths longer than a socket address holds.
fn assert_long_socket_paths(s: &Served) {
    let len = s.runtime.as_os_str().len() + "/0123456789abcdef.sock".len();
    assert!(len > 107, "{} is not long enough", s.runtime.display());
}

/// Runs `mine` (within [`HANG`]) and compares how it ended with `reference` (a CLI run's); also
/// the tier, unless `tier` is `None`. Returns the launcher's debug lines.
fn same_as(
    failures: &mut Vec<String>,
    what: &str,
    mine: &mut Command,
    reference: &Ended,
    tier: Option<Tier>,
) -> Vec<String> {
    let (a, debug) = ended(&output_within(mine, HANG));
    if &a != reference {
        failures.push(format!(
            "{what}:\nlauncher {a:?}\npython   {reference:?}\n{debug:#?}"
        ));
    } else if tier.is_some() && tier_taken(&debug) != tier {
        failures.push(format!("{what}: expected {tier:?}: {debug:#?}"));
    }
    debug
}

// ---------------------------------------------------------------------------------------------
// The real CLI: streams, locales, a long socket path.

#[test]
fn cli_streams_locales_and_a_long_socket_path() {
    // The config initialised and the stack registered in one Python start.
    let world = World::bare("faults-cli", ZENML_VERSION).sharing_cache();
    world.python(&format!(
        "from zenml.client import Client\n\
         Client().create_stack(name={NAME:?}, components={{'orchestrator': 'default', 'artifact_store': 'default'}})\n"
    ));
    prime(&world);
    let s = Served::with_world(world, &long_name("faults-cli"));
    assert_long_socket_paths(&s);
    s.warm(&[]);
    let mut failures = Vec::new();
    closed_streams(&s, &mut failures);
    reader_gone_served(&s, &mut failures);
    locales(&s, &mut failures);
    if s.logs().contains("failed: ") {
        failures.push(format!("a start failed: {}", s.logs()));
    }
    assert_none(failures);
}

/// A launcher started with fd 0, 1 or 2 closed while its server is warm: the CLI's bytes and exit
/// code (`2>&-`: exit 1, as the CLI's), and no worker runs the call.
fn closed_streams(s: &Served, failures: &mut Vec<String>) {
    for (redirect, fd, args) in [
        ("<&-", 0, &["stack", "--help"][..]),
        (">&-", 1, &["stack", "--help"]),
        ("2>&-", 2, &["stack", "describe"]),
    ] {
        let before = workers_run(s);
        let mine = s.launcher(args, &[]);
        let cli = cli_of(s, &mine);
        let what = format!("{args:?} {redirect}");
        let debug = same(
            failures,
            &what,
            &mut through_sh(&mine, redirect),
            &mut through_sh(&cli, redirect),
            (fd != 2).then_some(Tier::Delegated),
        );
        if fd != 2
            && !debug
                .iter()
                .any(|l| l.contains(&format!("fd {fd} was closed at start")))
        {
            failures.push(format!("{what}: no reason given: {debug:#?}"));
        }
        if workers_run(s) != before {
            failures.push(format!("{what}: a worker ran it: {}", s.logs()));
        }
    }
}

/// A served command whose stdout reader is gone before it starts: every write fails, and the
/// worker ends as the CLI does.
fn reader_gone_served(s: &Served, failures: &mut Vec<String>) {
    let mine = s.launcher(&["stack", "--help"], &[]);
    let (a, debug) = ended(&reader_gone(&mut mine.clone_cmd()));
    let (b, _) = ended(&reader_gone(&mut cli_of(s, &mine)));
    if a != b || tier_taken(&debug) != Some(Tier::Server) {
        failures.push(format!(
            "stack --help, reader gone:\nlauncher {a:?}\npython   {b:?}\n{debug:#?}"
        ));
    }
}

/// The locales CPython coerces or overrides at start-up: the CLI's bytes for a name outside
/// ASCII, served; one server per key, each started once (no restart loop).
fn locales(s: &Served, failures: &mut Vec<String>) {
    let keys: [&[(&str, &str)]; 3] = [
        &[("LANG", "C")],
        &[("LC_ALL", "POSIX")],
        &[("PYTHONUTF8", "1")],
    ];
    for extra in keys {
        s.warm(extra);
        let mine = s.launcher(&["stack", "describe", NAME], extra);
        same(
            failures,
            &format!("stack describe {NAME} {extra:?}"),
            &mut mine.clone_cmd(),
            &mut cli_of(s, &mine),
            Some(Tier::Server),
        );
    }
    // Each key's server is still the one that served it, and none was started twice.
    let pids = s.server_pids();
    let starts = s.logs().matches(": serving ").count();
    let markers: Vec<_> = dir_listing(&s.runtime)
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".starting"))
        .collect();
    if pids.len() != 4 || starts != 4 || !markers.is_empty() {
        failures.push(format!(
            "locales: servers {pids:?}, {starts} starts, markers {markers:?}: {}",
            s.logs()
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// The probe: what a worker is, how it ends, its children.

/// A kind of server: its name, the world's calls served by it, the variables that select it.
type Kind<'a> = (
    &'static str,
    &'a Served,
    &'static [(&'static str, &'static str)],
);

/// A server of each kind for one probe world.
struct Kinds<'a> {
    all: [Kind<'a>; 2],
}

/// The probe's runs expected for each token (a token names one case).
type Runs = Vec<(String, usize)>;

#[test]
fn client_state_and_endings_in_workers_of_both_kinds() {
    let home = scratch("faults-probe-world");
    let world = || World {
        cache: probe_cache(probe()),
        home: home.clone(),
        env: probe().to_path_buf(),
    };
    let embedded = Served::with_world(world(), "faults-embedded");
    // The python kind's sockets have long paths (the embedded kind's: the CLI test's).
    let python = Served::with_world(world(), &long_name("faults-python"));
    assert_long_socket_paths(&python);
    const PYTHON: &[(&str, &str)] = &[PYTHON_KIND];
    let kinds = Kinds {
        all: [("embedded", &embedded, &[]), ("python", &python, PYTHON)],
    };
    std::thread::scope(|scope| {
        for (_, s, extra) in kinds.all {
            scope.spawn(move || s.warm(extra));
        }
    });
    for (kind, s, extra) in kinds.all {
        let out = output_within(&mut s.launcher(&["warm"], extra), HANG);
        let (_, debug) = split_debug(&out.stderr);
        assert!(
            debug.iter().any(|l| l.contains(&format!("{kind} server"))),
            "not a {kind} server: {debug:#?}"
        );
    }
    let mut failures = Vec::new();
    let mut runs = Runs::new();
    for (kind, s, extra) in kinds.all {
        environments(s, kind, extra, &mut failures, &mut runs);
        signal_states(s, kind, extra, &mut failures, &mut runs);
    }
    endings(&kinds, &mut failures, &mut runs);
    children_and_early_readers(&kinds, &mut failures, &mut runs);
    odd_environment(&embedded, &mut failures, &mut runs);
    ruled_out(&embedded, &mut failures, &mut runs);
    killed_server(&python, PYTHON, &mut failures, &mut runs);
    for (token, expected) in runs {
        let n = runs_of(&token);
        if n != expected {
            failures.push(format!("{token}: ran {n} times, expected {expected}"));
        }
    }
    assert_none(failures);
}

/// The probe's report through the launcher and from the CLI, with the same arguments and
/// environment (`vars` on top of `extra`), compared; `tier` must have answered.
#[allow(clippy::too_many_arguments)]
fn compare_reports(
    s: &Served,
    failures: &mut Vec<String>,
    runs: &mut Runs,
    token: String,
    extra: &[(&str, &str)],
    vars: &[(&str, &OsStr)],
    wrap: &dyn Fn(&Command) -> Command,
    tier: Tier,
) {
    let mut mine = s.launcher(&["report", &token], extra);
    for (k, v) in vars {
        mine.env(k, v);
    }
    same(
        failures,
        &format!("report {token}"),
        &mut wrap(&mine),
        &mut wrap(&cli_of(s, &mine)),
        Some(tier),
    );
    runs.push((token, 2));
}

/// Variables outside the key set, changed, unset between calls (non-UTF-8 and empty values
/// among them), and one that ZenML's import sets: each worker's `os.environ` and C `environ`
/// are exactly the CLI's. One server serves them all.
fn environments(
    s: &Served,
    kind: &str,
    extra: &[(&str, &str)],
    failures: &mut Vec<String>,
    runs: &mut Runs,
) {
    let master = s.server_pids();
    let steps: [&[(&str, &OsStr)]; 3] = [
        &[
            ("ZL_OUTSIDE", OsStr::new("one")),
            ("ZL_EMPTY", OsStr::new("")),
            ("ZL_BYTES", OsStr::from_bytes(b"caf\xe9 \xff")),
            ("ZL ODD.NAME-1", OsStr::new("x=y")),
        ],
        &[("ZL_OUTSIDE", OsStr::new("two"))],
        &[("TF_CPP_MIN_LOG_LEVEL", OsStr::new("1"))],
    ];
    for (n, vars) in steps.iter().enumerate() {
        compare_reports(
            s,
            failures,
            runs,
            format!("{kind}-env-{n}"),
            extra,
            vars,
            &|c| c.clone_cmd(),
            Tier::Server,
        );
    }
    if s.server_pids() != master {
        failures.push(format!(
            "environments: servers {master:?} became {:?}",
            s.server_pids()
        ));
    }
}

/// A client started with signals ignored (`nohup`, a background job of a script) or blocked:
/// the worker's dispositions, Python's handlers, its mask, and those of its children are the
/// CLI's.
fn signal_states(
    s: &Served,
    kind: &str,
    extra: &[(&str, &str)],
    failures: &mut Vec<String>,
    runs: &mut Runs,
) {
    let options = [
        "--ignore",
        "HUP,INT,QUIT,TERM,USR1,CHLD",
        "--block",
        "USR2,WINCH",
    ];
    compare_reports(
        s,
        failures,
        runs,
        format!("{kind}-signals"),
        extra,
        &[],
        &|c| exec_as(c, &options),
        Tier::Server,
    );
}

/// Workers that crash (SIGSEGV: the client dies by it, 139 in a shell, as the CLI) or exit with
/// codes Python maps (`sys.exit("msg")`, 256, beyond a C long), on each kind; the CLI runs each
/// once (its output names no path or variable of the launcher's).
fn endings(kinds: &Kinds, failures: &mut Vec<String>, runs: &mut Runs) {
    let cases: [&[&str]; 4] = [
        &["segv"],
        &["exit", "'a message'"],
        &["exit", "256"],
        &["exit", "2**70"],
    ];
    for (n, args) in cases.iter().enumerate() {
        let token = format!("end-{n}");
        let mut full: Vec<&str> = args.to_vec();
        full.push(&token);
        let (_, first, extra) = kinds.all[0];
        let (reference, _) = ended(&output_within(
            &mut cli_of(first, &first.launcher(&full, extra)),
            HANG,
        ));
        for (kind, s, extra) in kinds.all {
            same_as(
                failures,
                &format!("{full:?} ({kind})"),
                &mut s.launcher(&full, extra),
                &reference,
                Some(Tier::Server),
            );
        }
        runs.push((token, 3));
    }
}

/// The worker's child (`seq`) and then the worker itself writing to a reader that leaves after
/// the first line (`| head -1`), and to one gone before the start: the child dies of SIGPIPE as
/// the CLI's does, the worker fails as the CLI fails.
fn children_and_early_readers(kinds: &Kinds, failures: &mut Vec<String>, runs: &mut Runs) {
    for (n, run) in [first_line_only as fn(&mut Command) -> Output, reader_gone]
        .iter()
        .enumerate()
    {
        let token = format!("reader-{n}");
        let args = ["lines", "200000", &token];
        let (_, first, extra) = kinds.all[0];
        let (b, _) = ended(&run(&mut cli_of(first, &first.launcher(&args, extra))));
        for (kind, s, extra) in kinds.all {
            let (a, debug) = ended(&run(&mut s.launcher(&args, extra)));
            if a != b || tier_taken(&debug) != Some(Tier::Server) {
                failures.push(format!(
                    "lines ({}, {kind}):\nlauncher {a:?}\npython   {b:?}\n{debug:#?}",
                    if n == 0 { "| head -1" } else { "reader gone" }
                ));
            }
        }
        runs.push((token, 3));
    }
}

/// An environment a worker cannot take over as it is (a name twice: `getenv` and `os.environ`
/// see the first): the call is delegated, with the CLI's report. (No `=` and an empty name are
/// the unit tests of `client::odd_environment`.)
fn odd_environment(s: &Served, failures: &mut Vec<String>, runs: &mut Runs) {
    let options = ["--entry", "ZL_TWICE=1", "--entry", "ZL_TWICE=2"];
    compare_reports(
        s,
        failures,
        runs,
        "entries-twice".into(),
        &[],
        &[],
        &|c| exec_as(c, &options),
        Tier::Delegated,
    );
}

/// A crash with `PYTHONFAULTHANDLER`: the report would name a server's frames and modules, not
/// the CLI's, so such calls are delegated and start no server.
fn ruled_out(s: &Served, failures: &mut Vec<String>, runs: &mut Runs) {
    let token = "ruled-out";
    let files = dir_listing(&s.runtime);
    let mine = s.launcher(&["segv", token], &[("PYTHONFAULTHANDLER", "1")]);
    let debug = same(
        failures,
        "segv with PYTHONFAULTHANDLER=1",
        &mut mine.clone_cmd(),
        &mut cli_of(s, &mine),
        Some(Tier::Delegated),
    );
    if !debug
        .iter()
        .any(|l| l.contains("PYTHONFAULTHANDLER is set"))
    {
        failures.push(format!("segv with PYTHONFAULTHANDLER=1: {debug:#?}"));
    }
    if dir_listing(&s.runtime) != files {
        failures.push(format!(
            "segv with PYTHONFAULTHANDLER=1: a server was started: {:?}",
            dir_listing(&s.runtime)
        ));
    }
    runs.push((token.into(), 2));
}

/// The server SIGKILLed during a call: the client ends with one line and exit 1, its worker does
/// not live on, the call is not run again; the next call runs (delegated, starting a new server,
/// which then serves).
fn killed_server(s: &Served, extra: &[(&str, &str)], failures: &mut Vec<String>, runs: &mut Runs) {
    let never = s.world.home.join("never-created");
    let run =
        Running::start(s.launcher(&["wait", never.to_str().unwrap(), "killed-during"], extra));
    run.wait_for("waiting");
    let worker = run.worker();
    let master = s.server_pid();
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(master as i32, libc::SIGKILL) };
    let (status, out, err) = run.finish();
    let (err, _) = split_debug(&err);
    let err = show(&err);
    if status.code() != Some(1)
        || show(&out) != "waiting\n"
        || err.lines().count() != 1
        || !err.contains("the command server stopped during this command")
        || !gone_within(worker, Duration::from_secs(5))
    {
        failures.push(format!(
            "server killed during a call: {status:?}, stdout {:?}, stderr {err:?}, worker alive {}",
            show(&out),
            alive(worker)
        ));
    }
    runs.push(("killed-during".into(), 1));
    let out = output_within(&mut s.launcher(&["exit", "3", "killed-next"], extra), HANG);
    let (err, debug) = split_debug(&out.stderr);
    if out.status.code() != Some(3) || show(&out.stdout) != "before exit\n" || !err.is_empty() {
        failures.push(format!(
            "the call after the server was killed: {:?} {:?} {:?} {debug:#?}",
            out.status,
            show(&out.stdout),
            show(&err)
        ));
    }
    runs.push(("killed-next".into(), 1));
    // The new server (its start must not outlive the test).
    s.warm(extra);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: idle timeout, the bound on servers.

/// A call longer than `ZENML_LAUNCHER_SERVER_IDLE_S` completes, and its server exits only after
/// it; then, with the bound at 1 server and it busy, a second key's call: the least recently
/// used server steps aside, and no running call is killed.
#[test]
fn long_calls_outlive_the_idle_timeout_and_the_server_bound() {
    let mut failures = Vec::new();

    let s = probe_served("faults-idle");
    let idle = [("ZENML_LAUNCHER_SERVER_IDLE_S", "3")];
    let mut attempts = 0;
    let run = loop {
        // One call starts a server with an idle timeout of 3 s; the long call goes in as soon as
        // its socket appears (a server binds it once warm).
        let _ = output_within(&mut s.launcher(&["warm"], &idle), HANG);
        let deadline = Instant::now() + Duration::from_secs(600);
        while zenml_launcher::python::server::list(&s.runtime).is_empty() {
            assert!(Instant::now() < deadline, "no server: {}", s.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        let run = Running::start(s.launcher(&["sleep", "8", "idle-call"], &idle));
        run.wait_for("start");
        // The client prints its route line once it has the worker's pid: maybe after "start".
        let deadline = Instant::now() + Duration::from_secs(30);
        while tier_taken(&run.debug()).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if tier_taken(&run.debug()) == Some(Tier::Server) {
            break run;
        }
        // The server went idle before this call reached it: another try.
        let _ = run.finish();
        attempts += 1;
        assert!(attempts < 5, "no call reached a warm server: {}", s.logs());
    };
    let master = s.server_pid();
    std::thread::sleep(Duration::from_secs(5));
    let alive_during = alive(master);
    let (status, out, err) = run.finish();
    let gone_after = gone_within(master, Duration::from_secs(30));
    let logs = s.logs();
    let worker_at = logs.rfind(", status 0");
    let idle_at = logs.rfind("idle, stopping");
    if !status.success()
        || show(&out) != "start\nend\n"
        || !alive_during
        || !gone_after
        || !matches!((worker_at, idle_at), (Some(w), Some(i)) if w < i)
    {
        failures.push(format!(
            "a call of 8 s, idle 3 s: {status:?} {:?} {:?}, master alive during it {alive_during}, gone after {gone_after}; logs {logs}",
            show(&out),
            show(&err)
        ));
    }

    // The bound at 1: one busy server, and a call of a second key.
    let s = probe_served("faults-bound");
    let key = |n: &'static str| [("ZENML_LAUNCHER_SERVER_MAX", "1"), ("ZENML_ZL_KEY", n)];
    s.warm(&key("1"));
    let first = s.server_pid();
    let release = s.world.home.join("release");
    let release_arg = release.to_str().unwrap().to_string();
    let busy = Running::start(s.launcher(&["wait", &release_arg, "bound-1"], &key("1")));
    busy.wait_for("waiting");
    let worker = busy.worker();
    // The second key: its first call starts a server, which removes the least recently used's
    // socket; that server stops taking calls but lets its worker finish.
    s.warm(&key("2"));
    let still_running = alive(worker) && alive(first);
    std::fs::write(&release, "").unwrap();
    let (status, out, err) = busy.finish();
    if !status.success() || show(&out) != "waiting\ndone\n" || runs_of("bound-1") != 1 {
        failures.push(format!(
            "a busy call beyond the bound: {status:?} {:?} {:?}, ran {} times",
            show(&out),
            show(&err),
            runs_of("bound-1")
        ));
    }
    let evicted_gone = gone_within(first, Duration::from_secs(30));
    let sockets = zenml_launcher::python::server::list(&s.runtime).len();
    if !still_running || !evicted_gone || sockets != 1 {
        failures.push(format!(
            "the bound of 1: the call still running when the second server came {still_running}, \
             the evicted server {first} gone after its call {evicted_gone}, {sockets} sockets: {}",
            s.logs()
        ));
    }
    assert_none(failures);
}

// ---------------------------------------------------------------------------------------------
// Staleness: inotify exhausted, a reinstall during a call, a burst of events.

/// With inotify watches exhausted (a user namespace whose `max_inotify_watches` is 16: the
/// kernel's own ENOSPC, as when other programs hold them all), a server cannot see edits to
/// ZenML: it does not serve, and calls are delegated with the CLI's bytes.
#[test]
fn without_inotify_watches_calls_are_delegated() {
    let mut s = probe_served("faults-inotify");
    let wrapper = s.world.home.join("few-watches");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\n\
         exec unshare --user --map-root-user /bin/sh -c \
         'echo 16 > /proc/sys/user/max_inotify_watches || exit 125; exec \"$@\"' sh \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The construction: in the namespace, the 17th watch fails with ENOSPC.
    let check = output(Command::new(&wrapper).arg(base_python()).arg("-c").arg(
        "import ctypes, errno, os\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             fd = libc.inotify_init1(0)\n\
             ok = 0\n\
             for d in [r for r, _, _ in os.walk('/usr/lib')][:40]:\n    \
                 if libc.inotify_add_watch(fd, d.encode(), 2) < 0:\n        break\n    \
                 ok += 1\n\
             print(ok, errno.errorcode.get(ctypes.get_errno()))\n",
    ));
    let text = show(&check.stdout);
    assert!(
        check.status.success() && text.starts_with("16 ENOSPC"),
        "a user namespace with 16 inotify watches (unshare --user): {} {}",
        text,
        show(&check.stderr)
    );
    s.wrapper = Some(wrapper);

    let mut failures = Vec::new();
    // The first call starts a server, which must refuse to serve; the next call is delegated.
    let out = output_within(&mut s.launcher(&["exit", "3", "inotify-0"], &[]), HANG);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !s.logs().contains("failed: ") && s.server_pids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the server neither failed nor served: {}",
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, debug) = split_debug(&out.stderr);
    let mut mine = s.launcher(&["exit", "3", "inotify-1"], &[]);
    let mut cli = s.python(&["exit", "3", "inotify-1"], &[]);
    let after = same(
        &mut failures,
        "exit 3 without inotify watches",
        &mut mine,
        &mut cli,
        Some(Tier::Delegated),
    );
    if !s.logs().contains("fs.inotify.max_user_watches") || !s.server_pids().is_empty() {
        failures.push(format!(
            "without inotify watches: {debug:#?}\n{after:#?}\n{}",
            s.logs()
        ));
    }
    for (token, expected) in [("inotify-0", 1), ("inotify-1", 2)] {
        let n = runs_of(token);
        if n != expected {
            failures.push(format!("{token}: ran {n} times, expected {expected}"));
        }
    }
    assert_none(failures);
}

/// In a copy of the env (scripts/copy-env.sh): `uv pip install --force-reinstall
/// zenml==0.98.0` (offline, from the cache provisioning filled) while a served call waits at its
/// prompt: the call ends as the CLI's does (answered `y`: the stack is deleted), the next call
/// is delegated and a new server serves the new files. Then thousands of irrelevant events in a
/// watched directory before a new module file: the server still sees the module.
#[test]
fn reinstall_during_a_call_and_a_burst_of_events() {
    let home = scratch("faults-reinstall");
    let env = home.join("env");
    let out = output(
        Command::new("bash")
            .arg(repo().join("scripts/copy-env.sh"))
            .arg(zenml_env(ZENML_VERSION))
            .arg(&env),
    );
    assert!(out.status.success(), "copy-env.sh: {}", show(&out.stderr));
    let world = World {
        cache: home.join("cache"),
        home: home.clone(),
        env: env.clone(),
    };
    world.python(
        "from zenml.client import Client\n\
         c = Client()\n\
         for name in ('zl_gone_a', 'zl_gone_b'):\n    \
             c.create_stack(name=name, components={'orchestrator': 'default', 'artifact_store': 'default'})\n",
    );
    prime(&world);
    let s = Served::with_world(world, "faults-reinstall");
    let mut failures = Vec::new();

    // The reinstall during a call.
    s.warm(&[]);
    let old = s.server_pid();
    let old_log = zenml_launcher::python::server::list(&s.runtime)
        .into_iter()
        .find(|f| zenml_launcher::python::server::info_pid(f) == Some(old))
        .expect("the running server's files")
        .log;
    let run = Running::start(s.launcher(&["stack", "delete", "zl_gone_a"], &[]));
    run.wait_for("zl_gone_a");
    let worker = run.worker();
    let uv = zenml_env(ZENML_VERSION)
        .parent()
        .unwrap()
        .join("tools/bin/uv");
    let install = output(
        Command::new(&uv)
            .args([
                "pip",
                "install",
                "--offline",
                "--quiet",
                "--force-reinstall",
            ])
            .arg("--python")
            .arg(env.join("bin/python"))
            .arg(format!("zenml=={ZENML_VERSION}")),
    );
    assert!(
        install.status.success(),
        "uv pip install --force-reinstall (offline, from uv's cache filled by provision-envs.sh): {}",
        show(&install.stderr)
    );
    let worker_lived = alive(worker);
    let mut run = run;
    run.child.stdin.as_mut().unwrap().write_all(b"y\n").unwrap();
    let (status, out, err) = run.finish();
    let (err, _) = split_debug(&err);
    let reference = run_streams(
        &cli_of(&s, &s.launcher(&["stack", "delete", "zl_gone_b"], &[])),
        100,
        &[],
        Some("y\n"),
    );
    let swap = |b: &[u8]| show(b).replace("zl_gone_b", "zl_gone_a");
    if !worker_lived
        || (status.code(), show(&out), show(&err))
            != (
                Some(reference.code),
                swap(&reference.stdout),
                swap(&reference.stderr),
            )
    {
        failures.push(format!(
            "the call during the reinstall: worker alive through it {worker_lived}, {status:?} {:?} {:?}; the CLI's {}",
            show(&out),
            show(&err),
            reference
        ));
    }
    // The old server's worker lines (a new server of the same key truncates the log: count
    // only lines with the old pid, and only an increase means it served).
    let served_by_old = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches(&format!("zenml-launcher server {old}: worker "))
            .count()
    };
    let calls_of_old = served_by_old(&old_log);
    let mine = s.launcher(&["stack", "--help"], &[]);
    let (help, _) = ended(&output_within(&mut cli_of(&s, &mine), HANG));
    same_as(
        &mut failures,
        "stack --help after the reinstall",
        &mut mine.clone_cmd(),
        &help,
        Some(Tier::Delegated),
    );
    s.warm(&[]);
    // (The old server may live on, idle: the reinstall changed the key, so no call reaches it.)
    if served_by_old(&old_log) > calls_of_old || !s.server_pids().iter().any(|&p| p != old) {
        failures.push(format!(
            "the server of before the reinstall ({old}) served a call after it: {}",
            s.logs()
        ));
    }

    // A burst: 3,000 new files the server does not care about (more than one read of its
    // inotify queue), then a new module, in ZenML's package directory (not site-packages
    // itself, whose change makes another key: the launcher's cache stats it).
    let package = site_packages(&env).join("zenml");
    for i in 0..3000 {
        std::fs::File::create(package.join(format!("zl-noise-{i:04}.txt"))).unwrap();
    }
    std::fs::write(package.join("zl_new_module.py"), "").unwrap();
    // (The CLI's help page of the same world, measured above: nothing it shows changed.)
    let debug = same_as(
        &mut failures,
        "stack --help after a burst of events",
        &mut s.launcher(&["stack", "--help"], &[]),
        &help,
        Some(Tier::Delegated),
    );
    if !debug
        .iter()
        .any(|l| l.contains("stale: zl_new_module.py changed"))
    {
        failures.push(format!("after a burst of events: {debug:#?}"));
    }
    assert_none(failures);
}
