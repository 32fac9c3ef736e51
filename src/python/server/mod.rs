//! The warm command server, launcher side: where servers live, which server fits a call (its
//! key), and the admin view of them. The call itself is [`client`]; the server is
//! `python/serve.rs` and `python/command_server.py`, in the embedding library.
//!
//! One server serves one env, one installed ZenML, one launcher build and one value of every
//! variable in [`vars::SERVER_KEY_VARS`] (what ZenML, Python and the C library fix at start-up
//! or import), plus the process limits a forked worker cannot take over. All of it is hashed
//! into the key, whose first 16 hex digits name the socket: `<runtime dir>/<name>.sock`. A call
//! whose key has no server starts one in the background and is delegated.
//!
//! This module is also compiled into the embedding library, for [`Marker`] (the server writes
//! it); [`client`] and the info file's reader are the launcher's only.

#[cfg(feature = "launcher")]
pub mod client;
pub mod source;

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::declined::Declined;
use crate::env::PythonEnv;
use crate::python::in_process;
use crate::vars;
use source::ServerKind;

/// A server with no call for this long exits (`ZENML_LAUNCHER_SERVER_IDLE_S` changes it).
pub const DEFAULT_IDLE_S: u64 = 3600;
/// At most this many servers per user: starting one more stops the least recently used
/// (`ZENML_LAUNCHER_SERVER_MAX` changes it).
pub const MAX_SERVERS: usize = 8;

/// The bound on servers per user in force.
pub fn max_servers() -> usize {
    vars::text(vars::ZENML_LAUNCHER_SERVER_MAX)
        .and_then(|s| s.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(MAX_SERVERS)
}
/// The call that starts a server was delegated: the server waits at most this long for it to end
/// before warming up.
pub const WARM_UP_WAIT_S: u64 = 30;
/// A start-up marker younger than this means a server is warming up: no second one is started.
pub const STARTING_GRACE_S: u64 = 120;
/// After a failed start, the key's calls are delegated for this long without another attempt.
pub const FAILED_GRACE_S: u64 = 600;
/// With `ZENML_LAUNCHER_SERVER=wait`, how long a call waits for the server it started (or found
/// starting) before it is delegated.
pub const WAIT_FOR_START_S: u64 = 120;
/// The start-up marker of a server (`ServerFiles::marker`, `<name>.starting`): created empty by
/// the call that starts the server (it is warming up), removed by the server once its socket is
/// in place, or rewritten as `failed: <why>` when the start failed (the key's calls are then
/// delegated without another start for [`FAILED_GRACE_S`]). This type is the one place that
/// spells the format; `command_server.py` gets [`Marker::FAILED_PREFIX`] from `python/serve.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// Anything but a failure (normally empty): a server is starting.
    Starting,
    /// The start failed, for this reason.
    Failed(String),
}

impl Marker {
    /// What a failed start's marker begins with, before the reason.
    pub const FAILED_PREFIX: &str = "failed: ";

    /// The marker's meaning from its content.
    pub fn parse(content: &[u8]) -> Marker {
        match content.strip_prefix(Self::FAILED_PREFIX.as_bytes()) {
            Some(why) => Marker::Failed(String::from_utf8_lossy(why).into_owned()),
            None => Marker::Starting,
        }
    }

    /// The marker's content.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Marker::Starting => Vec::new(),
            Marker::Failed(why) => format!("{}{why}", Self::FAILED_PREFIX).into_bytes(),
        }
    }

    /// Reads the marker at `path`.
    pub fn read(path: &Path) -> std::io::Result<Marker> {
        std::fs::read(path).map(|content| Marker::parse(&content))
    }

    /// Records at `path` that the start failed, and why (best effort: a start that cannot write
    /// its marker is retried once the marker is older than [`STARTING_GRACE_S`]).
    pub fn write_failed(path: &Path, why: &str) {
        let _ = std::fs::write(path, Marker::Failed(why.to_string()).to_bytes());
    }
}

/// The C entry point of the embedding library that runs a server.
pub const SERVE_SYMBOL: &std::ffi::CStr = c"zenml_launcher_embedded_serve";

/// Whether a call that finds no server waits for the one it starts (`ZENML_LAUNCHER_SERVER=wait`).
pub fn waits_for_start() -> bool {
    vars::os(vars::ZENML_LAUNCHER_SERVER).is_some_and(|v| v == "wait")
}

