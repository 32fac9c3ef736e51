//! One call through the command server: connect to the server of this call's key, hand it argv,
//! the environment, the umask, and stdin, stdout, stderr and the cwd as fds; forward signals to
//! the worker while it runs; end as it ended (exit code, or the same signal).
//!
//! Nothing may run twice: a request the server refused, or hung up on before it said `P` (the
//! worker's pid), is run elsewhere by the caller; once `P` came, the call is the worker's, and a
//! server that dies then ends the call with a one-line error.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Key, Marker, ServerFiles};
use crate::declined::Declined;
use crate::env::PythonEnv;
use crate::python::in_process;
use crate::{debug, vars};

/// How long a server may take to accept a call (say `P`) before the call is run elsewhere.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `zenml <args>` in this env's server: the worker's exit code (the process exits with
/// it), or, when nothing ran, why not (a server that is missing is started, so that later calls
/// find it). `fingerprint`: the installed ZenML's (the cache key).
pub fn call(env: &PythonEnv, fingerprint: &str, args: &[OsString]) -> Result<u8, Declined> {
    let (key, files) = prepare(env, fingerprint, args)?;
    connect_and_run(&key, &files, args)
}

fn prepare(
    env: &PythonEnv,
    fingerprint: &str,
    args: &[OsString],
) -> Result<(Key, ServerFiles), Declined> {
    super::enabled()?;
    let pid = std::process::id();
    if let Some(arg) = args.iter().find(|a| names_own_files(a.as_bytes(), pid)) {
        return Err(Declined::new(format!(
            "{arg:?} names this process's own files"
        )));
    }
    if crate::os::stdin_is_background_tty() {
        return Err("a background job reading the terminal".into());
    }
    if let Some(why) = odd_environment(&crate::os::environ_entries()) {
        return Err(Declined::new(why));
    }
    // The server's code: the embedding library when there is one (its kind is decided when the
    // server starts: the python kind when the library cannot serve), else the env's python.
    let code = match in_process::library_for(env) {
        Ok(library) => library.path,
        Err(_) => std::fs::canonicalize(&env.executable).unwrap_or_else(|_| env.executable.clone()),
    };
    let dir = super::runtime_dir()?;
    let key = super::key(env, fingerprint, &code);
    let files = ServerFiles::new(&dir, &key.name);
    debug::line(format!("server: socket {}", files.socket.display()));
    Ok((key, files))
}

/// Whether `arg` names a file that depends on which process opens it: process `pid`'s fds
/// (`/dev/fd/…`, `/dev/std…`, `/proc/self/…`, `/proc/thread-self/…`, `/proc/<pid>/…`) or its
/// controlling terminal (`/dev/tty`). A worker, another process without a terminal, would open
/// something else. Such a path counts anywhere in the argument (the whole argument, an option's
/// value after `=`, a short option's attached value, a relative path ending in one), after `//`
/// and `/./` are collapsed; a false match only costs the server (the call runs in this process).
fn names_own_files(arg: &[u8], pid: u32) -> bool {
    let mut path = Vec::with_capacity(arg.len());
    for &b in arg {
        if b == b'/' && path.last() == Some(&b'/') {
            continue;
        }
        path.push(b);
        if path.ends_with(b"/./") {
            path.truncate(path.len() - 2);
        }
    }
    let own_pid = format!("/proc/{pid}/");
    let prefixes: [&[u8]; 5] = [
        b"/dev/fd/",
        b"/dev/std",
        b"/proc/self/",
        b"/proc/thread-self/",
        own_pid.as_bytes(),
    ];
    (0..path.len()).any(|i| {
        let rest = &path[i..];
        prefixes.iter().any(|p| rest.starts_with(p)) || rest == b"/dev/tty"
    })
}

/// The longest path a Unix socket address holds (`sun_path`, 108 bytes with its NUL).
const SOCKET_PATH_MAX: usize = 107;

