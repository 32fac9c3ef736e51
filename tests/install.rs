//! The launcher installed into real envs of every CPython ZenML 0.98 supports here (3.10–3.13), a
//! uv venv and a conda-like prefix (a copy of a CPython prefix with ZenML installed into it):
//! install (twice: nothing changes), `zenml-launcher doctor --json` against the env's own python,
//! tier 2 in-process, a Rust route, a delegated and a served command against the Python CLI, then
//! uninstall restores the env exactly. Also: `pip install` rewriting bin/zenml, the launcher
//! serving only its own env, ZenML reinstalled over the wheel's launcher, and the refusals.
//!
//! Two ways in, and the env shapes, covered pairwise: the wheel (`pip`, or `uv pip` in the uv
//! venv, then `zenml-launcher self install`) goes into every shape (3.10, 3.11, 3.12, 3.13, the uv
//! venv, the conda-like prefix): what depends on the shape (finding the env and its base Python,
//! the libpython and the embedding library of its minor version, `sys.*` parity, the server) is
//! the same code whichever way the files came, and the wheel's libraries are the ones users get.
//! `scripts/install.sh` (a build from source, then `self install --from` its stage) goes into a
//! venv (3.11) and the conda-like prefix (3.13): what depends on the way (the build, the stage,
//! the kept pip script, `install.sh --uninstall`) does not depend on the shape beyond venv or not,
//! and its embedding libraries come from the same `scripts/build-embed.sh` as the wheel's.
//!
//! The envs are copies of those scripts/provision-envs.sh made (py3.10 … py3.13, py3.12-uv,
//! conda-3.13), one per test (the provisioned ones are shared and never written). install.sh
//! builds with the dev profile (its `ZENML_LAUNCHER_BUILD_PROFILE`), the wheel with wheel-test,
//! to keep the suite fast.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn envs_dir() -> PathBuf {
    std::env::var_os("ZENML_LAUNCHER_ENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/envs"))
}

/// A copy of a provisioned env (the provisioned envs are shared and read-only) under
/// target/test-tmp, its scripts pointing at the copy (scripts/copy-env.sh), as provisioned: pip's
/// bin/zenml, no launcher file.
fn pristine_env(name: &str) -> PathBuf {
    let from = envs_dir().join(name);
    assert!(
        from.join(".provisioned-console-script").is_file(),
        "test env {} is missing: run scripts/provision-envs.sh {name} (scripts/test.sh does)",
        from.display()
    );
    let env = scratch(&format!("env-{name}")).join(name);
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
    let _ = std::fs::remove_file(env.join("bin/zenml-launcher"));
    let _ = std::fs::remove_dir_all(env.join("lib/zenml-launcher"));
    env
}

/// `bash scripts/install.sh [args]`, as a user runs it (no env activated).
fn install_sh(args: &[&Path]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/install.sh"))
        .args(args)
        .env("ZENML_LAUNCHER_BUILD_PROFILE", "dev")
        .env_remove("VIRTUAL_ENV")
        .env_remove("CONDA_PREFIX");
    output(&mut cmd)
}

fn install(env: &Path) -> Output {
    let out = install_sh(&[env]);
    assert!(
        out.status.success(),
        "install into {} failed:\n{}{}",
        env.display(),
        show(&out.stdout),
        show(&out.stderr)
    );
    assert!(
        std::fs::read(env.join("bin/zenml"))
            .unwrap()
            .starts_with(b"\x7fELF"),
        "bin/zenml is not the launcher after install"
    );
    out
}

fn uninstall(env: &Path) {
    let out = install_sh(&[Path::new("--uninstall"), env]);
    assert!(
        out.status.success(),
        "uninstall from {} failed:\n{}{}",
        env.display(),
        show(&out.stdout),
        show(&out.stderr)
    );
}

