//! Every way ZenML's own Python code runs: delegation by `exec` of the env's CLI ([`delegate`]),
//! the embedded interpreter (the PEP 587 start-up recipe in [`startup`], all CPython FFI in
//! [`ffi`]) and tier 2, ZenML's command run in-process ([`in_process`]).

pub mod delegate;
pub mod ffi;
pub mod in_process;
pub mod serve;
pub mod server;
pub mod startup;