/// Connects to the socket at `path`. A longer path than an address holds is reached through an
/// `O_PATH` descriptor of its directory, `/proc/self/fd/<n>/<name>` (systemd does the same), the
/// directory opened without following a symlink (it was checked with lstat just before).
fn connect(path: &Path) -> std::io::Result<UnixStream> {
    if path.as_os_str().len() <= SOCKET_PATH_MAX {
        return UnixStream::connect(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path);
    };
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)?;
    UnixStream::connect(Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name))
}

/// Why a worker could not take over this environment as it is, if it could not: an entry with
/// no `=` (the C library's `environ` has it, Python's `os.environ` drops it) or an empty name
/// (`os.environ` cannot set it), or a name twice (`getenv` and `os.environ` see the first, a
/// worker setting them one by one would keep the last).
fn odd_environment(entries: &[Vec<u8>]) -> Option<String> {
    let mut names = std::collections::HashSet::new();
    for entry in entries {
        match entry.iter().position(|&b| b == b'=') {
            None => {
                return Some(format!(
                    "an environment entry without '=' ({:?})",
                    String::from_utf8_lossy(entry)
                ));
            }
            Some(0) => {
                return Some(format!(
                    "an environment entry with an empty name ({:?})",
                    String::from_utf8_lossy(entry)
                ));
            }
            Some(end) => {
                if !names.insert(&entry[..end]) {
                    return Some(format!(
                        "{} is twice in the environment",
                        String::from_utf8_lossy(&entry[..end])
                    ));
                }
            }
        }
    }
    None
}

fn connect_and_run(key: &Key, files: &ServerFiles, args: &[OsString]) -> Result<u8, Declined> {
    let stream = match connect(&files.socket) {
        Ok(stream) => stream,
        Err(e) => {
            // A socket nobody listens on (ECONNREFUSED) stays: removing it could remove the
            // live socket a new server has just renamed into its place. The next server's
            // rename replaces it.
            let wait = super::waits_for_start();
            let (started, pid) = start_server(key, files, wait);
            if !wait {
                return Err(Declined::new(format!("no server ({e}); {started}")));
            }
            match wait_for_start(files, pid, Duration::from_secs(super::WAIT_FOR_START_S)) {
                Ok(stream) => {
                    debug::line(format!("server: no server ({e}); {started}; waited for it"));
                    stream
                }
                Err(why) => {
                    return Err(Declined::new(format!("no server ({e}); {started}; {why}")));
                }
            }
        }
    };
    let mut stream = stream;
    // Read before any handler of ours is installed: what the parent left (and SIGPIPE, ignored
    // by the launcher as by Python).
    let ignored = crate::os::ignored_signals();
    if let Err(e) = send_request(&mut stream, key, args, ignored) {
        return Err(Declined::new(format!("sending the call failed: {e}")));
    }
    let _ = stream.set_read_timeout(Some(ACCEPT_TIMEOUT));
    let pid = match read_frame(&mut stream) {
        Ok((b'P', payload)) if payload.len() == 4 => {
            i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
        }
        Ok((b'R', why)) => {
            return Err(Declined::new(format!(
                "the server refused: {}",
                String::from_utf8_lossy(&why)
            )));
        }
        Ok((kind, _)) => {
            return Err(Declined::new(format!(
                "unexpected frame {:?}",
                kind as char
            )));
        }
        Err(e) => {
            return Err(Declined::new(format!(
                "the server did not accept the call: {e}"
            )));
        }
    };
    crate::os::forward_signals_to(pid, ignored);
    if debug::enabled() {
        let kind = super::info(files)
            .and_then(|info| Some(info.get("kind")?.as_str()?.to_string()))
            .unwrap_or_else(|| "?".into());
        debug::line(format!("route: server (worker {pid}, {kind} server)"));
    }
    let _ = stream.set_read_timeout(None);
    match read_frame(&mut stream) {
        Ok((b'X', payload)) if payload.len() == 4 => {
            let code = i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            Ok(code as u8)
        }
        Ok((b'K', payload)) if payload.len() == 4 => {
            crate::os::die_by_signal(i32::from_be_bytes([
                payload[0], payload[1], payload[2], payload[3],
            ]))
        }
        other => {
            // The server died (or spoke nonsense) while the command ran: it may have done part
            // of its work, so it is not run again. Its worker must not outlive this call.
            crate::os::kill_group(pid);
            let why = match other {
                Ok((kind, _)) => format!("an unexpected frame {:?}", kind as char),
                Err(e) => e.to_string(),
            };
            let _ = writeln!(
                std::io::stderr(),
                "{}: error: the command server stopped during this command ({why}); it was not run again (hint: check the command's effect; ZENML_LAUNCHER_SERVER=0 turns the server off)",
                crate::error::PREFIX
            );
            Ok(1)
        }
    }
}

