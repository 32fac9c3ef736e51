//! The command server for every env (issue #19): the server run by the env's own `python` when no
//! embedding library can serve the env, tested end to end on the real case, a Debian venv whose
//! base `/usr/bin/python3.11` (statically linked) has no `libpython3.11.so.1.0` installed; the
//! fork hygiene of both kinds of server; and many first calls at once.
//!
//! The real case is constructed in a mount namespace (`tests/support/hide_libpython.sh`): the
//! files of Debian's `libpython3.11` and `libpython3.11-dev` packages are hidden by overlayfs
//! whiteouts and the loader's cache is rebuilt without them, so inside it the machine is one where
//! those optional packages were never installed (as in minimal images). The interpreter, the venv
//! and ZenML are the untouched provisioned ones (`target/envs/debian-3.11`, copied).

mod common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::served::*;
use common::world::World;
use common::*;

const MULTIARCH_LIB: &str = "/usr/lib/x86_64-linux-gnu";
const DEBIAN_LIBPYTHON: &str = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";

fn envs_dir() -> PathBuf {
    std::env::var_os("ZENML_LAUNCHER_ENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/envs"))
}

/// A program that runs its arguments in the namespace without Debian's libpython (made once).
fn without_libpython() -> PathBuf {
    static WRAPPER: OnceLock<PathBuf> = OnceLock::new();
    WRAPPER
        .get_or_init(|| {
            assert!(
                unsafe { libc::geteuid() } == 0,
                "tests/python_server.rs hides a system library in a mount namespace and needs root \
                 (mknod, mount), as CI runs it"
            );
            assert!(
                Path::new(DEBIAN_LIBPYTHON).is_file(),
                "{DEBIAN_LIBPYTHON} is not installed, so this machine has no embedded server for \
                 Debian's python3.11 to compare with: apt-get install -y libpython3.11"
            );
            let dir = scratch("no-libpython");
            let wrapper = dir.join("run");
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nexec {} {} \"$@\"\n",
                    repo().join("tests/support/hide_libpython.sh").display(),
                    dir.join("state").display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
            // The reference CLI's runs through it may be warm (`refrun`), in the namespace too.
            common::refrun::runs_its_arguments(&wrapper);
            wrapper
        })
        .clone()
}

/// Runs `program args` in the namespace without Debian's libpython.
fn hidden(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut cmd = Command::new(without_libpython());
    cmd.arg(program).args(args);
    cmd
}

/// The namespace is the real case: every file of the libpython3.11 and libpython3.11-dev
/// packages under the multiarch lib dir is gone and the loader cannot find the soname, while
/// outside it they are there; the venv's python is Debian's, statically linked.
fn assert_the_construction(env: &Path) {
    let python = std::fs::canonicalize(env.join("bin/python")).unwrap();
    assert_eq!(python, Path::new("/usr/bin/python3.11"), "the venv's base");
    let ldd = show(&output(Command::new("ldd").arg(&python)).stdout);
    assert!(
        !ldd.contains("libpython"),
        "Debian's python3.11 links no libpython: {ldd}"
    );
    let mut files = Vec::new();
    for package in ["libpython3.11", "libpython3.11-dev"] {
        let out = output(Command::new("dpkg").args(["-L", package]));
        assert!(
            out.status.success(),
            "dpkg -L {package}: {}",
            show(&out.stderr)
        );
        files.extend(
            lines(&out.stdout)
                .into_iter()
                .filter(|f| f.starts_with(&format!("{MULTIARCH_LIB}/libpython"))),
        );
    }
    assert!(files.iter().any(|f| f == DEBIAN_LIBPYTHON), "{files:?}");
    let check = format!(
        "for f in {}; do [ -e \"$f\" ] || [ -L \"$f\" ] && echo \"still there: $f\"; done; \
         /sbin/ldconfig -p | grep -F libpython3.11 || true",
        files.join(" ")
    );
    let out = output(&mut hidden("/bin/sh", &["-c", &check]));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "the namespace still has Debian's libpython: {}{}",
        show(&out.stdout),
        show(&out.stderr)
    );
    for f in &files {
        assert!(
            Path::new(f).symlink_metadata().is_ok(),
            "{f} is gone outside the namespace"
        );
    }
}

