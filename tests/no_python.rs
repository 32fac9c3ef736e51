//! The pure-Rust routes start no Python: traced with strace, a warm `zenml --version`,
//! `zenml version`, `zenml --help` and `zenml` execute no other program and open no file of the
//! Python standard library or of ZenML's package (only `zenml/VERSION` and the launcher's cache).

mod common;

use std::process::Command;

use common::*;

fn strace() -> &'static str {
    let found = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "strace is needed for this test: install it with `apt-get install -y strace`"
    );
    "strace"
}

#[test]
fn rust_routes_start_no_python() {
    let env = zenml_env(ZENML_VERSION);
    let home = scratch("no-python");
    let cache = home.join("cache");
    let run = |args: &[&str], traced: bool| {
        let mut cmd = if traced {
            let mut c = clean_command(strace(), &home);
            c.args(["-f", "-qq", "-e", "trace=execve,execveat,open,openat", "-o"])
                .arg(home.join("trace.txt"))
                .arg(launcher());
            c
        } else {
            clean_command(launcher(), &home)
        };
        cmd.args(args)
            .env("VIRTUAL_ENV", &env)
            .env("ZENML_LAUNCHER_CACHE_DIR", &cache);
        output(&mut cmd)
    };
    // Warm the per-distribution cache (this run does start Python, once).
    assert!(run(&["--version"], false).status.success());
    for args in [
        &["--version"][..],
        &["version"][..],
        &["--help"][..],
        &[][..],
    ] {
        let out = run(args, true);
        let trace = std::fs::read_to_string(home.join("trace.txt")).unwrap();
        let execs: Vec<&str> = trace.lines().filter(|l| l.contains("execve")).collect();
        assert_eq!(
            execs.len(),
            1,
            "zenml {args:?} executed other programs:\n{}",
            execs.join("\n")
        );
        assert!(
            execs[0].contains(launcher().to_str().unwrap()),
            "{}",
            execs[0]
        );
        let python_files: Vec<&str> = trace
            .lines()
            .filter(|l| l.contains("open"))
            .filter(|l| {
                l.contains(".py\"")
                    || l.contains(".pyc\"")
                    || l.contains("/encodings")
                    || l.contains("libpython")
                    || l.contains("libzenml_launcher_embed")
            })
            .collect();
        assert!(
            python_files.is_empty(),
            "zenml {args:?} opened Python files or loaded libpython:\n{}",
            python_files.join("\n")
        );
        assert!(
            trace.contains("zenml/VERSION"),
            "zenml {args:?} did not read zenml/VERSION:\n{trace}"
        );
        assert!(!out.stderr.is_empty(), "zenml {args:?} printed nothing");
    }
}
