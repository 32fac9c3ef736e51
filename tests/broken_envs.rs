//! Env shapes that would start an embedded interpreter silently wrong (docs/embedding.md §3) must
//! be refused before Python starts: exit code 1, one line on stderr naming the offending path
//! with a hint, and never CPython's "Fatal Python error" or its path-configuration dump.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// The launcher's one-line refusal.
fn assert_refused(what: &str, out: &Output, path: &str) {
    let stderr = show(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: exit code 1, not a signal ({:?}); stderr: {stderr}",
        out.status
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: nothing on stdout: {}",
        show(&out.stdout)
    );
    assert!(
        stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
        "{what}: exactly one line on stderr, got: {stderr:?}"
    );
    assert!(
        stderr.contains(path),
        "{what}: the message names {path}: {stderr}"
    );
    assert!(
        stderr.contains("hint:"),
        "{what}: the message has a hint: {stderr}"
    );
    for dump in ["Fatal Python error", "Python path configuration"] {
        assert!(
            !stderr.contains(dump),
            "{what}: CPython's `{dump}` leaked: {stderr}"
        );
    }
}

fn with_vars(mut cmd: Command, vars: &[(&str, OsString)]) -> Command {
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd
}

/// Runs `print_sys_path` (the embedded start-up) under `vars`.
fn embedded(home: &Path, vars: &[(&str, OsString)]) -> Output {
    output(&mut with_vars(clean_command(print_sys_path(), home), vars))
}

/// Runs `zenml <args>` (the launcher) under `vars`.
fn launcher_run(home: &Path, vars: &[(&str, OsString)], args: &[&str]) -> Output {
    let mut cmd = with_vars(clean_command(launcher(), home), vars);
    output_within(cmd.args(args), std::time::Duration::from_secs(60))
}

/// A fatal shape: both the embedded start-up and the launcher refuse it.
fn assert_fatal(home: &Path, vars: &[(&str, OsString)], path: &str) {
    assert_refused("print_sys_path", &embedded(home, vars), path);
    assert_refused(
        "zenml --version",
        &launcher_run(home, vars, &["--version"]),
        path,
    );
    let mut forced = vars.to_vec();
    forced.push(("ZENML_USE_PYTHON_CLI", "1".into()));
    assert_refused(
        "zenml stack list (delegated)",
        &launcher_run(home, &forced, &["stack", "list"]),
        path,
    );
}