/// Connects once the server of `files` listens (`ZENML_LAUNCHER_SERVER=wait`). Gives up, saying
/// why, when its start failed, when it ended without listening (the server this call started,
/// `pid`, exited; or no marker and no socket that answers), or after `limit`.
fn wait_for_start(
    files: &ServerFiles,
    pid: Option<u32>,
    limit: Duration,
) -> Result<UnixStream, String> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(stream) = connect(&files.socket) {
            return Ok(stream);
        }
        let ended = match Marker::read(&files.marker) {
            Ok(Marker::Failed(why)) => {
                return Err(format!("its start failed ({})", why.trim_end()));
            }
            // The server this call started exited (it is our child), or a server that another
            // call started is still warming up.
            Ok(Marker::Starting) => pid.is_some_and(|pid| crate::os::child_ended(pid as i32)),
            // No marker: the server is listening (its socket is renamed into place before the
            // marker goes), or it ended.
            Err(_) => true,
        };
        if ended {
            // One more try tells which.
            return connect(&files.socket)
                .map_err(|e| format!("the server ended without listening ({e})"));
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!("not listening after {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send_request(
    stream: &mut UnixStream,
    key: &Key,
    args: &[OsString],
    ignored: u64,
) -> std::io::Result<()> {
    let cwd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(".")?;
    let mut body = Vec::with_capacity(16 * 1024);
    let mut field = |bytes: &[u8]| {
        body.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        body.extend_from_slice(bytes);
    };
    field(key.id.as_bytes());
    field(format!("{:o}", crate::os::umask()).as_bytes());
    field(if debug::enabled() { b"1" } else { b"0" });
    field(args.len().to_string().as_bytes());
    for arg in args {
        field(arg.as_bytes());
    }
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    field(env.len().to_string().as_bytes());
    for (name, value) in &env {
        let mut entry = name.as_bytes().to_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        field(&entry);
    }
    field(format!("{ignored:x}").as_bytes());
    field(format!("{:x}", crate::os::blocked_signals()).as_bytes());
    let mut header = b"ZLS1".to_vec();
    header.extend_from_slice(&(body.len() as u32).to_be_bytes());
    let sent = crate::os::send_with_fds(stream, &header, &[0, 1, 2, cwd.as_raw_fd()])?;
    stream.write_all(&header[sent..])?;
    stream.write_all(&body)
}

fn read_frame(stream: &mut UnixStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 1 << 16 {
        return Err(std::io::Error::other("a frame too large"));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok((head[0], payload))
}

/// Starts the server for `key` in the background, unless one is warming up or failed lately.
/// Returns what happened, for the debug line, and the pid of the server it started. `wait`: this
/// call waits for the server (`ZENML_LAUNCHER_SERVER=wait`), which then warms up at once instead
/// of after this call.
fn start_server(key: &Key, files: &ServerFiles, wait: bool) -> (String, Option<u32>) {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&files.marker)
    {
        Ok(_) => {}
        Err(_) => {
            let age = std::fs::metadata(&files.marker)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            match Marker::read(&files.marker).unwrap_or(Marker::Starting) {
                Marker::Failed(why) if age.as_secs() < super::FAILED_GRACE_S => {
                    let why = format!(
                        "its last start failed ({}): not retried for {} s",
                        why.trim_end(),
                        super::FAILED_GRACE_S
                    );
                    return (why, None);
                }
                Marker::Starting if age.as_secs() < super::STARTING_GRACE_S => {
                    return ("a server is starting".into(), None);
                }
                _ => {}
            }
            let _ = std::fs::remove_file(&files.marker);
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&files.marker)
                .is_err()
            {
                return ("a server is starting".into(), None);
            }
        }
    }
    let dir = files.socket.parent().unwrap_or(Path::new("/"));
    let running = super::list(dir);
    let max = super::max_servers();
    if running.len() >= max {
        // The least recently used servers stop within a second of losing their socket.
        for files in &running[..=running.len() - max] {
            let _ = std::fs::remove_file(&files.socket);
        }
    }
    match spawn(key, files, wait) {
        Ok(pid) => (format!("started server {pid} in the background"), Some(pid)),
        Err(e) => {
            Marker::write_failed(&files.marker, &e.to_string());
            (format!("starting a server failed: {e}"), None)
        }
    }
}

