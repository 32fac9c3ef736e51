//! `libzenml_launcher_embed.so`: the C entry point the `zenml` launcher calls after `dlopen`
//! (see `zenml_launcher::python::in_process`). Everything it does is in the main crate.

use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

/// Runs `zenml <argv>` in the embedded interpreter: an exit code, or
/// `zenml_launcher::python::in_process::DECLINED` when nothing ran (the caller delegates).
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings (a NULL after them is allowed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zenml_launcher_embedded_main(
    abi: u32,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: the caller keeps this function's contract.
    let args = unsafe { args_of(argc, argv) };
    std::panic::catch_unwind(|| zenml_launcher::python::in_process::library_main(abi, args))
        .unwrap_or(zenml_launcher::python::in_process::DECLINED)
}

/// `zenml-launcher doctor`: describes the interpreter this library starts for the env (see
/// `zenml_launcher::python::in_process::library_describe`). Exit code 0, or 1 after a one-line
/// error.
///
/// # Safety
/// As [`zenml_launcher_embedded_main`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zenml_launcher_embedded_describe(
    abi: u32,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: the caller keeps this function's contract.
    let args = unsafe { args_of(argc, argv) };
    std::panic::catch_unwind(|| zenml_launcher::python::in_process::library_describe(abi, args))
        .unwrap_or(1)
}

/// Runs the command server (see `zenml_launcher::python::serve::library_serve`): in the master,
/// returns when it stops; in a forked worker, returns the command's exit code.
///
/// # Safety
/// As [`zenml_launcher_embedded_main`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zenml_launcher_embedded_serve(
    abi: u32,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: the caller keeps this function's contract.
    let args = unsafe { args_of(argc, argv) };
    std::panic::catch_unwind(|| zenml_launcher::python::serve::library_serve(abi, args))
        .unwrap_or(1)
}

/// The `argc` C strings at `argv`, as OS strings.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings.
unsafe fn args_of(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: the caller passes `argc` valid C strings.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect()
}