/// Whether the server may be used at all (`ZENML_LAUNCHER_SERVER=0` turns it off).
pub fn enabled() -> Result<(), Declined> {
    if vars::os(vars::ZENML_LAUNCHER_SERVER).is_some_and(|v| v == "0") {
        return Err(Declined::new(format!("{}=0", vars::ZENML_LAUNCHER_SERVER)));
    }
    if let Some(name) = vars::SERVER_DELEGATE_IF_SET
        .iter()
        .find(|n| vars::os(n).is_some())
    {
        return Err(Declined::new(format!("{name} is set")));
    }
    Ok(())
}

/// The directory of this user's servers, created 0700 and checked (ours, 0700, not a symlink):
/// `ZENML_LAUNCHER_RUNTIME_DIR`; else `$XDG_RUNTIME_DIR/zenml-launcher` when `XDG_RUNTIME_DIR` is
/// ours and 0700; else `$TMPDIR/zenml-launcher-<uid>` (`/tmp` without TMPDIR).
pub fn runtime_dir() -> Result<PathBuf, Declined> {
    if let Some(dir) = vars::os(vars::ZENML_LAUNCHER_RUNTIME_DIR).filter(|d| !d.is_empty()) {
        return checked_dir(Path::new(&dir));
    }
    if let Some(xdg) = vars::os(vars::XDG_RUNTIME_DIR).filter(|d| !d.is_empty()) {
        if private_dir(Path::new(&xdg)).is_ok() {
            return checked_dir(&Path::new(&xdg).join("zenml-launcher"));
        }
    }
    let tmp = vars::os(vars::TMPDIR)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    checked_dir(&tmp.join(format!("zenml-launcher-{}", crate::os::euid())))
}

/// Creates `dir` (mode 0700) when missing, then checks it with lstat.
fn checked_dir(dir: &Path) -> Result<PathBuf, Declined> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Declined::new(format!(
                "cannot create {}: {e}",
                dir.display()
            )));
        }
    }
    private_dir(dir)?;
    Ok(dir.to_path_buf())
}