/// Every file under `dir` (bytecode caches aside: Python writes those, launcher or not) with its
/// mode, mtime and bytes. A file with other hard links (uv links site-packages files from its
/// cache, shared by every env here) is listed by its path only: another env's run may touch it.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u32, i64, Vec<u8>)> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, (u32, i64, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name();
            if name == "__pycache__" || path.extension().is_some_and(|e| e == "pyc") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(&path, root, out);
                continue;
            }
            use std::os::unix::fs::MetadataExt;
            let bytes = if meta.is_file() && meta.nlink() > 1 {
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    (0, 0, Vec::new()),
                );
                continue;
            } else if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                std::fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            };
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            out.insert(rel, (meta.mode(), meta.mtime(), bytes));
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn differences(
    a: &BTreeMap<PathBuf, (u32, i64, Vec<u8>)>,
    b: &BTreeMap<PathBuf, (u32, i64, Vec<u8>)>,
    with_mtime: bool,
) -> Vec<String> {
    let mut diff = Vec::new();
    for (path, x) in a {
        match b.get(path) {
            None => diff.push(format!("gone: {}", path.display())),
            Some(y) if x.0 != y.0 || x.2 != y.2 || (with_mtime && x.1 != y.1) => {
                diff.push(format!("changed: {}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        diff.push(format!("new: {}", path.display()));
    }
    diff
}

/// A ZenML command in a clean environment with a private config under `home` (no env activated:
/// the installed launcher finds its env itself, as pip's script does).
fn zenml(env: &Path, home: &Path, args: &[&str], debug: bool) -> Output {
    let mut cmd = clean_command(env.join("bin/zenml"), home);
    cmd.args(args);
    if debug {
        cmd.env("ZENML_DEBUG_PYTHON", "1");
    }
    output(&mut cmd)
}

/// What the Python CLI printed, and what the launcher printed once its debug lines are split off.
fn assert_same(what: &str, reference: &Output, launcher: &Output) -> Vec<String> {
    let (stderr, debug) = split_debug(&launcher.stderr);
    assert_eq!(
        (
            show(&launcher.stdout),
            show(&stderr),
            launcher.status.code()
        ),
        (
            show(&reference.stdout),
            show(&reference.stderr),
            reference.status.code()
        ),
        "{what}: launcher vs Python CLI (debug: {debug:#?})"
    );
    debug
}

/// The env's own python's `sys.*` (sys.path without the `''` that `-c` puts first).
fn python_sys(env: &Path, home: &Path) -> serde_json::Value {
    let code = "import json, sys; print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix, \
                'exec_prefix': sys.exec_prefix, 'base_exec_prefix': sys.base_exec_prefix, \
                'executable': sys.executable, 'path': sys.path[1:]}))";
    let out = output(clean_command(env.join("bin/python"), home).args(["-c", code]));
    assert!(out.status.success(), "{}", show(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// How the launcher gets into an env and out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `bash scripts/install.sh` (a build from source) and `--uninstall`.
    Script,
    /// The wheel with the env's pip, then `zenml-launcher self install`; `self uninstall`, then
    /// `pip uninstall -y zenml-launcher`.
    Pip,
    /// The same with `uv pip`.
    Uv,
}

/// The whole cycle in one env: see the module doc.
fn install_cycle(name: &str, tag: &str) {
    install_cycle_with(name, tag, Way::Script);
}

fn install_cycle_with(name: &str, tag: &str, way: Way) {
    let env = pristine_env(name);
    let pip_script = std::fs::read(env.join("bin/zenml")).unwrap();
    let home = scratch(&format!("install-{name}"));

    // The Python CLI's answers (the first call creates the config and the store).
    let filter = ["stack", "list", "--name", "contains:def"];
    zenml(&env, &home, &filter, false);
    let ref_filter = zenml(&env, &home, &filter, false);
    let ref_version = zenml(&env, &home, &["--version"], false);
    let ref_describe = zenml(&env, &home, &["stack", "describe"], false);
    assert!(ref_filter.status.success(), "{}", show(&ref_filter.stderr));
    // The env as the Python CLI leaves it (its first run may touch files of its own, such as
    // certifi's bundle): what install then uninstall must give back.
    let before = tree(&env);

    let again = match way {
        Way::Script => {
            install(&env);
            let installed = tree(&env);
            let again = install(&env);
            assert_eq!(
                differences(&installed, &tree(&env), true),
                Vec::<String>::new(),
                "the second install changed files"
            );
            again
        }
        Way::Pip | Way::Uv => {
            wheel_install(&env, way);
            assert_eq!(
                std::fs::read(env.join("bin/zenml")).unwrap(),
                pip_script,
                "installing the wheel leaves pip's bin/zenml alone"
            );
            self_install(&env, &home);
            // The cache is there: the first --version is a Rust answer, in ms.
            let started = std::time::Instant::now();
            let debug = assert_same(
                "first --version",
                &ref_version,
                &zenml(&env, &home, &["--version"], true),
            );
            let took = started.elapsed();
            assert!(took_rust_route(&debug, "--version"), "{debug:#?}");
            assert!(
                took < std::time::Duration::from_millis(1500),
                "the first --version after self install took {took:?} (the cache was not generated?)"
            );
            let installed = tree(&env);
            let again = self_install(&env, &home);
            assert_eq!(
                differences(&installed, &tree(&env), true),
                Vec::<String>::new(),
                "the second self install changed files"
            );
            again
        }
    };
    assert!(
        show(&again.stdout).contains("nothing changed"),
        "second install: {}",
        show(&again.stdout)
    );
    assert_eq!(
        std::fs::read(env.join("lib/zenml-launcher/zenml.console-script")).unwrap(),
        pip_script,
        "pip's script is kept byte for byte"
    );

    // doctor: what the embedded interpreter computes equals the env's own python.
    let out =
        output(clean_command(env.join("bin/zenml-launcher"), &home).args(["doctor", "--json"]));
    assert!(out.status.success(), "doctor: {}", show(&out.stderr));
    let doctor: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {}", show(&out.stdout)));
    let own = python_sys(&env, &home);
    for key in SYS_KEYS {
        assert_eq!(
            doctor[key], own[key],
            "doctor's sys.{key} vs the env's python"
        );
    }
    assert_eq!(doctor["env"]["source"], "installed");
    let lib = env
        .join("lib/zenml-launcher/embed")
        .join(tag)
        .join("libzenml_launcher_embed.so");
    assert_eq!(
        doctor["launcher"]["embedding_library"]["path"],
        lib.display().to_string(),
        "doctor names the library built for {tag}"
    );
    let libpython = doctor["launcher"]["libpython"]["path"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "doctor names no libpython: {}",
                doctor["launcher"]["libpython"]
            )
        });
    assert!(
        Path::new(libpython)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".so.1.0")),
        "the versioned soname: {libpython}"
    );
    let readelf = output(Command::new("readelf").arg("-d").arg(&lib));
    let dynamic = show(&readelf.stdout);
    assert!(
        readelf.status.success() && dynamic.contains("(NEEDED)"),
        "{dynamic}"
    );
    assert!(
        !dynamic.contains("libpython")
            && !dynamic.contains("RPATH")
            && !dynamic.contains("RUNPATH"),
        "the installed library links no libpython and has no search path: {dynamic}"
    );

    // Tier 2, a Rust route and a delegated command, against the Python CLI's answers.
    let debug = assert_same(
        "stack list --name",
        &ref_filter,
        &zenml(&env, &home, &filter, true),
    );
    assert_eq!(tier_taken(&debug), Some(Tier::InProcess), "{debug:#?}");
    assert!(
        debug.iter().any(|l| l.contains(&lib.display().to_string())),
        "{debug:#?}"
    );
    let debug = assert_same(
        "--version",
        &ref_version,
        &zenml(&env, &home, &["--version"], true),
    );
    assert!(took_rust_route(&debug, "--version"), "{debug:#?}");
    let debug = assert_same(
        "stack describe",
        &ref_describe,
        &zenml(&env, &home, &["stack", "describe"], true),
    );
    assert_eq!(tier_taken(&debug), Some(Tier::Delegated), "{debug:#?}");

    // The command server of this env's Python (the installed library), in a private socket dir:
    // the first call starts it and is delegated; every call prints the CLI's bytes, and one is
    // served once it is up.
    let run_dir = scratch(&format!("install-{name}-run"));
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let mut cmd = clean_command(env.join("bin/zenml"), &home);
        cmd.args(["stack", "describe"])
            .env_remove("ZENML_LAUNCHER_SERVER")
            .env("ZENML_LAUNCHER_RUNTIME_DIR", &run_dir)
            .env("ZENML_DEBUG_PYTHON", "1");
        let debug = assert_same("stack describe (server)", &ref_describe, &output(&mut cmd));
        if tier_taken(&debug) == Some(Tier::Server) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no server for {name} within 180 s: {debug:#?}"
        );
        // While it warms up, a call would be delegated: one more Python start.
        wait_while_a_server_starts(&run_dir, deadline);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    for files in zenml_launcher::python::server::list(&run_dir) {
        zenml_launcher::python::server::stop(&files, std::time::Duration::from_secs(10));
    }

    match way {
        Way::Script => uninstall(&env),
        Way::Pip | Way::Uv => {
            let out = output(
                clean_command(env.join("bin/zenml-launcher"), &home).args(["self", "uninstall"]),
            );
            assert!(
                out.status.success(),
                "self uninstall: {}",
                show(&out.stderr)
            );
            wheel_uninstall(&env, way);
        }
    }
    assert_eq!(std::fs::read(env.join("bin/zenml")).unwrap(), pip_script);
    assert_eq!(
        differences(&before, &tree(&env), false),
        Vec::<String>::new(),
        "uninstall left the env different from before install"
    );
    let uv = envs_dir().join("tools/bin/uv");
    let check = output(
        Command::new(uv)
            .args(["pip", "check", "--python"])
            .arg(env.join("bin/python")),
    );
    assert!(
        check.status.success(),
        "pip check after uninstall:\n{}{}",
        show(&check.stdout),
        show(&check.stderr)
    );
}

#[test]
fn conda_like_prefix() {
    install_cycle("conda-3.13", "cp313");
}

/// 3.11, then what happens when pip rewrites bin/zenml, and which env an installed launcher serves.
#[test]
fn python_3_11_and_pip_rewriting_bin_zenml() {
    install_cycle("py3.11", "cp311");
    let env = pristine_env("py3.11");
    let pip_script = std::fs::read(env.join("bin/zenml")).unwrap();
    let home = scratch("install-rewrite");
    let ref_version = zenml(&env, &home, &["--version"], false);
    install(&env);

    // The launcher never runs a ZenML other than its env's: with another env activated (0.85.0
    // there), the installed launcher still answers for its own env, as pip's script would.
    let other = zenml_env(ZENML_OLD_VERSION);
    let mut cmd = clean_command(env.join("bin/zenml"), &home);
    cmd.args(["--version"])
        .env("VIRTUAL_ENV", &other)
        .env("ZENML_DEBUG_PYTHON", "1");
    let debug = assert_same(
        "--version, another env active",
        &ref_version,
        &output(&mut cmd),
    );
    assert!(
        debug.iter().any(|l| l.starts_with("env: source=installed")
            && l.contains(&format!("root={}", env.display()))),
        "{debug:#?}"
    );

    // `pip install` of ZenML rewrites bin/zenml: the env simply has the Python CLI again.
    let uv = envs_dir().join("tools/bin/uv");
    let out = output(
        Command::new(&uv)
            .args([
                "pip",
                "install",
                "-q",
                "--reinstall",
                "--no-deps",
                "zenml[local]==0.98.0",
                "--python",
            ])
            .arg(env.join("bin/python")),
    );
    assert!(out.status.success(), "{}", show(&out.stderr));
    assert_eq!(std::fs::read(env.join("bin/zenml")).unwrap(), pip_script);
    let out = zenml(&env, &home, &["--version"], true);
    assert!(
        !show(&out.stderr).contains("[zenml-launcher debug]"),
        "the Python CLI answers, not the launcher: {}",
        show(&out.stderr)
    );
    assert_same("--version after pip install", &ref_version, &out);

    // Installing again puts the launcher back, keeping pip's new script.
    install(&env);
    assert_eq!(
        std::fs::read(env.join("lib/zenml-launcher/zenml.console-script")).unwrap(),
        pip_script
    );
    let debug = assert_same(
        "--version",
        &ref_version,
        &zenml(&env, &home, &["--version"], true),
    );
    assert!(took_rust_route(&debug, "--version"), "{debug:#?}");
    uninstall(&env);
    assert_eq!(std::fs::read(env.join("bin/zenml")).unwrap(), pip_script);
    assert!(!env.join("lib/zenml-launcher").exists() && !env.join("bin/zenml-launcher").exists());
}

/// The wheel, built once per run with scripts/build-wheel.sh (the wheel-test profile: optimised,
/// no fat LTO) into target/test-wheels.
fn wheel() -> PathBuf {
    static WHEEL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WHEEL
        .get_or_init(|| {
            let dir = repo().join("target/test-wheels");
            let out = output(
                Command::new("bash")
                    .arg(repo().join("scripts/build-wheel.sh"))
                    .env("ZENML_LAUNCHER_BUILD_PROFILE", "wheel-test")
                    .env("ZENML_LAUNCHER_WHEEL_DIR", &dir),
            );
            assert!(
                out.status.success(),
                "build-wheel.sh failed:\n{}{}",
                show(&out.stdout),
                show(&out.stderr)
            );
            let wheels: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "whl"))
                .collect();
            assert_eq!(wheels.len(), 1, "exactly one wheel: {wheels:?}");
            let listing = output(Command::new("unzip").arg("-l").arg(&wheels[0]));
            let listing = show(&listing.stdout);
            assert!(
                listing.contains(".data/scripts/zenml-launcher")
                    && !listing.contains(".data/scripts/zenml\n")
                    && (10..=13).all(|m| listing.contains(&format!(
                        ".data/data/lib/zenml-launcher/embed/cp3{m}/libzenml_launcher_embed.so"
                    ))),
                "the wheel's files: {listing}"
            );
            wheels[0].clone()
        })
        .clone()
}

