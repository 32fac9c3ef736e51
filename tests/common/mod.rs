//! Shared test support: the provisioned envs, the built binaries, and clean-environment runs.
//!
//! Envs come from `scripts/provision-envs.sh` (run by `scripts/test.sh`); a missing one fails
//! the test with a message saying how to create it.
#![allow(dead_code)]

pub mod names;
pub mod refrun;
pub mod served;
pub mod world;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const ZENML_VERSION: &str = "0.98.0";
pub const ZENML_OLD_VERSION: &str = "0.85.0";

/// The `sys.*` an embedded interpreter must compute exactly as the env's own python does.
pub const SYS_KEYS: [&str; 6] = [
    "prefix",
    "base_prefix",
    "exec_prefix",
    "base_exec_prefix",
    "executable",
    "path",
];

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/envs/zenml-<version>`, provisioned by scripts/provision-envs.sh.
pub fn zenml_env(version: &str) -> PathBuf {
    let dir = std::env::var_os("ZENML_LAUNCHER_ENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/envs"))
        .join(format!("zenml-{version}"));
    assert!(
        dir.join(".provisioned").is_file(),
        "test env {} is missing: run scripts/provision-envs.sh (or scripts/test.sh, which runs it)",
        dir.display()
    );
    dir
}

/// The base interpreter the envs and the launcher's libpython come from.
pub fn base_python() -> PathBuf {
    std::env::var_os("ZENML_LAUNCHER_BASE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".pyenv/versions/3.11.7/bin/python3.11")
        })
}

/// The `zenml` launcher binary under test.
pub fn launcher() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_zenml"));
    build_companions(&bin);
    let lib = bin.with_file_name("libzenml_launcher_embed.so");
    assert!(
        lib.is_file(),
        "{} is missing: run `cargo build --workspace`",
        lib.display()
    );
    bin
}

/// `examples/print_sys_path`, next to the binary under test (built on first use: `cargo test`
/// only builds examples as test harnesses).
pub fn print_sys_path() -> PathBuf {
    example("print_sys_path")
}

/// `target/<profile>/examples/<name>`, (re)built with the launcher's companions.
pub fn example(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_zenml"));
    build_companions(&bin);
    let path = bin.with_file_name("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --examples`",
        path.display()
    );
    path
}

/// Builds, once per test binary and with the profile and target dir of the launcher under test,
/// what `cargo test` does not: the examples, and the embedding library (a cdylib) the launcher
/// loads for tier 2. So neither is ever stale.
fn build_companions(bin: &Path) {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let profile_dir = bin.parent().unwrap();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO")
            .unwrap_or_else(|| option_env!("CARGO").unwrap_or("cargo").into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--workspace", "--lib", "--examples"])
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap());
        match profile_dir.file_name().and_then(OsStr::to_str) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
        }
        let out = output(&mut cmd);
        assert!(
            out.status.success(),
            "building the examples and the embedding library failed: {}",
            show(&out.stderr)
        );
    });
}

/// A fresh directory under target/test-tmp, `<name>-<pid>-<n>` (kept for inspection after the
/// test; scripts/run_tests.py removes the dirs of ended processes before the next run).
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = repo()
        .join("target/test-tmp")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command with a clean environment: HOME, PATH without any env's bin, C.UTF-8, a private
/// ZenML config dir, analytics off, and the launcher's command server off (tests/command_server.rs
/// turns it on, with a private socket dir). Callers add VIRTUAL_ENV etc.
pub fn clean_command(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("ZENML_CONFIG_PATH", home.join("zenml-config"))
        .env("ZENML_ANALYTICS_OPT_IN", "false")
        .env("ZENML_LAUNCHER_SERVER", "0")
        .current_dir(home);
    cmd
}

/// Runs and returns the output, with a readable panic if it could not start.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Shows bytes readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The prefix the base interpreter belongs to (`~/.pyenv/versions/3.11.7`).
pub fn base_prefix() -> PathBuf {
    let python = base_python();
    assert!(
        python.is_file(),
        "base interpreter {} is missing: install CPython 3.11.7 with a shared libpython \
         (PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11.7) or set ZENML_LAUNCHER_BASE_PYTHON",
        python.display()
    );
    python
        .parent()
        .and_then(Path::parent)
        .expect("<prefix>/bin/python")
        .to_path_buf()
}

