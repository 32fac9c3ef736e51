//! All of the launcher's `unsafe` FFI: the PEP 587 start-up of the linked libpython.
//!
//! The safe surface is [`Config`] (a `PyConfig` that is always cleared), [`initialize`] (checks
//! every `PyStatus`, releases the GIL) and [`Interpreter`] (finalizes on request), plus
//! [`linked_python`], which reads the libpython's version before anything starts.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use pyo3_ffi as ffi;

use crate::env::PyVersion;
use crate::env::preflight::LinkedPython;

/// A `PyConfig` initialised with `PyConfig_InitPythonConfig`; `Drop` calls `PyConfig_Clear`.
pub struct Config {
    raw: Box<MaybeUninit<ffi::PyConfig>>,
    /// The fields this wrapper set, for the diagnosis.
    set: Vec<(&'static str, OsString)>,
}

/// Why the interpreter did not start.
#[derive(Debug)]
pub enum InitError {
    /// Python reported an error; `message` is its own (`func: err_msg`), `output` what it printed.
    Error { message: String, output: Vec<u8> },
    /// Python asked to exit with this code during start-up.
    Exit { code: i32, output: Vec<u8> },
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Error { message, .. } => write!(f, "Python failed to start: {message}"),
            InitError::Exit { code, .. } => {
                write!(f, "Python exited with code {code} during start-up")
            }
        }
    }
}

impl std::error::Error for InitError {}

impl Config {
    /// The "Python configuration" of PEP 587 (honours PYTHON* variables, user site, locale).
    pub fn python() -> Self {
        let mut raw = Box::new(MaybeUninit::<ffi::PyConfig>::uninit());
        // SAFETY: PyConfig_InitPythonConfig fully initialises the struct behind a valid pointer.
        unsafe { ffi::PyConfig_InitPythonConfig(raw.as_mut_ptr()) };
        Config {
            raw,
            set: Vec::new(),
        }
    }

    fn ptr(&mut self) -> *mut ffi::PyConfig {
        self.raw.as_mut_ptr()
    }

    /// `parse_argv`: 0 keeps CPython from reading options out of `argv`.
    pub fn set_parse_argv(&mut self, parse: bool) {
        // SAFETY: the struct was initialised in `python()`; writing an int field is sound.
        unsafe { (*self.ptr()).parse_argv = parse as i32 };
        self.set
            .push(("parse_argv", if parse { "1" } else { "0" }.into()));
    }

    /// `executable`, from the raw bytes of the path (decoded by Python with the locale, like argv).
    pub fn set_executable(&mut self, path: &OsStr) -> Result<(), InitError> {
        self.set_bytes_field("executable", path, |c| {
            // SAFETY: `c` points to our initialised config; the field pointer is derived from it.
            unsafe { &raw mut (*c).executable }
        })
    }

    /// `home`: only for a standalone prefix, never for a venv, never over the user's PYTHONHOME.
    pub fn set_home(&mut self, path: &OsStr) -> Result<(), InitError> {
        self.set_bytes_field("home", path, |c| {
            // SAFETY: as above.
            unsafe { &raw mut (*c).home }
        })
    }

    /// `argv`, from raw bytes (becomes `sys.argv`).
    pub fn set_argv(&mut self, args: &[OsString]) -> Result<(), InitError> {
        let owned: Vec<CString> = args.iter().map(|a| c_bytes(a)).collect::<Result<_, _>>()?;
        let mut ptrs: Vec<*const std::os::raw::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let config = self.ptr();
        // SAFETY: config is initialised; ptrs holds `len` valid NUL-terminated strings that
        // outlive the call (CPython copies them).
        let status = unsafe {
            ffi::PyConfig_SetBytesArgv(config, ptrs.len() as ffi::Py_ssize_t, ptrs.as_mut_ptr())
        };
        check(status, Vec::new())?;
        self.set.push(("argv", join_display(args)));
        Ok(())
    }

    /// `run_command`: the code `Py_RunMain` runs, like `python -c` (ASCII text).
    pub fn set_run_command(&mut self, code: &str) -> Result<(), InitError> {
        self.set_bytes_field("run_command", OsStr::new(code), |c| {
            // SAFETY: as for `executable`.
            unsafe { &raw mut (*c).run_command }
        })
    }

    /// `run_filename`: the script `Py_RunMain` runs, like `python <file>` (raw bytes).
    pub fn set_run_filename(&mut self, path: &OsStr) -> Result<(), InitError> {
        self.set_bytes_field("run_filename", path, |c| {
            // SAFETY: as for `executable`.
            unsafe { &raw mut (*c).run_filename }
        })
    }