/// `Ok` when lstat shows a directory (not a symlink) owned by us with mode 0700.
fn private_dir(dir: &Path) -> Result<(), Declined> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Declined::new(format!("{}: {e}", dir.display())))?;
    if !meta.file_type().is_dir() {
        return Err(Declined::new(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    if meta.uid() != crate::os::euid() {
        return Err(Declined::new(format!(
            "{} belongs to uid {}, not to us",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != 0o700 {
        return Err(Declined::new(format!(
            "{} has mode {mode:o}, not 700",
            dir.display()
        )));
    }
    Ok(())
}

/// Which server fits this process: `id` (32 hex digits) is checked by the server on every call,
/// `name` (its first 16) names the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub name: String,
}

/// The key of this process for `env`: the launcher binary and the server's code (the embedding
/// library, or the env's python binary when there is none; their identity on disk), the env and its installed ZenML (`fingerprint`, the cache's), ids, nice and
/// limits, and the variables of [`vars::SERVER_KEY_VARS`].
pub fn key(env: &PythonEnv, fingerprint: &str, code: &Path) -> Key {
    let mut material: Vec<u8> = b"zenml-launcher server 1\0".to_vec();
    let mut add = |bytes: &[u8]| {
        material.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        material.extend_from_slice(bytes);
    };
    add(env!("CARGO_PKG_VERSION").as_bytes());
    for file in [std::env::current_exe().ok(), Some(code.to_path_buf())]
        .into_iter()
        .flatten()
    {
        add(file.as_os_str().as_bytes());
        if let Ok(m) = std::fs::metadata(&file) {
            for v in [
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime() as u64,
                m.mtime_nsec() as u64,
            ] {
                add(&v.to_be_bytes());
            }
        }
    }
    add(env.root.as_os_str().as_bytes());
    add(env.executable.as_os_str().as_bytes());
    add(fingerprint.as_bytes());
    for value in crate::os::process_identity() {
        add(&value.to_be_bytes());
    }
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| {
            let name = name.as_bytes();
            vars::matches(name, vars::SERVER_KEY_VARS)
                && !vars::matches(name, vars::SERVER_KEY_EXCLUDED)
        })
        .collect();
    vars.sort();
    for (name, value) in vars {
        add(name.as_bytes());
        add(value.as_bytes());
    }
    let hash = |seed: u64| {
        let mut h = std::hash::DefaultHasher::new();
        seed.hash(&mut h);
        material.hash(&mut h);
        h.finish()
    };
    let id = format!("{:016x}{:016x}", hash(1), hash(2));
    Key {
        name: id[..16].to_string(),
        id,
    }
}

/// The files of one server in the runtime dir.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    pub name: String,
    pub socket: PathBuf,
    /// Present while a server warms up; a [`Marker::Failed`] after a failed start.
    pub marker: PathBuf,
    /// The server's own stderr (warm-up errors, refusals).
    pub log: PathBuf,
    /// Written by the server once it listens: its pid, env and start time (JSON).
    pub info: PathBuf,
}

impl ServerFiles {
    pub fn new(dir: &Path, name: &str) -> Self {
        ServerFiles {
            name: name.to_string(),
            socket: dir.join(format!("{name}.sock")),
            marker: dir.join(format!("{name}.starting")),
            log: dir.join(format!("{name}.log")),
            info: dir.join(format!("{name}.json")),
        }
    }
}

/// The servers in `dir` (by socket), least recently used first.
pub fn list(dir: &Path) -> Vec<ServerFiles> {
    let mut found: Vec<(std::time::SystemTime, ServerFiles)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().into_vec();
                    let name = std::str::from_utf8(name.strip_suffix(b".sock")?)
                        .ok()?
                        .to_string();
                    let used = entry.metadata().and_then(|m| m.modified()).ok()?;
                    Some((used, ServerFiles::new(dir, &name)))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|(used, _)| *used);
    found.into_iter().map(|(_, files)| files).collect()
}

/// Launcher side of a server start (`ZENML_LAUNCHER_SERVE=1`, spawned by [`client`]). `args`:
/// socket, key id, idle seconds, marker, and the pid of the call that started it.
///
/// It waits until that call has ended (at most [`WARM_UP_WAIT_S`]): the call was delegated to the
/// Python CLI, and a warm-up beside it would compete for the CPU with what the user is waiting
/// for. Then it serves with the env's embedding library ([`ServerKind::Embedded`], the design's
/// `PyConfig` start-up); when there is none, or it declined before its interpreter started (no
/// shared libpython, one that fails to load, a library for another Python), it becomes the
/// env's own `python` running the same server code ([`ServerKind::Python`]). Returns the exit
/// code (in a worker: the command's).
pub fn serve_main(args: &[OsString]) -> u8 {
    if let [_, _, _, _, client] = args {
        let client = client.to_str().and_then(|p| p.parse::<i32>().ok());
        // Only while it is still our parent: a pid that was reused would be someone else.
        if let Some(pid) = client.filter(|pid| *pid == crate::os::parent_pid()) {
            crate::os::wait_for_exit(pid, std::time::Duration::from_secs(WARM_UP_WAIT_S));
        }
    }
    let args = &args[..args.len().min(4)];
    let code = (|| -> Result<i32, Declined> {
        let env = crate::env::resolve_checked().map_err(|e| Declined::new(e.to_string()))?;
        let why_python = match in_process::library_for(&env) {
            Ok(library) => match in_process::call(&env, &library, SERVE_SYMBOL, args) {
                Ok(in_process::DECLINED) => format!(
                    "the embedding library {} declined before its interpreter started",
                    library.path.display()
                ),
                Ok(code) => return Ok(code),
                Err(why) => format!("no embedded server: {why}"),
            },
            Err(why) => format!("no embedded server: {why}"),
        };
        eprintln!("zenml-launcher server: {why_python}; serving with the env's python");
        Err(exec_python_server(&env, args, &why_python))
    })();
    match code {
        Ok(code) => code as u8,
        Err(why) => {
            eprintln!("zenml-launcher server: not serving: {why}");
            if let Some(marker) = args.get(3) {
                Marker::write_failed(Path::new(marker), why.reason());
            }
            1
        }
    }
}

/// Replaces this process with the env's `python` running the server ([`ServerKind::Python`]):
/// `sys.*` is that python's own by construction, and each worker runs the console script as
/// `python bin/zenml` does. Returns only when that cannot be done, and why.
fn exec_python_server(env: &PythonEnv, args: &[OsString], why: &str) -> Declined {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let [socket, key, idle, marker] = args else {
        return Declined::new(format!("expected 4 arguments, got {}", args.len()));
    };
    let source = source::server_plan(env).and_then(|(install, argv0)| {
        source::server_source(
            env,
            &install,
            &argv0,
            [socket, key, idle, marker],
            ServerKind::Python,
            why,
        )
    });
    let source = match source {
        Ok(source) => source,
        Err(why) => return Declined::new(why),
    };
    // `python -c` puts the cwd first on sys.path (unless safe_path); the embedded server has no
    // such entry, and a worker puts the script's directory there as `python bin/zenml` does.
    let source = format!(
        "import sys as _zl_sys\n\
         if not getattr(_zl_sys.flags, 'safe_path', False) and _zl_sys.path[:1] == ['']:\n    \
         del _zl_sys.path[0]\n\
         del _zl_sys\n{source}"
    );
    let fd = match crate::os::inheritable_reader(source.as_bytes()) {
        Ok(fd) => fd,
        Err(e) => return Declined::new(format!("cannot hand the server its code: {e}")),
    };
    let bootstrap = format!(
        "exec(compile(open({}, 'rb').read(), '<zenml-launcher server>', 'exec'))",
        fd.as_raw_fd()
    );
    let err = std::process::Command::new(&env.executable)
        .arg("-c")
        .arg(bootstrap)
        .exec();
    Declined::new(format!("cannot run {}: {err}", env.executable.display()))
}

#[cfg(feature = "launcher")]
/// Stops the server behind `files`: its socket is removed (a server checks every second that its
/// socket is still its own, finishes its calls, and exits), then SIGTERM if it is still there
/// after `wait`. Returns the pid it stopped, if it knew one.
pub fn stop(files: &ServerFiles, wait: std::time::Duration) -> Option<u32> {
    let pid = info_pid(files);
    let _ = std::fs::remove_file(&files.socket);
    let pid = pid?;
    let deadline = std::time::Instant::now() + wait;
    while Path::new(&format!("/proc/{pid}")).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if Path::new(&format!("/proc/{pid}")).exists() {
        crate::os::terminate(pid as i32);
    }
    Some(pid)
}

/// The resident memory of `pid` in KiB, from `/proc/<pid>/status` (`server status`, the bench).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(feature = "launcher")]
/// The pid a server wrote in its info file.
pub fn info_pid(files: &ServerFiles) -> Option<u32> {
    let info = info(files)?;
    info.get("pid")?.as_u64().map(|p| p as u32)
}

#[cfg(feature = "launcher")]
/// What a server wrote in its info file (pid, env, executable, zenml, started, idle_s).
pub fn info(files: &ServerFiles) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(&files.info).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::Marker;

    #[test]
    fn the_start_up_marker_round_trips() {
        for marker in [
            Marker::Starting,
            Marker::Failed(String::new()),
            Marker::Failed("warming up failed: ImportError: no module named 'x'".into()),
            Marker::Failed("zenml \"0.1\" is not verified\nwith the server \u{e9}\u{4e2d} ".into()),
            Marker::Failed("failed: twice".into()),
        ] {
            assert_eq!(Marker::parse(&marker.to_bytes()), marker);
        }
        assert_eq!(Marker::parse(b""), Marker::Starting);
        assert_eq!(Marker::parse(b"failed:no space"), Marker::Starting);
        assert_eq!(
            Marker::parse(b"failed: cannot listen"),
            Marker::Failed("cannot listen".into())
        );
        assert_eq!(
            Marker::parse(b"failed: bad \xff byte"),
            Marker::Failed("bad \u{fffd} byte".into())
        );
        assert_eq!(
            Marker::Failed("why".into()).to_bytes(),
            format!("{}why", Marker::FAILED_PREFIX).into_bytes()
        );

        let dir = std::env::temp_dir().join(format!("zl-marker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.starting");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(Marker::read(&path).unwrap(), Marker::Starting);
        Marker::write_failed(&path, "no library");
        assert_eq!(
            Marker::read(&path).unwrap(),
            Marker::Failed("no library".into())
        );
        assert!(Marker::read(&dir.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