/// `wait`: the call waits for the server, which must not wait for the call to end first (0 is no
/// process's pid: `serve_main` then starts at once).
fn spawn(key: &Key, files: &ServerFiles, wait: bool) -> std::io::Result<u32> {
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&files.log)?;
    let idle = vars::text(vars::ZENML_LAUNCHER_SERVER_IDLE_S)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(super::DEFAULT_IDLE_S);
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(&files.socket)
        .arg(&key.id)
        .arg(idle.to_string())
        .arg(&files.marker)
        .arg(if wait {
            "0".to_string()
        } else {
            std::process::id().to_string()
        })
        .env(vars::ZENML_LAUNCHER_SERVE, "1")
        .env_remove(vars::ZENML_DEBUG_PYTHON)
        .env_remove(vars::ZENML_COMPLETE)
        .env_remove(vars::COMP_WORDS)
        .env_remove(vars::COMP_CWORD)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    crate::os::detach(&mut cmd);
    Ok(cmd.spawn()?.id())
}

#[cfg(test)]
mod tests {
    use super::names_own_files;

    #[test]
    fn environments_a_worker_cannot_take_over() {
        let odd = |entries: &[&str]| {
            super::odd_environment(
                &entries
                    .iter()
                    .map(|e| e.as_bytes().to_vec())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(odd(&[]), None);
        assert_eq!(odd(&["A=1", "B=", "C=x=y", "A B=1", "a=2"]), None);
        assert!(odd(&["A=1", "NOEQUALS"]).unwrap().contains("without '='"));
        assert!(odd(&["=x=1"]).unwrap().contains("empty name"));
        assert!(odd(&["="]).unwrap().contains("empty name"));
        assert!(odd(&["A=1", "B=2", "A=3"]).unwrap().contains("A is twice"));
    }

    #[test]
    fn arguments_naming_this_process_s_files() {
        let own = |arg: &str| names_own_files(arg.as_bytes(), 4242);
        for arg in [
            "/dev/fd/63",
            "/dev/stdin",
            "/dev/stdout",
            "/dev/stderr",
            "/proc/self/fd/0",
            "/proc/thread-self/fd/3",
            "/proc/4242/fd/63",
            "/dev/tty",
            "--file=/dev/fd/63",
            "--config=/proc/self/fd/5",
            "--output=/dev/stdout",
            "-f/dev/fd/63",
            "--x=//dev//fd/63",
            "--x=/dev/./fd/63",
            "--x=/proc/4242/fd/1",
        ] {
            assert!(own(arg), "{arg}");
        }
        for arg in [
            "stack",
            "list",
            "--name=default",
            "/tmp/dev/fd-notes",
            "/proc/42420/fd/1",
            "/proc/424/fd/1",
            "/proc/1/status",
            "/dev/null",
            "/dev/ttyS0x",
            "--file=/home/u/pipeline.yaml",
            "name=/devices",
        ] {
            assert!(!own(arg), "{arg}");
        }
    }
}