    fn set_bytes_field(
        &mut self,
        name: &'static str,
        value: &OsStr,
        field: impl FnOnce(*mut ffi::PyConfig) -> *mut *mut libc::wchar_t,
    ) -> Result<(), InitError> {
        let bytes = c_bytes(value)?;
        let config = self.ptr();
        let field = field(config);
        // SAFETY: `config` is initialised, `field` points into it, `bytes` is NUL-terminated and
        // CPython decodes and copies it.
        let status = unsafe { ffi::PyConfig_SetBytesString(config, field, bytes.as_ptr()) };
        check(status, Vec::new())?;
        self.set.push((name, value.to_owned()));
        Ok(())
    }

    /// The fields set so far (name, raw value), in order.
    pub fn fields(&self) -> &[(&'static str, OsString)] {
        &self.set
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: the config was initialised in `python()` and is cleared exactly once here.
        unsafe { ffi::PyConfig_Clear(self.ptr()) };
    }
}

fn c_bytes(value: &OsStr) -> Result<CString, InitError> {
    CString::new(value.as_bytes()).map_err(|_| InitError::Error {
        message: format!("a NUL byte in {:?}", value),
        output: Vec::new(),
    })
}

fn join_display(args: &[OsString]) -> OsString {
    let mut out = OsString::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(" ");
        }
        out.push(a);
    }
    out
}

fn check(status: ffi::PyStatus, output: Vec<u8>) -> Result<(), InitError> {
    // SAFETY: PyStatus is a plain value struct returned by CPython; these predicates only read it.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { ffi::PyStatus_IsExit(status) } != 0 {
        return Err(InitError::Exit {
            code: status.exitcode,
            output,
        });
    }
    let text = |p: *const std::os::raw::c_char| {
        // SAFETY: CPython sets these to NULL or to static NUL-terminated strings.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    let message = match (text(status.func), text(status.err_msg)) {
        (Some(func), Some(msg)) => format!("{func}: {msg}"),
        (None, Some(msg)) => msg,
        (Some(func), None) => func,
        (None, None) => "unknown error".to_string(),
    };
    Err(InitError::Error { message, output })
}

/// A started interpreter whose GIL this thread released. Not `Send`: finalize on the same thread.
pub struct Interpreter {
    tstate: *mut ffi::PyThreadState,
}

/// `Py_InitializeFromConfig` with start-up stderr held back: replayed on success, returned in
/// the error otherwise. The config is cleared afterwards (CPython copied what it needs); on
/// success this thread holds the GIL.
fn start(mut config: Config) -> Result<(), InitError> {
    let capture = StderrCapture::start();
    // SAFETY: the config is initialised and outlives the call; this is the only initialisation
    // of this process's interpreter (callers start it at most once).
    let status = unsafe { ffi::Py_InitializeFromConfig(config.ptr()) };
    let output = capture.map(StderrCapture::finish).unwrap_or_default();
    check(status, output.clone())?;
    if !output.is_empty() {
        use std::io::Write;
        let _ = std::io::stderr().write_all(&output);
    }
    Ok(())
}

/// Starts CPython from `config`. What Python prints to stderr during start-up is held back and
/// replayed only on success, so a failed start-up shows one line instead of CPython's dump.
pub fn initialize(config: Config) -> Result<Interpreter, InitError> {
    start(config)?;
    // SAFETY: initialisation succeeded, so this thread holds the GIL and may release it.
    let tstate = unsafe { ffi::PyEval_SaveThread() };
    Ok(Interpreter { tstate })
}

/// Starts CPython from `config` (start-up output held back as in [`initialize`]), runs `setup` in
/// `__main__` (`PyRun_SimpleString`: an uncaught exception is printed, a SystemExit ends the
/// process as in `python`), then asks `proceed` (given whether `setup` raised) and either runs
/// the configured program like the `python` program does, or finalizes.
///
/// `Py_RunMain` runs `run_filename` or `run_command`, prints an uncaught exception, finalizes
/// and returns the exit code (dying by SIGINT after an unhandled KeyboardInterrupt, 120 when the
/// final flush fails). Either way the interpreter is gone when this returns: `Ok(None)` when
/// `proceed` said no (`Py_FinalizeEx` ran).
pub fn run_main_after(
    config: Config,
    setup: &CStr,
    proceed: impl FnOnce(bool) -> bool,
) -> Result<Option<i32>, InitError> {
    start(config)?;
    // SAFETY: the interpreter is initialised and this thread holds the GIL; `setup` is a
    // NUL-terminated string.
    let raised = unsafe { ffi::PyRun_SimpleString(setup.as_ptr()) } != 0;
    if proceed(raised) {
        // SAFETY: still initialised, GIL held; Py_RunMain runs the configured program and
        // finalizes the interpreter before returning.
        Ok(Some(unsafe { ffi::Py_RunMain() }))
    } else {
        // SAFETY: initialised, GIL held, finalized exactly once.
        unsafe { ffi::Py_FinalizeEx() };
        Ok(None)
    }
}