/// A command with no Rust toolchain on PATH (clean_command's PATH has none: checked).
fn no_toolchain(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let cmd = clean_command(program, home);
    let path = cmd
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v)
        .map(|v| v.to_os_string())
        .unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for tool in ["cargo", "rustc"] {
            assert!(
                !dir.join(tool).exists(),
                "{tool} on the test PATH in {}",
                dir.display()
            );
        }
    }
    cmd
}

fn uv() -> PathBuf {
    envs_dir().join("tools/bin/uv")
}

/// `pip install <wheel>` (the env's pip) or `uv pip install` into `env`.
fn wheel_install(env: &Path, way: Way) {
    let home = env.parent().unwrap();
    let mut cmd = match way {
        Way::Uv => {
            let mut cmd = no_toolchain(uv(), home);
            cmd.args(["pip", "install", "--offline", "--no-deps", "--python"])
                .arg(env.join("bin/python"));
            cmd
        }
        _ => {
            let mut cmd = no_toolchain(env.join("bin/python"), home);
            cmd.args(["-m", "pip", "install", "--no-index", "--no-deps", "-q"]);
            cmd
        }
    };
    let out = output(cmd.arg(wheel()));
    assert!(
        out.status.success(),
        "installing the wheel into {}: {}{}",
        env.display(),
        show(&out.stdout),
        show(&out.stderr)
    );
}