/// Two copies of the provisioned Debian venv (pip's bin/zenml, no launcher file) at paths of the
/// same length: one for the launcher, one whose Python CLI is the reference (the same
/// interpreter, ZenML and files; its root, in what it prints, is swapped for the other's).
fn debian_envs() -> (PathBuf, PathBuf) {
    let from = envs_dir().join("debian-3.11");
    assert!(
        from.join(".provisioned-console-script").is_file(),
        "test env {} is missing: run scripts/provision-envs.sh debian-3.11 (scripts/test.sh does)",
        from.display()
    );
    let dir = scratch("env-debian");
    let copy = |twin: &str| {
        let env = dir.join(twin).join("debian-3.11");
        let out = output(
            Command::new("bash")
                .arg(repo().join("scripts/copy-env.sh"))
                .arg(&from)
                .arg(&env),
        );
        assert!(out.status.success(), "copy-env: {}", show(&out.stderr));
        std::fs::copy(
            env.join(".provisioned-console-script"),
            env.join("bin/zenml"),
        )
        .unwrap();
        env
    };
    (copy("a"), copy("b"))
}

/// The whole life of the launcher in a Debian venv without libpython: install (a source build,
/// in the namespace), doctor's why, the Rust routes, the env's python as the command server
/// (parity in pipes and terminals, writes, signals), staleness after an edit, uninstall.
#[test]
fn debian_python_without_its_libpython_end_to_end() {
    let (env, twin) = debian_envs();
    assert_the_construction(&env);
    let pip_script = std::fs::read(env.join("bin/zenml")).unwrap();

    // Install, as a developer would in that machine.
    let mut install = hidden("bash", &[]);
    install
        .arg(repo().join("scripts/install.sh"))
        .arg(&env)
        .env("ZENML_LAUNCHER_BUILD_PROFILE", "dev")
        .env_remove("VIRTUAL_ENV")
        .env_remove("CONDA_PREFIX");
    let out = output(&mut install);
    assert!(
        out.status.success(),
        "install.sh in the namespace: {}{}",
        show(&out.stdout),
        show(&out.stderr)
    );
    assert!(
        std::fs::read(env.join("bin/zenml"))
            .unwrap()
            .starts_with(b"\x7fELF")
    );

    let home = scratch("debian-world");
    let world = World {
        cache: home.join("cache"),
        home,
        env: env.clone(),
    };
    let mut s = Served::with_world(world, "debian");
    s.program = env.join("bin/zenml");
    // The Python CLI of the twin venv, in the same namespace and world.
    s.reference = twin.join("bin/zenml");
    s.twin_roots = Some((twin.clone(), env.clone()));
    s.wrapper = Some(without_libpython());
    let setup = cli_output(&mut s.python(
        &[
            "stack",
            "register",
            "zl_victim",
            "-o",
            "default",
            "-a",
            "default",
        ],
        &[],
    ));
    assert!(setup.status.success(), "{}", show(&setup.stderr));

    // doctor says which server and why; outside the namespace the same env gets the embedded one.
    let doctor = |cmd: &mut Command| -> serde_json::Value {
        let out = output(cmd.env_remove("ZENML_LAUNCHER_SERVER"));
        assert!(out.status.success(), "doctor: {}", show(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["launcher"]["command_server"].clone()
    };
    let inside = doctor(&mut s.world.command(
        &without_libpython(),
        &[
            env.join("bin/zenml-launcher").to_str().unwrap(),
            "doctor",
            "--json",
        ],
        &[],
    ));
    assert_eq!(inside["kind"], "python", "{inside}");
    assert!(
        inside["why"]
            .as_str()
            .unwrap()
            .contains("has no shared libpython"),
        "{inside}"
    );
    let outside = doctor(&mut s.world.command(
        &env.join("bin/zenml-launcher"),
        &["doctor", "--json"],
        &[],
    ));
    assert_eq!(outside["kind"], "embedded", "{outside}");

    // The Rust routes.
    let mut failures = Vec::new();
    for args in [&["--version"][..], &["status"], &["stack", "list"]] {
        let mine = run_streams(&s.launcher(args, &[]), 100, &[], None);
        let reference = s.as_launcher_env(run_streams(&s.python(args, &[]), 100, &[], None));
        let (mine, reference, debug) = common::world::comparable(mine, reference);
        if mine != reference || tier_taken(&debug) != Some(Tier::Rust) {
            failures.push(format!(
                "{args:?}\nlauncher {mine}\npython   {reference}\n{debug:#?}"
            ));
        }
    }

    // The first call finds no server and waits for the python server it starts
    // (`ZENML_LAUNCHER_SERVER=wait`, `Served::warm`).
    s.warm(&[]);
    let status = output(&mut s.world.command(
        &without_libpython(),
        &[
            env.join("bin/zenml-launcher").to_str().unwrap(),
            "server",
            "status",
        ],
        &[("ZENML_LAUNCHER_RUNTIME_DIR", s.runtime.to_str().unwrap())],
    ));
    let status = show(&status.stdout);
    assert!(
        status.contains("python server") && status.contains("has no shared libpython"),
        "{status}"
    );

    // Served parity: pipes, terminals, a prompt, completion, failures.
    let pipes: &[&[&str]] = &[
        &["stack", "describe"],
        &["stack", "describe", "zl_victim"],
        &["orchestrator", "list"],
        &["pipeline", "list"],
        &["project", "list"],
        &["user", "list"],
        &["stack", "--help"],
        &["pipeline", "runs", "list", "--help"],
        &["stack", "describe", "no-such-stack"],
        &["pipeline", "list", "--bogus"],
        &["user", "describe", "default"],
    ];
    for args in pipes {
        if let Err(e) = s.compare(args, &[], &[], None, true) {
            failures.push(e);
        }
    }
    let term = [("TERM", "xterm-256color")];
    s.warm(&term); // the terminal variables are in the key: a server of their own
    for (args, ttys) in [
        (&["stack", "describe"][..], &["stdout", "stderr"][..]),
        (&["project", "list"], &["stdout"]),
        (&["stack", "--help"], &["stdout", "stderr"]),
    ] {
        if let Err(e) = s.compare(args, &term, ttys, None, true) {
            failures.push(e);
        }
    }
    if let Err(e) = s.compare(
        &["stack", "delete", "zl_victim"],
        &[],
        &[],
        Some("n\n"),
        true,
    ) {
        failures.push(e);
    }
    let completion = [
        ("_ZENML_COMPLETE", "bash_complete"),
        ("COMP_WORDS", "zenml stack de"),
        ("COMP_CWORD", "2"),
    ];
    if let Err(e) = s.compare(&[], &completion, &[], None, true) {
        failures.push(e);
    }

    // Writes, in twin worlds (the reference's own world), ids masked.
    let theirs = scratch("debian-world-cli");
    let cli = |args: &[&str], input: Option<&str>| {
        let mut cmd = s.python(args, &[]);
        cmd.env("HOME", &theirs)
            .env("ZENML_CONFIG_PATH", theirs.join("zenml-config"))
            .current_dir(&theirs);
        s.as_launcher_env(run_streams(&cmd, 100, &[], input))
    };
    cli(&["status"], None);
    for (args, input) in [
        (
            &[
                "stack", "register", "zl_w", "-o", "default", "-a", "default",
            ][..],
            None,
        ),
        (&["stack", "rename", "zl_w", "zl_w2"], None),
        (&["stack", "delete", "zl_w2"], Some("y\n")),
        (&["project", "register", "zl_project"], None),
    ] {
        let a = run_streams(&s.launcher(args, &[]), 100, &[], input);
        let b = cli(args, input);
        let (a_err, debug) = split_debug(&a.stderr);
        let mask = |c: &Captured, err: &[u8]| (without_ids(&c.stdout), without_ids(err), c.code);
        if mask(&a, &a_err) != mask(&b, &b.stderr) || tier_taken(&debug) != Some(Tier::Server) {
            failures.push(format!(
                "write {args:?}\nlauncher {a}\npython   {b}\n{debug:#?}"
            ));
        }
    }

    // Signals: Ctrl-C at a prompt as the CLI; a signal the CLI dies of kills the client too.
    let delete = ["stack", "delete", "zl_victim"];
    let ctrl_c = |cmd: Command| {
        let run = Running::start(cmd);
        run.wait_for("zl_victim");
        std::thread::sleep(Duration::from_millis(200));
        run.signal(libc::SIGINT);
        run.finish_after_signal()
    };
    let (a_status, a_out, a_err) = ctrl_c(s.launcher(&delete, &[]));
    let (b_status, b_out, b_err) = ctrl_c(s.python(&delete, &[]));
    let swapped = s.as_launcher_env(Captured {
        stdout: b_out,
        stderr: b_err,
        code: 0,
    });
    let (b_out, b_err) = (swapped.stdout, swapped.stderr);
    let (a_err, debug) = split_debug(&a_err);
    if (a_status.code(), a_status.signal(), &a_out, &a_err)
        != (b_status.code(), b_status.signal(), &b_out, &b_err)
        || tier_taken(&debug) != Some(Tier::Server)
    {
        failures.push(format!(
            "Ctrl-C: launcher {a_status:?} {:?} {:?}, python {b_status:?} {:?} {:?}",
            show(&a_out),
            show(&a_err),
            show(&b_out),
            show(&b_err)
        ));
    }
    let run = Running::start(s.launcher(&delete, &[]));
    run.wait_for("zl_victim");
    let worker = run.worker();
    run.signal(libc::SIGUSR1);
    let (status, _, _) = run.finish_after_signal();
    if status.signal() != Some(libc::SIGUSR1) || !gone_within(worker, Duration::from_secs(5)) {
        failures.push(format!(
            "SIGUSR1: client {status:?}, worker alive {}",
            alive(worker)
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // An edit of a ZenML module makes the python server stale: never old code.
    let file = site_packages(&env).join("zenml/console.py");
    let mut text = std::fs::read(&file).unwrap();
    text.extend_from_slice(
        b"\nimport sys as _zl_sys\n_zl_sys.stderr.write('zl: edited console.py\\n')\n",
    );
    let temp = file.with_extension("py.zl-new");
    std::fs::write(&temp, &text).unwrap();
    std::fs::rename(&temp, &file).unwrap();
    let mine = output(&mut s.launcher(&["stack", "describe"], &[]));
    let (stderr, debug) = split_debug(&mine.stderr);
    assert!(
        show(&stderr).contains("zl: edited console.py")
            && debug.iter().any(|l| l.contains("stale"))
            && tier_taken(&debug) == Some(Tier::Delegated),
        "after an edit: {debug:#?} {}",
        show(&stderr)
    );

    // Uninstall (in the namespace): pip's script back, byte for byte.
    for files in zenml_launcher::python::server::list(&s.runtime) {
        zenml_launcher::python::server::stop(&files, Duration::from_secs(10));
    }
    let mut uninstall = hidden("bash", &[]);
    uninstall
        .arg(repo().join("scripts/install.sh"))
        .arg("--uninstall")
        .arg(&env)
        .env("ZENML_LAUNCHER_BUILD_PROFILE", "dev");
    let out = output(&mut uninstall);
    assert!(out.status.success(), "uninstall: {}", show(&out.stderr));
    assert_eq!(std::fs::read(env.join("bin/zenml")).unwrap(), pip_script);
    assert!(!env.join("bin/zenml-launcher").exists() && !env.join("lib/zenml-launcher").exists());
}

/// A scratch venv on the base Python that sees the provisioned ZenML through a `.pth` line, with
/// its dist-info, and a `bin/zenml` that reports what a worker holds instead of running the CLI:
/// it marks its arrival, waits for the other call's mark (so two workers overlap), then writes
/// (to fd 1 directly: ZenML, preloaded by the server, reroutes `sys.stdout`) its pid, a `random`
/// draw, the state of the import and logging locks, and every open descriptor with, for
/// sockets, their `/proc/net/unix` row.
fn probe_venv(home: &Path) -> PathBuf {
    scripted_venv(home, "probe", PROBE)
}

/// The probe's `bin/zenml` (see [`probe_venv`]).
const PROBE: &str = r#"import json, os, random, sys, time
import _imp, logging
me, other = sys.argv[1], sys.argv[2]
open(me, "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(other) and time.monotonic() < deadline:
    time.sleep(0.01)
fds = {}
for name in os.listdir("/proc/self/fd"):
    try:
        fds[name] = os.readlink("/proc/self/fd/" + name)
    except OSError:
        pass
unix = {}
with open("/proc/net/unix") as f:
    next(f)
    for line in f:
        parts = line.split()
        unix["socket:[%s]" % parts[6]] = " ".join(parts[3:6] + parts[7:8])
report = {
    "pid": os.getpid(),
    "random": random.random(),
    "overlapped": os.path.exists(other),
    "fds": fds,
    "sockets": {t: unix.get(t) for t in fds.values() if t.startswith("socket:")},
    "import_lock_held": _imp.lock_held(),
    "logging_lock_free": logging._lock.acquire(blocking=False),
}
os.write(1, json.dumps(report).encode())
"#;

/// A pipe's identity as `/proc/<pid>/fd` shows it.
fn pipe_name(fd: &impl AsRawFd) -> String {
    let meta = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    format!("pipe:[{}]", meta.ino())
}

/// Two concurrent workers of each kind of server start as `os.fork()` leaves a child: different
/// `random` draws (the at-fork hooks reseeded it), no lock held, and only their own client's
/// descriptors: its three pipes on 0, 1 and 2, nothing else (no listening or other socket, no
/// other client's pipe, no file of the master).
#[test]
fn workers_of_both_kinds_fork_clean() {
    let home = scratch("fork-hygiene");
    let venv = probe_venv(&home);
    let mut failures = Vec::new();
    for (kind, extra) in [
        ("embedded", &[][..]),
        (
            "python",
            &[(
                "ZENML_LAUNCHER_EMBED_LIB",
                "/nonexistent/libzenml_launcher_embed.so",
            )][..],
        ),
    ] {
        let s = Served::with_world(
            World {
                cache: home.join("cache"),
                home: home.clone(),
                env: venv.clone(),
            },
            &format!("fork-{kind}"),
        );
        // The first call starts the server (the probe runs delegated, its marks its own).
        let first = home.join(format!("{kind}-first"));
        let first = first.to_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let out = output(&mut s.launcher(&[first, first], extra));
            let (_, debug) = split_debug(&out.stderr);
            if tier_taken(&debug) == Some(Tier::Server) {
                assert!(
                    debug.iter().any(|l| l.contains(&format!("{kind} server"))),
                    "{debug:#?}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} server: {debug:#?}\n{}",
                s.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        let (a, b) = (
            home.join(format!("{kind}-a")),
            home.join(format!("{kind}-b")),
        );
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let clients: Vec<_> = [[a, b], [b, a]]
            .iter()
            .map(|marks| {
                let mut cmd = s.launcher(marks, extra);
                let child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let names = [
                    pipe_name(child.stdin.as_ref().unwrap()),
                    pipe_name(child.stdout.as_ref().unwrap()),
                    pipe_name(child.stderr.as_ref().unwrap()),
                ];
                (child, names)
            })
            .collect();
        let mut reports = Vec::new();
        for (mut child, names) in clients {
            drop(child.stdin.take());
            let out = child.wait_with_output().unwrap();
            let (_, debug) = split_debug(&out.stderr);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!("{kind}: no report ({e}): {} {debug:#?}", show(&out.stdout))
                });
            if tier_taken(&debug) != Some(Tier::Server) {
                failures.push(format!("{kind}: not served: {debug:#?}"));
            }
            let fds: BTreeSet<(String, String)> = report["fds"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(fd, target)| (fd.clone(), target.as_str().unwrap().to_string()))
                .collect();
            let own: BTreeSet<(String, String)> = names
                .iter()
                .enumerate()
                .map(|(fd, name)| (fd.to_string(), name.clone()))
                .collect();
            if fds != own {
                failures.push(format!(
                    "{kind}: worker {} holds {fds:?}, its client's are {own:?}; sockets {}",
                    report["pid"], report["sockets"]
                ));
            }
            if report["overlapped"] != true
                || report["import_lock_held"] != false
                || report["logging_lock_free"] != true
            {
                failures.push(format!("{kind}: {report}"));
            }
            reports.push(report);
        }
        if reports[0]["random"] == reports[1]["random"] || reports[0]["pid"] == reports[1]["pid"] {
            failures.push(format!("{kind}: the same random draw: {reports:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The two kinds of server, as `(name, extra variables)`.
const KINDS: [(&str, &[(&str, &str)]); 2] = [
    ("embedded", &[]),
    (
        "python",
        &[(
            "ZENML_LAUNCHER_EMBED_LIB",
            "/nonexistent/libzenml_launcher_embed.so",
        )],
    ),
];

/// What the server does around a call to be fast, seen from outside, for each kind:
/// - the call's worker was forked ahead: it is the master's one child (the spare) before the
///   call, and the call's debug line names it;
/// - the worker posts its exit code before it exits: the client ends with that code (7; 256 is
///   0 as for any process), and a child the command left running in its process group lives on
///   after the client's exit (as after the CLI's: nothing kills that group);
/// - a child the command forked without exec, ending through the same `run_program` with its
///   own code (3), does not speak for the worker (0);
/// - a spare killed before a call: that call is still served, with its own code (by the spare
///   forked next, or by a worker forked for it);
/// - a spare dies with a killed master.
#[test]
fn workers_are_forked_ahead_and_end_early() {
    let home = scratch("forked-ahead");
    let venv = scripted_venv(
        &home,
        "scripted",
        r#"import os, subprocess, sys, time
what = sys.argv[1]
if what == "exit":
    sys.exit(int(sys.argv[2]))
if what == "linger":
    child = subprocess.Popen(
        ["/bin/sleep", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    with open(sys.argv[2], "w") as f:
        f.write(str(child.pid))
    sys.exit(0)
if what == "forked":
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)
        sys.exit(3)
    os.waitpid(pid, 0)
    os.write(1, b"parent\n")
"#,
    );
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let mut failures = Vec::new();
    for (kind, extra) in KINDS {
        let s = Served::with_world(
            World {
                cache: home.join("cache"),
                home: home.clone(),
                env: venv.clone(),
            },
            &format!("ahead-{kind}"),
        );
        let call = |args: &[&str]| {
            let out = output(&mut s.launcher(args, extra));
            let (_, debug) = split_debug(&out.stderr);
            (out, debug)
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        while tier_taken(&call(&["exit", "0"]).1) != Some(Tier::Server) {
            assert!(Instant::now() < deadline, "no {kind} server: {}", s.logs());
            std::thread::sleep(Duration::from_millis(300));
        }
        let master = s.server_pid();
        let spare = || {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let [one] = children(master)[..] {
                    return one;
                }
                assert!(
                    Instant::now() < deadline,
                    "{kind}: no spare: {:?}",
                    children(master)
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        for (code, expected) in [(7, 7), (256, 0)] {
            let ahead = spare();
            let (out, debug) = call(&["exit", &code.to_string()]);
            let worker = debug
                .iter()
                .find_map(|l| l.split("(worker ").nth(1)?.split(',').next()?.parse().ok());
            if out.status.code() != Some(expected) || worker != Some(ahead) {
                failures.push(format!(
                    "{kind}: exit {code}: {:?}, worker {worker:?}, spare {ahead}: {debug:#?}",
                    out.status
                ));
            }
        }
        let pid_file = home.join(format!("{kind}-linger"));
        let (out, debug) = call(&["linger", pid_file.to_str().unwrap()]);
        let lingering: u32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{kind}: no lingering child: {debug:#?}"));
        std::thread::sleep(Duration::from_millis(500));
        if !out.status.success() || !alive(lingering) {
            failures.push(format!(
                "{kind}: the command's child did not outlive it: {:?} {debug:#?}",
                out.status
            ));
        }
        unsafe { libc::kill(lingering as i32, libc::SIGKILL) };
        let (out, debug) = call(&["forked"]);
        if out.status.code() != Some(0) || out.stdout != b"parent\n" {
            failures.push(format!(
                "{kind}: forked: {:?} {:?} {debug:#?}",
                out.status,
                show(&out.stdout)
            ));
        }
        let ahead = spare();
        unsafe { libc::kill(ahead as i32, libc::SIGKILL) };
        let (out, debug) = call(&["exit", "5"]);
        if out.status.code() != Some(5) || tier_taken(&debug) != Some(Tier::Server) {
            failures.push(format!(
                "{kind}: after a killed spare: {:?} {debug:#?}",
                out.status
            ));
        }
        let ahead = spare();
        unsafe { libc::kill(master as i32, libc::SIGKILL) };
        if !gone_within(ahead, Duration::from_secs(5)) {
            failures.push(format!(
                "{kind}: the spare {ahead} outlived its killed master"
            ));
            unsafe { libc::kill(ahead as i32, libc::SIGKILL) };
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// 20 first calls at once in a fresh runtime dir, for each kind: every call prints the CLI's
/// bytes, exactly one of them starts a server (and one server runs), and the socket, once it
/// exists, is never unlinked or replaced (watched every 5 ms until the end).
#[test]
fn twenty_first_calls_at_once_start_one_server() {
    let world = World::new("first-calls").sharing_cache();
    // A help page: each first call is delegated (a whole CLI run, 40 of them at once on two
    // cores); what is under test is the start race, which any command the server would serve
    // goes through alike (`client::call`'s connect, then `start_server`), and a help page is the
    // cheapest of them to run in Python (no store opened).
    let args = ["stack", "--help"];
    let reference = output(&mut world.command(&world.env.join("bin/zenml"), &args, &[]));
    assert!(reference.status.success(), "{}", show(&reference.stderr));
    let mut failures = Vec::new();
    for (kind, extra) in [
        ("embedded", &[][..]),
        (
            "python",
            &[(
                "ZENML_LAUNCHER_EMBED_LIB",
                "/nonexistent/libzenml_launcher_embed.so",
            )][..],
        ),
    ] {
        let s = Served::with_world(
            World {
                home: world.home.clone(),
                env: world.env.clone(),
                cache: world.cache.clone(),
            },
            &format!("first-calls-{kind}"),
        );
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (dir, done) = (s.runtime.clone(), done.clone());
            std::thread::spawn(move || {
                // Every socket inode seen, and whether a socket ever went away once seen.
                let mut seen = BTreeSet::new();
                let mut vanished = false;
                let mut last = None;
                loop {
                    let now = std::fs::read_dir(&dir)
                        .unwrap()
                        .flatten()
                        .find(|e| e.file_name().to_string_lossy().ends_with(".sock"))
                        .and_then(|e| e.metadata().ok())
                        .map(|m| m.ino());
                    if let Some(ino) = now {
                        seen.insert(ino);
                    } else if last.is_some() {
                        vanished = true;
                    }
                    last = now.or(last);
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        return (seen, vanished);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let mut cmd = s.launcher(&args, extra);
                std::thread::spawn(move || output(&mut cmd))
            })
            .collect();
        let outs: Vec<_> = calls.into_iter().map(|t| t.join().unwrap()).collect();
        let mut started = 0;
        for out in &outs {
            let (stderr, debug) = split_debug(&out.stderr);
            started += debug
                .iter()
                .filter(|l| l.contains("started server"))
                .count();
            if (&out.stdout, &stderr, out.status.code())
                != (
                    &reference.stdout,
                    &reference.stderr,
                    reference.status.code(),
                )
            {
                failures.push(format!(
                    "{kind}: a first call differs: {} {debug:#?}",
                    show(&stderr)
                ));
            }
        }
        // The one server comes up (after the call that started it), and serves.
        s.warm(extra);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (sockets, vanished) = watcher.join().unwrap();
        let servers = zenml_launcher::python::server::list(&s.runtime);
        let logs = s.logs();
        let serving = logs.matches(": serving ").count();
        if started != 1 || servers.len() != 1 || serving != 1 || sockets.len() != 1 || vanished {
            failures.push(format!(
                "{kind}: {started} calls started a server, {} sockets listed, {serving} served, \
                 socket inodes {sockets:?}, vanished {vanished}\n{logs}",
                servers.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