impl Interpreter {
    /// Re-acquires the GIL and finalizes; returns `Py_FinalizeEx`'s result (0 = flushed fine).
    pub fn finalize(self) -> i32 {
        // SAFETY: `tstate` came from PyEval_SaveThread on this thread (Interpreter is !Send).
        unsafe {
            ffi::PyEval_RestoreThread(self.tstate);
            ffi::Py_FinalizeEx()
        }
    }
}

/// Version and file of the libpython this binary is linked against. Safe before initialisation.
pub fn linked_python() -> LinkedPython {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string and needs no initialisation.
    let text = unsafe { CStr::from_ptr(ffi::Py_GetVersion()) }
        .to_string_lossy()
        .into_owned();
    let version = PyVersion::parse(&text).unwrap_or(PyVersion {
        major: 0,
        minor: 0,
        micro: None,
    });
    LinkedPython {
        version,
        library: linked_library(),
    }
}

/// The Python minor version whose `PyConfig` layout this build compiled in (`(3, 12)`), from
/// pyo3's build configuration (`PYO3_PYTHON` or `PYO3_CONFIG_FILE`).
pub const BUILT_FOR: (u8, u8) = if cfg!(Py_3_14) {
    (3, 14)
} else if cfg!(Py_3_13) {
    (3, 13)
} else if cfg!(Py_3_12) {
    (3, 12)
} else if cfg!(Py_3_11) {
    (3, 11)
} else if cfg!(Py_3_10) {
    (3, 10)
} else {
    (3, 9)
};

/// `Err` (why, one line) when the libpython in this process is not of the minor version this
/// build compiled in, or is a free-threaded build: its `PyConfig` would not be ours.
pub fn check_abi() -> Result<(), String> {
    let linked = linked_python();
    let (major, minor) = BUILT_FOR;
    if (linked.version.major, linked.version.minor) != (major, minor) {
        return Err(format!(
            "the embedding library is built for Python {major}.{minor}, the libpython loaded is {} ({})",
            linked.version,
            linked
                .library
                .map_or_else(|| "?".to_string(), |p| p.display().to_string())
        ));
    }
    if !cfg!(Py_GIL_DISABLED) && linked_version_text().contains("free-threading") {
        return Err("the libpython loaded is a free-threaded build".into());
    }
    Ok(())
}

/// The full `Py_GetVersion()` text.
pub fn linked_version_text() -> String {
    // SAFETY: see `linked_python`.
    unsafe { CStr::from_ptr(ffi::Py_GetVersion()) }
        .to_string_lossy()
        .into_owned()
}

fn linked_library() -> Option<PathBuf> {
    let mut info = MaybeUninit::<libc::Dl_info>::zeroed();
    let symbol = ffi::Py_GetVersion as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables and fills `info` on success.
    let found = unsafe { libc::dladdr(symbol, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr succeeded, so `info` is initialised; dli_fname is NULL or a C string.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: non-NULL NUL-terminated string owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// Redirects fd 2 into an anonymous file for the duration of interpreter start-up.
struct StderrCapture {
    saved: libc::c_int,
    file: libc::c_int,
}

impl StderrCapture {
    fn start() -> Option<Self> {
        // SAFETY: plain fd syscalls on descriptors we own; failures leave fd 2 untouched.
        unsafe {
            // The raw syscall (Linux 3.17), not glibc's wrapper (2.27): the wheel's floor is 2.17.
            let file = libc::syscall(
                libc::SYS_memfd_create,
                c"zenml-launcher-init".as_ptr(),
                libc::MFD_CLOEXEC,
            ) as libc::c_int;
            if file < 0 {
                return None;
            }
            let saved = libc::dup(2);
            if saved < 0 || libc::dup2(file, 2) < 0 {
                libc::close(file);
                if saved >= 0 {
                    libc::close(saved);
                }
                return None;
            }
            Some(StderrCapture { saved, file })
        }
    }

    fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        // SAFETY: restores fd 2 from the saved copy, then reads our memfd from its start.
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
            libc::lseek(self.file, 0, libc::SEEK_SET);
            let mut buf = [0u8; 8192];
            loop {
                let n = libc::read(self.file, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n as usize]);
            }
            libc::close(self.file);
        }
        out
    }
}
