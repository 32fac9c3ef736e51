//! The `zenml` entry point: a C `main`, so that std's start-up is not paid on every call.
//!
//! Rust's own `main` wrapper sets up a guard page and an alternate signal stack for the main
//! thread, which costs reading and parsing `/proc/self/maps` on every start: a sizeable part of a
//! pure-Rust answer. The parts the launcher relies on are done in `os::init_process` (fds 0-2
//! open, SIGPIPE ignored); stdout is flushed before returning, and a panic exits with 101 as
//! under std's wrapper.
// Under `cargo test` the test harness brings its own `main` (this file has no tests).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    zenml_launcher::os::init_process();
    let code = std::panic::catch_unwind(|| {
        let args = std::env::args_os().skip(1).collect();
        match zenml_launcher::app::run(args) {
            Ok(code) => std::ffi::c_int::from(code),
            Err(err) => {
                zenml_launcher::error::report(&err);
                1
            }
        }
    })
    .unwrap_or(101);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code
}