/// `python -m venv --without-pip <extra> <dir>` (pip is not needed and costs ~3 s per venv).
pub fn make_venv(python: &Path, dir: &Path, extra: &[&str]) {
    let home = dir.parent().expect("venv dir has a parent");
    let out = output(
        clean_command(python, home)
            .args(["-m", "venv", "--without-pip"])
            .args(extra)
            .arg(dir),
    );
    assert!(
        out.status.success(),
        "creating the venv {} with {} failed: {}",
        dir.display(),
        python.display(),
        show(&out.stderr)
    );
}

/// `<venv>/lib/python3.X/site-packages` (the only one there is).
pub fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", lib.display()))
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one site-packages under {}",
        lib.display()
    );
    found.pop().unwrap()
}

/// Runs with a deadline: a hung or recursing child is killed and the test fails.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?} (hung, or the launcher ran itself)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// The lines of a byte string, without the trailing empty one.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    show(bytes).lines().map(str::to_string).collect()
}

/// What a run printed, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

/// Runs a configured command (program, args, cwd and the variables set on it; the environment is
/// otherwise empty, as with `clean_command`) through tests/support/ptyrun.py: `ttys` lists the
/// streams on their own pseudo-terminal of `cols` columns (`"stdin"`, `"stdout"`, `"stderr"`),
/// `input` is written to stdin (a pipe when stdin is not a tty).
/// pip's `bin/zenml` script of an env (the reference CLI), run directly or through a wrapper
/// declared with `refrun::runs_its_arguments`, goes through `refrun::reference`: warm once its
/// conditions were seen, with a sample compared with fresh runs.
pub fn run_streams(cmd: &Command, cols: u16, ttys: &[&str], input: Option<&str>) -> Captured {
    if refrun::reference_parts(cmd).is_some() {
        return refrun::reference(cmd, cols, ttys, input, || {
            fresh_streams(cmd, cols, ttys, input)
        });
    }
    fresh_streams(cmd, cols, ttys, input)
}

/// `output` for a run in pipes with stdin on /dev/null, as `Command::output` makes them; pip's
/// `bin/zenml` script goes through `refrun::reference` as in `run_streams`.
pub fn cli_output(cmd: &mut Command) -> Output {
    if refrun::reference_parts(cmd).is_none() {
        return output(cmd);
    }
    use std::os::unix::process::ExitStatusExt;
    let captured = refrun::reference(cmd, 80, &[], None, || fresh_streams(cmd, 80, &[], None));
    // ptyrun's code: the exit code, or minus the signal that ended the run.
    let raw = if captured.code < 0 {
        -captured.code
    } else {
        (captured.code & 0xff) << 8
    };
    Output {
        status: std::process::ExitStatus::from_raw(raw),
        stdout: captured.stdout,
        stderr: captured.stderr,
    }
}

/// Gives `cmd` exactly the environment `like` sets (the tests' commands start from a cleared
/// one) and its cwd: a runner, wrapper or rerun in the same conditions as the command it runs.
pub fn in_conditions_of<'a>(cmd: &'a mut Command, like: &Command) -> &'a mut Command {
    cmd.env_clear();
    for (k, v) in like.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    if let Some(dir) = like.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// `run_streams`, always in a new process.
