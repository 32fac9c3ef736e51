//! `zenml-launcher doctor [--json]`: what `examples/print_sys_path` shows (the env, and the
//! `sys.*` its embedded interpreter computes), for the env the launcher would serve, plus the
//! pre-flight findings, the installed ZenML, which embedding library it would load and why, and
//! which kind of command server the env gets and why.
//! The `sys.*` part is printed by that library itself: it starts the interpreter exactly as
//! tier 2 does.

use std::io::Write;

use anyhow::Result;
use serde_json::{Value, json};

use crate::declined::Declined;
use crate::env::{self, preflight};
use crate::python::server::source::{ServerKind, server_plan};
use crate::python::{in_process, server};
use crate::zenml::package;

pub fn run(as_json: bool) -> Result<u8> {
    let env = env::resolve(&env::DiscoveryInput::from_process())?;
    let problems = preflight::check(&env, &preflight::CheckInput::from_process(None));
    let fatal = preflight::first_fatal(&problems).is_some();
    let zenml = match package::find(&env) {
        Ok(install) => json!({
            "version": install.version(),
            "dist_info": install.dist_info.display().to_string(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let library = if fatal {
        Err("the env failed its pre-flight checks".into())
    } else {
        in_process::library_for(&env)
    };
    let plan = library
        .as_ref()
        .map_err(|_| Declined::new("no embedding library to load it for"))
        .and_then(|choice| in_process::libpython_plan(&env, choice));
    let libpython = match &plan {
        Ok(in_process::LibPythonPlan::Load(lib)) => {
            json!({ "path": lib.path.display().to_string(), "why": lib.why })
        }
        Ok(in_process::LibPythonPlan::Linked(own)) => json!({
            "path": null,
            "why": format!("none loaded: the embedding library links {own} itself"),
        }),
        Err(why) => json!({ "path": null, "why": why.reason() }),
    };
    let server = command_server(&env, fatal, &library, &plan);
    let launcher = json!({
        "binary": std::env::current_exe().ok().map(|p| p.display().to_string()),
        "preflight": problems
            .iter()
            .map(|p| json!({ "severity": format!("{:?}", p.severity), "error": p.error.to_string() }))
            .collect::<Vec<_>>(),
        "zenml": zenml,
        "embedding_library": match &library {
            Ok(choice) => json!({ "path": choice.path.display().to_string(), "why": choice.why }),
            Err(why) => json!({ "path": null, "why": why.reason() }),
        },
        "libpython": libpython,
        "command_server": server,
    });
    let env_json = json!({
        "source": env.source.as_str(),
        "kind": env.kind.as_str(),
        "root": env.root.display().to_string(),
        "version": env.version.map(|v| v.to_string()),
    });
    let mut out = std::io::stdout().lock();
    if !as_json {
        print_text(&mut out, &env_json, &launcher)?;
    }
    let (Ok(choice), Ok(_)) = (library, plan) else {
        if as_json {
            let all = json!({ "env": env_json, "launcher": launcher });
            writeln!(out, "{all}")?;
        }
        return Ok(u8::from(fatal));
    };
    out.flush()?;
    drop(out);
    // The library prints the rest (one JSON object with `launcher` merged in, or `sys.*` lines).
    let args: Vec<std::ffi::OsString> = if as_json {
        vec![
            "json".into(),
            json!({ "launcher": launcher }).to_string().into(),
        ]
    } else {
        vec!["text".into()]
    };
    let code =
        in_process::call(&env, &choice, in_process::DESCRIBE_SYMBOL, &args).map_err(|why| {
            crate::error::UserError::new(
                format!("cannot run the embedding library: {why}"),
                "reinstall the launcher into this env: zenml-launcher self install",
            )
        })?;
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Which kind of command server this env gets, and why (`server::serve_main` makes the same
/// choice: the embedding library first, else the env's own python).
fn command_server(
    env: &env::PythonEnv,
    fatal: bool,
    library: &Result<in_process::LibraryChoice, Declined>,
    plan: &Result<in_process::LibPythonPlan, Declined>,
) -> Value {
    let none = |why: String| json!({ "kind": null, "why": why });
    if fatal {
        return none("the env failed its pre-flight checks".into());
    }
    if let Err(why) = server::enabled() {
        return none(format!("turned off: {}", why.reason()));
    }
    if let Err(why) = server_plan(env) {
        return none(why);
    }
    match (library, plan) {
        (Ok(choice), Ok(_)) => json!({
            "kind": ServerKind::Embedded.name(),
            "why": format!("the embedding library {} can start this env's interpreter", choice.path.display()),
        }),
        (Err(why), _) | (_, Err(why)) => json!({
            "kind": ServerKind::Python.name(),
            "why": format!("no embedded server: {}; the env's python runs the server", why.reason()),
        }),
    }
}

fn print_text(out: &mut impl Write, env: &Value, launcher: &Value) -> Result<()> {
    let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    writeln!(out, "launcher: {}", s(&launcher["binary"]))?;
    writeln!(
        out,
        "env: {} (source {}, kind {}, Python {})",
        s(&env["root"]),
        s(&env["source"]),
        s(&env["kind"]),
        s(&env["version"])
    )?;
    let problems = launcher["preflight"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if problems.is_empty() {
        writeln!(out, "preflight: ok")?;
    }
    for p in problems {
        writeln!(out, "preflight: {}: {}", s(&p["severity"]), s(&p["error"]))?;
    }
    let zenml = &launcher["zenml"];
    match zenml.get("error") {
        Some(e) => writeln!(out, "zenml: not found ({})", s(e))?,
        None => writeln!(
            out,
            "zenml: {} ({})",
            s(&zenml["version"]),
            s(&zenml["dist_info"])
        )?,
    }
    let lib = &launcher["embedding_library"];
    match lib["path"].as_str() {
        Some(path) => writeln!(out, "embedding library: {path} ({})", s(&lib["why"]))?,
        None => writeln!(
            out,
            "embedding library: none ({}); commands are answered in Rust or by the env's own python",
            s(&lib["why"])
        )?,
    }
    let libpython = &launcher["libpython"];
    match libpython["path"].as_str() {
        Some(path) => writeln!(out, "libpython: {path} ({})", s(&libpython["why"]))?,
        None => writeln!(out, "libpython: none ({})", s(&libpython["why"]))?,
    }
    let server = &launcher["command_server"];
    match server["kind"].as_str() {
        Some(kind) => writeln!(out, "command server: {kind} ({})", s(&server["why"]))?,
        None => writeln!(out, "command server: none ({})", s(&server["why"]))?,
    }
    Ok(())
}
