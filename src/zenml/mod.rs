//! ZenML's state, read without Python and without printing: the installed package
//! ([`package`]), where ZenML keeps its state ([`paths`]), its config files ([`config`]), the
//! steady state the Rust commands model ([`state`]), and the stores behind it: the local SQLite
//! file ([`sql_store`]) or a server's REST API ([`rest_store`], over [`http`] with the
//! [`credentials`] `zenml login` stored, unless `requests` would use a [`proxy`]).

pub mod package;

#[cfg(feature = "launcher")]
pub mod config;
#[cfg(feature = "launcher")]
pub mod credentials;
#[cfg(feature = "launcher")]
pub mod http;
#[cfg(feature = "launcher")]
pub mod paths;
#[cfg(feature = "launcher")]
pub mod proxy;
#[cfg(feature = "launcher")]
pub mod rest_store;
#[cfg(feature = "launcher")]
pub mod sql_store;
#[cfg(feature = "launcher")]
pub mod state;
