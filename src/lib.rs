//! The fast `zenml` launcher: argv → route → resolve the Python env → answer in Rust, or run
//! ZenML's own Python code. The folders are the parts of that flow (docs/architecture.md has the
//! map):
//!
//! - [`app`], [`route`]: the flow, and the pure routing function it starts with;
//! - [`env`]: which Python env, and whether it can be trusted (before any Python starts);
//! - [`commands`]: the commands answered in Rust, one module each;
//! - [`zenml`]: ZenML's state, read without Python (package, paths, config, stores);
//! - [`render`]: printing the way rich and Python print;
//! - [`python`]: every way ZenML's own Python code runs (delegation, the embedded interpreter);
//! - [`admin`]: the `zenml-launcher` admin binary (doctor, cache, install into an env);
//! - the leaves: [`cache`] (what the installed CLI prints, generated once per install), [`vars`],
//!   [`error`], [`debug`], [`os`].

// What the embedding library (embedlib/) needs: env discovery, pre-flight, the embedded start-up.
pub mod debug;
pub mod declined;
pub mod env;
pub mod error;
pub mod os;
pub mod python;
pub mod vars;
pub mod zenml;

// The Rust routes and the admin binary (feature `launcher`, on by default).
#[cfg(feature = "launcher")]
pub mod admin;
#[cfg(feature = "launcher")]
pub mod app;
#[cfg(feature = "launcher")]
pub mod cache;
#[cfg(feature = "launcher")]
pub mod cli_spec;
#[cfg(feature = "launcher")]
pub mod commands;
#[cfg(feature = "launcher")]
pub mod render;
#[cfg(feature = "launcher")]
pub mod route;
