//! ZenML's state, read without Python and without printing: the installed package
//! ([`package`]), where ZenML keeps its state ([`paths`]), its config files ([`config`]), the
//! steady state the Rust commands model ([`state`]), and the stores behind it: the local SQLite
//! file ([`sql_store`]) or a local server's REST API ([`rest_store`]).

pub mod config;
pub mod package;
pub mod paths;
pub mod rest_store;
pub mod sql_store;
pub mod state;
