//! The launcher's `unsafe` calls into libc (terminal queries, locale, a SIGINT-aware line read),
//! each behind a small safe function. CPython's FFI lives in `python/ffi.rs`.

use std::sync::atomic::{AtomicBool, Ordering};

/// Which of fds 0, 1 and 2 were closed when the process started (bit `1 << fd`), recorded by
/// [`init_process`].
static CLOSED_AT_START: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// What std's `main` wrapper does at start-up that the launcher relies on (`main.rs` is a C
/// `main`): fds 0, 1 and 2 are open, and SIGPIPE is ignored (a write to a closed pipe fails
/// instead of killing the process; std restores it for the processes it starts). A closed one
/// gets `/dev/null`, close-on-exec, as a placeholder: no file the launcher opens can take its
/// number, and the Python CLI the launcher execs finds it closed, as it would have
/// ([`stdio_closed_at_start`]).
pub fn init_process() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    let mut closed_mask = 0u8;
    // SAFETY: poll fills the revents of the array we own; open and signal take valid arguments.
    unsafe {
        let polled = loop {
            let rc = libc::poll(fds.as_mut_ptr(), 3, 0);
            if rc != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break rc != -1;
            }
        };
        for pfd in &fds {
            let closed = if polled {
                pfd.revents & libc::POLLNVAL != 0
            } else {
                libc::fcntl(pfd.fd, libc::F_GETFD) == -1
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
            };
            if closed {
                closed_mask |= 1 << pfd.fd;
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    CLOSED_AT_START.store(closed_mask, std::sync::atomic::Ordering::Relaxed);
}

/// The first of fds 0, 1, 2 that was closed when the process started, if any.
pub fn stdio_closed_at_start() -> Option<i32> {
    let mask = CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed);
    (0..3).find(|fd| mask & (1 << fd) != 0)
}

/// `isatty(fd)`.
pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// `os.get_terminal_size(fd)`: `(columns, rows)`, or `None` when fd is not a terminal.
pub fn window_size(fd: i32) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills a winsize we own; failure leaves it untouched.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some((ws.ws_col, ws.ws_row))
}

/// True when the user's locale makes Python's stdio UTF-8 (C/POSIX are coerced to UTF-8).
pub fn locale_is_utf8() -> bool {
    // The name `setlocale(LC_CTYPE, "")` takes: the first non-empty of LC_ALL, LC_CTYPE, LANG.
    // None, `C` and `POSIX` are the C locale, which needs no locale files to be read.
    let name = [
        crate::vars::LC_ALL,
        crate::vars::LC_CTYPE,
        crate::vars::LANG,
    ]
    .into_iter()
    .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()));
    if name.is_none_or(|n| n == "C" || n == "POSIX") {
        return true;
    }
    // SAFETY: called before any other thread exists; the returned strings are static or
    // owned by libc until the next setlocale call, and are copied immediately.
    unsafe {
        let name = libc::setlocale(libc::LC_CTYPE, c"".as_ptr());
        if name.is_null() {
            return false;
        }
        let name = std::ffi::CStr::from_ptr(name).to_bytes();
        if name == b"C" || name == b"POSIX" {
            return true;
        }
        let codeset = std::ffi::CStr::from_ptr(libc::nl_langinfo(libc::CODESET)).to_bytes();
        codeset.eq_ignore_ascii_case(b"UTF-8") || codeset.eq_ignore_ascii_case(b"utf8")
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// What a line read from stdin ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A line (without its `\n`), or the last bytes before EOF.
    Line(Vec<u8>),
    /// End of input with nothing read.
    Eof,
    /// SIGINT (Ctrl-C) arrived while waiting.
    Interrupted,
}

/// Reads one line from fd 0, byte by byte (nothing beyond the line is consumed), like Python's
/// `input()`. SIGINT interrupts the read instead of killing the process.
pub fn read_line_interruptible() -> std::io::Result<LineRead> {
    INTERRUPTED.store(false, Ordering::SeqCst);
    // SAFETY: installs a handler that only stores to an atomic (async-signal-safe), without
    // SA_RESTART so that the blocking read returns EINTR; the old action is restored below.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_sigint as *const () as usize;
        libc::sigemptyset(&mut act.sa_mask);
        act.sa_flags = 0;
        libc::sigaction(libc::SIGINT, &act, &mut old);
    }
    let mut line = Vec::new();
    let result = loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            break Ok(LineRead::Interrupted);
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a local buffer.
        let n = unsafe { libc::read(0, (&raw mut byte).cast(), 1) };
        match n {
            1 if byte == b'\n' => break Ok(LineRead::Line(line)),
            1 => line.push(byte),
            0 if line.is_empty() => break Ok(LineRead::Eof),
            0 => break Ok(LineRead::Line(line)),
            _ => {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(err);
            }
        }
    };
    // SAFETY: restores the previous SIGINT disposition saved above.
    unsafe { libc::sigaction(libc::SIGINT, &old, std::ptr::null_mut()) };
    result
}

