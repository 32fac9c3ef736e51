//! The fast `zenml` launcher: argv → route → resolve the Python env → (only when needed) start
//! CPython in-process → run. See README.md for the flow and the module map.

pub mod app;
pub mod cache;
pub mod cells;
pub mod commands;
pub mod debug;
pub mod delegate;
pub mod embed;
pub mod env;
pub mod error;
pub mod highlight;
pub mod in_process;
pub mod local_store;
pub mod markup;
pub mod os;
pub mod pyformat;
pub mod python;
pub mod render;
pub mod route;
pub mod server_store;
pub mod store;
pub mod style;
pub mod table;
pub mod terminal;
pub mod vars;
pub mod zenml_config;
pub mod zenml_paths;
pub mod zenml_pkg;
