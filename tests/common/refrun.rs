//! The Python CLI's reference runs, warm: a call of pip's `bin/zenml` script goes to a warm
//! interpreter of that script (tests/support/refrunner.py, which shares no code with the
//! launcher's command server) once its conditions were seen before, instead of a new Python
//! start of 2-4 s.
//!
//! Conditions (the key): the program, the whole environment, the cwd, which streams are
//! terminals and their columns, and whether stdin is a pipe. The first call of a key starts a
//! runner for the key (with that environment, cwd and kinds of streams, so that start-up and
//! import-time decisions are a fresh run's) and is served, as are later ones. (A runner's
//! warm-up and one served call cost about what one fresh run costs, so a key called once costs
//! the same either way, and each later call saves a Python start: measured on the suite, 157
//! keys, 82 of them called once.) Every tenth served call of the process (the first included)
//! is also run fresh, and a difference fails the test: the runner's answers are proven on every
//! run of the suite, not assumed. A call the runner cannot vouch for (an uncaught exception, a signal, a module file
//! changed since its warm-up, a warm-up that read the world's files or printed) runs fresh.
//! `ZENML_LAUNCHER_TEST_FRESH=1` runs every reference fresh.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::*;

/// Every how many served calls one is also run fresh and compared.
const SAMPLE_EVERY: usize = 10;

/// What the runner of one key is.
enum Runner {
    /// Not started yet, or to be started again (the last one went stale or away).
    Down,
    /// Serving on `socket` (the child holds its master; its stdin closing stops it).
    Up {
        socket: PathBuf,
        _child: Child,
        _stdin: ChildStdin,
    },
    /// Refused (its warm-up read or printed something) or gone: fresh runs only.
    Off,
}

type Slot = Arc<Mutex<Runner>>;

fn runners() -> &'static Mutex<HashMap<Vec<u8>, Slot>> {
    static RUNNERS: OnceLock<Mutex<HashMap<Vec<u8>, Slot>>> = OnceLock::new();
    RUNNERS.get_or_init(Default::default)
}

fn wrappers() -> &'static Mutex<Vec<PathBuf>> {
    static WRAPPERS: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    WRAPPERS.get_or_init(Default::default)
}

/// Declares `wrapper` a program that runs its arguments as they are, in other conditions of its
/// own (tests/python_server.rs's mount namespace without Debian's libpython): a call of
/// `wrapper <pip's script> ARGS…` is then a reference run too, and its runner is started through
/// the same wrapper (so the runner's master and its workers run in those conditions).
pub fn runs_its_arguments(wrapper: &Path) {
    let mut list = wrappers().lock().unwrap();
    if !list.iter().any(|w| w == wrapper) {
        list.push(wrapper.to_path_buf());
    }
}

/// The wrapper `cmd` goes through (see `runs_its_arguments`), if any, and pip's script it runs,
/// when `cmd` is a reference run: pip's script, directly or through a declared wrapper.
pub fn reference_parts(cmd: &Command) -> Option<(Option<PathBuf>, PathBuf)> {
    let program = Path::new(cmd.get_program());
    if is_pip_script(program) {
        return Some((None, program.to_path_buf()));
    }
    if !wrappers().lock().unwrap().iter().any(|w| w == program) {
        return None;
    }
    let script = Path::new(cmd.get_args().next()?);
    is_pip_script(script).then(|| (Some(program.to_path_buf()), script.to_path_buf()))
}

/// pip's console script of ZenML (what the tests compare with), not a launcher, a wrapper or a
/// test's scripted `bin/zenml`.
pub fn is_pip_script(program: &Path) -> bool {
    if program.file_name().is_none_or(|n| n != "zenml") {
        return false;
    }
    let Ok(text) = std::fs::read(program) else {
        return false;
    };
    text.starts_with(b"#!")
        && text.len() < 4096
        && [
            &b"from zenml_cli import cli"[..],
            b"from zenml.cli.cli import cli",
        ]
        .iter()
        .any(|line| text.windows(line.len()).any(|w| w == *line))
}

