//! The fast `zenml` launcher: argv → route → resolve the Python env → answer in Rust, or run
//! ZenML's own Python code. The folders are the parts of that flow (README.md has the map):
//!
//! - [`app`], [`route`]: the flow, and the pure routing function it starts with;
//! - [`env`]: which Python env, and whether it can be trusted (before any Python starts);
//! - [`commands`]: the commands answered in Rust, one module each;
//! - [`zenml`]: ZenML's state, read without Python (package, paths, config, stores);
//! - [`render`]: printing the way rich and Python print;
//! - [`python`]: every way ZenML's own Python code runs (delegation, the embedded interpreter);
//! - the leaves: [`cache`] (what the installed CLI prints, generated once per install), [`vars`],
//!   [`error`], [`debug`], [`os`].

pub mod app;
pub mod cache;
pub mod commands;
pub mod debug;
pub mod env;
pub mod error;
pub mod os;
pub mod python;
pub mod render;
pub mod route;
pub mod vars;
pub mod zenml;