pub fn fresh_streams(cmd: &Command, cols: u16, ttys: &[&str], input: Option<&str>) -> Captured {
    let mut runner = Command::new(base_python());
    in_conditions_of(&mut runner, cmd)
        .arg(repo().join("tests/support/ptyrun.py"))
        .arg("--cols")
        .arg(cols.to_string());
    for stream in ["stdout", "stderr"] {
        if ttys.contains(&stream) {
            runner.arg(format!("--{stream}")).arg("pty");
        }
    }
    if ttys.contains(&"stdin") {
        runner.args(["--stdin", "pty"]);
    } else if input.is_some() {
        runner.args(["--stdin", "pipe"]);
    }
    if let Some(text) = input {
        runner.arg("--input").arg(text);
    }
    runner.arg("--").arg(cmd.get_program()).args(cmd.get_args());
    let out = output(&mut runner);
    assert!(out.status.success(), "ptyrun failed: {}", show(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ptyrun prints JSON");
    let field = |k: &str| b64(v[k].as_str().expect("base64 field"));
    Captured {
        stdout: field("stdout"),
        stderr: field("stderr"),
        code: v["code"].as_i64().unwrap() as i32,
    }
}

/// Standard base64 decoding (the runner's transport).
pub fn b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            _ => 63,
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | val(c) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len() * 6 / 8 + 1]);
    }
    out
}

/// Splits the launcher's `[zenml-launcher debug] …\n` lines off stderr (also one written right
/// after a prompt that has no newline).
pub fn split_debug(stderr: &[u8]) -> (Vec<u8>, Vec<String>) {
    const MARK: &[u8] = b"[zenml-launcher debug] ";
    let mut rest = Vec::new();
    let mut debug = Vec::new();
    let mut i = 0;
    while i < stderr.len() {
        if stderr[i..].starts_with(MARK) {
            let end = stderr[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(stderr.len(), |p| i + p + 1);
            debug.push(show(&stderr[i + MARK.len()..end]).trim_end().to_string());
            i = end;
        } else {
            rest.push(stderr[i]);
            i += 1;
        }
    }
    (rest, debug)
}

/// Some Rust route was chosen and not given up for delegation afterwards (a Rust route that
/// finds a condition it does not reproduce logs `route: delegate …` after its `route: rust …`).
pub fn rust_route_taken(debug: &[String]) -> bool {
    tier_taken(debug) == Some(Tier::Rust)
}

/// Who answered a launcher run, from its debug lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// A Rust route printed everything.
    Rust,
    /// ZenML's own command ran in the embedded interpreter (tier 2).
    InProcess,
    /// The Python CLI was exec'd.
    Delegated,
    /// A worker of the warm command server ran the CLI.
    Server,
}

pub fn tier_taken(debug: &[String]) -> Option<Tier> {
    if debug.iter().any(|l| l.starts_with("route: server")) {
        Some(Tier::Server)
    } else if debug.iter().any(|l| l.starts_with("route: delegate")) {
        Some(Tier::Delegated)
    } else if debug.iter().any(|l| l.starts_with("in-process: running")) {
        Some(Tier::InProcess)
    } else if debug.iter().any(|l| l.starts_with("route: rust")) {
        Some(Tier::Rust)
    } else {
        None
    }
}

impl std::fmt::Display for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rc={}\n--- stdout ---\n{:?}\n--- stderr ---\n{:?}",
            self.code,
            show(&self.stdout),
            show(&self.stderr)
        )
    }
}

/// The Rust route `name` was chosen and not given up for tier 2 or delegation.
pub fn took_rust_route(debug: &[String], name: &str) -> bool {
    debug.iter().any(|l| l == &format!("route: rust: {name}"))
        && tier_taken(debug) == Some(Tier::Rust)
}

/// A scratch venv that sees the provisioned ZenML through a `.pth` path line (plus its
/// dist-info, where the launcher reads the entry point), with the launcher copied in as its
/// `bin/zenml`, the way `cargo install --root <env>` leaves it.
pub fn venv_with_launcher_as_zenml(home: &Path) -> PathBuf {
    let source_site = site_packages(&zenml_env(ZENML_VERSION));
    let venv = home.join("installed");
    make_venv(&base_python(), &venv, &[]);
    let site = site_packages(&venv);
    // `00-` sorts before distutils-precedence.pth, whose import needs that path.
    std::fs::write(
        site.join("00-zenml-env.pth"),
        format!("{}\n", source_site.display()),
    )
    .unwrap();
    std::fs::copy(
        source_site.join("distutils-precedence.pth"),
        site.join("distutils-precedence.pth"),
    )
    .unwrap();
    let dist_info = format!("zenml-{ZENML_VERSION}.dist-info");
    let out = output(
        Command::new("cp")
            .arg("-r")
            .arg(source_site.join(&dist_info))
            .arg(&site),
    );
    assert!(
        out.status.success(),
        "copying {dist_info}: {}",
        show(&out.stderr)
    );
    std::fs::copy(launcher(), venv.join("bin/zenml")).unwrap();
    // The embedding library where an installed launcher finds it: `<prefix>/lib/`.
    let lib = launcher().with_file_name("libzenml_launcher_embed.so");
    std::fs::copy(&lib, venv.join("lib/libzenml_launcher_embed.so")).unwrap();
    venv
}