/// `cmd` (pip's script) with `ttys` and `input` as `run_streams` runs it: warm when its key was
/// seen before, fresh otherwise; `fresh` is the fresh run.
pub fn reference(
    cmd: &Command,
    cols: u16,
    ttys: &[&str],
    input: Option<&str>,
    fresh: impl Fn() -> Captured,
) -> Captured {
    if std::env::var_os("ZENML_LAUNCHER_TEST_FRESH").is_some_and(|v| v == "1") {
        return fresh();
    }
    let Some(parts) = reference_parts(cmd) else {
        return fresh();
    };
    let key = key_of(cmd, &parts.1, cols, ttys, input);
    let key_id = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        format!("{:016x}", h.finish())
    };
    let note = |event: &str, cmd: &Command| note(event, &key_id, cmd);
    let slot = runners()
        .lock()
        .unwrap()
        .entry(key)
        .or_insert_with(|| Arc::new(Mutex::new(Runner::Down)))
        .clone();
    let (socket, why) = {
        let mut runner = slot.lock().unwrap();
        match &*runner {
            Runner::Down => {
                *runner = start(cmd, &parts, cols, ttys, input);
                match &*runner {
                    Runner::Up { socket, .. } => (Some(socket.clone()), ""),
                    _ => (None, "fresh refused"),
                }
            }
            Runner::Up { socket, .. } => (Some(socket.clone()), ""),
            Runner::Off => (None, "fresh refused"),
        }
    };
    let Some(socket) = socket else {
        note(why, cmd);
        return fresh();
    };
    // A sample is due every SAMPLE_EVERY served calls, taken by the first call from then on
    // that leaves the world's state as it found it (a call that wrote, e.g. `stack register`,
    // cannot run twice).
    static DUE: AtomicUsize = AtomicUsize::new(0);
    let due = DUE.load(Ordering::SeqCst) == 0;
    let before = due.then(|| state_of(cmd));
    let args = cmd.get_args().skip(usize::from(parts.0.is_some()));
    let Some(served) = call(&socket, args, cols, ttys, input, &slot) else {
        note("unsure", cmd);
        return fresh();
    };
    if !due || before != Some(state_of(cmd)) {
        if !due {
            let _ = DUE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            });
        }
        note(if due { "served (wrote)" } else { "served" }, cmd);
        return served;
    }
    DUE.store(SAMPLE_EVERY - 1, Ordering::SeqCst);
    let fresh = fresh();
    let comparable = *COMPARABLE.get_or_init(|| world::without_spinner);
    let same = |c: &Captured| Captured {
        stdout: comparable(&c.stdout),
        stderr: comparable(&c.stderr),
        code: c.code,
    };
    assert!(
        same(&fresh) == same(&served),
        "the warm reference runner (tests/support/refrunner.py) answered {:?} otherwise than \
         a fresh run:\nwarm  {served}\nfresh {fresh}\n(ZENML_LAUNCHER_TEST_FRESH=1 runs every \
         reference fresh)",
        cmd.get_args().collect::<Vec<_>>()
    );
    note("sample", cmd);
    fresh
}

/// What a sample compares of one stream.
type Normalizer = fn(&[u8]) -> Vec<u8>;

static COMPARABLE: OnceLock<Normalizer> = OnceLock::new();

/// What a sample compares of both runs' streams in this test binary: by default each stream
/// without the spinner's frames; a binary whose CLI output holds what differs between any two
/// fresh runs (rich's random OSC 8 link ids, a token's time left) names the normalizer its own
/// comparisons with the launcher use, before its first reference run. Called once per binary
/// (a later call with another function panics).
pub fn compare_samples_as(normalizer: Normalizer) {
    let set = *COMPARABLE.get_or_init(|| normalizer);
    assert!(
        std::ptr::fn_addr_eq(set, normalizer),
        "refrun::compare_samples_as: another normalizer was set (or a reference ran) before"
    );
}

