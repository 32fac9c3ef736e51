//! `zenml stack list` against the live Python CLI (zenml[local]==0.98.0), private config per
//! test: stdout, stderr and exit code byte-equal, and the tier that answered: the Rust route
//! (tier 1) for the states and options it models, the CLI's own code in the embedded
//! interpreter (tier 2) for filters, paging, terminals on stderr and highlighted JSON, and
//! delegation when the embedding library is missing. Stacks are registered through the Python
//! CLI, and in bulk through ZenML's Python client.
//!
//! The worlds share one launcher cache (`World::sharing_cache`: it depends only on the installed
//! ZenML), but for `single_default_stack_every_format`, whose first check runs the launcher on a
//! cold cache (it generates the cache, then answers).

mod common;

use std::path::Path;

use common::world::*;
use common::*;

/// The default stack alone (the table's first check runs on a cold cache). YAML, CSV and TSV
/// are compared in the worlds with more stacks, whose output holds this same default stack's
/// row: the formats render row by row with one code path for one row or many
/// (`render::pyformat`), as ZenML's do.
#[test]
fn single_default_stack_every_format() {
    let w = World::new("sl-single");
    let mut results = Vec::new();
    for args in [
        &[][..],
        &["-o", "json"],
        &["-c", "all"],
        &["-c", "all", "-o", "json"],
    ] {
        results.push(w.check(args, &[], PIPE, Tier::Rust));
    }
    results.push(w.check(&[], &[("COLUMNS", "120")], PIPE, Tier::Rust));
    // NO_COLOR in a pipe: once, with the names of any script. In a pipe rich has no colour
    // system and the launcher reads NO_COLOR only on a terminal (`table::Console::new`'s codes
    // are off without one; `text::sgr` returns nothing without a colour system), so `1`, ``
    // and unset print the bytes of the plain pipe, whatever the stacks.
    results.push(w.check(&["--output=json", "-cname,active"], &[], PIPE, Tier::Rust));
    all_ok(results);
}

#[test]
fn several_stacks_with_components_and_a_non_default_active_stack() {
    let w = World::new("sl-several").sharing_cache();
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
    // `--set`: made active by the same CLI run (`client.activate_stack`, as `stack set` does).
    w.zenml(&[
        "stack", "register", "s1", "-a", "as2", "-o", "orch2", "--set",
    ]);
    w.zenml(&[
        "container-registry",
        "register",
        "reg1",
        "-f",
        "default",
        "--uri=localhost:5000",
    ]);
    w.zenml(&["image-builder", "register", "ib1", "-f", "local"]);
    w.zenml(&[
        "stack", "register", "s3", "-a", "default", "-o", "orch2", "-c", "reg1", "-i", "ib1",
    ]);
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
        results.push(w.check(args, extra, PIPE, Tier::Rust));
    }
    // The table on a terminal (the Rust route, which renders these stacks). The terminal cases
    // that tier 2 answers (`TERMINAL_CASES`: ZenML's spinner, highlighted JSON) run in
    // `names_of_any_script…` only: there ZenML's own code renders the stacks in the launcher's
    // process, so what the launcher adds (its interpreter's streams, terminal and encoding) is the
    // same for any stacks, and there the names are not ASCII.
    for (args, extra, ttys, tier) in TERMINAL_CASES.iter().filter(|c| c.3 == Tier::Rust) {
        results.push(w.check(args, extra, ttys, *tier));
    }
    // Filters, sorting, paging, a custom page size, usage errors: the CLI's own code (tier 2).
    // The launcher sends a call there at the first option it does not model
    // (`cli_spec::parse_stack_list_args`), whichever it is, and tier 2 runs the CLI on the
    // arguments and variables as given: so `--name contains:s` alone is covered by the `--name`
    // filters below (with `-c all` first and COLUMNS, on a terminal on stderr, delegated), and
    // `--size 2` with COLUMNS by paging with COLUMNS.
    for (args, extra) in [
        (&["--sort_by", "desc:name", "-o", "csv"][..], &[][..]),
        (
            &["--sort_by", "asc:name", "--size", "2", "--page", "2"],
            &[("COLUMNS", "120")],
        ),
        (&["--name", "nothing-matches"], &[]),
        (
            &["-c", "all", "--name", "startswith:s"],
            &[("COLUMNS", "200")],
        ),
        (&[], &[("ZENML_PAGINATION_DEFAULT_LIMIT", "2")]),
        (&["-o", "xml"], &[]),
        (&["--page", "x"], &[]),
        (&["--help"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::InProcess));
    }
    // A terminal on stderr only, with a filter: the spinner, then the table in a pipe.
    results.push(w.check(
        &["--name", "s1"],
        &[("TERM", "xterm")],
        &["stderr"],
        Tier::InProcess,
    ));
    // Without the embedding library, tier 2 declines and the call is delegated.
    results.push(w.check(
        &["--name", "contains:s"],
        &[(
            "ZENML_LAUNCHER_EMBED_LIB",
            "/nonexistent/libzenml_launcher_embed.so",
        )],
        PIPE,
        Tier::Delegated,
    ));
    all_ok(results);
}

