//! The launcher's `unsafe` calls into libc (terminal queries, locale, a SIGINT-aware line read),
//! each behind a small safe function. CPython's FFI lives in `embed.rs`.

use std::sync::atomic::{AtomicBool, Ordering};

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
