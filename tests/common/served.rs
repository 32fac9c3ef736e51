//! A ZenML world whose launcher calls go to a warm command server with a private socket dir,
//! compared with the live Python CLI (tests/command_server.rs, tests/python_server.rs), and the
//! tools those tests share: file trees before and after a call, ids masked for twin worlds, a
//! running call that takes signals, and process states.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::world::{World, comparable};
use super::*;

/// A ZenML world whose launcher calls go to a server with a private socket dir.
pub struct Served {
    pub world: World,
    pub runtime: PathBuf,
    /// The launcher it runs (the development build, or one installed in the world's env).
    pub program: PathBuf,
    /// The Python CLI it compares with (the world's env's `bin/zenml`, or pip's script of
    /// another env on the same Python).
    pub reference: PathBuf,
    /// A program every call runs through, with the call's program and arguments after it (the
    /// mount namespace of tests/python_server.rs).
    pub wrapper: Option<PathBuf>,
    /// The reference env's root and the launcher's env root, when they differ (a twin copy at a
    /// path of the same length): the reference's output names the launcher's env instead, so
    /// paths in warnings and tracebacks (and rich's wrapping of them) compare.
    pub twin_roots: Option<(PathBuf, PathBuf)>,
}

impl Served {
    pub fn new(name: &str) -> Served {
        Served::with_world(World::new(name), name)
    }

    /// `world`'s calls served from a private socket dir, `<name>-run` (mode 0700).
    pub fn with_world(world: World, name: &str) -> Served {
        let runtime = scratch(&format!("{name}-run"));
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        Served {
            reference: world.env.join("bin/zenml"),
            world,
            runtime,
            program: launcher(),
            wrapper: None,
            twin_roots: None,
        }
    }

    /// `program args` in the world, through the wrapper if there is one.
    fn command(&self, program: &Path, args: &[&str], extra: &[(&str, &str)]) -> Command {
        match &self.wrapper {
            Some(wrapper) => {
                let mut cmd = self.world.command(wrapper, &[], extra);
                cmd.arg(program).args(args);
                cmd
            }
            None => self.world.command(program, args, extra),
        }
    }

    pub fn launcher(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = self.command(&self.program, args, extra);
        // Servers of a test run go away by themselves five minutes after their last call, even
        // when a test fails before it stops them.
        cmd.env_remove("ZENML_LAUNCHER_SERVER")
            .env("ZENML_LAUNCHER_RUNTIME_DIR", &self.runtime)
            .env("ZENML_LAUNCHER_SERVER_IDLE_S", "300")
            .env("ZENML_DEBUG_PYTHON", "1");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// The reference's output with its env root replaced by the launcher's (see `twin_roots`).
    pub fn as_launcher_env(&self, captured: Captured) -> Captured {
        let Some((theirs, ours)) = &self.twin_roots else {
            return captured;
        };
        let (theirs, ours) = (theirs.as_os_str().as_bytes(), ours.as_os_str().as_bytes());
        assert_eq!(theirs.len(), ours.len(), "twin roots of the same length");
        let swap = |bytes: Vec<u8>| {
            let mut out = bytes;
            let mut i = 0;
            while i + theirs.len() <= out.len() {
                if &out[i..i + theirs.len()] == theirs {
                    out[i..i + theirs.len()].copy_from_slice(ours);
                    i += theirs.len();
                } else {
                    i += 1;
                }
            }
            out
        };
        Captured {
            stdout: swap(captured.stdout),
            stderr: swap(captured.stderr),
            code: captured.code,
        }
    }

    pub fn python(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        self.command(&self.reference, args, extra)
    }

    /// Registers stack `name` (default orchestrator and artifact store) through the Python CLI.
    pub fn register_stack(&self, name: &str) {
        self.world
            .zenml(&["stack", "register", name, "-o", "default", "-a", "default"]);
    }

    /// Makes sure the server for `extra`'s key is up: calls with `ZENML_LAUNCHER_SERVER=wait`
    /// (the call that finds no server waits for the one it starts, and is served: one Python
    /// start, not a delegated call beside the warm-up) until one says `route: server`, waiting
    /// while a server warms up rather than calling meanwhile. Normally one call. The default, a
    /// first call delegated while the server warms up, is what tests/install.rs and
    /// tests/python_server.rs's first calls check.
    pub fn warm(&self, extra: &[(&str, &str)]) {
        // Generous: on a loaded machine a delegated call alone can take most of a minute.
        let deadline = Instant::now() + Duration::from_secs(400);
        let mut waiting = extra.to_vec();
        waiting.push(("ZENML_LAUNCHER_SERVER", "wait"));
        loop {
            let out = output_within(
                &mut self.launcher(&["stack", "--help"], &waiting),
                Duration::from_secs(180),
            );
            let (_, debug) = split_debug(&out.stderr);
            if tier_taken(&debug) == Some(Tier::Server) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no server came up for {extra:?}: {debug:#?}\nlogs: {}",
                self.logs()
            );
            wait_while_a_server_starts(&self.runtime, deadline);
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The pids in the info files of the servers in the runtime dir.
    pub fn server_pids(&self) -> Vec<u32> {
        zenml_launcher::python::server::list(&self.runtime)
            .iter()
            .filter_map(|files| {
                let info: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&files.info).ok()?).ok()?;
                Some(info["pid"].as_u64()? as u32)
            })
            .collect()
    }

    /// Waits (up to a minute) until every call of `s`'s servers has ended and been logged: a
    /// client has its exit code before its worker is reaped and logged (the worker posts it
    /// first), so a count of log lines right after a call can miss that call. Settled: no
    /// server has a child but its spare worker, and the logs read the same twice 100 ms apart.
    pub fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let children = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .count()
        };
        loop {
            let pids = self.server_pids();
            let logs = self.logs();
            std::thread::sleep(Duration::from_millis(100));
            if pids.iter().all(|&pid| children(pid) <= 1) && self.logs() == logs {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the servers' calls did not end within a minute: {}",
                self.logs()
            );
        }
    }

    pub fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.runtime).unwrap().flatten() {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|e| e == "log" || e == "starting")
            {
                text += &format!(
                    "{}: {}\n",
                    path.display(),
                    std::fs::read_to_string(&path).unwrap_or_default()
                );
            }
        }
        text
    }

    /// The pid of the (only) server in the runtime dir.
    pub fn server_pid(&self) -> u32 {
        let info = std::fs::read_dir(&self.runtime)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .expect("a server info file");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(info).unwrap()).unwrap();
        v["pid"].as_u64().unwrap() as u32
    }

    /// Runs the launcher and the Python CLI with the same arguments, variables and streams;
    /// `Err` describes any difference (or a launcher call the server did not run, when
    /// `served`).
    pub fn compare(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
        ttys: &[&str],
        input: Option<&str>,
        served: bool,
    ) -> Result<(), String> {
        let before = tree(&self.world.home);
        let mine = run_streams(&self.launcher(args, extra), 100, ttys, input);
        let mine_touched = changed(&before, &tree(&self.world.home));
        let before = tree(&self.world.home);
        let reference =
            self.as_launcher_env(run_streams(&self.python(args, extra), 100, ttys, input));
        let reference_touched = changed(&before, &tree(&self.world.home));
        let (mine, reference, debug) = comparable(mine, reference);
        if mine != reference {
            return Err(format!(
                "zenml {args:?} {extra:?} ttys {ttys:?}\nlauncher {mine}\npython   {reference}"
            ));
        }
        if mine_touched != reference_touched {
            return Err(format!(
                "zenml {args:?}: files touched differ: launcher {mine_touched:?}, python {reference_touched:?}"
            ));
        }
        if served && tier_taken(&debug) != Some(Tier::Server) {
            return Err(format!("zenml {args:?} {extra:?}: not served: {debug:#?}"));
        }
        Ok(())
    }
}