/// Runs `src/gen_cache.py` the way `cache::load_or_generate` does and reads its `theme.json`.
pub fn generate_meta(env: &Path, dir: &Path) -> zenml_launcher::render::highlight::ThemeData {
    let input = zenml_launcher::env::DiscoveryInput {
        virtual_env: Some(env.as_os_str().to_owned()),
        ..Default::default()
    };
    let py_env = zenml_launcher::env::resolve(&input).expect("env");
    let install = zenml_launcher::zenml::package::find(&py_env).expect("zenml installed");
    let out_dir = dir.join("cache");
    // The launcher's own generator invocation, in a clean environment, with its output kept.
    let mut cmd =
        zenml_launcher::cache::generator_command(&py_env, &install, &out_dir, "highlight-parity");
    cmd.env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("ZENML_CONFIG_PATH", dir.join("zenml-config"))
        .env("ZENML_ANALYTICS_OPT_IN", "false")
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = output(&mut cmd);
    assert!(
        out.status.success(),
        "generator failed: {}",
        show(&out.stderr)
    );
    let main: zenml_launcher::cache::Meta =
        serde_json::from_slice(&std::fs::read(out_dir.join("meta.json")).unwrap()).unwrap();
    assert!(
        main.supports("theme"),
        "theme step unsupported: {:?}",
        main.unsupported
    );
    let meta: zenml_launcher::render::highlight::ThemeData =
        serde_json::from_slice(&std::fs::read(out_dir.join("theme.json")).unwrap()).unwrap();
    assert!(
        meta.supports("theme"),
        "theme step unsupported: {:?}",
        meta.unsupported
    );
    meta
}

/// Waits, until `deadline`, while a command server in the socket dir `run_dir` warms up (its
/// start-up marker, `<name>.starting`, is there: `python::server::Marker`). A test that wants
/// its next call served waits here instead of calling again and again meanwhile: each such call
/// is delegated, one more Python CLI start. Panics with the reason when a start failed.
pub fn wait_while_a_server_starts(run_dir: &Path, deadline: std::time::Instant) {
    use zenml_launcher::python::server::Marker;
    loop {
        let markers: Vec<PathBuf> = std::fs::read_dir(run_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "starting"))
            .collect();
        if markers.is_empty() || std::time::Instant::now() > deadline {
            return;
        }
        for marker in &markers {
            if let Ok(Marker::Failed(why)) = Marker::read(marker) {
                panic!(
                    "a command server in {} failed to start: {why}",
                    run_dir.display()
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A scratch venv on the base Python that sees the provisioned ZenML through a `.pth` line, with
/// its dist-info (so the launcher serves it), whose `bin/zenml` runs `script` instead of the CLI.
pub fn scripted_venv(home: &Path, name: &str, script: &str) -> PathBuf {
    let source_site = site_packages(&zenml_env(ZENML_VERSION));
    let venv = home.join(name);
    make_venv(&base_python(), &venv, &[]);
    let site = site_packages(&venv);
    std::fs::write(
        site.join("00-zenml-env.pth"),
        format!("{}\n", source_site.display()),
    )
    .unwrap();
    for name in [
        format!("zenml-{ZENML_VERSION}.dist-info"),
        "distutils-precedence.pth".into(),
    ] {
        let out = output(
            std::process::Command::new("cp")
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
    let path = venv.join("bin/zenml");
    std::fs::write(
        &path,
        format!("#!{}\n{script}", venv.join("bin/python").display()),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    venv
}
