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
    let mut args = Vec::new();
    for i in 0..argc.max(0) as usize {
        // SAFETY: the caller passes `argc` valid C strings.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
        args.push(OsString::from_vec(arg.to_bytes().to_vec()));
    }
    std::panic::catch_unwind(|| zenml_launcher::python::in_process::library_main(abi, args))
        .unwrap_or(zenml_launcher::python::in_process::DECLINED)
}