fn wheel_uninstall(env: &Path, way: Way) {
    let home = env.parent().unwrap();
    let mut cmd = match way {
        Way::Uv => {
            let mut cmd = no_toolchain(uv(), home);
            cmd.args(["pip", "uninstall", "--python"])
                .arg(env.join("bin/python"));
            cmd
        }
        _ => {
            let mut cmd = no_toolchain(env.join("bin/python"), home);
            cmd.args(["-m", "pip", "uninstall", "-y", "-q"]);
            cmd
        }
    };
    let out = output(cmd.arg("zenml-launcher"));
    assert!(
        out.status.success(),
        "uninstalling the wheel from {}: {}{}",
        env.display(),
        show(&out.stdout),
        show(&out.stderr)
    );
}

/// `zenml-launcher self install` as a user runs it after `pip install` (no env activated).
fn self_install(env: &Path, home: &Path) -> Output {
    let out = output(no_toolchain(env.join("bin/zenml-launcher"), home).args(["self", "install"]));
    assert!(
        out.status.success(),
        "self install into {}: {}{}",
        env.display(),
        show(&out.stdout),
        show(&out.stderr)
    );
    assert!(
        std::fs::read(env.join("bin/zenml"))
            .unwrap()
            .starts_with(b"\x7fELF"),
        "bin/zenml is not the launcher after self install"
    );
    out
}

