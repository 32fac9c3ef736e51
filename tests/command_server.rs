//! The warm command server against the live Python CLI: byte parity (stdout, stderr, exit code,
//! the files touched) of 30+ commands across the CLI in pipes and terminals, under changed
//! variables, cwds and state; then the faults (signals, killed clients and servers, two clients,
//! a ZenML edit, stale sockets, unsafe socket dirs, another uid) and the controls; and the
//! tracebacks of the launcher installed in an env (served and delegated) against pip's script.
//!
//! Every launcher call runs with ZENML_DEBUG_PYTHON=1, and a call meant for the server must say
//! `route: server` (the debug lines are split off before comparing).

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::served::*;
use common::world::World;
use common::*;

/// A world with a pipeline run (pipeline, run, artifact, model and version) and a second stack
/// (registered by the same script, through ZenML's client, as `stack register zl_second -o
/// default -a default` does); its server is warm.
fn with_a_pipeline_run() -> Served {
    {
        let s = Served::new("server-run");
        let src = s.world.home.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("run.py"),
            "from typing import Annotated\n\
             from zenml import Model, pipeline, step\n\
             from zenml.client import Client\n\
             @step\n\
             def make() -> Annotated[int, 'zl_number']:\n    return 42\n\
             @pipeline(model=Model(name='zl_model'))\n\
             def zl_pipeline():\n    make()\n\
             if __name__ == '__main__':\n    zl_pipeline()\n    \
             Client().create_stack(name='zl_second', components={'orchestrator': 'default', 'artifact_store': 'default'})\n",
        )
        .unwrap();
        let mut run = s
            .world
            .command(&s.world.env.join("bin/python"), &["run.py"], &[]);
        run.current_dir(&src);
        let out = output(&mut run);
        assert!(out.status.success(), "pipeline run: {}", show(&out.stderr));
        s.warm(&[]);
        s
    }
}