/// Stacks and components named in other scripts (issue #13): every output format, several
/// widths, NO_COLOR, pipes and terminals, all answered by the Rust route.
#[test]
fn names_of_any_script_every_format_width_and_terminal() {
    let w = World::new("sl-unicode").sharing_cache();
    let names: Vec<String> = common::names::REAL_NAMES
        .iter()
        .map(|n| serde_json::to_string(n).unwrap()) // a valid Python literal
        .collect();
    w.python(&format!(
        "from zenml.client import Client\n\
         c = Client()\n\
         c.create_stack_component(name='artefacts-données 日本', flavor='local', component_type='artifact_store', configuration={{}})\n\
         c.create_stack_component(name='编排器 [1] 🚀', flavor='local', component_type='orchestrator', configuration={{}})\n\
         for i, n in enumerate([{}]):\n    \
             c.create_stack(name=n, components={{'orchestrator': '编排器 [1] 🚀' if i % 2 else 'default', 'artifact_store': 'artefacts-données 日本' if i % 3 else 'default'}})\n\
         c.activate_stack({})\n",
        names.join(", "),
        names[1],
    ));
    let mut results = Vec::new();
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "120")]),
        (&[], &[("COLUMNS", "200")]),
        (&[], &[("ZENML_CLI_COLUMN_WIDTH", "150")]),
        (&[], &[("NO_COLOR", "1")]),
        (&["-o", "json"], &[]),
        (&["-o", "yaml"], &[]),
        (&["-o", "csv"], &[]),
        (&["-o", "tsv"], &[]),
        (&["-c", "all"], &[("COLUMNS", "200")]),
        (&["-c", "all"], &[]),
        (&["-c", "all", "-o", "yaml"], &[]),
        (&["-c", "all", "-o", "json"], &[]),
        (&["-c", "name,orchestrator,artifact_store"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::Rust));
    }
    results.extend(w.check_terminals());
    results.push(w.check(
        &[],
        &[("TERM", "xterm"), ("COLUMNS", "150")],
        &["stdout"],
        Tier::Rust,
    ));
    // The table on a terminal under NO_COLOR: rich's attributes without colours
    // (`table::Console`'s `Codes::Attributes`; in a pipe NO_COLOR changes nothing, above).
    results.push(w.check(
        &[],
        &[("TERM", "xterm"), ("NO_COLOR", "1")],
        &["stdout"],
        Tier::Rust,
    ));
    // NO_COLOR with JSON/YAML matters only on a terminal (ZenML's `_syntax_highlight` and the
    // launcher's route both check for one first): in a pipe it prints the bytes of `-o json`.
    results.push(w.check(
        &["-o", "yaml"],
        &[("TERM", "xterm"), ("NO_COLOR", "1")],
        &["stdout"],
        Tier::Rust,
    ));
    // rich picks another width table for UNICODE_VERSION: the table is left to ZenML's code
    // (the same bytes, through tier 2); JSON does not measure widths and stays in Rust.
    results.push(w.check(&[], &[("UNICODE_VERSION", "9.0")], PIPE, Tier::InProcess));
    results.push(w.check(
        &["-o", "json"],
        &[("UNICODE_VERSION", "9.0")],
        PIPE,
        Tier::Rust,
    ));
    all_ok(results);
}