#[test]
fn wheel_pip_python_3_10() {
    install_cycle_with("py3.10", "cp310", Way::Pip);
}

#[test]
fn wheel_pip_python_3_11() {
    install_cycle_with("py3.11", "cp311", Way::Pip);
}

#[test]
fn wheel_pip_python_3_12() {
    install_cycle_with("py3.12", "cp312", Way::Pip);
}

#[test]
fn wheel_pip_python_3_13() {
    install_cycle_with("py3.13", "cp313", Way::Pip);
}

#[test]
fn wheel_uv_venv() {
    install_cycle_with("py3.12-uv", "cp312", Way::Uv);
}

#[test]
fn wheel_pip_conda_like_prefix() {
    install_cycle_with("conda-3.13", "cp313", Way::Pip);
}

/// The wheel and then: ZenML reinstalled over the launcher (pip rewrites bin/zenml), self install
/// again, then `pip uninstall zenml-launcher` without `self uninstall`: bin/zenml still works.
#[test]
fn wheel_then_zenml_upgraded_then_pip_uninstall_alone() {
    let env = pristine_env("py3.11");
    let pip_script = std::fs::read(env.join("bin/zenml")).unwrap();
    let home = scratch("wheel-upgrade");
    let filter = ["stack", "list", "--name", "contains:def"];
    zenml(&env, &home, &filter, false);
    let ref_filter = zenml(&env, &home, &filter, false);
    let ref_version = zenml(&env, &home, &["--version"], false);
    wheel_install(&env, Way::Pip);
    self_install(&env, &home);

    let out = output(
        Command::new(uv())
            .args([
                "pip",
                "install",
                "-q",
                "--reinstall",
                "--no-deps",
                "zenml[local]==0.98.0",
                "--python",
            ])
            .arg(env.join("bin/python")),
    );
    assert!(out.status.success(), "{}", show(&out.stderr));
    assert_eq!(
        std::fs::read(env.join("bin/zenml")).unwrap(),
        pip_script,
        "pip's script again"
    );
    let out = zenml(&env, &home, &["--version"], true);
    assert!(
        !show(&out.stderr).contains("[zenml-launcher debug]"),
        "{}",
        show(&out.stderr)
    );
    assert_same(
        "--version, Python CLI after the upgrade",
        &ref_version,
        &out,
    );
    self_install(&env, &home);
    let debug = assert_same(
        "--version",
        &ref_version,
        &zenml(&env, &home, &["--version"], true),
    );
    assert!(took_rust_route(&debug, "--version"), "{debug:#?}");

    // pip uninstall alone: the wheel's files go, bin/zenml (a copy of the launcher) still answers
    // in Rust, and delegates what needed the embedding library.
    wheel_uninstall(&env, Way::Pip);
    assert!(
        !env.join("bin/zenml-launcher").exists()
            && !env
                .join("lib/zenml-launcher/embed/cp311/libzenml_launcher_embed.so")
                .exists(),
        "pip uninstall removes the wheel's files"
    );
    let debug = assert_same(
        "--version",
        &ref_version,
        &zenml(&env, &home, &["--version"], true),
    );
    assert!(took_rust_route(&debug, "--version"), "{debug:#?}");
    let debug = assert_same(
        "stack list --name",
        &ref_filter,
        &zenml(&env, &home, &filter, true),
    );
    assert_eq!(tier_taken(&debug), Some(Tier::Delegated), "{debug:#?}");
    assert!(
        debug
            .iter()
            .any(|l| l.contains("no embedding library for Python 3.11")),
        "{debug:#?}"
    );
}