#[test]
fn thirty_commands_across_the_cli_match_in_pipes() {
    let s = &with_a_pipeline_run();
    let commands: &[&[&str]] = &[
        &["stack", "describe"],
        &["stack", "describe", "zl_second"],
        &["stack", "list", "--name", "contains:zl"],
        &["orchestrator", "list"],
        &["orchestrator", "describe", "default"],
        &["artifact-store", "list"],
        &["pipeline", "list"],
        &["pipeline", "runs", "list"],
        &["pipeline", "builds", "list"],
        &["artifact", "list"],
        &["artifact", "version", "list"],
        &["model", "list"],
        &["model", "version", "list"],
        &["project", "list"],
        &["project", "describe", "default"],
        &["user", "list"],
        &["secret", "list"],
        &["service-connector", "list"],
        &["code-repository", "list"],
        &["tag", "list"],
        &["integration", "list"],
        &["stack", "--help"],
        &["pipeline", "--help"],
        &["model", "--help"],
        &["artifact", "--help"],
        &["secret", "--help"],
        &["project", "--help"],
        &["integration", "--help"],
        &["stack", "register", "--help"],
        &["pipeline", "runs", "list", "--help"],
        // Failures: an unknown name, an unknown option, an unknown command, a traceback.
        &["stack", "describe", "no-such-stack"],
        &["pipeline", "list", "--bogus"],
        &["no-such-command"],
        &["user", "describe", "default"],
    ];
    let mut failures = Vec::new();
    for args in commands {
        if let Err(e) = s.compare(args, &[], &[], None, true) {
            failures.push(e);
        }
    }
    // Shell completion: Click's protocol variables are per call, not part of the server's key.
    for (shell, words, cword) in [
        ("bash_complete", "zenml sta", "1"),
        ("bash_complete", "zenml stack de", "2"),
        ("zsh_complete", "zenml pipeline ", "2"),
    ] {
        let vars = [
            ("_ZENML_COMPLETE", shell),
            ("COMP_WORDS", words),
            ("COMP_CWORD", cword),
        ];
        if let Err(e) = s.compare(&[], &vars, &[], None, true) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn terminals_variables_cwd_and_outside_changes() {
    let s = &Served::new("server-terminals");
    s.register_stack("zl_second");
    s.warm(&[]);
    let failures = std::cell::RefCell::new(Vec::new());
    let check = |r: Result<(), String>| {
        if let Err(e) = r {
            failures.borrow_mut().push(e);
        }
    };
    // One server serves pipes and terminals alike (rich's consoles are rebuilt per call).
    for args in [
        &["stack", "describe"][..],
        &["pipeline", "list"],
        &["stack", "--help"],
        &["stack", "describe", "no-such-stack"],
    ] {
        check(s.compare(
            args,
            &[("TERM", "xterm")],
            &["stdout", "stderr"],
            None,
            false,
        ));
    }
    // Variables fixed at import make other servers: warm each, then compare.
    for extra in [
        &[("TERM", "xterm"), ("NO_COLOR", "1")][..],
        &[("COLUMNS", "60")],
        &[("TERM", "dumb")],
        &[("ZENML_LOGGING_VERBOSITY", "ERROR")],
    ] {
        s.warm(extra);
        check(s.compare(&["stack", "describe"], extra, &["stdout"], None, true));
        check(s.compare(&["orchestrator", "list"], extra, &[], None, true));
    }
    s.warm(&[("TERM", "xterm")]);
    check(s.compare(
        &["stack", "describe"],
        &[("TERM", "xterm")],
        &["stdout"],
        None,
        true,
    ));
    // The cwd moves into a repository with its own active stack, and out again.
    s.warm(&[]);
    let repo = s.world.home.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let in_repo = |args: &[&str]| {
        let mut cmd = s.python(args, &[]);
        cmd.current_dir(&repo);
        let out = cli_output(&mut cmd);
        assert!(out.status.success(), "{args:?}: {}", show(&out.stderr));
    };
    in_repo(&["init"]);
    in_repo(&["stack", "set", "zl_second"]);
    for dir in [repo.clone(), s.world.home.clone(), repo.clone()] {
        let mine = output(s.launcher(&["stack", "describe"], &[]).current_dir(&dir));
        let reference = cli_output(s.python(&["stack", "describe"], &[]).current_dir(&dir));
        let (stderr, debug) = split_debug(&mine.stderr);
        if (&mine.stdout, &stderr, mine.status.code())
            != (
                &reference.stdout,
                &reference.stderr,
                reference.status.code(),
            )
            || tier_taken(&debug) != Some(Tier::Server)
        {
            failures.borrow_mut().push(format!(
                "stack describe in {}: launcher {:?} {:?} {:?}, python {:?} {:?} {:?}\n{debug:#?}",
                dir.display(),
                mine.status,
                show(&mine.stdout),
                show(&stderr),
                reference.status,
                show(&reference.stdout),
                show(&reference.stderr)
            ));
        }
    }
    // State changed by the Python CLI between two calls is seen.
    s.register_stack("zl_third");
    check(s.compare(&["stack", "describe", "zl_third"], &[], &[], None, true));
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Commands that write, in twin worlds (the launcher's and the CLI's): the same output (ids
/// aside), exit codes and files touched, the confirmation read from stdin.
#[test]
fn commands_that_write_match_in_twin_worlds() {
    let mine = Served::new("server-writes");
    let theirs = World::new("server-writes-cli");
    mine.warm(&[]);
    let steps: &[(&[&str], Option<&str>)] = &[
        (
            &[
                "stack", "register", "zl_w", "-o", "default", "-a", "default",
            ],
            None,
        ),
        (&["stack", "set", "zl_w"], None),
        (&["stack", "describe"], None),
        (&["stack", "rename", "zl_w", "zl_w2"], None),
        (&["stack", "set", "default"], None),
        (&["stack", "delete", "zl_w2"], Some("n\n")),
        (&["stack", "delete", "zl_w2"], Some("y\n")),
        (&["stack", "delete", "zl_w2"], Some("y\n")),
        (&["project", "register", "zl_project"], None),
        (&["project", "list"], None),
    ];
    let mut failures = Vec::new();
    for (args, input) in steps {
        let before = tree(&mine.world.home);
        let a = run_streams(&mine.launcher(args, &[]), 100, &[], *input);
        let a_touched = changed(&before, &tree(&mine.world.home));
        let before = tree(&theirs.home);
        let cli = theirs.command(&theirs.env.join("bin/zenml"), args, &[]);
        let b = run_streams(&cli, 100, &[], *input);
        let b_touched = changed(&before, &tree(&theirs.home));
        let (stderr, debug) = split_debug(&a.stderr);
        let a = Captured {
            stdout: without_ids(&a.stdout),
            stderr: without_ids(&stderr),
            code: a.code,
        };
        let b = Captured {
            stdout: without_ids(&b.stdout),
            stderr: without_ids(&b.stderr),
            code: b.code,
        };
        if a != b || a_touched != b_touched || tier_taken(&debug) != Some(Tier::Server) {
            failures.push(format!(
                "zenml {args:?}\nlauncher {a}\ntouched {a_touched:?}\npython   {b}\ntouched {b_touched:?}\n{debug:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The prompt of `stack delete`, answered by signals instead of a key.
const PROMPT: &str = "zl_victim";

#[test]
fn signals_killed_clients_and_a_killed_server() {
    let s = Served::new("server-signals");
    s.register_stack("zl_victim");
    s.warm(&[]);
    let delete = ["stack", "delete", "zl_victim"];
    let mut failures = Vec::new();

    // Ctrl-C at the prompt: the CLI's own KeyboardInterrupt handling, exit code and bytes.
    let ctrl_c = |cmd: Command| {
        let run = Running::start(cmd);
        run.wait_for(PROMPT);
        std::thread::sleep(Duration::from_millis(200));
        run.signal(libc::SIGINT);
        run.finish_after_signal()
    };
    let (a_status, a_out, a_err) = ctrl_c(s.launcher(&delete, &[]));
    let (b_status, b_out, b_err) = ctrl_c(s.python(&delete, &[]));
    let (a_err, _) = split_debug(&a_err);
    if (a_status.code(), a_status.signal(), &a_out, &a_err)
        != (b_status.code(), b_status.signal(), &b_out, &b_err)
    {
        failures.push(format!(
            "Ctrl-C: launcher {a_status:?} {:?} {:?}, python {b_status:?} {:?} {:?}",
            show(&a_out),
            show(&a_err),
            show(&b_out),
            show(&b_err)
        ));
    }

    // Ctrl-Z stops client and worker; `fg` (SIGCONT) continues both; the answer still works.
    let run = Running::start(s.launcher(&delete, &[]));
    run.wait_for(PROMPT);
    let worker = run.worker();
    run.signal(libc::SIGTSTP);
    std::thread::sleep(Duration::from_millis(300));
    let stopped = (state(run.child.id()), state(worker));
    run.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(300));
    let continued = (state(run.child.id()), state(worker));
    if stopped != ('T', 'T') || continued.0 == 'T' || continued.1 == 'T' {
        failures.push(format!(
            "Ctrl-Z/fg: states after SIGTSTP {stopped:?}, after SIGCONT {continued:?}"
        ));
    }
    let mut run = run;
    run.child.stdin.as_mut().unwrap().write_all(b"n\n").unwrap();
    let (status, _, _) = run.finish();
    if status.code() != Some(0) {
        failures.push(format!("after fg, answering n: {status:?}"));
    }

    // A signal the CLI dies of (SIGUSR1 is forwarded to the worker): the client dies of it too.
    let run = Running::start(s.launcher(&delete, &[]));
    run.wait_for(PROMPT);
    let worker = run.worker();
    run.signal(libc::SIGUSR1);
    let (status, out, err) = run.finish_after_signal();
    if status.signal() != Some(libc::SIGUSR1) || !gone_within(worker, Duration::from_secs(5)) {
        failures.push(format!(
            "SIGUSR1: client {status:?}, worker alive {}, stdout {:?}, stderr {:?}\nlogs: {}",
            alive(worker),
            show(&out),
            show(&err),
            s.logs()
        ));
    }

    // The client killed with SIGKILL: its worker does not live on.
    let run = Running::start(s.launcher(&delete, &[]));
    run.wait_for(PROMPT);
    let worker = run.worker();
    run.signal(libc::SIGKILL);
    let _ = run.finish();
    if !gone_within(worker, Duration::from_secs(5)) {
        failures.push(format!("client SIGKILLed: worker {worker} still runs"));
    }

    // The server killed during a call: one line, non-zero, nothing run again, no orphan.
    let server = s.server_pid();
    let run = Running::start(s.launcher(&delete, &[]));
    run.wait_for(PROMPT);
    let worker = run.worker();
    output(Command::new("kill").args(["-9", &server.to_string()]));
    let (status, _, err) = run.finish();
    let (err, _) = split_debug(&err);
    let last = show(&err).lines().last().unwrap_or("").to_string();
    if status.code() != Some(1)
        || !last.contains("the command server stopped during this command")
        || !gone_within(worker, Duration::from_secs(5))
    {
        failures.push(format!(
            "server killed: client {status:?}, last line {last:?}, worker alive {}",
            alive(worker)
        ));
    }
    // Its socket is stale now: the next call is delegated (same bytes) and starts a new server.
    let after = output(&mut s.launcher(&["stack", "describe", "zl_victim"], &[]));
    let reference = output(&mut s.python(&["stack", "describe", "zl_victim"], &[]));
    let (stderr, debug) = split_debug(&after.stderr);
    if (&after.stdout, &stderr) != (&reference.stdout, &reference.stderr)
        || !debug.iter().any(|l| l.contains("Connection refused"))
        || tier_taken(&debug) != Some(Tier::Delegated)
    {
        failures.push(format!("stale socket: {debug:#?} {}", show(&stderr)));
    }
    s.warm(&[]);

    // Two clients at once.
    let both: Vec<_> = (0..2)
        .map(|_| {
            let cmd = s.launcher(&["stack", "describe", "zl_victim"], &[]);
            std::thread::spawn(move || {
                let mut cmd = cmd;
                output(&mut cmd)
            })
        })
        .map(|t| t.join().unwrap())
        .collect();
    for out in both {
        let (stderr, debug) = split_debug(&out.stderr);
        if (&out.stdout, &stderr) != (&reference.stdout, &reference.stderr)
            || tier_taken(&debug) != Some(Tier::Server)
        {
            failures.push(format!("two clients: {debug:#?} {}", show(&stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn socket_dirs_that_are_not_ours_and_other_users_are_refused() {
    let s = Served::new("server-security");
    let reference = output(&mut s.python(&["stack", "describe"], &[]));
    let mut failures = Vec::new();
    let wrong_mode = scratch("server-mode");
    std::fs::set_permissions(&wrong_mode, std::fs::Permissions::from_mode(0o755)).unwrap();
    let foreign = scratch("server-owner");
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap_or_else(|e| {
        panic!("chown to uid 65534 failed ({e}): this test plays another user and needs root, as CI runs it")
    });
    let link = scratch("server-link").join("run");
    std::os::unix::fs::symlink(&s.runtime, &link).unwrap();
    for (dir, expect) in [
        (&wrong_mode, "has mode 755, not 700"),
        (&foreign, "belongs to uid 65534"),
        (&link, "is not a directory"),
    ] {
        let out = output(
            s.launcher(&["stack", "describe"], &[])
                .env("ZENML_LAUNCHER_RUNTIME_DIR", dir),
        );
        let (stderr, debug) = split_debug(&out.stderr);
        let listing: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if (&out.stdout, &stderr) != (&reference.stdout, &reference.stderr)
            || !debug.iter().any(|l| l.contains(expect))
            || tier_taken(&debug) != Some(Tier::Delegated)
            || (dir != &link && !listing.is_empty())
        {
            failures.push(format!("{}: {debug:#?}, files {listing:?}", dir.display()));
        }
    }

    // Another uid that reaches the socket (the dir opened up by hand) is refused by the server.
    s.warm(&[]);
    let socket = std::fs::read_dir(&s.runtime)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "sock"))
        .unwrap();
    std::fs::set_permissions(&s.runtime, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let probe = "import os, socket, sys\n\
                 os.setgid(65534); os.setuid(65534)\n\
                 s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n\
                 s.settimeout(10)\n\
                 try: s.sendall(b'ZLS1\\0\\0\\0\\0')\n\
                 except (BrokenPipeError, ConnectionResetError): pass  # refused before it read\n\
                 sys.stdout.write(repr(s.recv(64)))\n";
    let out = output(
        Command::new(base_python())
            .arg("-c")
            .arg(probe)
            .arg(&socket),
    );
    std::fs::set_permissions(&s.runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let reply = show(&out.stdout);
    if !reply.starts_with("b'R")
        || !reply.contains("another user")
        || !s.logs().contains("refused a connection from uid 65534")
    {
        failures.push(format!(
            "another uid: reply {reply:?} {} log {}",
            show(&out.stderr),
            s.logs()
        ));
    }
    // ZENML_LAUNCHER_SERVER=0: never used.
    let out = output(
        s.launcher(&["stack", "describe"], &[])
            .env("ZENML_LAUNCHER_SERVER", "0"),
    );
    let (_, debug) = split_debug(&out.stderr);
    if !debug.iter().any(|l| l.contains("ZENML_LAUNCHER_SERVER=0"))
        || tier_taken(&debug) != Some(Tier::Delegated)
    {
        failures.push(format!("ZENML_LAUNCHER_SERVER=0: {debug:#?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A scratch venv with its own copy of the `zenml` package (and dist-info, and pip's console
/// script), the rest of the provisioned env seen through a `.pth` line: ZenML files this test
/// may edit.
fn venv_with_own_zenml(home: &Path) -> PathBuf {
    venv_with_zenml(home, true)
}

/// A scratch venv that sees the provisioned env's site-packages through a `.pth` line, with its
/// own dist-info and pip's console script (its `#!` line naming the venv's python); with
/// `own_zenml`, also its own copy of the `zenml` package.
fn venv_with_zenml(home: &Path, own_zenml: bool) -> PathBuf {
    let source = zenml_env(ZENML_VERSION);
    let source_site = site_packages(&source);
    let venv = home.join(if own_zenml { "own-zenml" } else { "zenml-venv" });
    make_venv(&base_python(), &venv, &[]);
    let site = site_packages(&venv);
    std::fs::write(
        site.join("00-zenml-env.pth"),
        format!("{}\n", source_site.display()),
    )
    .unwrap();
    let mut copied = vec![
        format!("zenml-{ZENML_VERSION}.dist-info"),
        "distutils-precedence.pth".into(),
    ];
    if own_zenml {
        copied.push("zenml".into());
    }
    for name in copied {
        let out = output(
            Command::new("cp")
                .arg("-a")
                .arg(source_site.join(&name))
                .arg(&site),
        );
        assert!(
            out.status.success(),
            "copying {name}: {}",
            show(&out.stderr)
        );
    }
    let script = std::fs::read_to_string(source.join("bin/zenml")).unwrap();
    let body = script.split_once('\n').unwrap().1;
    let bin = venv.join("bin/zenml");
    std::fs::write(
        &bin,
        format!("#!{}\n{body}", venv.join("bin/python").display()),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    venv
}

/// A command that raises prints the same traceback through pip's console script and through the
/// launcher installed in its place (`self install`: pip's script kept in the env), delegating
/// (ZENML_LAUNCHER_SERVER=0) and served: the first frame is the script's own,
/// `<env>/bin/zenml:<line> in <module>` with its source lines, no frame of the launcher's
/// bootstrap. `user describe` with the local store ends in a rich traceback in ZenML 0.98.0.
/// Only memory addresses (`0x…`) are normalized: they differ between any two processes.
#[test]
fn tracebacks_through_the_installed_launcher_are_pip_s() {
    let mut world = World::bare("server-traceback", ZENML_VERSION);
    world.env = venv_with_zenml(&world.home, false);
    world.zenml(&["status"]);
    let s = Served::with_world(world, "server-traceback");
    let script = s.world.env.join("bin/zenml");
    let args = ["user", "describe"];
    let columns = [("COLUMNS", "100")];
    let reference = output(&mut s.world.command(&script, &args, &columns));
    let first_frame = format!("{}:", script.display());
    assert!(
        reference.status.code() == Some(1)
            && show(&reference.stderr).contains("Traceback (most recent call last)")
            && show(&reference.stderr).contains(&first_frame),
        "pip's script did not end in a traceback from {first_frame}: {:?} {}",
        reference.status,
        show(&reference.stderr)
    );

    // A source build laid out as the env, as scripts/install.sh stages it (`self install --from`):
    // the launcher, and this build's embedding library for the venv's Python (3.11).
    let stage = s.world.home.join("stage");
    let embed = stage.join("lib/zenml-launcher/embed/cp311");
    std::fs::create_dir_all(&embed).unwrap();
    std::fs::copy(launcher(), stage.join("lib/zenml-launcher/zenml")).unwrap();
    std::fs::copy(
        launcher().with_file_name("libzenml_launcher_embed.so"),
        embed.join("libzenml_launcher_embed.so"),
    )
    .unwrap();
    let out = output(
        Command::new(env!("CARGO_BIN_EXE_zenml-launcher"))
            .args(["self", "install", "--env"])
            .arg(&s.world.env)
            .arg("--from")
            .arg(&stage),
    );
    assert!(out.status.success(), "self install: {}", show(&out.stderr));
    let installed = |args: &[&str], extra: &[(&str, &str)]| {
        let mut cmd = s.world.command(&script, args, &columns);
        cmd.env_remove("ZENML_LAUNCHER_SERVER")
            .env("ZENML_LAUNCHER_RUNTIME_DIR", &s.runtime)
            .env("ZENML_LAUNCHER_SERVER_IDLE_S", "300")
            .env("ZENML_DEBUG_PYTHON", "1");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        output_within(&mut cmd, Duration::from_secs(120))
    };
    let addresses = |bytes: &[u8]| {
        let text = show(bytes);
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("0x") {
            out.push_str(&rest[..i + 2]);
            rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
            out.push('…');
        }
        out + rest
    };
    let mut failures = Vec::new();
    let mut check = |what: &str, mine: &std::process::Output, tier: Tier| {
        let (stderr, debug) = split_debug(&mine.stderr);
        if (mine.status.code(), &mine.stdout, addresses(&stderr))
            != (
                reference.status.code(),
                &reference.stdout,
                addresses(&reference.stderr),
            )
            || tier_taken(&debug) != Some(tier)
        {
            failures.push(format!(
                "{what}: {:?} {debug:#?}\n{}\npip's script: {:?}\n{}",
                mine.status,
                show(&stderr),
                reference.status,
                show(&reference.stderr)
            ));
        }
    };
    let delegated = installed(&args, &[("ZENML_LAUNCHER_SERVER", "0")]);
    check("delegated", &delegated, Tier::Delegated);

    let deadline = Instant::now() + Duration::from_secs(400);
    loop {
        let (_, debug) = split_debug(&installed(&["stack", "--help"], &[]).stderr);
        if tier_taken(&debug) == Some(Tier::Server) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no server came up: {debug:#?}\nlogs: {}",
            s.logs()
        );
        wait_while_a_server_starts(&s.runtime, deadline);
        std::thread::sleep(Duration::from_millis(300));
    }
    let served = installed(&args, &[]);
    check("served", &served, Tier::Server);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Editing ZenML while a server runs: the next call runs the new code (the server steps aside,
/// the call is delegated, and a new server starts), with the CLI's bytes. The edit replaces a
/// file by rename, as pip does, in a venv with its own copy of ZenML.
#[test]
fn an_edited_zenml_never_runs_old_code_and_idle_servers_exit() {
    let mut world = World::bare("server-edit", ZENML_VERSION);
    world.env = venv_with_own_zenml(&world.home);
    world.zenml(&["status"]);
    let s = Served::with_world(world, "server-edit");
    s.warm(&[]);
    let site = site_packages(&s.world.env);
    // A module the CLI imports (not under zenml/cli/, whose directory the cache key watches:
    // this edit must be caught by the server itself).
    let file = site.join("zenml/console.py");
    struct Restore(PathBuf, PathBuf);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = std::fs::rename(&self.1, &self.0);
        }
    }
    let saved = file.with_extension("py.zl-saved");
    std::fs::rename(&file, &saved).unwrap();
    let restore = Restore(file.clone(), saved.clone());
    let mut text = std::fs::read(&saved).unwrap();
    text.extend_from_slice(
        b"\nimport sys as _zl_sys\n_zl_sys.stderr.write('zl: edited console.py\\n')\n",
    );
    let temp = file.with_extension("py.zl-new");
    std::fs::write(&temp, &text).unwrap();
    std::fs::rename(&temp, &file).unwrap();
    let mine = output(&mut s.launcher(&["stack", "describe"], &[]));
    let reference = output(&mut s.python(&["stack", "describe"], &[]));
    let _ = std::fs::remove_file(&file);
    drop(restore);
    let (stderr, debug) = split_debug(&mine.stderr);
    assert!(
        show(&reference.stderr).contains("zl: edited console.py"),
        "the edit did not take: {}",
        show(&reference.stderr)
    );
    assert_eq!(
        (show(&mine.stdout), show(&stderr)),
        (show(&reference.stdout), show(&reference.stderr))
    );
    assert!(
        debug.iter().any(|l| l.contains("stale")) && tier_taken(&debug) == Some(Tier::Delegated),
        "{debug:#?}"
    );

    // What the warm-up loads, compiles or builds once comes from installed files whose change
    // makes the server stale: a migration script (alembic loads them outside `sys.modules`, and
    // an upgrade brings new ones: the warm revision map must not outlive them), ZenML's schemas
    // (the SQL compiled on a scratch store), its models (pydantic's deferred builds), and a
    // module only the warm-up imports (ZenML imports it inside a command).
    let migration = std::fs::read_dir(site.join("zenml/zen_stores/migrations/versions"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "py"))
        .expect("a migration script");
    for path in [
        migration,
        site.join("zenml/zen_stores/schemas/stack_schemas.py"),
        site.join("zenml/models/v2/core/stack.py"),
        site.join("zenml/zen_stores/migrations/backup/sqlalchemy.py"),
    ] {
        s.warm(&[]);
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text).unwrap(); // the same bytes, a new write
        let out = output(&mut s.launcher(&["stack", "describe"], &[]));
        let (_, debug) = split_debug(&out.stderr);
        assert!(
            out.status.success()
                && debug.iter().any(|l| l.contains("stale"))
                && tier_taken(&debug) == Some(Tier::Delegated),
            "a rewritten {}: {debug:#?}",
            path.display()
        );
    }

    // An idle timeout: a server started with ZENML_LAUNCHER_SERVER_IDLE_S=2 goes away by itself.
    let idle = Served::with_world(
        World {
            home: s.world.home.clone(),
            env: s.world.env.clone(),
            cache: s.world.cache.clone(),
        },
        "server-idle",
    );
    // One call starts it. The server may come up and go idle before that (delegated) call even
    // returns, so its log tells: it served, then stopped for idleness, and its process is gone.
    output(&mut idle.launcher(
        &["stack", "--help"],
        &[("ZENML_LAUNCHER_SERVER_IDLE_S", "2")],
    ));
    let deadline = Instant::now() + Duration::from_secs(300);
    while !idle.logs().contains("idle, stopping") {
        assert!(
            Instant::now() < deadline,
            "no server went idle: {}",
            idle.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = idle.logs();
    let pid: u32 = logs
        .split("zenml-launcher server ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the log: {logs}"));
    assert!(
        logs.contains("idle 2.0s") && gone_within(pid, Duration::from_secs(15)),
        "an idle server (2 s) still runs: {logs}"
    );
    let left: Vec<_> = std::fs::read_dir(&idle.runtime)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| !n.to_string_lossy().ends_with(".log"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The warm-up's scratch store (where the SQL every store call runs is compiled once) is the
/// server's own: made in its TMPDIR and gone once it serves, no descriptor of it left open (a
/// worker would inherit it), and its SQL kept (the log counts the statements; no warm-up step
/// failed). The calls' parity with the CLI is the other tests'.
#[test]
fn the_warm_up_s_scratch_store_leaves_nothing_behind() {
    let s = Served::new("server-scratch");
    let tmp = scratch("server-scratch-tmp");
    let extra = [("TMPDIR", tmp.to_str().unwrap())];
    s.warm(&extra);
    let pid = s.server_pid();
    let logs = s.logs();
    assert!(
        !logs.contains("not warmed") && !logs.contains("SQL:"),
        "a warm-up step failed: {logs}"
    );
    let statements: usize = logs
        .split("warmed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no compiled SQL counted in the log: {logs}"));
    assert!(statements >= 10, "{statements} statements: {logs}");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    let open: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.starts_with(&tmp) || target.to_string_lossy().contains("zenml.db"))
        .collect();
    assert!(open.is_empty(), "the server holds {open:?}");
    // A served store call still matches the CLI with that TMPDIR.
    s.compare(&["stack", "describe"], &extra, &[], None, true)
        .unwrap();
}

#[test]
fn the_admin_binary_lists_and_stops_servers() {
    let s = Served::new("server-admin");
    s.warm(&[]);
    let pid = s.server_pid();
    let admin = PathBuf::from(env!("CARGO_BIN_EXE_zenml-launcher"));
    let run = |args: &[&str]| {
        let like = s.launcher(&[], &[]);
        output(in_conditions_of(Command::new(&admin).args(args), &like))
    };
    let status = run(&["server", "status"]);
    assert!(status.status.success(), "{}", show(&status.stderr));
    let text = show(&status.stdout);
    assert!(
        text.contains(&pid.to_string()) && text.contains("RSS") && text.contains("embedded server"),
        "{text}"
    );
    // A bound of one server: starting another (another key) stops the least recently used.
    let other = [("NO_COLOR", "1"), ("ZENML_LAUNCHER_SERVER_MAX", "1")];
    s.warm(&other);
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "server {pid} outlived the bound of 1: {}",
        s.logs()
    );
    let pid = s.server_pid();
    let stop = run(&["server", "stop"]);
    assert!(stop.status.success(), "{}", show(&stop.stderr));
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "server {pid} still runs"
    );
    let status = run(&["server", "status"]);
    assert!(
        show(&status.stdout).contains("no server"),
        "{}",
        show(&status.stdout)
    );
}

/// `ZENML_LAUNCHER_SERVER=wait`: a call that finds no server starts one, waits for it and is
/// served by it, with the CLI's bytes; when that server dies before it listens, the call stops
/// waiting and is delegated (the CLI's bytes again), without waiting out its limit.
#[test]
fn a_first_call_that_waits_is_served_and_delegated_when_the_start_dies() {
    let s = Served::new("server-wait");
    let args = ["stack", "--help"];
    let waiting = |extra: &[(&'static str, &'static str)]| {
        let mut vars = extra.to_vec();
        vars.push(("ZENML_LAUNCHER_SERVER", "wait"));
        s.launcher(&args, &vars)
    };
    // The CLI's bytes, the tier taken, and the debug line that says why.
    let check = |mine: std::process::Output, extra: &[(&str, &str)], tier: Tier, says: &str| {
        let reference = cli_output(&mut s.python(&args, extra));
        let (stderr, debug) = split_debug(&mine.stderr);
        assert_eq!(
            (show(&mine.stdout), show(&stderr), mine.status.code()),
            (
                show(&reference.stdout),
                show(&reference.stderr),
                reference.status.code()
            ),
            "{extra:?}: {debug:#?}"
        );
        assert_eq!(tier_taken(&debug), Some(tier), "{extra:?}: {debug:#?}");
        assert!(
            debug.iter().any(|l| l.contains(says)),
            "{extra:?}: no {says:?} in {debug:#?}"
        );
    };
    check(
        output(&mut waiting(&[])),
        &[],
        Tier::Server,
        "waited for it",
    );
    // Another key (another width): its server is killed while it warms up.
    let extra = [("COLUMNS", "71")];
    let mut call = waiting(&extra);
    let started = Instant::now();
    let call = std::thread::spawn(move || output(&mut call));
    // The first server's processes (its master, workers and spare) name its files; the new
    // server's name another key's.
    let first = zenml_launcher::python::server::list(&s.runtime)
        .pop()
        .expect("the first server")
        .name;
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim = loop {
        let starting: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains(s.runtime.to_str().unwrap())
                        && c.contains(".starting")
                        && !c.contains(&first)
                })
            })
            .collect();
        if let [pid] = starting[..] {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no server starting: {starting:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // SAFETY: a signal to the server process found above.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let mine = call.join().unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(zenml_launcher::python::server::WAIT_FOR_START_S),
        "the call waited {took:?} for a server that was gone"
    );
    check(mine, &extra, Tier::Delegated, "ended without listening");
}

/// The store's migrations as the CLI runs them, though the server loads alembic's revision map
/// and the heads' revision walk once in its warm-up: the same bytes, exit code and resulting
/// `alembic_version` as the Python CLI for a store made by ZenML 0.85.0 (the first served call
/// migrates it), and for a store at a revision this ZenML does not know (ZenML's own error).
/// Each side starts from the same saved config dir, at the same path.
#[test]
fn migrations_run_by_a_served_call_are_the_cli_s() {
    let mut world = World::bare("server-migrate", "0.85.0");
    world.zenml(&["status"]); // a 0.85.0 config and store
    world.env = zenml_env(ZENML_VERSION);
    let s = Served::with_world(world, "server-migrate");
    s.warm(&[]);
    let config = s.world.home.join("zenml-config");
    let db = config.join("local_stores/default_zen_store/zenml.db");
    let saved = s.world.home.join("zenml-config.saved");
    let copy = |from: &Path, to: &Path| {
        let _ = std::fs::remove_dir_all(to);
        let out = output(Command::new("cp").arg("-a").arg(from).arg(to));
        assert!(out.status.success(), "cp: {}", show(&out.stderr));
    };
    let revisions = || -> Vec<String> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT version_num FROM alembic_version ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let before = revisions();
    copy(&config, &saved);
    let twin = |what: &str| {
        copy(&saved, &config);
        let mine = output(&mut s.launcher(&["stack", "describe"], &[]));
        let mine_revisions = revisions();
        copy(&saved, &config);
        let theirs = output(&mut s.python(&["stack", "describe"], &[]));
        let their_revisions = revisions();
        let (stderr, debug) = split_debug(&mine.stderr);
        assert_eq!(
            (show(&mine.stdout), show(&stderr), mine.status.code()),
            (
                show(&theirs.stdout),
                show(&theirs.stderr),
                theirs.status.code()
            ),
            "{what}: launcher left, python right"
        );
        assert_eq!(mine_revisions, their_revisions, "{what}: alembic_version");
        assert_eq!(tier_taken(&debug), Some(Tier::Server), "{what}: {debug:#?}");
        (theirs, their_revisions)
    };
    let (migrated, after) = twin("a 0.85.0 store");
    assert!(
        migrated.status.success() && after != before,
        "the 0.85.0 store was migrated: {before:?} -> {after:?}\n{}",
        show(&migrated.stderr)
    );

    // A store from a newer ZenML: a revision the installed migrations do not have.
    copy(&saved, &config);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE alembic_version SET version_num = 'zl0000000000'",
            [],
        )
        .unwrap();
    copy(&config, &saved);
    let (unknown, kept) = twin("an unknown revision");
    assert!(
        !unknown.status.success() && kept == ["zl0000000000"],
        "ZenML refuses the unknown revision: {kept:?}\n{}",
        show(&unknown.stderr)
    );
}
