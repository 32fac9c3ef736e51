//! The launcher's main flow: argv → route → resolve the env → run in Rust, or delegate.

use std::ffi::OsString;

use anyhow::Result;

use crate::cache;
use crate::commands::{self, Context};
use crate::env;
use crate::python::{delegate, in_process, server};
use crate::render::terminal::Terminal;
use crate::route::{self, Route};
use crate::zenml::package;
use crate::{debug, vars};

/// Variables under which the Python CLI prints something the Rust commands do not reproduce.
pub fn environment_forces_delegation() -> Option<String> {
    for name in vars::DELEGATE_IF_SET.iter().chain(vars::PYTHON_OUTPUT_VARS) {
        if vars::os(name).is_some() {
            return Some(format!("{name} is set"));
        }
    }
    if let Some(level) = vars::os(vars::ZENML_LOGGING_VERBOSITY) {
        let ok = level
            .to_str()
            .is_some_and(|l| vars::QUIET_LOGGING_LEVELS.contains(&l.to_uppercase().as_str()));
        if !ok {
            return Some(format!("{}={level:?}", vars::ZENML_LOGGING_VERBOSITY));
        }
    }
    match vars::os(vars::PYTHONUTF8) {
        Some(v) if v == "1" => None,
        Some(_) => Some(format!("{} is set", vars::PYTHONUTF8)),
        None => (!crate::os::locale_is_utf8()).then(|| "the locale is not UTF-8".to_string()),
    }
}

/// Runs `zenml <args>`: the exit code of a Rust answer, else an error (delegation replaces the
/// process, so it only returns when the exec failed).
pub fn run(args: Vec<OsString>) -> Result<u8> {
    if vars::os(vars::ZENML_LAUNCHER_SERVE).is_some_and(|v| v == "1") {
        return Ok(server::serve_main(&args));
    }
    let use_python = vars::is_one(vars::ZENML_USE_PYTHON_CLI);
    let mut route = route::decide(&args, use_python, None);
    let env = env::resolve_checked()?;
    let install = package::find(&env)?;
    let version = install.version();
    debug::line(format!(
        "zenml: {} (entry point {}:{}, package {})",
        version.as_deref().unwrap_or("?"),
        install.entry_point.module,
        install.entry_point.attr,
        install
            .package_dir
            .as_ref()
            .map_or_else(|| "?".into(), |p| p.display().to_string())
    ));
    if route == Route::NeedsSpec {
        route = match (environment_forces_delegation(), &version) {
            (Some(why), _) => {
                debug::line(format!("delegating: {why}"));
                Route::Delegate("environment")
            }
            (None, None) => Route::Delegate("zenml/VERSION not found"),
            (None, Some(_)) => match cache::load_or_generate(&env, &install) {
                Ok(cache) => {
                    debug::line(format!("cache: {}", cache.dir.display()));
                    let decided = route::decide(&args, use_python, cache.meta.root.as_ref());
                    debug::line(format!("route: {}", decided.name()));
                    let site_packages = install.package_dir.as_deref().and_then(|p| p.parent());
                    let version = version.as_deref().unwrap_or("");
                    match run_rust(&decided, &cache, version, site_packages) {
                        Ran::Exit(code) => return Ok(code as u8),
                        Ran::Delegate if decided.falls_back_in_process() => {
                            if let Some(code) = run_in_server(&env, &install, &args) {
                                return Ok(code);
                            }
                            match run_in_process(&env, &args) {
                                Some(code) => return Ok(code),
                                None => Route::Delegate("not reproducible here"),
                            }
                        }
                        Ran::Delegate => Route::Delegate("not reproducible here"),
                        Ran::DelegateWith(new_args) => {
                            debug::line("route: delegate (confirmed: clean --yes)");
                            return Err(
                                delegate::exec(&env, &install.entry_point, &new_args).into()
                            );
                        }
                    }
                }
                Err(why) => {
                    debug::line(format!("cache unavailable: {why}"));
                    Route::Delegate("no cache")
                }
            },
        };
    }
    if !use_python {
        if let Some(code) = run_in_server(&env, &install, &args) {
            return Ok(code);
        }
    }
    debug::line(format!("route: {}", route.name()));
    Err(delegate::exec(&env, &install.entry_point, &args).into())
}

/// The command server: ZenML's CLI in a warm interpreter's forked worker. `None`: not served
/// (nothing ran; a missing server was started for the next calls).
fn run_in_server(
    env: &env::PythonEnv,
    install: &package::ZenmlInstall,
    args: &[OsString],
) -> Option<u8> {
    if let Some(why) = route::server_refusal(args) {
        debug::line(format!("server: not for this command: {why}"));
        return None;
    }
    let fingerprint = cache::fingerprint(env, install);
    match server::client::call(env, &fingerprint, args) {
        server::client::Outcome::Exit(code) => Some(code),
        server::client::Outcome::NotServed(why) => {
            debug::line(format!("server: not used: {why}"));
            None
        }
    }
}

/// Tier 2: the CLI's own command in the embedded interpreter. `None`: declined, nothing printed.
fn run_in_process(env: &env::PythonEnv, args: &[OsString]) -> Option<u8> {
    debug::line("route: in-process");
    match in_process::run(env, args) {
        in_process::Outcome::Exit(code) => Some(code as u8),
        in_process::Outcome::Declined(why) => {
            debug::line(format!("in-process declined: {why}"));
            None
        }
    }
}

/// What a Rust route did.
enum Ran {
    Exit(i32),
    /// Nothing printed: hand the original call to Python.
    Delegate,
    /// Hand Python these arguments instead (after a confirmation answered here).
    DelegateWith(Vec<OsString>),
}

/// Runs a Rust route.
fn run_rust(
    route: &Route,
    cache: &cache::Cache,
    version: &str,
    site_packages: Option<&std::path::Path>,
) -> Ran {
    // `--version` prints the same bytes whatever the streams are: no terminal to probe.
    let terminal = if *route == Route::VersionFlag {
        Terminal::default()
    } else {
        Terminal::probe()
    };
    let ctx = Context {
        cache,
        terminal: &terminal,
        version,
        site_packages,
    };
    let result = match route {
        Route::VersionFlag => commands::version::flag(&ctx),
        Route::VersionCommand => commands::version::command(&ctx, commands::version::random_index),
        Route::RootHelp => commands::help::root(&ctx, false),
        Route::NoArgsHelp => commands::help::root(&ctx, true),
        Route::Status => commands::status::run(&ctx),
        Route::StackList(args) => commands::stack_list::run(&ctx, args),
        Route::CleanPrompt => {
            return match commands::clean::prepare(&ctx) {
                Ok((spec, mode)) => match commands::clean::run(&ctx, &spec, &mode) {
                    commands::clean::Outcome::Done(code) => Ran::Exit(code),
                    commands::clean::Outcome::Confirmed => {
                        Ran::DelegateWith(vec!["clean".into(), "--yes".into()])
                    }
                },
                Err(why) => {
                    debug::line(format!("delegating: {}", why.reason()));
                    Ran::Delegate
                }
            };
        }
        Route::InProcess(_) | Route::NeedsSpec | Route::Delegate(_) => return Ran::Delegate,
    };
    match result {
        Ok(output) => Ran::Exit(output.write()),
        Err(why) => {
            debug::line(format!("not answered in Rust: {}", why.reason()));
            Ran::Delegate
        }
    }
}