/// Appends what happened to a reference call to target/test-refrun.log (the test binary, its
/// pid, the event, the arguments and a hash of the call's key, tab-separated;
/// scripts/run_tests.py sums them up): how many calls were served, sampled and why some were not.
fn note(event: &str, key_id: &str, cmd: &Command) {
    use std::io::Write;
    let exe = std::env::current_exe().unwrap_or_default();
    let line = format!(
        "{}\t{}\t{event}\t{:?}\t{key_id}\n",
        exe.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        cmd.get_args().collect::<Vec<_>>()
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(repo().join("target/test-refrun.log"))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The contents of the ZenML state `cmd` works on: every file of its config dir
/// (`ZENML_CONFIG_PATH`, else `~/.config/zenml`) and of `.zen` in its cwd, by path. A ZenML
/// server's state is not in it: a call that writes to a server must not come here (a sample
/// would run it twice), so the tests' writes to a server run fresh (`World::zenml`).
fn state_of(cmd: &Command) -> Vec<(PathBuf, Vec<u8>)> {
    let var = |name: &str| {
        cmd.get_envs()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.map(PathBuf::from))
    };
    let config = var("ZENML_CONFIG_PATH")
        .or_else(|| var("HOME").map(|h| h.join(".config/zenml")))
        .unwrap_or_default();
    let cwd = cmd
        .get_current_dir()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut files = Vec::new();
    let mut stack = vec![config, cwd.join(".zen")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => {
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    files.push((path, bytes));
                }
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

/// The conditions a runner is made for: the program (and the script a wrapper runs), the
/// environment, the cwd and the streams.
fn key_of(cmd: &Command, script: &Path, cols: u16, ttys: &[&str], input: Option<&str>) -> Vec<u8> {
    let mut env: Vec<(OsString, OsString)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    env.sort();
    let mut key = Vec::new();
    let mut put = |bytes: &[u8]| {
        key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        key.extend_from_slice(bytes);
    };
    put(cmd.get_program().as_bytes());
    put(script.as_os_str().as_bytes());
    for (k, v) in &env {
        put(k.as_bytes());
        put(v.as_bytes());
    }
    put(cmd
        .get_current_dir()
        .unwrap_or(Path::new(""))
        .as_os_str()
        .as_bytes());
    let (stdin, stdout, stderr) = kinds(ttys, input);
    put(format!(
        "{stdin} {stdout} {stderr} {}",
        if ttys.is_empty() { 0 } else { cols }
    )
    .as_bytes());
    key
}

/// The kinds of stdin, stdout and stderr, as ptyrun.py makes them.
fn kinds(ttys: &[&str], input: Option<&str>) -> (&'static str, &'static str, &'static str) {
    let tty = |s: &str| if ttys.contains(&s) { "pty" } else { "pipe" };
    let stdin = if ttys.contains(&"stdin") {
        "pty"
    } else if input.is_some() {
        "pipe"
    } else {
        "null"
    };
    (stdin, tty("stdout"), tty("stderr"))
}

/// The refrunner command for `what` with the streams of the key (through `wrapper`, if any).
fn refrunner(
    what: &str,
    wrapper: Option<&Path>,
    socket: &Path,
    cols: u16,
    ttys: &[&str],
    input: Option<&str>,
) -> Command {
    let (stdin, stdout, stderr) = kinds(ttys, input);
    let mut runner = match wrapper {
        Some(wrapper) => {
            let mut runner = Command::new(wrapper);
            runner.arg(base_python());
            runner
        }
        None => Command::new(base_python()),
    };
    runner
        .arg(repo().join("tests/support/refrunner.py"))
        .arg(what)
        .arg("--socket")
        .arg(socket)
        .args(["--cols", &cols.to_string()])
        .args(["--stdin", stdin, "--stdout", stdout, "--stderr", stderr]);
    runner
}

/// Starts the runner of `cmd`'s key, in `cmd`'s environment and cwd (through its wrapper, if
/// any: `parts` are `reference_parts`).
fn start(
    cmd: &Command,
    parts: &(Option<PathBuf>, PathBuf),
    cols: u16,
    ttys: &[&str],
    input: Option<&str>,
) -> Runner {
    let (wrapper, script) = parts;
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| scratch("refrun"));
    let socket = dir.join(format!("{}.sock", COUNT.fetch_add(1, Ordering::SeqCst)));
    let python = std::fs::read(script).ok().and_then(|text| {
        let line = text.split(|&b| b == b'\n').next()?.strip_prefix(b"#!")?;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(
            line.trim_ascii(),
        )))
    });
    let Some(python) = python else {
        return Runner::Off;
    };
    let mut runner = refrunner("start", wrapper.as_deref(), &socket, cols, ttys, input);
    runner.arg("--").arg(python).arg(script);
    in_conditions_of(&mut runner, cmd);
    let mut child = runner
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {runner:?}: {e}"));
    let mut status = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut status);
    let stdin = child.stdin.take().unwrap();
    if status.trim() == "ready" {
        Runner::Up {
            socket,
            _child: child,
            _stdin: stdin,
        }
    } else {
        eprintln!(
            "refrun: no warm runner for {:?}: {}",
            cmd.get_args().collect::<Vec<_>>(),
            status.trim()
        );
        drop(stdin);
        let _ = child.wait();
        Runner::Off
    }
}

/// One served call, or `None` when the runner cannot vouch for it (a stale or gone runner is
/// replaced at the key's next call).
fn call<'a>(
    socket: &Path,
    args: impl Iterator<Item = &'a std::ffi::OsStr>,
    cols: u16,
    ttys: &[&str],
    input: Option<&str>,
    slot: &Slot,
) -> Option<Captured> {
    let mut runner = refrunner("call", None, socket, cols, ttys, input);
    if let Some(text) = input {
        runner.arg("--input").arg(text);
    }
    runner.arg("--").args(args);
    runner.env_clear().env("PATH", "/usr/bin:/bin");
    let out = output(&mut runner);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        // Gone (idle for two minutes, or it failed): a new one at the key's next call.
        *slot.lock().unwrap() = Runner::Down;
        return None;
    };
    if let Some(code) = v["code"].as_i64() {
        let field = |k: &str| b64(v[k].as_str().expect("base64 field"));
        return Some(Captured {
            stdout: field("stdout"),
            stderr: field("stderr"),
            code: code as i32,
        });
    }
    if v.get("stale").is_some() {
        // A new runner at the next call of the key (this one stops as its stdin closes).
        *slot.lock().unwrap() = Runner::Down;
    }
    None
}
