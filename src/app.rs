//! The launcher's main flow, one flat ladder: argv → route (decided once) → resolve the env →
//! the tiers that route allows, in order: a Rust answer, the warm command server, ZenML's own
//! command in the embedded interpreter (tier 2), delegation. Each tier either ends the call or
//! declines with a reason (nothing printed) and the next one is tried; each is tried at most once.

use std::ffi::OsString;

use anyhow::Result;

use crate::cache::{self, Cache};
use crate::commands::{self, Context};
use crate::declined::Declined;
use crate::env::{self, PythonEnv};
use crate::python::{delegate, in_process, server};
use crate::render::terminal::Terminal;
use crate::route::{self, Route, Tier};
use crate::zenml::package::{self, ZenmlInstall};
use crate::{debug, vars};

/// What one tier did with a call.
#[derive(Debug)]
pub enum Attempt {
    /// The call ran here: exit with this code.
    Exit(u8),
    /// Not answered by this tier, nothing printed: the next tier is tried.
    Declined(Declined),
    /// Hand the Python CLI these arguments instead (a confirmation answered here).
    Replace(Vec<OsString>),
}

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

/// Runs `zenml <args>`: the exit code of the tier that answered, else an error (delegation
/// replaces the process, so it only returns when the exec failed).
pub fn run(args: Vec<OsString>) -> Result<u8> {
    if vars::os(vars::ZENML_LAUNCHER_SERVE).is_some_and(|v| v == "1") {
        return Ok(server::serve_main(&args));
    }
    let use_python = vars::is_one(vars::ZENML_USE_PYTHON_CLI);
    let env = env::resolve_checked()?;
    let install = package::find(&env)?;
    let version = install.version();
    describe(&install, version.as_deref());
    // The installed ZenML's key (cache entry and server), computed once when a tier needs it.
    let fingerprint = std::cell::OnceCell::new();
    let fingerprint = || {
        fingerprint
            .get_or_init(|| cache::fingerprint(&env, &install))
            .as_str()
    };
    // With a standard stream closed, the CLI fails in ways only the CLI itself reproduces: no
    // tier of ours, and no cache (whose generation would start Python for nothing).
    let closed = crate::os::stdio_closed_at_start();
    let cache = (closed.is_none() && !use_python && route::needs_spec(&args))
        .then(|| load_cache(&env, &install, fingerprint(), version.as_deref()))
        .and_then(|loaded| {
            loaded
                .map_err(|why| debug::line(format!("cache: not used: {why}")))
                .ok()
        });
    let route = route::decide(
        &args,
        use_python,
        cache.as_ref().and_then(|c| c.meta.root.as_ref()),
    );
    debug::line(format!("route: {}", route.name()));

    let tiers = match closed {
        Some(fd) => {
            debug::line(format!("fd {fd} was closed at start: the Python CLI only"));
            &[][..]
        }
        None => route.tiers(),
    };
    let mut python_args = args;
    for tier in tiers {
        let attempt = match tier {
            Tier::Rust => match &cache {
                Some(cache) => run_rust(&route, cache, version.as_deref().unwrap_or(""), &install),
                None => Attempt::Declined("no cache".into()),
            },
            Tier::Server => run_in_server(&env, fingerprint(), &python_args),
            Tier::InProcess => run_in_process(&env, &python_args),
        };
        match attempt {
            Attempt::Exit(code) => return Ok(code),
            Attempt::Declined(why) => debug::line(format!("{}: declined: {why}", tier.name())),
            Attempt::Replace(new_args) => {
                debug::line(format!(
                    "{}: hands the Python CLI {new_args:?}",
                    tier.name()
                ));
                python_args = new_args;
                break;
            }
        }
    }
    debug::line(format!("route: delegate ({})", route.delegation_reason()));
    Err(delegate::exec(&env, &install.entry_point, &python_args).into())
}

/// The debug line naming the ZenML this call runs.
fn describe(install: &ZenmlInstall, version: Option<&str>) {
    debug::line(format!(
        "zenml: {} (entry point {}:{}, package {})",
        version.unwrap_or("?"),
        install.entry_point.module,
        install.entry_point.attr,
        install
            .package_dir
            .as_ref()
            .map_or_else(|| "?".into(), |p| p.display().to_string())
    ));
}

/// The per-distribution cache the Rust answers and the router's root spec come from, unless
/// the environment makes the Python CLI print what the Rust commands do not reproduce.
fn load_cache(
    env: &PythonEnv,
    install: &ZenmlInstall,
    fingerprint: &str,
    version: Option<&str>,
) -> Result<Cache, Declined> {
    if let Some(why) = environment_forces_delegation() {
        return Err(why.into());
    }
    if version.is_none() {
        return Err("zenml/VERSION not found".into());
    }
    let cache = cache::load_or_generate(env, install, fingerprint)?;
    debug::line(format!("cache: {}", cache.dir.display()));
    Ok(cache)
}

/// The command server: ZenML's CLI in a warm interpreter's forked worker (a missing server is
/// started for the next calls).
fn run_in_server(env: &PythonEnv, fingerprint: &str, args: &[OsString]) -> Attempt {
    if let Some(why) = route::server_refusal(args) {
        return Attempt::Declined(format!("not for this command: {why}").into());
    }
    match server::client::call(env, fingerprint, args) {
        Ok(code) => Attempt::Exit(code),
        Err(why) => Attempt::Declined(why),
    }
}

/// Tier 2: the CLI's own command in the embedded interpreter.
fn run_in_process(env: &PythonEnv, args: &[OsString]) -> Attempt {
    debug::line("route: in-process");
    match in_process::run(env, args) {
        Ok(code) => Attempt::Exit(code),
        Err(why) => Attempt::Declined(why),
    }
}

/// A Rust answer: the route's command, printed from the cache and ZenML's state.
fn run_rust(route: &Route, cache: &Cache, version: &str, install: &ZenmlInstall) -> Attempt {
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
        site_packages: install.package_dir.as_deref().and_then(|p| p.parent()),
    };
    let result = match route {
        Route::VersionFlag => commands::version::flag(&ctx),
        Route::VersionCommand => commands::version::command(&ctx, commands::version::random_index),
        Route::RootHelp => commands::help::root(&ctx, false),
        Route::NoArgsHelp => commands::help::root(&ctx, true),
        Route::Status => commands::status::run(&ctx),
        Route::StackList(args) => commands::stack_list::run(&ctx, args),
        Route::CleanPrompt => {
            return match commands::clean::answer(&ctx) {
                Ok(commands::clean::Outcome::Done(code)) => Attempt::Exit(code as u8),
                Ok(commands::clean::Outcome::Confirmed) => {
                    Attempt::Replace(vec!["clean".into(), "--yes".into()])
                }
                Err(why) => Attempt::Declined(why),
            };
        }
        Route::InProcess(_) | Route::Delegate(_) | Route::UsePythonCli => {
            return Attempt::Declined("no Rust answer for this route".into());
        }
    };
    match result {
        Ok(output) => Attempt::Exit(output.write() as u8),
        Err(why) => Attempt::Declined(why),
    }
}
