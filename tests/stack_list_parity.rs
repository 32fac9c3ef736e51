//! `zenml stack list` against the live Python CLI (zenml[local]==0.98.0), private config per
//! test: stdout, stderr and exit code byte-equal, and the Rust route taken for the states and
//! options it models (pipes; a terminal on stdout). Stacks are registered through the Python
//! CLI, and in bulk through ZenML's Python client.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

struct World {
    home: PathBuf,
    env: PathBuf,
}

impl World {
    fn new(name: &str) -> World {
        let w = World {
            home: scratch(name),
            env: zenml_env(ZENML_VERSION),
        };
        w.zenml(&["status"]);
        w
    }

    fn command(&self, program: &Path, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = clean_command(program, &self.home);
        cmd.env("ZENML_LAUNCHER_CACHE_DIR", self.home.join("cache"))
            .env("VIRTUAL_ENV", &self.env)
            .args(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// Changes state through the Python CLI.
    fn zenml(&self, args: &[&str]) {
        let out = output(&mut self.command(&self.env.join("bin/zenml"), args, &[]));
        assert!(
            out.status.success(),
            "zenml {args:?}: {}",
            show(&out.stderr)
        );
    }

    /// Runs a Python script with ZenML's client in the test config (a file: ZenML needs a source
    /// root, which `-c` does not have).
    fn python(&self, code: &str) {
        let script = self.home.join("setup_script.py");
        std::fs::write(&script, code).unwrap();
        let out = output(&mut self.command(
            &self.env.join("bin/python"),
            &[script.to_str().unwrap()],
            &[],
        ));
        assert!(out.status.success(), "{code}: {}", show(&out.stderr));
    }

    /// Compares one invocation; `rust`: the Rust route must have answered it.
    fn check(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
        ttys: &[&str],
        rust: bool,
    ) -> Result<(), String> {
        let mut full = vec!["stack", "list"];
        full.extend_from_slice(args);
        let mut mine = self.command(&launcher(), &full, extra);
        mine.env("ZENML_DEBUG_PYTHON", "1");
        let mine = run_streams(&mine, 100, ttys, None);
        let reference = run_streams(
            &self.command(&self.env.join("bin/zenml"), &full, extra),
            100,
            ttys,
            None,
        );
        let (stderr, debug) = split_debug(&mine.stderr);
        let mine = Captured { stderr, ..mine };
        if mine != reference {
            return Err(format!(
                "stack list {args:?} {extra:?} ttys {ttys:?}\nlauncher rc {} out {:?} err {:?}\npython   rc {} out {:?} err {:?}",
                mine.code,
                show(&mine.stdout),
                show(&mine.stderr),
                reference.code,
                show(&reference.stdout),
                show(&reference.stderr)
            ));
        }
        if took_rust_route(&debug, "stack list") != rust {
            return Err(format!(
                "stack list {args:?} {extra:?} ttys {ttys:?}: expected rust={rust}, {debug:#?}"
            ));
        }
        Ok(())
    }
}

fn all_ok(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

const PIPE: &[&str] = &[];

#[test]
fn single_default_stack_every_format() {
    let w = World::new("sl-single");
    let mut results = Vec::new();
    for args in [
        &[][..],
        &["-o", "json"],
        &["-o", "yaml"],
        &["-o", "csv"],
        &["-o", "tsv"],
        &["-c", "all"],
        &["-c", "all", "-o", "json"],
    ] {
        results.push(w.check(args, &[], PIPE, true));
    }
    results.push(w.check(&[], &[("COLUMNS", "120")], PIPE, true));
    results.push(w.check(&[], &[("NO_COLOR", "1")], PIPE, true));
    results.push(w.check(&[], &[("NO_COLOR", "")], PIPE, true));
    results.push(w.check(&["--output=json", "-cname,active"], &[], PIPE, true));
    all_ok(results);
}

#[test]
fn several_stacks_with_components_and_a_non_default_active_stack() {
    let w = World::new("sl-several");
    w.zenml(&["artifact-store", "register", "as2", "-f", "local"]);
    w.zenml(&["orchestrator", "register", "orch2", "-f", "local"]);
    w.zenml(&[
        "stack",
        "register",
        "third stack",
        "-a",
        "as2",
        "-o",
        "default",
    ]);
    w.zenml(&["stack", "register", "s1", "-a", "as2", "-o", "orch2"]);
    w.zenml(&["stack", "set", "s1"]);
    let mut results = Vec::new();
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "200")]),
        (&[], &[("ZENML_CLI_COLUMN_WIDTH", "150")]),
        (&["-o", "json"], &[]),
        (&["-o", "yaml"], &[]),
        (&["-o", "csv"], &[]),
        (&["-o", "tsv"], &[]),
        (&["-c", "all"], &[("COLUMNS", "200")]),
        (&["-c", "all", "-o", "csv"], &[]),
        (&["-c", "all", "-o", "yaml"], &[]),
        (&["-c", "name,active"], &[]),
        (&["-c", "foo,Artifact-Store"], &[]),
        (&["-c", "foo"], &[]),
        (&[], &[("ZENML_DEFAULT_OUTPUT", "json")]),
    ] {
        results.push(w.check(args, extra, PIPE, true));
    }
    // A terminal on stdout: the table is the same; JSON there is highlighted (delegated).
    results.push(w.check(&[], &[("TERM", "xterm")], &["stdout"], true));
    results.push(w.check(&["-o", "json"], &[("TERM", "xterm")], &["stdout"], false));
    // Filters and paging are Python's.
    results.push(w.check(&["--name", "contains:s"], &[], PIPE, false));
    results.push(w.check(&["-o", "xml"], &[], PIPE, false));
    all_ok(results);
}

#[test]
fn more_than_a_page_with_an_old_active_stack_and_long_names() {
    let w = World::new("sl-many");
    w.python(
        "from zenml.client import Client\n\
         c = Client()\n\
         for i in range(23):\n    c.create_stack(name=f'stack-{i:02d}-' + 'x' * (i * 2), components={'orchestrator': 'default', 'artifact_store': 'default'})\n\
         c.activate_stack('stack-00-')\n",
    );
    let mut results = Vec::new();
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "200")]),
        (&["-o", "json"], &[]),
        (&["-o", "csv"], &[]),
        (&["-c", "name,active", "-o", "tsv"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, true));
    }
    // The inserted active stack is hydrated: with all columns its keys differ (delegated).
    results.push(w.check(&["-c", "all", "-o", "json"], &[], PIPE, false));
    all_ok(results);
}