#[test]
fn more_than_a_page_with_an_old_active_stack_and_long_names() {
    let w = World::new("sl-many").sharing_cache();
    // Made active in the same script: `client.activate_stack`, what `zenml stack set` runs.
    w.create_stacks_then(23, "c.activate_stack('stack-00-')");
    let mut results = Vec::new();
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "200")]),
        (&["-o", "json"], &[]),
        (&["-o", "csv"], &[]),
        (&["-c", "name,active", "-o", "tsv"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::Rust));
    }
    // The inserted active stack is hydrated: with all columns its keys differ (tier 2).
    results.push(w.check(&["-c", "all", "-o", "json"], &[], PIPE, Tier::InProcess));
    results.push(w.check(&["--page", "2"], &[], PIPE, Tier::InProcess));
    all_ok(results);
}

#[test]
fn sigint_while_importing_ends_the_run_as_in_the_cli() {
    use std::os::unix::process::ExitStatusExt;
    let w = World::new("sl-sigint").sharing_cache();
    let args = ["stack", "list", "--name", "contains:s"];
    // The launcher's first call generates its cache through Python: done here, beforehand.
    let warm = output(&mut w.command(&launcher(), &["--version"], &[]));
    assert!(warm.status.success(), "{}", show(&warm.stderr));
    let interrupt = |program: &Path| {
        let child = w
            .command(program, &args, &[])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Interrupted in the middle of ZenML's import (about two seconds): once pydantic's
        // compiled core is mapped, which happens early in it.
        let maps = format!("/proc/{}/maps", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !std::fs::read_to_string(&maps).is_ok_and(|m| m.contains("pydantic_core")) {
            assert!(
                std::time::Instant::now() < deadline,
                "{program:?} never imported pydantic"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
            0
        );
        (exe, child.wait_with_output().unwrap())
    };
    let (their_exe, theirs) = interrupt(&w.env.join("bin/zenml"));
    let (my_exe, mine) = interrupt(&launcher());
    assert!(
        their_exe
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("python"),
        "{their_exe:?}"
    );
    assert_eq!(
        my_exe.canonicalize().unwrap(),
        launcher().canonicalize().unwrap(),
        "tier 2 runs inside the launcher's own process"
    );
    for (who, out) in [("python", &theirs), ("launcher", &mine)] {
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGINT),
            "{who}: {:?} {}",
            out.status,
            show(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{who}: {}", show(&out.stdout));
        assert!(
            show(&out.stderr).contains("KeyboardInterrupt"),
            "{who}: {}",
            show(&out.stderr)
        );
    }
}

#[test]
fn tier_2_with_the_launcher_installed_as_the_envs_zenml() {
    let w = World::new("sl-installed");
    w.zenml(&[
        "stack", "register", "second", "-a", "default", "-o", "default",
    ]);
    let venv = venv_with_launcher_as_zenml(&w.home);
    let mut results = Vec::new();
    for args in [
        &["stack", "list", "--name", "contains:s"][..],
        &["stack", "list", "--sort_by", "desc:name", "-o", "json"],
        &["stack", "list", "--page", "x"],
    ] {
        let mut mine = clean_command(venv.join("bin/zenml"), &w.home);
        mine.env("ZENML_LAUNCHER_CACHE_DIR", w.home.join("cache"))
            .env("ZENML_DEBUG_PYTHON", "1")
            .args(args);
        let mine = run_streams(&mine, 100, PIPE, None);
        let (stderr, debug) = split_debug(&mine.stderr);
        let theirs = run_streams(
            &w.command(&w.env.join("bin/zenml"), args, &[]),
            100,
            PIPE,
            None,
        );
        let (mine, theirs) = if args.contains(&"x") {
            // A traceback: its top frame is the console script, here the launcher's stub under
            // the same name. Compared from the exception on.
            let from = |s: &[u8]| {
                let text = show(s);
                text[text.find("ValidationError").unwrap_or(0)..].to_string()
            };
            (
                (mine.code, mine.stdout.clone(), from(&stderr)),
                (theirs.code, theirs.stdout.clone(), from(&theirs.stderr)),
            )
        } else {
            (
                (mine.code, mine.stdout.clone(), show(&stderr)),
                (theirs.code, theirs.stdout.clone(), show(&theirs.stderr)),
            )
        };
        if mine != theirs || tier_taken(&debug) != Some(Tier::InProcess) {
            results.push(Err(format!(
                "installed {args:?}: {debug:#?}\nlauncher {mine:?}\npython   {theirs:?}"
            )));
        }
    }
    all_ok(results);
}