/// `self install` into an env without ZenML refuses with a hint; a Python the wheel has no
/// library for (3.9) is told so by doctor, in one line, and nothing crashes.
#[test]
fn wheel_refusals_and_fallbacks() {
    let home = scratch("wheel-refusals");
    for (python, name) in [
        ("3.11.7/bin/python3.11", "venv311"),
        ("3.9.18/bin/python3.9", "venv39"),
    ] {
        let base = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap()
            .join(".pyenv/versions")
            .join(python);
        let env = home.join(name);
        make_venv(&base, &env, &[]);
        let out = output(
            no_toolchain(uv(), &home)
                .args(["pip", "install", "--offline", "--no-deps", "--python"])
                .arg(env.join("bin/python"))
                .arg(wheel()),
        );
        assert!(out.status.success(), "{}", show(&out.stderr));
        let before = tree(&env);
        let out =
            output(no_toolchain(env.join("bin/zenml-launcher"), &home).args(["self", "install"]));
        assert_refused(&out, "ZenML is not installed");
        assert_eq!(
            differences(&before, &tree(&env), true),
            Vec::<String>::new()
        );
        if name == "venv39" {
            let out = output(
                no_toolchain(env.join("bin/zenml-launcher"), &home).args(["doctor", "--json"]),
            );
            let doctor: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "doctor --json: {e}: {}{}",
                        show(&out.stdout),
                        show(&out.stderr)
                    )
                });
            let why = doctor["launcher"]["embedding_library"]["why"]
                .as_str()
                .unwrap_or_default();
            assert!(
                doctor["launcher"]["embedding_library"]["path"].is_null(),
                "{doctor}"
            );
            assert!(
                why.contains("no embedding library for Python 3.9") && !why.contains('\n'),
                "{why}"
            );
        }
    }
}