impl Drop for Served {
    /// Stops the servers this world started.
    fn drop(&mut self) {
        for files in zenml_launcher::python::server::list(&self.runtime) {
            zenml_launcher::python::server::stop(&files, Duration::from_secs(5));
        }
    }
}

/// Every file under `dir` (the launcher's cache aside) with its size and mtime.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if rel.starts_with("cache") || rel.starts_with("setup_script.py") {
                continue;
            }
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(rel, (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    out
}

/// The paths created, changed or removed between two trees.
pub fn changed(
    a: &BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
    b: &BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    out.extend(a.keys().filter(|k| !b.contains_key(*k)).cloned());
    out.sort();
    out
}

/// UUIDs (and ISO timestamps) replaced by placeholders: twin worlds differ only there.
pub fn without_ids(bytes: &[u8]) -> Vec<u8> {
    let text = show(bytes);
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_hex = |c: char| c.is_ascii_hexdigit();
    while i < chars.len() {
        let uuid = chars.len() >= i + 36
            && chars[i..i + 36].iter().enumerate().all(|(j, &c)| {
                if [8, 13, 18, 23].contains(&j) {
                    c == '-'
                } else {
                    is_hex(c)
                }
            });
        if uuid {
            out.push_str("<uuid>");
            i += 36;
            continue;
        }
        let stamp = chars.len() >= i + 19
            && chars[i..i + 19].iter().enumerate().all(|(j, &c)| match j {
                4 | 7 => c == '-',
                10 => c == ' ' || c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        if stamp {
            out.push_str("<time>");
            i += 19;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out.into_bytes()
}

/// A running call whose output is collected as it comes.
pub struct Running {
    pub child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Running {
    pub fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |mut r: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
            buf
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until the output contains `text` (the prompt is up).
    pub fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let all = [
                self.stdout.lock().unwrap().clone(),
                self.stderr.lock().unwrap().clone(),
            ]
            .concat();
            if show(&all).contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} within 60 s: {}",
                show(&all)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, sig: i32) {
        let out = output(
            Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(self.child.id().to_string()),
        );
        assert!(out.status.success());
    }

    /// `finish` after a signal that ends the call: stdin stays open until the call has ended
    /// (at most 30 s). The client forwards the signal to its worker when it next runs, and a
    /// worker that read `finish`'s EOF first would end the prompt itself ("Aborted!", exit 1) on
    /// a loaded machine, where the CLI, signalled directly, never reads that EOF.
    pub fn finish_after_signal(self) -> (std::process::ExitStatus, Vec<u8>, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(self.child.id()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.finish()
    }

    pub fn finish(mut self) -> (std::process::ExitStatus, Vec<u8>, Vec<u8>) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the call did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status, out, err)
    }

    /// The launcher's debug lines so far.
    pub fn debug(&self) -> Vec<String> {
        split_debug(&self.stderr.lock().unwrap()).1
    }

    /// The worker's pid, from the launcher's debug line (which the client prints once it has
    /// the pid: maybe after the worker's first output, so it is waited for, until the client
    /// says which route it took).
    pub fn worker(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let debug = self.debug();
            let pid = debug.iter().find_map(|l| {
                l.strip_prefix("route: server (worker ")?
                    .split_once(", ")?
                    .0
                    .parse()
                    .ok()
            });
            match pid {
                Some(pid) => return pid,
                None if tier_taken(&debug).is_some() || Instant::now() > deadline => {
                    panic!("not served: {debug:#?}")
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

pub fn alive(pid: u32) -> bool {
    // A zombie counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

pub fn state(pid: u32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next()?.trim_start().chars().next())
        .unwrap_or('?')
}

pub fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
