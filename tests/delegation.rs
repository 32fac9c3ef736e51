//! Delegation: what the launcher hands to the env's Python CLI must be indistinguishable from the
//! env's own `bin/zenml` (stdout bytes, stderr bytes, exit code, SIGINT handling), including when
//! the launcher *is* the env's `bin/zenml`.
//!
//! Runs in the provisioned `target/envs/zenml-<version>` (read-only here: nothing is installed into
//! it), each run with a fresh private ZENML_CONFIG_PATH and analytics off.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(120);

/// A command in `home` with a fresh private ZenML config (same path for both sides, so that
/// first-run messages are the same).
fn fresh(program: &Path, home: &Path, vars: &[(&str, &str)]) -> Command {
    let _ = std::fs::remove_dir_all(home.join("zenml-config"));
    let mut cmd = clean_command(program, home);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd
}

/// Runs `zenml <args>` through the launcher (VIRTUAL_ENV set) and through the env's own
/// `bin/zenml` under the same environment; asserts identical bytes and exit codes.
fn assert_same(env: &Path, args: &[OsString], vars: &[(&str, &str)]) -> Output {
    let home = scratch("delegation");
    let mut all: Vec<(&str, &str)> = vec![("VIRTUAL_ENV", env.to_str().unwrap())];
    all.extend_from_slice(vars);
    let ours = output_within(fresh(&launcher(), &home, &all).args(args), LIMIT);
    let theirs = output_within(fresh(&env.join("bin/zenml"), &home, &all).args(args), LIMIT);
    compare(&format!("zenml {args:?}"), &ours, &theirs);
    ours
}

fn compare(what: &str, ours: &Output, theirs: &Output) {
    assert_eq!(
        show(&ours.stderr),
        show(&theirs.stderr),
        "{what}: stderr differs (launcher left, bin/zenml right)"
    );
    assert_eq!(ours.stderr, theirs.stderr, "{what}: stderr bytes differ");
    assert_eq!(
        show(&ours.stdout),
        show(&theirs.stdout),
        "{what}: stdout differs"
    );
    assert_eq!(ours.stdout, theirs.stdout, "{what}: stdout bytes differ");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{what}: exit code differs"
    );
    assert_eq!(
        ours.status.signal(),
        theirs.status.signal(),
        "{what}: signal differs"
    );
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

#[test]
fn unknown_command_exits_2_like_the_python_cli() {
    let out = assert_same(&zenml_env(ZENML_VERSION), &args(&["nonexistent"]), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        show(&out.stderr).contains("No such command 'nonexistent'"),
        "{}",
        show(&out.stderr)
    );
}

/// `stack get café<0xff>`: Python sees the invalid byte surrogate-escaped; rc 2.
fn non_utf8_argv() -> Vec<OsString> {
    let mut arg = "café".as_bytes().to_vec();
    arg.push(0xff);
    vec!["stack".into(), "get".into(), OsString::from_vec(arg)]
}