/// One line on stderr, naming `what`, with a hint; exit 1; nothing written.
fn assert_refused(out: &Output, what: &str) {
    let stderr = show(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(what) && stderr.contains("(hint: "),
        "{stderr}"
    );
}

#[test]
fn refusals_are_one_line_with_a_hint() {
    // No env named and none active.
    assert_refused(&install_sh(&[]), "no env named and none active");
    // An env without ZenML (the provisioning tools venv).
    let tools = envs_dir().join("tools");
    let before = tree(&tools);
    assert_refused(&install_sh(&[&tools]), "ZenML is not installed");
    assert_eq!(
        differences(&before, &tree(&tools), true),
        Vec::<String>::new()
    );
    // A base Python without a shared libpython: an env whose python says so.
    let fake = scratch("install-static");
    std::fs::create_dir_all(fake.join("bin")).unwrap();
    let python = fake.join("bin/python");
    std::fs::write(
        &python,
        "#!/bin/sh\ncat >/dev/null\nprintf 'cp312\\n0\\n/opt/static/bin/python3.12\\n0.98.0\\n/opt/static/lib libpython3.12.a 3.12.1\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    // It is installed (its own python runs the command server: tests/python_server.rs), with a
    // note saying so; this one is refused only because ZenML is not really in it.
    let out = install_sh(&[&fake]);
    let stderr = show(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.lines().next().is_some_and(|l| l.starts_with(
            "note: the env's base Python /opt/static/bin/python3.12 has no shared libpython: \
             its own python runs the command server"
        )),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("zenml-launcher: error: ZenML is not installed in the env at")
            && last.contains("(hint: "),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(fake.join("bin")).unwrap().count(), 1);
    // Uninstalling where nothing is installed changes nothing.
    let out = install_sh(&[Path::new("--uninstall"), &fake]);
    assert!(out.status.success(), "{}", show(&out.stderr));
    assert!(
        show(&out.stdout).contains("not installed"),
        "{}",
        show(&out.stdout)
    );
    assert_eq!(
        std::fs::read_dir(&fake).unwrap().count(),
        1,
        "only bin/ there"
    );
}