/// Waits for `child` and returns its exit code (128 + signal when killed) and its peak resident
/// set size in KiB (`wait4`'s `ru_maxrss`). The `Child` must not be waited on again.
pub fn wait_with_peak_rss(child: &std::process::Child) -> std::io::Result<(i32, u64)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 fills the status and rusage we own for our own child pid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = loop {
        // SAFETY: as above.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break rc;
    };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, usage.ru_maxrss as u64))
}

/// A pipe whose ends close on exec: `(read, write)`. The read end is non-blocking.
pub fn pipe_cloexec() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-int array we own; on success both descriptors are ours.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (read, write) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    // Blocking writes: the helper's few bytes always fit, and a full pipe must not lose them.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(raw(&write), libc::F_GETFL);
        libc::fcntl(raw(&write), libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    Ok((read, write))
}

fn raw(fd: &std::os::fd::OwnedFd) -> libc::c_int {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}

/// The signature of the embedding library's entry point: `(abi, argc, argv) -> exit code`.
pub type EmbeddedEntry = unsafe extern "C" fn(
    abi: u32,
    argc: libc::c_int,
    argv: *const *const libc::c_char,
) -> libc::c_int;

/// Loads the shared library at `path` (its dependencies, libpython among them, join the global
/// symbol scope so CPython's extension modules resolve against it) and calls `symbol` with
/// `args`. The library stays loaded for the rest of the process.
pub fn call_library_entry(
    path: &std::path::Path,
    symbol: &std::ffi::CStr,
    abi: u32,
    args: &[std::ffi::OsString],
) -> Result<i32, String> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("a NUL byte in {}", path.display()))?;
    let c_args: Vec<std::ffi::CString> = args
        .iter()
        .map(|a| std::ffi::CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "a NUL byte in an argument".to_string())?;
    let mut argv: Vec<*const libc::c_char> = c_args.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: dlopen with a NUL-terminated path; the handle is never closed (CPython cannot be
    // unloaded), so pointers into the library stay valid for the life of the process.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(dl_error(&format!("cannot load {}", path.display())));
    }
    // SAFETY: dlsym on a live handle with a NUL-terminated name.
    let sym = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
    if sym.is_null() {
        return Err(dl_error(&format!(
            "{symbol:?} missing in {}",
            path.display()
        )));
    }
    // SAFETY: the symbol is the library's `EmbeddedEntry` (same crate, same ABI constant checked
    // by the callee); argv holds `argc` valid C strings plus a NULL, alive across the call.
    let code = unsafe {
        let entry: EmbeddedEntry = std::mem::transmute::<*mut libc::c_void, EmbeddedEntry>(sym);
        entry(abi, c_args.len() as libc::c_int, argv.as_ptr())
    };
    Ok(code)
}

/// Loads the shared library at `path` with `RTLD_NOW | RTLD_GLOBAL` and keeps it loaded: a
/// libpython, whose symbols the embedding library (loaded next) and CPython's extension modules
/// then resolve against.
pub fn load_global(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("a NUL byte in {}", path.display()))?;
    // SAFETY: dlopen with a NUL-terminated path. The handle is never closed (CPython cannot be
    // unloaded); loading runs the library's initialisers, which for libpython do nothing that
    // needs an initialised interpreter.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(dl_error(&format!("cannot load {}", path.display())));
    }
    Ok(())
}

fn dl_error(context: &str) -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        return context.to_string();
    }
    // SAFETY: non-NULL C string from dlerror, copied at once.
    let text = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy();
    format!("{context}: {text}")
}

/// Reads what is in a non-blocking pipe right now (nothing when it is empty).
pub fn drain(fd: &std::os::fd::OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reads into a buffer we own from a descriptor we own.
        let n = unsafe { libc::read(raw(fd), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    out
}

/// Dies by SIGINT, as CPython does after an unhandled KeyboardInterrupt (the shell sees 130).
pub fn die_by_sigint() -> ! {
    // SAFETY: restoring the default disposition and signalling ourselves are plain syscalls.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::kill(libc::getpid(), libc::SIGINT);
    }
    std::process::exit(130)
}

// The command server's client (python/server/): fd passing, signal forwarding, process identity.

/// Sends `data` on a connected Unix socket with `fds` attached (SCM_RIGHTS), in one `sendmsg`.
/// Returns how many bytes went out (the caller sends any rest with plain writes).
pub fn send_with_fds(
    socket: &impl std::os::fd::AsRawFd,
    data: &[u8],
    fds: &[std::os::fd::RawFd],
) -> std::io::Result<usize> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header we fill below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is `space` bytes, enough for one header with `fds`;
    // CMSG_FIRSTHDR/CMSG_DATA point inside it; sendmsg reads `data` and the buffer, both alive.
    let sent = unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(header), fd_bytes);
        libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// The process's umask (read by setting it and setting it back: single-threaded callers only).