fn text(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn venv_var(venv: &Path) -> Vec<(&'static str, OsString)> {
    vec![("VIRTUAL_ENV", venv.into())]
}

/// Gives `venv` a stand-in ZenML whose CLI prints the Python version and its arguments.
fn install_fake_zenml(venv: &Path) {
    let site = site_packages(venv);
    let dist = site.join("zenml-0.0.0.dist-info");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(
        dist.join("entry_points.txt"),
        "[console_scripts]\nzenml = fake_zenml_cli:cli\n",
    )
    .unwrap();
    std::fs::write(
        site.join("fake_zenml_cli.py"),
        "import sys\ndef cli():\n    print('fake zenml on %d.%d' % sys.version_info[:2], sys.argv[1:])\n    return 3\n",
    )
    .unwrap();
}

#[test]
fn deleted_env_dir() {
    let home = scratch("broken-deleted");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    std::fs::remove_dir_all(&venv).unwrap();
    assert_fatal(&home, &venv_var(&venv), &text(&venv));
}

#[test]
fn missing_pyvenv_cfg() {
    let home = scratch("broken-nocfg");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    std::fs::remove_file(venv.join("pyvenv.cfg")).unwrap();
    assert_fatal(&home, &venv_var(&venv), &text(&venv.join("pyvenv.cfg")));
}

#[test]
fn real_venv_of_another_minor_version() {
    let home = scratch("broken-py312");
    let python312 =
        PathBuf::from(std::env::var("HOME").unwrap()).join(".pyenv/versions/3.12.1/bin/python3.12");
    assert!(
        python312.is_file(),
        "this test needs a second CPython minor version at {} (pyenv install 3.12.1)",
        python312.display()
    );
    let venv = home.join("venv312");
    make_venv(&python312, &venv, &[]);
    let vars = venv_var(&venv);

    // The embedded (3.11) interpreter is refused for a 3.12 env …
    let out = embedded(&home, &vars);
    assert_refused("print_sys_path", &out, &text(&venv));
    assert!(show(&out.stderr).contains("3.12"), "{}", show(&out.stderr));

    // … but the launcher does not refuse the env: delegation runs the env's own python. Without
    // ZenML in it, that is the "not installed" error naming the env.
    for forced in [false, true] {
        let mut vars = vars.clone();
        if forced {
            vars.push(("ZENML_USE_PYTHON_CLI", "1".into()));
        }
        let out = launcher_run(&home, &vars, &["--version"]);
        assert_refused("zenml --version", &out, &text(&venv));
        assert!(
            show(&out.stderr).contains("ZenML is not installed"),
            "{}",
            show(&out.stderr)
        );
    }

    // With a (stand-in) ZenML installed, the env's own 3.12 runs the CLI.
    install_fake_zenml(&venv);
    let mut vars = vars.clone();
    vars.push(("ZENML_USE_PYTHON_CLI", "1".into()));
    let out = launcher_run(&home, &vars, &["stack", "list"]);
    assert_eq!(
        show(&out.stdout),
        "fake zenml on 3.12 ['stack', 'list']\n",
        "stderr: {}",
        show(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the CLI's exit code is passed on"
    );
}

#[test]
fn synthetic_pyvenv_cfg_claiming_another_version() {
    let home = scratch("broken-synthetic");

    // A uv-style venv (only `version_info`) of a "3.12" base that has a stdlib landmark: well
    // formed, so only the embedded interpreter is ruled out.
    let fake_base = home.join("fake-base");
    std::fs::create_dir_all(fake_base.join("bin")).unwrap();
    std::fs::create_dir_all(fake_base.join("lib/python3.12")).unwrap();
    std::fs::write(fake_base.join("lib/python3.12/os.py"), "").unwrap();
    let venv = home.join("uv-style");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::fs::create_dir_all(venv.join("lib/python3.12/site-packages")).unwrap();
    std::os::unix::fs::symlink(base_python(), venv.join("bin/python")).unwrap();
    std::fs::write(
        venv.join("pyvenv.cfg"),
        format!(
            "home = {}\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.12.0\n",
            fake_base.join("bin").display()
        ),
    )
    .unwrap();
    let out = embedded(&home, &venv_var(&venv));
    assert_refused("print_sys_path", &out, &text(&venv));
    assert!(show(&out.stderr).contains("3.12"), "{}", show(&out.stderr));
    let out = launcher_run(&home, &venv_var(&venv), &["--version"]);
    assert_refused("zenml --version", &out, &text(&venv));
    assert!(
        show(&out.stderr).contains("ZenML is not installed"),
        "{}",
        show(&out.stderr)
    );

    // A real 3.11 venv whose pyvenv.cfg was edited to claim 3.12: neither the base stdlib nor the
    // site-packages for 3.12 exist, so every route refuses it.
    let venv = home.join("edited");
    make_venv(&base_python(), &venv, &[]);
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("version = 3.11."), "{cfg}");
    let cfg: String = cfg
        .lines()
        .map(|l| {
            if l.starts_with("version =") {
                "version = 3.12.1\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(venv.join("pyvenv.cfg"), cfg).unwrap();
    assert_fatal(&home, &venv_var(&venv), "python3.12");
}

/// Copies the parts of the base prefix a venv needs (not its big site-packages or test suite).
fn copy_base_prefix(dest: &Path) {
    let base = base_prefix();
    let stdlib = dest.join("lib/python3.11");
    std::fs::create_dir_all(&stdlib).unwrap();
    let cp = |from: &Path, to: &Path| {
        let out = output(Command::new("cp").arg("-a").arg(from).arg(to));
        assert!(
            out.status.success(),
            "cp -a {} failed: {}",
            from.display(),
            show(&out.stderr)
        );
    };
    cp(&base.join("bin"), dest);
    for entry in std::fs::read_dir(base.join("lib")).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("libpython3.11.so")
        {
            cp(&entry.path(), &dest.join("lib"));
        }
    }
    for entry in std::fs::read_dir(base.join("lib/python3.11"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name == "site-packages"
            || name == "test"
            || name == "idlelib"
            || name.starts_with("config-"))
        {
            cp(&entry.path(), &stdlib);
        }
    }
}

#[test]
fn base_interpreter_removed() {
    let home = scratch("broken-orphan");
    let copy = home.join("python-copy");
    copy_base_prefix(&copy);
    let python = copy.join("bin/python3.11");
    let linked = home.join("venv-symlinks");
    let copied = home.join("venv-copies");
    make_venv(&python, &linked, &[]);
    make_venv(&python, &copied, &["--copies"]);
    // Both work before the copy goes away.
    for venv in [&linked, &copied] {
        let out = embedded(&home, &venv_var(venv));
        assert!(
            out.status.success(),
            "{}: {}",
            venv.display(),
            show(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&copy).unwrap();

    // Symlinked interpreter: a dangling link.
    assert_fatal(&home, &venv_var(&linked), &text(&linked.join("bin/python")));
    // Copied interpreter: it still runs, but pyvenv.cfg `home` is gone.
    assert!(linked.join("bin/python").symlink_metadata().is_ok());
    assert_fatal(&home, &venv_var(&copied), &text(&copy.join("bin")));
}

#[test]
fn bogus_pythonhome() {
    let home = scratch("broken-pythonhome");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    let bogus = home.join("no-such-home");
    let mut vars = venv_var(&venv);
    vars.push(("PYTHONHOME", bogus.clone().into()));
    assert_fatal(&home, &vars, &text(&bogus));
    // The env's own python dies with CPython's fatal error here; the launcher must not.
    let mut real = with_vars(clean_command(venv.join("bin/python"), &home), &vars);
    let real = output(real.args(["-c", "pass"]));
    assert!(
        !real.status.success(),
        "the real python fails with a bogus PYTHONHOME too"
    );
}

#[test]
fn zenml_python_pointing_nowhere() {
    let home = scratch("broken-zenml-python");
    let missing = home.join("gone/bin/python");
    assert_fatal(
        &home,
        &[("ZENML_PYTHON", missing.clone().into())],
        &text(&missing),
    );
}