#[test]
fn non_utf8_argument_reaches_the_cli_unchanged() {
    let out = assert_same(&zenml_env(ZENML_VERSION), &non_utf8_argv(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        show(&out.stderr).contains("(café\\udcff)"),
        "{}",
        show(&out.stderr)
    );
}

#[test]
fn subcommand_help_is_identical() {
    let out = assert_same(&zenml_env(ZENML_VERSION), &args(&["stack", "--help"]), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        show(&out.stdout).contains("Usage: zenml stack")
            || show(&out.stderr).contains("Usage: zenml stack")
    );
}

#[test]
fn version_through_delegation() {
    // ZENML_USE_PYTHON_CLI=1 keeps this on the delegation route whatever the router answers itself.
    let out = assert_same(
        &zenml_env(ZENML_VERSION),
        &args(&["--version"]),
        &[("ZENML_USE_PYTHON_CLI", "1")],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = format!("{}{}", show(&out.stdout), show(&out.stderr));
    assert!(text.contains(&format!("version {ZENML_VERSION}")), "{text}");
}

#[test]
fn old_entry_point_is_delegated_too() {
    // zenml < 0.93 declares `zenml.cli.cli:cli` (no zenml_cli package).
    let env = zenml_env(ZENML_OLD_VERSION);
    let out = assert_same(&env, &args(&["nonexistent"]), &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn launcher_installed_as_the_envs_zenml() {
    let home = scratch("installed");
    let venv = venv_with_launcher_as_zenml(&home);
    let installed = venv.join("bin/zenml");
    let reference = zenml_env(ZENML_VERSION).join("bin/zenml");
    // No VIRTUAL_ENV, no CONDA_PREFIX, and PATH's python3 is not this env's: the launcher must find
    // its own prefix, and must run the Python CLI rather than itself (a hang = recursion).
    let forced = [("ZENML_USE_PYTHON_CLI", "1")];
    for (argv, vars) in [
        (args(&["--version"]), &forced[..]),
        (args(&["nonexistent"]), &[][..]),
        (non_utf8_argv(), &[][..]),
    ] {
        let ours = output_within(fresh(&installed, &home, vars).args(&argv), LIMIT);
        let theirs = output_within(fresh(&reference, &home, vars).args(&argv), LIMIT);
        compare(&format!("installed zenml {argv:?}"), &ours, &theirs);
    }

    // Found through PATH (argv[0] is then a bare `zenml`).
    let mut cmd = fresh(Path::new("zenml"), &home, &forced);
    cmd.env(
        "PATH",
        format!("{}:/usr/bin:/bin", venv.join("bin").display()),
    );
    let ours = output_within(cmd.arg("--version"), LIMIT);
    let theirs = output_within(fresh(&reference, &home, &forced).arg("--version"), LIMIT);
    compare("zenml --version via PATH", &ours, &theirs);

    // The diagnosis says which rule found the env.
    let debug = output_within(
        fresh(
            &installed,
            &home,
            &[("ZENML_USE_PYTHON_CLI", "1"), ("ZENML_DEBUG_PYTHON", "1")],
        )
        .arg("--version"),
        LIMIT,
    );
    assert!(debug.status.success(), "{}", show(&debug.stderr));
    let stderr = show(&debug.stderr);
    assert!(
        stderr.contains("launcher-prefix") && stderr.contains(venv.to_str().unwrap()),
        "the launcher resolved its own prefix: {stderr}"
    );
}

/// Starts `cmd`, waits until `prompt` appears on its stdout or stderr, checks that the process
/// is a Python by then (the launcher exec'd), sends SIGINT to that pid and collects the result.
fn interrupt_at_prompt(mut cmd: Command, prompt: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = |stream: Box<dyn std::io::Read + Send>| {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut stream = stream;
            let mut own = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                own.extend_from_slice(&buf[..n]);
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            own
        })
    };
    let out_reader = reader(Box::new(child.stdout.take().unwrap()));
    let err_reader = reader(Box::new(child.stderr.take().unwrap()));
    let stdin = child.stdin.take();

    let deadline = Instant::now() + LIMIT;
    while !show(&seen.lock().unwrap()).contains(prompt) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "{cmd:?}: no prompt {prompt:?}; got: {}",
                show(&seen.lock().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
    assert!(
        exe.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("python"),
        "the pid is the Python process by now, not {}",
        exe.display()
    );
    // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT) failed");
    // A time of its own from the signal on: on a loaded machine the prompt alone can take most
    // of the first one.
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} ignored SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

#[test]
fn sigint_reaches_the_python_cli() {
    let env = zenml_env(ZENML_VERSION);
    let home = scratch("sigint");
    let vars = [("VIRTUAL_ENV", env.to_str().unwrap())];
    // `secret create -i` waits for a key on stdin before doing anything.
    let argv = ["secret", "create", "sigint-test", "-i"];
    let prompt = "Please enter a secret key";
    let run = |program: &Path, vars: &[(&str, &str)]| {
        let mut cmd = fresh(program, &home, vars);
        cmd.args(argv);
        interrupt_at_prompt(cmd, prompt)
    };
    let theirs = run(&env.join("bin/zenml"), &vars);
    // Python turned the signal into KeyboardInterrupt, which Click reports as "Aborted!".
    assert_eq!(theirs.status.code(), Some(1), "{:?}", theirs.status);
    assert!(
        show(&theirs.stderr).ends_with("Aborted!\n"),
        "{}",
        show(&theirs.stderr)
    );
    // The launcher with VIRTUAL_ENV (it execs the env's console script) …
    compare("SIGINT at a prompt", &run(&launcher(), &vars), &theirs);
    // … and installed as the env's bin/zenml (it execs the env's python with the same stub).
    let installed = venv_with_launcher_as_zenml(&home).join("bin/zenml");
    compare(
        "SIGINT at a prompt, installed",
        &run(&installed, &[]),
        &theirs,
    );
}

/// The ladder tries each tier a route allows at most once, in order, whichever of them declines:
/// here the server is off (`clean_command`), there is no embedding library, and the config is
/// new (so the Rust routes decline too), so every call ends delegated.
#[test]
fn each_tier_is_tried_at_most_once() {
    let env = zenml_env(ZENML_VERSION);
    let home = scratch("ladder");
    let cases: &[(&[&str], &[&str])] = &[
        (&["stack", "list", "--name", "x"], &["server", "in-process"]),
        (&["stack", "list"], &["rust", "server", "in-process"]),
        (&["stack", "describe"], &["server"]),
        (&["status"], &["rust", "server"]),
    ];
    for (argv, tiers) in cases {
        let vars = [
            ("VIRTUAL_ENV", env.to_str().unwrap()),
            ("ZENML_DEBUG_PYTHON", "1"),
            (
                "ZENML_LAUNCHER_EMBED_LIB",
                "/nonexistent/libzenml_launcher_embed.so",
            ),
        ];
        let out = output_within(fresh(&launcher(), &home, &vars).args(*argv), LIMIT);
        let (_, debug) = split_debug(&out.stderr);
        let declined: Vec<&str> = debug
            .iter()
            .filter_map(|l| l.split_once(": declined: ").map(|(tier, _)| tier))
            .collect();
        assert_eq!(&declined, tiers, "zenml {argv:?}: {debug:#?}");
        let delegations = debug.iter().filter(|l| l.starts_with("route: delegate"));
        assert_eq!(delegations.count(), 1, "zenml {argv:?}: {debug:#?}");
    }
}

/// A standard stream closed by the caller (`2>&-`, `>&-`, `<&-`): the Python CLI fails in its
/// own way (exit 1, a traceback on the stream that is left), and the launcher must not turn that
/// into a success by answering itself or by handing the CLI an open `/dev/null` in its place.
#[test]
fn closed_standard_streams_are_as_the_cli_sees_them() {
    let env = zenml_env(ZENML_VERSION);
    let home = scratch("closed-stdio");
    let cases: &[(&str, &[&str])] = &[
        ("2>&-", &["--version"]),
        ("2>&-", &["status"]),
        ("2>&-", &["stack", "list"]),
        (">&-", &["stack", "list"]),
        ("2>&-", &["stack", "describe"]),
        ("<&-", &["--version"]),
    ];
    for (redirect, argv) in cases {
        let run = |program: &Path| {
            let script = format!("exec \"$0\" \"$@\" {redirect}");
            let mut cmd = fresh(
                Path::new("/bin/sh"),
                &home,
                &[("VIRTUAL_ENV", env.to_str().unwrap())],
            );
            cmd.arg("-c").arg(script).arg(program).args(*argv);
            output_within(&mut cmd, LIMIT)
        };
        let theirs = run(&env.join("bin/zenml"));
        let ours = run(&launcher());
        compare(&format!("zenml {argv:?} {redirect}"), &ours, &theirs);
    }
    assert_eq!(
        cases.len(),
        6,
        "every case ran (the CLI exits 1 for the closed stream in each)"
    );
    // The launcher took no tier of its own (and so started no server) for such a call.
    let mut cmd = fresh(
        Path::new("/bin/sh"),
        &home,
        &[
            ("VIRTUAL_ENV", env.to_str().unwrap()),
            ("ZENML_DEBUG_PYTHON", "1"),
            ("ZENML_LAUNCHER_SERVER", "1"),
            ("ZENML_LAUNCHER_SERVER_IDLE_S", "5"),
            (
                "ZENML_LAUNCHER_RUNTIME_DIR",
                home.join("run").to_str().unwrap(),
            ),
        ],
    );
    cmd.arg("-c")
        .arg("exec \"$0\" stack describe <&-")
        .arg(launcher());
    let out = output_within(&mut cmd, LIMIT);
    let (_, debug) = split_debug(&out.stderr);
    assert!(
        debug
            .iter()
            .any(|l| l == "fd 0 was closed at start: the Python CLI only")
            && !debug
                .iter()
                .any(|l| l.starts_with("server:") || l.starts_with("route: server")),
        "{debug:#?}"
    );
}