pub fn umask() -> u32 {
    // SAFETY: umask only swaps the process's mask; it is restored at once.
    unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        mask as u32
    }
}

unsafe extern "C" {
    /// The C library's environment: `NAME=value` strings, then a null pointer.
    static environ: *const *const libc::c_char;
}

/// The entries of this process's environment exactly as they are (what a parent may put there
/// includes entries without `=`, with an empty name, or with a name twice, which
/// `std::env::vars_os` does not show as they are).
pub fn environ_entries() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // SAFETY: `environ` is a null-terminated array of NUL-terminated strings, and nothing in
    // this single-threaded process changes it while it is read.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            out.push(std::ffi::CStr::from_ptr(*entry).to_bytes().to_vec());
            entry = entry.add(1);
        }
    }
    out
}

/// The highest signal number Linux has (`SIGRTMAX`).
const MAX_SIGNAL: libc::c_int = 64;

/// The signals this process ignores (bit `sig - 1`): those its parent left ignored (`nohup`, the
/// background jobs of a shell without job control), and SIGPIPE, which [`init_process`] ignores
/// (as Python does at start-up).
pub fn ignored_signals() -> u64 {
    let mut mask = 0u64;
    for sig in 1..=MAX_SIGNAL {
        // SAFETY: sigaction with a null new action only reads the disposition into `old`.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        if ignored {
            mask |= 1 << (sig - 1);
        }
    }
    mask
}

/// The signals blocked in this (the only) thread, bit `sig - 1`.
pub fn blocked_signals() -> u64 {
    let mut mask = 0u64;
    // SAFETY: sigprocmask with a null new set only reads the mask into `set`, which we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) != 0 {
            return 0;
        }
        for sig in 1..=MAX_SIGNAL {
            if libc::sigismember(&set, sig) == 1 {
                mask |= 1 << (sig - 1);
            }
        }
    }
    mask
}

/// The real and effective user and group ids, the supplementary groups, the nice value and every
/// resource limit: what a forked server cannot take over from its client.
pub fn process_identity() -> Vec<i64> {
    let mut out = Vec::new();
    // SAFETY: these calls only read the process's credentials, priority and limits into values
    // and buffers we own.
    unsafe {
        out.extend([
            libc::getuid() as i64,
            libc::geteuid() as i64,
            libc::getgid() as i64,
            libc::getegid() as i64,
        ]);
        let n = libc::getgroups(0, std::ptr::null_mut());
        if n > 0 {
            let mut groups = vec![0 as libc::gid_t; n as usize];
            let n = libc::getgroups(n, groups.as_mut_ptr());
            out.extend(groups.iter().take(n.max(0) as usize).map(|g| *g as i64));
        }
        out.push(i64::from(libc::getpriority(libc::PRIO_PROCESS, 0)));
        // RLIMIT_CPU (0) to RLIMIT_RTTIME (15): the limits Linux has.
        for resource in 0..16 as libc::__rlimit_resource_t {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(resource, &mut limit) == 0 {
                out.extend([limit.rlim_cur as i64, limit.rlim_max as i64]);
            }
        }
    }
    out
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// True when fd 0 is a terminal whose foreground process group is not ours (a background job:
/// reading it would stop the CLI with SIGTTIN).
pub fn stdin_is_background_tty() -> bool {
    // SAFETY: isatty/tcgetpgrp/getpgrp only inspect the descriptor and the process.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) != libc::getpgrp() }
}

/// Makes a command start its own session (no controlling terminal) with no fds but 0, 1 and 2:
/// a daemon that no caller's pipe waits on.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
}

/// A descriptor that reads `bytes` and then end-of-file, inherited across `exec` (a pipe whose
/// write end is already closed; it is enlarged when `bytes` exceed the default 64 KiB). A pipe,
/// not `memfd_create`: that needs glibc 2.27 and Linux 3.17, below the wheel's floor.
pub fn inheritable_reader(bytes: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors, which we own from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    if bytes.len() > 65536 {
        let size = libc::c_int::try_from(bytes.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ on a pipe we own.
        if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, size) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mut file = std::fs::File::from(write);
    std::io::Write::write_all(&mut file, bytes)?;
    drop(file);
    Ok(read)
}

/// Waits until process `pid` has exited, or `max` has passed (no wait when it is gone already).
/// With `pidfd_open` (Linux 5.3) the kernel says when; otherwise `kill(pid, 0)` is polled.
pub fn wait_for_exit(pid: i32, max: std::time::Duration) {
    let deadline = std::time::Instant::now() + max;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if fd >= 0 {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // SAFETY: one pollfd we own, for a descriptor we own.
            let rc =
                unsafe { libc::poll(&mut poll, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            let interrupted =
                rc < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
            if !interrupted || left.is_zero() {
                break;
            }
        }
        // SAFETY: closes the descriptor pidfd_open gave us, once.
        unsafe { libc::close(fd) };
        return;
    }
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether child `pid` of this process has ended (it is reaped then), without waiting.
pub fn child_ended(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on one pid writes only the status we own.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    rc == pid || (rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// This process's parent.
pub fn parent_pid() -> i32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

/// The worker the client's signals go to (0: none yet).
static WORKER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
static TERMS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Signals a client forwards to its worker (its process group, except SIGTERM and the user
/// signals, which go to the worker itself).
pub const FORWARDED_SIGNALS: [libc::c_int; 9] = [
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGWINCH,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGCONT,
    libc::SIGTSTP,
];

extern "C" fn forward_signal(sig: libc::c_int) {
    use std::sync::atomic::Ordering;
    let pid = WORKER.load(Ordering::SeqCst);
    // SAFETY: only async-signal-safe calls (kill, getpid, signal).
    unsafe {
        if pid > 0 {
            let target = match sig {
                libc::SIGTERM | libc::SIGUSR1 | libc::SIGUSR2 => pid,
                _ => -pid,
            };
            libc::kill(target, sig);
        }
        match sig {
            // Stop with the worker; `fg` continues us, and SIGCONT is forwarded then.
            libc::SIGTSTP => {
                libc::kill(libc::getpid(), libc::SIGSTOP);
            }
            libc::SIGTERM if TERMS.fetch_add(1, Ordering::SeqCst) >= 1 => {
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            _ => {}
        }
    }
}

/// From now on, the signals in [`FORWARDED_SIGNALS`] go to worker `pid` (its group: `pid`),
/// except those in `ignored` (bit `sig - 1`: this process ignores them, and so does the worker).
pub fn forward_signals_to(pid: i32, ignored: u64) {
    WORKER.store(pid, std::sync::atomic::Ordering::SeqCst);
    for sig in FORWARDED_SIGNALS {
        if ignored & (1 << (sig - 1)) != 0 {
            continue;
        }
        // SAFETY: installs an async-signal-safe handler with a zeroed (then filled) sigaction.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Kills process group `pgid` with SIGKILL (a worker whose client is about to go away).
pub fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: kill with a negative pid signals that group; no memory is involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Ends this process by signal `sig`, as a process killed by it (the exit status the worker had).
pub fn die_by_signal(sig: i32) -> ! {
    // SAFETY: restoring the default disposition, unblocking and signalling ourselves.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
    std::process::exit(128 + sig)
}

/// Sends SIGTERM to `pid`.
pub fn terminate(pid: i32) {
    if pid > 0 {
        // SAFETY: kill takes plain integers.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// A moment in the local time zone, as `time.localtime` gives it (`TZ`, else /etc/localtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// The zone's abbreviation (`tm_zone`: what `%Z` prints for `datetime.astimezone()`).
    pub zone: String,
}

unsafe extern "C" {
    /// POSIX `tzset` (not in the libc crate).
    fn tzset();
}

/// `localtime_r(unix)`, after `tzset` (so `TZ` is read as Python reads it at start-up).
pub fn local_time(unix: i64) -> Option<LocalTime> {
    let t = libc::time_t::try_from(unix).ok()?;
    // SAFETY: an all-zero `tm` is a valid value of a plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: tzset only reads TZ and the zone files; localtime_r writes only into `tm`.
    let ok = unsafe {
        tzset();
        !libc::localtime_r(&t, &mut tm).is_null()
    };
    if !ok || tm.tm_zone.is_null() {
        return None;
    }
    // SAFETY: glibc points tm_zone at a NUL-terminated abbreviation that lives as long as the
    // process's time-zone data (copied out at once).
    let zone = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) };
    Some(LocalTime {
        year: i64::from(tm.tm_year) + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
        zone: zone.to_str().ok()?.to_string(),
    })
}
