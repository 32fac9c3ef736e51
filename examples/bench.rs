//! Side-by-side benchmark of the launcher against what it replaces. Not a test: run it by hand
//! (or through scripts/demo.sh), preferably in release mode:
//!
//!     cargo run --release --example bench -- [--runs N] [--env <venv>] [--filter <substring>]
//!
//! Each case is a pair of commands, the launcher's and the reference's, each with its own argv
//! and extra environment (on top of a clean base: HOME, a system PATH, C.UTF-8, a private
//! ZENML_CONFIG_PATH and launcher cache under target/bench-tmp, analytics off). After warm-up runs, the two are run in N interleaved rounds
//! (launcher, reference, launcher, …) and the medians compared against the case's goal.
//!
//! Binaries are taken from the target directory this benchmark runs from (`target/<profile>/zenml`
//! and `target/<profile>/examples/*`). Under `cargo run` they are (re)built first with the same
//! profile, so they are never stale; `--no-build` skips that.
//!
//! To add a case, append to [`cases`].

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/common/tls_server.rs"]
mod tls_server;

use common::{profile_dir, worker_times};

/// The benchmark's team server (authentication and TLS), once started; stopped by [`stop_server`].
static TLS_SERVER: std::sync::Mutex<Option<tls_server::TlsServer>> = std::sync::Mutex::new(None);

#[derive(Parser)]
#[command(about = "Benchmark the zenml launcher side by side with the env's own tools")]
struct Args {
    /// Timed rounds per case (each round runs both commands once).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Untimed warm-up rounds per case.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// The venv to run in (needs zenml installed).
    #[arg(long, default_value_os_t = default_env())]
    env: PathBuf,
    /// Only run the cases whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Do not build the launcher binaries first (when run through cargo, they are built).
    #[arg(long)]
    no_build: bool,
    /// Exit with code 1 when a goal is not met.
    #[arg(long)]
    strict: bool,
}

fn default_env() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/envs/zenml-0.98.0")
}

/// One command line: program, arguments and the variables added to the clean base environment.
#[derive(Clone, Debug)]
struct Cmd {
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Cmd {
    fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            argv: vec![program.as_ref().to_owned()],
            env: Vec::new(),
        }
    }
    fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }
    fn display(&self) -> String {
        let vars = self
            .env
            .iter()
            .map(|(k, v)| format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        let argv = self
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        format!("{}{argv}", vars.collect::<String>())
    }
}

/// What "good enough" means for a case.
#[derive(Clone, Copy, Debug)]
enum Goal {
    /// The launcher adds at most this many milliseconds (delegation).
    MaxAddedMs(f64),
    /// The launcher takes at most this multiple of the reference's time.
    MaxSlowdown(f64),
    /// The launcher is at least this many times faster than the reference (for the cases the
    /// launcher answers without Python).
    MinSpeedup(f64),
}

impl Goal {
    fn describe(&self) -> String {
        match self {
            Goal::MaxAddedMs(ms) => format!("adds <= {ms} ms"),
            Goal::MaxSlowdown(x) => format!("<= {x}x reference"),
            Goal::MinSpeedup(x) => format!(">= {x}x faster"),
        }
    }
    fn met(&self, launcher_ms: f64, reference_ms: f64) -> bool {
        match *self {
            Goal::MaxAddedMs(ms) => launcher_ms - reference_ms <= ms,
            Goal::MaxSlowdown(x) => launcher_ms <= x * reference_ms,
            Goal::MinSpeedup(x) => reference_ms >= x * launcher_ms,
        }
    }
}

struct Case {
    name: &'static str,
    launcher: Cmd,
    reference: Cmd,
    goal: Option<Goal>,
    /// Creates what the case needs before its warm-up (run only when the case is selected).
    prepare: Option<fn(&Ctx) -> Result<()>>,
    /// Runs untimed after each launcher run (the cold-server case stops the server it started).
    settle: Option<fn(&Ctx) -> Result<()>>,
    /// A process spinning on one core runs beside the case (warm-up and rounds): the cold call
    /// must not lose to the Python CLI on a busy machine either.
    burner: bool,
}

/// Where things are.
struct Ctx {
    env: PathBuf,
    /// `target/<profile>`.
    profile_dir: PathBuf,
    /// `target/bench-tmp`: the private ZenML config and generated envs.
    scratch: PathBuf,
}

impl Ctx {
    fn zenml(&self) -> PathBuf {
        self.profile_dir.join("zenml")
    }
    fn example(&self, name: &str) -> PathBuf {
        self.profile_dir.join("examples").join(name)
    }
    /// The venv with `zenml[local,server]`, for the server cases.
    fn server_env(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/envs/zenml-0.98.0-server")
    }
    /// The private config dir connected to the benchmark's local ZenML server.
    fn server_config(&self) -> PathBuf {
        self.scratch.join("server-config")
    }
    /// Private configs with the same stacks named in other scripts or in ASCII (see
    /// [`make_name_configs`]).
    fn names_config(&self, unicode: bool) -> PathBuf {
        self.scratch.join(if unicode {
            "unicode-names-config"
        } else {
            "ascii-names-config"
        })
    }

    /// The private config dir logged in to the benchmark's HTTPS server.
    fn tls_config(&self) -> PathBuf {
        self.scratch.join("tls-config")
    }
    /// The socket dir of the benchmark's warm command servers.
    fn server_runtime(&self) -> PathBuf {
        self.scratch.join("server-run")
    }
    /// The private config dir whose local store holds 200 pipeline runs (see [`make_runs_store`]).
    fn runs_config(&self) -> PathBuf {
        self.scratch.join("runs-config")
    }
    /// The socket dir of the cold-server case (emptied after each of its runs).
    fn cold_runtime(&self) -> PathBuf {
        self.scratch.join("cold-server-run")
    }
    /// A venv whose "zenml" is a stub CLI that returns at once (see [`make_stub_env`]).
    fn stub_env(&self) -> PathBuf {
        self.scratch.join("stub-env")
    }
}

/// The benchmark cases. Extend here.
fn cases(ctx: &Ctx) -> Vec<Case> {
    let env = &ctx.env;
    vec![
        Case {
            name: "delegated zenml --version",
            launcher: Cmd::new(ctx.zenml())
                .args(["--version"])
                .env("VIRTUAL_ENV", env)
                .env("ZENML_USE_PYTHON_CLI", "1"),
            reference: Cmd::new(env.join("bin/zenml"))
                .args(["--version"])
                .env("VIRTUAL_ENV", env)
                .env("ZENML_USE_PYTHON_CLI", "1"),
            goal: Some(Goal::MaxAddedMs(3.0)),
            prepare: None,
            settle: None,
            burner: false,
        },
        // The same delegation with a CLI that returns at once, so that the launcher's few ms are
        // not lost in the noise of ZenML's ~1.5 s import.
        Case {
            name: "delegated stub CLI (overhead only)",
            launcher: Cmd::new(ctx.zenml())
                .args(["--version"])
                .env("VIRTUAL_ENV", ctx.stub_env())
                .env("ZENML_USE_PYTHON_CLI", "1"),
            reference: Cmd::new(ctx.stub_env().join("bin/zenml"))
                .args(["--version"])
                .env("VIRTUAL_ENV", ctx.stub_env())
                .env("ZENML_USE_PYTHON_CLI", "1"),
            goal: Some(Goal::MaxAddedMs(3.0)),
            prepare: Some(make_stub_env),
            settle: None,
            burner: false,
        },
        // Answered in Rust (no Python started; see tests/no_python.rs), against the Python CLI.
        rust_case(ctx, "zenml --version (Rust)", &["--version"]),
        rust_case(ctx, "zenml version (Rust)", &["version"]),
        rust_case(ctx, "zenml --help (Rust)", &["--help"]),
        // The warm-up round creates the private config and store (delegated first run).
        Case {
            goal: Some(Goal::MinSpeedup(500.0)),
            ..rust_case(ctx, "zenml status (Rust, local store)", &["status"])
        },
        Case {
            goal: Some(Goal::MinSpeedup(300.0)),
            ..rust_case(
                ctx,
                "zenml stack list (Rust, local store)",
                &["stack", "list"],
            )
        },
        // `clean` answered `n` (nothing is deleted), both sides behind the same `sh` pipe.
        Case {
            name: "zenml clean, answered n (Rust prompt)",
            launcher: Cmd::new("/bin/sh")
                .args(["-c", "echo n | \"$0\" clean"])
                .args([ctx.zenml()])
                .env("VIRTUAL_ENV", &ctx.env),
            reference: Cmd::new("/bin/sh")
                .args(["-c", "echo n | \"$0\" clean"])
                .args([ctx.env.join("bin/zenml")])
                .env("VIRTUAL_ENV", &ctx.env),
            goal: Some(Goal::MinSpeedup(300.0)),
            prepare: None,
            settle: None,
            burner: false,
        },
        Case {
            goal: Some(Goal::MinSpeedup(300.0)),
            ..rust_case(
                ctx,
                "zenml stack list -o json (Rust, local store)",
                &["stack", "list", "-o", "json"],
            )
        },
        // Tier 2 (the CLI's own code in the embedded interpreter, in-process), local store.
        Case {
            goal: Some(Goal::MinSpeedup(1.3)),
            ..rust_case(
                ctx,
                "zenml stack list --name contains:e (tier 2, local)",
                &["stack", "list", "--name", "contains:e"],
            )
        },
        // A local ZenML server (`zenml login --local`): read over REST by the Rust route, and
        // with a filter through tier 2.
        server_case(
            ctx,
            "zenml stack list (Rust, local server)",
            &["stack", "list"],
        ),
        server_case(
            ctx,
            "zenml stack list -o json (Rust, local server)",
            &["stack", "list", "-o", "json"],
        ),
        server_case(
            ctx,
            "zenml stack list --name contains:e (tier 2, server)",
            &["stack", "list", "--name", "contains:e"],
        ),
        // Stacks named in other scripts (issue #13): against the Python CLI, and against the
        // launcher on a config with the same stacks named in ASCII (goal: ≤ 1.5× that).
        names_case(
            ctx,
            "zenml status, Unicode names (Rust)",
            &["status"],
            500.0,
        ),
        names_ratio_case(ctx, "zenml status, Unicode vs ASCII names", &["status"]),
        names_case(
            ctx,
            "zenml stack list, Unicode names (Rust)",
            &["stack", "list"],
            300.0,
        ),
        names_ratio_case(
            ctx,
            "zenml stack list, Unicode vs ASCII names",
            &["stack", "list"],
        ),
        names_case(
            ctx,
            "zenml stack list -o yaml, Unicode names (Rust)",
            &["stack", "list", "-o", "yaml"],
            300.0,
        ),
        names_ratio_case(
            ctx,
            "zenml stack list -o yaml, Unicode vs ASCII names",
            &["stack", "list", "-o", "yaml"],
        ),
        // A team's server: authentication on, HTTPS with a private CA, logged in with a
        // service account's API key; read over REST with the stored token by the Rust routes.
        tls_case(ctx, "zenml status (Rust, HTTPS server)", &["status"]),
        tls_case(
            ctx,
            "zenml stack list (Rust, HTTPS server)",
            &["stack", "list"],
        ),
        tls_case(
            ctx,
            "zenml stack list -o json (Rust, HTTPS server)",
            &["stack", "list", "-o", "json"],
        ),
        // The warm command server (issue #11): the CLI's own code in a forked worker of a warm
        // interpreter, against the Python CLI; store-reading commands, help pages, completion.
        command_server_case(
            ctx,
            "zenml stack describe (server)",
            &["stack", "describe"],
            &[],
            40.0,
        ),
        command_server_case(
            ctx,
            "zenml pipeline list (server)",
            &["pipeline", "list"],
            &[],
            40.0,
        ),
        command_server_case(
            ctx,
            "zenml orchestrator list (server)",
            &["orchestrator", "list"],
            &[],
            40.0,
        ),
        command_server_case(
            ctx,
            "zenml project list (server)",
            &["project", "list"],
            &[],
            40.0,
        ),
        command_server_case(
            ctx,
            "zenml stack --help (server)",
            &["stack", "--help"],
            &[],
            100.0,
        ),
        command_server_case(
            ctx,
            "zenml pipeline runs list --help (server)",
            &["pipeline", "runs", "list", "--help"],
            &[],
            100.0,
        ),
        command_server_case(
            ctx,
            "completion: zenml stack de<TAB> (server)",
            &[],
            &[
                ("_ZENML_COMPLETE", "bash_complete"),
                ("COMP_WORDS", "zenml stack de"),
                ("COMP_CWORD", "2"),
            ],
            100.0,
        ),
        runs_case(
            ctx,
            "zenml pipeline runs list, 200 runs (server)",
            Kind::Embedded,
        ),
        // The same on the python kind of server (the env's own `bin/python` runs the server's
        // code: Pythons without a shared libpython, issue #19), forced here by an embedding
        // library that does not exist.
        python_server_case(
            ctx,
            "zenml stack describe (python server)",
            &["stack", "describe"],
            &[],
            40.0,
        ),
        python_server_case(
            ctx,
            "zenml pipeline list (python server)",
            &["pipeline", "list"],
            &[],
            40.0,
        ),
        python_server_case(
            ctx,
            "zenml orchestrator list (python server)",
            &["orchestrator", "list"],
            &[],
            40.0,
        ),
        python_server_case(
            ctx,
            "zenml project list (python server)",
            &["project", "list"],
            &[],
            40.0,
        ),
        python_server_case(
            ctx,
            "zenml stack --help (python server)",
            &["stack", "--help"],
            &[],
            100.0,
        ),
        python_server_case(
            ctx,
            "zenml pipeline runs list --help (python srv)",
            &["pipeline", "runs", "list", "--help"],
            &[],
            100.0,
        ),
        python_server_case(
            ctx,
            "completion: zenml stack de<TAB> (python srv)",
            &[],
            &[
                ("_ZENML_COMPLETE", "bash_complete"),
                ("COMP_WORDS", "zenml stack de"),
                ("COMP_CWORD", "2"),
            ],
            100.0,
        ),
        runs_case(
            ctx,
            "zenml pipeline runs list, 200 runs (python srv)",
            Kind::Python,
        ),
        // The call that finds no server: it starts one in the background and is delegated. After
        // each timed run the new server is waited for and stopped, untimed, so that its warm-up
        // does not slow the next run of either side.
        // The call that finds no server: it starts one in the background and is delegated. After
        // each timed run the new server is waited for and stopped, untimed, so that its warm-up
        // does not slow the next run of either side. Both kinds of server (issue #19), on a quiet
        // machine and beside a process spinning on one of its cores.
        cold_case(
            ctx,
            "zenml stack describe, cold server (starts it)",
            Kind::Embedded,
            false,
        ),
        cold_case(
            ctx,
            "zenml stack describe, cold python server",
            Kind::Python,
            false,
        ),
        cold_case(
            ctx,
            "stack describe, cold server, 1 core busy",
            Kind::Embedded,
            true,
        ),
        cold_case(
            ctx,
            "stack describe, cold python server, 1 core busy",
            Kind::Python,
            true,
        ),
        Case {
            name: "embedded start-up (init + import sys + finalize)",
            launcher: Cmd::new(ctx.example("embed_startup")).env("VIRTUAL_ENV", env),
            reference: Cmd::new(env.join("bin/python"))
                .args(["-c", "pass"])
                .env("VIRTUAL_ENV", env),
            goal: Some(Goal::MaxSlowdown(1.2)),
            prepare: None,
            settle: None,
            burner: false,
        },
    ]
}

/// A command the launcher answers in Rust, timed against the env's own Python CLI. The warm-up
/// round generates the launcher's per-distribution cache.
fn rust_case(ctx: &Ctx, name: &'static str, args: &[&str]) -> Case {
    cli_case(ctx, name, &ctx.env, &[], args, Goal::MinSpeedup(800.0))
}

/// A command on the config whose stacks have names in other scripts, launcher against the
/// Python CLI.
fn names_case(ctx: &Ctx, name: &'static str, args: &[&str], speedup: f64) -> Case {
    let config = ctx.names_config(true);
    Case {
        prepare: Some(make_name_configs),
        settle: None,
        burner: false,
        ..cli_case(
            ctx,
            name,
            &ctx.env,
            &[("ZENML_CONFIG_PATH", &config)],
            args,
            Goal::MinSpeedup(speedup),
        )
    }
}

/// The launcher on the Unicode-named config against the launcher on the ASCII-named one.
fn names_ratio_case(ctx: &Ctx, name: &'static str, args: &[&str]) -> Case {
    let side = |unicode: bool| {
        Cmd::new(ctx.zenml())
            .args(args.iter().copied())
            .env("VIRTUAL_ENV", &ctx.env)
            .env("ZENML_CONFIG_PATH", ctx.names_config(unicode))
    };
    Case {
        name,
        launcher: side(true),
        reference: side(false),
        goal: Some(Goal::MaxSlowdown(1.5)),
        prepare: Some(make_name_configs),
        settle: None,
        burner: false,
    }
}

/// Stack names a new user might choose (the same in spirit as tests/common/names.rs).
const UNICODE_NAMES: &[&str] = &[
    "Café-Producción",
    "本番環境スタック",
    "Ελληνικά στοίβα",
    "מחסנית עברית",
    "ml 🚀 stack ❤\u{FE0F} 👨\u{200D}👩\u{200D}👧",
    "cafe\u{301} na\u{303}o",
    "prod[1] [A] \\[b]",
    "it's \"q\" \\back\\slash",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語",
    "stack 42 True /tmp/x https://zenml.io 1619aab9-cf33-4f2f-b291-22f5050654c7",
];

/// Two private configs, each with a component of two types and one stack per name, the
/// second-named stack active: names from [`UNICODE_NAMES`], or ASCII names of the same lengths
/// (in code points). Created once (through ZenML's client); kept across runs.
fn make_name_configs(ctx: &Ctx) -> Result<()> {
    for unicode in [true, false] {
        let config = ctx.names_config(unicode);
        let done = config.join(".bench-ready");
        if done.exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(&config);
        let names: Vec<String> = UNICODE_NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if unicode {
                    n.to_string()
                } else {
                    let base = format!("stack-{i}-");
                    let len = n.chars().count().max(base.len());
                    format!("{base:x<len$}")
                }
            })
            .collect();
        let (store, orchestrator) = if unicode {
            ("artefacts-données 日本", "编排器 [1] 🚀")
        } else {
            ("artefacts-donnees xy", "orchestr [1] ab")
        };
        let script = ctx.scratch.join("make_names_config.py");
        std::fs::write(
            &script,
            "import json, sys\n\
             from zenml.client import Client\n\
             names, store, orch = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]\n\
             c = Client()\n\
             c.create_stack_component(name=store, flavor='local', component_type='artifact_store', configuration={})\n\
             c.create_stack_component(name=orch, flavor='local', component_type='orchestrator', configuration={})\n\
             for i, n in enumerate(names):\n    \
                 c.create_stack(name=n, components={'orchestrator': orch if i % 2 else 'default', 'artifact_store': store if i % 3 else 'default'})\n\
             c.activate_stack(names[1])\n",
        )?;
        let out = base_command(&Cmd::new(ctx.env.join("bin/python")), &ctx.scratch)
            .arg(&script)
            .arg(serde_json::to_string(&names)?)
            .args([store, orchestrator])
            .env("ZENML_CONFIG_PATH", &config)
            .env("VIRTUAL_ENV", &ctx.env)
            .output()
            .context("cannot run the env's python")?;
        if !out.status.success() {
            bail!(
                "creating {} failed: {}",
                config.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::write(&done, b"")?;
    }
    Ok(())
}

/// `stack list` against the benchmark's local ZenML server, both sides in the server venv.
fn server_case(ctx: &Ctx, name: &'static str, args: &[&str]) -> Case {
    let config = ctx.server_config();
    Case {
        prepare: Some(start_server),
        settle: None,
        burner: false,
        ..cli_case(
            ctx,
            name,
            &ctx.server_env(),
            &[("ZENML_CONFIG_PATH", &config)],
            args,
            Goal::MinSpeedup(1.3),
        )
    }
}

/// `zenml <args>` (and `vars`) through the launcher's warm command server, against the Python
/// CLI, on the benchmark's local store.
fn command_server_case(
    ctx: &Ctx,
    name: &'static str,
    args: &[&str],
    vars: &[(&str, &str)],
    speedup: f64,
) -> Case {
    let side = |program: PathBuf| {
        vars.iter().fold(
            Cmd::new(program)
                .args(args.iter().copied())
                .env("VIRTUAL_ENV", &ctx.env),
            |cmd, (k, v)| cmd.env(k, v),
        )
    };
    Case {
        name,
        launcher: side(ctx.zenml())
            .env("ZENML_LAUNCHER_SERVER", "1")
            .env("ZENML_LAUNCHER_RUNTIME_DIR", ctx.server_runtime()),
        reference: side(ctx.env.join("bin/zenml")),
        goal: Some(Goal::MinSpeedup(speedup)),
        prepare: Some(warm_command_server),
        settle: None,
        burner: false,
    }
}

/// Which kind of command server a case runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The embedding library's interpreter (the default where the env's Python has a shared
    /// libpython).
    Embedded,
    /// The env's own `bin/python` (no usable embedding library).
    Python,
}

/// An embedding library that does not exist: the server falls back to the python kind. It is a
/// `ZENML_*` variable, so the server has a key of its own, beside the embedded one.
const NO_LIBRARY: (&str, &str) = (
    "ZENML_LAUNCHER_EMBED_LIB",
    "/nonexistent/libzenml_launcher_embed.so",
);

impl Cmd {
    /// The same command, served by a server of `kind`.
    fn on(self, kind: Kind) -> Cmd {
        match kind {
            Kind::Embedded => self,
            Kind::Python => self.env(NO_LIBRARY.0, NO_LIBRARY.1),
        }
    }
}

/// [`command_server_case`] on the python kind of server.
fn python_server_case(
    ctx: &Ctx,
    name: &'static str,
    args: &[&str],
    vars: &[(&str, &str)],
    speedup: f64,
) -> Case {
    let case = command_server_case(ctx, name, args, vars, speedup);
    Case {
        launcher: case.launcher.on(Kind::Python),
        prepare: Some(warm_python_command_server),
        ..case
    }
}

/// `zenml pipeline runs list` through a warm server of `kind`, on a local store with 200 runs
/// (its own config dir, so its own server).
fn runs_case(ctx: &Ctx, name: &'static str, kind: Kind) -> Case {
    let case = command_server_case(ctx, name, &["pipeline", "runs", "list"], &[], 40.0);
    let config = ctx.runs_config();
    Case {
        launcher: case.launcher.env("ZENML_CONFIG_PATH", &config).on(kind),
        reference: case.reference.env("ZENML_CONFIG_PATH", &config),
        prepare: Some(match kind {
            Kind::Embedded => |ctx: &Ctx| {
                make_runs_store(ctx)?;
                warm_server_with(ctx, Kind::Embedded, Some(&ctx.runs_config()))
            },
            Kind::Python => |ctx: &Ctx| {
                make_runs_store(ctx)?;
                warm_server_with(ctx, Kind::Python, Some(&ctx.runs_config()))
            },
        }),
        ..case
    }
}

/// The number of pipeline runs in [`Ctx::runs_config`]'s store.
const STORE_RUNS: usize = 200;

/// A local store with [`STORE_RUNS`] pipeline runs, made once (kept under target/bench-tmp,
/// marked complete at the end): one run of a one-step pipeline by ZenML, then the others
/// created through the store from that run's snapshot, each completed.
fn make_runs_store(ctx: &Ctx) -> Result<()> {
    let config = ctx.runs_config();
    let marker = config.join(".bench-complete");
    if marker.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&config);
    let src = ctx.scratch.join("runs-src");
    std::fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    let script = format!(
        "from datetime import datetime, timedelta, timezone\n\
         from zenml import pipeline, step\n\
         from zenml.client import Client\n\
         from zenml.enums import ExecutionStatus\n\
         from zenml.models import PipelineRunRequest, PipelineRunUpdate\n\
         @step\n\
         def make() -> int:\n    return 42\n\
         @pipeline\n\
         def bench_pipeline():\n    make()\n\
         first = bench_pipeline()\n\
         client = Client()\n\
         store, project = client.zen_store, client.active_project.id\n\
         start = datetime.now(timezone.utc)\n\
         for i in range(1, {STORE_RUNS}):\n    \
             run, _ = store.get_or_create_run(PipelineRunRequest(\n        \
                 name=f'bench-run-{{i:03}}', snapshot=first.snapshot.id, project=project,\n        \
                 status=ExecutionStatus.RUNNING, start_time=start + timedelta(seconds=i)))\n    \
             store.update_run(run.id, PipelineRunUpdate(\n        \
                 status=ExecutionStatus.COMPLETED, end_time=start + timedelta(seconds=i + 1)))\n\
         total = client.list_pipeline_runs(size=1).total\n\
         assert total == {STORE_RUNS}, total\n"
    );
    std::fs::write(src.join("runs.py"), script)?;
    let python = Cmd::new(ctx.env.join("bin/python"))
        .args(["runs.py"])
        .env("VIRTUAL_ENV", &ctx.env)
        .env("ZENML_CONFIG_PATH", &config);
    let out = base_command(&python, &ctx.scratch)
        .current_dir(&src)
        .stdin(Stdio::null())
        .output()
        .context("cannot run the env's python")?;
    if !out.status.success() {
        bail!(
            "making a store with {STORE_RUNS} pipeline runs in {} failed ({}):\n{}",
            config.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(&marker, "")?;
    Ok(())
}

/// `zenml stack describe` that finds no server of `kind` (see [`settle_cold_server`]), optionally
/// beside a process spinning on one core.
fn cold_case(ctx: &Ctx, name: &'static str, kind: Kind, burner: bool) -> Case {
    let env = &ctx.env;
    let launcher = Cmd::new(ctx.zenml())
        .args(["stack", "describe"])
        .env("VIRTUAL_ENV", env)
        .env("ZENML_LAUNCHER_SERVER", "1")
        .env("ZENML_LAUNCHER_RUNTIME_DIR", ctx.cold_runtime())
        .on(kind);
    Case {
        name,
        launcher,
        reference: Cmd::new(env.join("bin/zenml"))
            .args(["stack", "describe"])
            .env("VIRTUAL_ENV", env),
        goal: Some(Goal::MaxSlowdown(1.05)),
        prepare: Some(|ctx| private_dir(&ctx.cold_runtime())),
        settle: Some(|ctx| settle_cold_server(&ctx.cold_runtime())),
        burner,
    }
}

/// A process spinning on one core until dropped (the env's python: `while True: pass`).
struct Burner(std::process::Child);

impl Burner {
    fn start(env: &Path) -> Result<Burner> {
        Command::new(env.join("bin/python"))
            .args(["-c", "while True: pass"])
            .stdin(Stdio::null())
            .spawn()
            .map(Burner)
            .with_context(|| format!("cannot start {}/bin/python", env.display()))
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Creates `dir` with mode 0700 (a socket dir the launcher accepts).
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Starts the benchmark's command server and waits until a call is served by it.
fn warm_command_server(ctx: &Ctx) -> Result<()> {
    warm_server_of(ctx, Kind::Embedded)
}

/// The same for the python kind of server.
fn warm_python_command_server(ctx: &Ctx) -> Result<()> {
    warm_server_of(ctx, Kind::Python)
}

fn warm_server_of(ctx: &Ctx, kind: Kind) -> Result<()> {
    warm_server_with(ctx, kind, None)
}

/// Waits until a server of `kind` answers, for the benchmark's config dir or `config`.
fn warm_server_with(ctx: &Ctx, kind: Kind, config: Option<&Path>) -> Result<()> {
    private_dir(&ctx.server_runtime())?;
    let probe = Cmd::new(ctx.zenml())
        .args(["stack", "--help"])
        .env("VIRTUAL_ENV", &ctx.env)
        .env("ZENML_LAUNCHER_SERVER", "1")
        .env("ZENML_LAUNCHER_RUNTIME_DIR", ctx.server_runtime())
        .env("ZENML_DEBUG_PYTHON", "1")
        .on(kind);
    let probe = match config {
        Some(config) => probe.env("ZENML_CONFIG_PATH", config),
        None => probe,
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let out = base_command(&probe, &ctx.scratch)
            .stdin(Stdio::null())
            .output()
            .context("cannot run the launcher")?;
        let served_by = match kind {
            Kind::Embedded => "embedded server)",
            Kind::Python => "python server)",
        };
        if String::from_utf8_lossy(&out.stderr)
            .lines()
            .any(|l| l.contains("route: server") && l.ends_with(served_by))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the command server did not come up in 180 s; its log is in {}",
                ctx.server_runtime().display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Waits (up to 3 minutes) for the server the cold case started, then stops it.
fn settle_cold_server(dir: &Path) -> Result<()> {
    use zenml_launcher::python::server;
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let servers = server::list(dir);
        if let Some(files) = servers.first() {
            if server::info_pid(files).is_some() {
                server::stop(files, std::time::Duration::from_secs(10));
                return Ok(());
            }
        }
        let failed = std::fs::read_dir(dir)?
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "starting"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .filter(|t| t.starts_with("failed: "));
        if let Some(why) = failed {
            bail!("the cold server did not start: {why}");
        }
        if Instant::now() > deadline {
            bail!(
                "the cold server did not come up in 180 s ({})",
                dir.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The warm server's resident memory and its workers' times (fork to exit, from its log).
fn report_command_servers(ctx: &Ctx) {
    use zenml_launcher::python::server;
    for files in server::list(&ctx.server_runtime()) {
        let pid = server::info_pid(&files).unwrap_or(0);
        let rss = server::rss_kib(pid).map_or_else(
            || "?".to_string(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        );
        let log = std::fs::read_to_string(&files.log).unwrap_or_default();
        let mut times = worker_times(&log);
        let n = times.len();
        let (med, max) = if n == 0 {
            (0.0, 0.0)
        } else {
            let max = times.iter().cloned().fold(0.0, f64::max);
            (median(&mut times), max)
        };
        let kind = server::info(&files)
            .and_then(|i| Some(i.get("kind")?.as_str()?.to_string()))
            .unwrap_or_else(|| "?".into());
        println!(
            "command server {} ({kind} kind, pid {pid}): RSS {rss}; {n} workers, fork to exit median {med:.1} ms, max {max:.1} ms",
            files.name
        );
    }
}

/// The length of each warm server's log now, to read what a case's calls add to them.
fn server_log_marks(ctx: &Ctx) -> Vec<(PathBuf, u64)> {
    use zenml_launcher::python::server;
    server::list(&ctx.server_runtime())
        .into_iter()
        .map(|files| {
            let len = std::fs::metadata(&files.log).map_or(0, |m| m.len());
            (files.log, len)
        })
        .collect()
}

/// The fork-to-exit median (ms) of the workers whose lines were added to the logs since
/// `marks` (a case's timed launcher runs: nothing else calls the warm servers meanwhile).
fn worker_median_since(ctx: &Ctx, marks: &[(PathBuf, u64)]) -> Option<f64> {
    use std::io::{Read, Seek, SeekFrom};
    use zenml_launcher::python::server;
    let mut times = Vec::new();
    for files in server::list(&ctx.server_runtime()) {
        let from = marks
            .iter()
            .find(|(log, _)| *log == files.log)
            .map_or(0, |(_, len)| *len);
        let mut added = String::new();
        let Ok(mut file) = std::fs::File::open(&files.log) else {
            continue;
        };
        if file.seek(SeekFrom::Start(from)).is_ok() {
            let _ = file.read_to_string(&mut added);
        }
        times.extend(worker_times(&added));
    }
    (!times.is_empty()).then(|| median(&mut times))
}

fn stop_command_servers(ctx: &Ctx) {
    use zenml_launcher::python::server;
    for dir in [ctx.server_runtime(), ctx.cold_runtime()] {
        for files in server::list(&dir) {
            server::stop(&files, std::time::Duration::from_secs(5));
        }
    }
}

/// `zenml <args>` against the benchmark's HTTPS server with authentication, both sides in the
/// server venv.
fn tls_case(ctx: &Ctx, name: &'static str, args: &[&str]) -> Case {
    let config = ctx.tls_config();
    Case {
        prepare: Some(start_tls_server),
        settle: None,
        burner: false,
        ..cli_case(
            ctx,
            name,
            &ctx.server_env(),
            &[("ZENML_CONFIG_PATH", &config)],
            args,
            Goal::MinSpeedup(20.0),
        )
    }
}

/// Deploys the HTTPS server with authentication (once per benchmark run) and logs a private
/// config in to it with a service account's API key and the CA (`--ssl-ca-cert`), then adds two
/// stacks through the Python CLI.
fn start_tls_server(ctx: &Ctx) -> Result<()> {
    let mut slot = TLS_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return Ok(());
    }
    let env = server_env_checked(ctx)?;
    let dir = ctx.scratch.join("tls-server");
    let config = ctx.tls_config();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&config);
    let server = slot.insert(tls_server::TlsServer::start(&env, &dir));
    let zenml = Cmd::new(env.join("bin/zenml"))
        .env("VIRTUAL_ENV", &env)
        .env("ZENML_CONFIG_PATH", &config);
    let login = zenml
        .clone()
        .args(["login", &server.url, "--api-key", "--ssl-ca-cert"])
        .args([&server.ca]);
    server.login(base_command(&login, &ctx.scratch));
    register_bench_stacks(ctx, &zenml, "default")
}

/// `zenml <args>` through the launcher and through `env`'s own Python CLI, with `VIRTUAL_ENV`
/// and `vars` set on both sides.
fn cli_case(
    ctx: &Ctx,
    name: &'static str,
    env: &Path,
    vars: &[(&str, &Path)],
    args: &[&str],
    goal: Goal,
) -> Case {
    let side = |program: PathBuf| {
        vars.iter().fold(
            Cmd::new(program)
                .args(args.iter().copied())
                .env("VIRTUAL_ENV", env),
            |cmd, (k, v)| cmd.env(k, v),
        )
    };
    Case {
        name,
        launcher: side(ctx.zenml()),
        reference: side(env.join("bin/zenml")),
        goal: Some(goal),
        prepare: None,
        settle: None,
        burner: false,
    }
}

/// Deploys a local ZenML server for the server cases (once per benchmark run), with three
/// stacks, through the Python CLI. [`stop_server`] shuts it down at the end.
fn start_server(ctx: &Ctx) -> Result<()> {
    let config = ctx.server_config();
    if config.join("zen_server").exists() {
        return Ok(());
    }
    let env = server_env_checked(ctx)?;
    let _ = std::fs::remove_dir_all(&config);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();
    let zenml = Cmd::new(env.join("bin/zenml"))
        .env("VIRTUAL_ENV", &env)
        .env("ZENML_CONFIG_PATH", &config)
        .env("ZENML_AUTO_OPEN_DASHBOARD", "false");
    warm_up(
        &zenml.clone().args(["login", "--local", "--port", &port]),
        &ctx.scratch,
    )?;
    register_bench_stacks(ctx, &zenml, "bench-orch")
}

/// The server env, or an error that says how to create it.
fn server_env_checked(ctx: &Ctx) -> Result<PathBuf> {
    let env = ctx.server_env();
    if !env.join("bin/zenml").exists() {
        bail!(
            "{} is missing: create it with `bash scripts/provision-envs.sh zenml-0.98.0-server`",
            env.display()
        );
    }
    Ok(env)
}

/// The servers' stacks, through the Python CLI `zenml`: an artifact store, `bench-one` with
/// `orchestrator` (registered first unless it is `default`) and `bench-two` with the default one.
fn register_bench_stacks(ctx: &Ctx, zenml: &Cmd, orchestrator: &str) -> Result<()> {
    let mut steps: Vec<Vec<&str>> = vec![vec![
        "artifact-store",
        "register",
        "bench-as",
        "-f",
        "local",
    ]];
    if orchestrator != "default" {
        steps.push(vec![
            "orchestrator",
            "register",
            orchestrator,
            "-f",
            "local",
        ]);
    }
    steps.push(vec![
        "stack",
        "register",
        "bench-one",
        "-a",
        "bench-as",
        "-o",
        orchestrator,
    ]);
    steps.push(vec![
        "stack",
        "register",
        "bench-two",
        "-a",
        "bench-as",
        "-o",
        "default",
    ]);
    for step in steps {
        warm_up(&zenml.clone().args(step), &ctx.scratch)?;
    }
    Ok(())
}

fn stop_server(ctx: &Ctx) {
    // Dropping it stops the HTTPS server's process group.
    drop(TLS_SERVER.lock().unwrap_or_else(|e| e.into_inner()).take());
    if ctx.server_config().join("zen_server").exists() {
        let env = ctx.server_env();
        let logout = Cmd::new(env.join("bin/zenml"))
            .args(["logout", "--local"])
            .env("VIRTUAL_ENV", &env)
            .env("ZENML_CONFIG_PATH", ctx.server_config());
        if let Err(err) = warm_up(&logout, &ctx.scratch) {
            eprintln!("bench: the local ZenML server did not stop: {err:#}");
        }
        let _ = std::fs::remove_dir_all(ctx.server_config());
    }
}

/// A venv made by the `--env` venv's python, with a `zenml` distribution whose console script
/// (written the way installers write it) calls a function that returns 0.
fn make_stub_env(ctx: &Ctx) -> Result<()> {
    let dir = ctx.stub_env();
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(ctx.env.join("bin/python"))
        .args(["-m", "venv", "--without-pip"])
        .arg(&dir)
        .env_remove("VIRTUAL_ENV")
        .status()
        .context("cannot create the stub venv")?;
    if !status.success() {
        bail!("creating {} failed ({status})", dir.display());
    }
    let site = std::fs::read_dir(dir.join("lib"))?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .context("stub venv without site-packages")?;
    let dist = site.join("zenml-0.0.0.dist-info");
    std::fs::create_dir_all(&dist)?;
    std::fs::write(
        dist.join("METADATA"),
        "Metadata-Version: 2.1\nName: zenml\nVersion: 0.0.0\n",
    )?;
    std::fs::write(
        dist.join("entry_points.txt"),
        "[console_scripts]\nzenml = stub_zenml_cli:cli\n",
    )?;
    std::fs::write(site.join("stub_zenml_cli.py"), "def cli():\n    return 0\n")?;
    let script = dir.join("bin/zenml");
    std::fs::write(
        &script,
        format!(
            "#!{}\n# -*- coding: utf-8 -*-\nimport sys\nfrom stub_zenml_cli import cli\n\
             if __name__ == \"__main__\":\n    sys.exit(cli())\n",
            dir.join("bin/python").display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The clean base environment every run starts from.
fn base_command(cmd: &Cmd, scratch: &Path) -> Command {
    let mut c = Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .env_clear()
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| scratch.into()),
        )
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("ZENML_CONFIG_PATH", scratch.join("zenml-config"))
        .env("ZENML_LAUNCHER_CACHE_DIR", scratch.join("launcher-cache"))
        .env("ZENML_ANALYTICS_OPT_IN", "false")
        .env("ZENML_LAUNCHER_SERVER", "0")
        .current_dir(scratch);
    for (k, v) in &cmd.env {
        c.env(k, v);
    }
    c
}

/// One timed run, output discarded; fails on a non-zero exit. Returns the wall time (ms) and
/// the peak resident set size (KiB).
fn time_once(cmd: &Cmd, scratch: &Path) -> Result<(f64, u64)> {
    let mut c = base_command(cmd, scratch);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let child = c
        .spawn()
        .with_context(|| format!("cannot run {}", cmd.display()))?;
    let (code, rss_kib) = zenml_launcher::os::wait_with_peak_rss(&child)?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if code != 0 {
        bail!(
            "{} failed (exit {code}); run it by hand to see why",
            cmd.display()
        );
    }
    Ok((ms, rss_kib))
}

/// A warm-up run with output kept, so that a failure shows its message.
fn warm_up(cmd: &Cmd, scratch: &Path) -> Result<()> {
    let out = base_command(cmd, scratch)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", cmd.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            cmd.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Under `cargo run`, builds the launcher and the helper examples with the same profile and into
/// the same target dir, so that the benchmark never times stale binaries.
fn build(profile_dir: &Path) -> Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let profile = profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug");
    let target_dir = profile_dir.parent().context("target dir")?;
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .args([
            "--workspace",
            "--lib",
            "--bin",
            "zenml",
            "--example",
            "embed_startup",
        ]);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("building the launcher binaries failed ({status})");
    }
    Ok(())
}

fn run(args: &Args) -> Result<bool> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let profile_dir = profile_dir()?;
    if !args.no_build {
        build(&profile_dir)?;
    }
    let env = std::path::absolute(&args.env).context("--env")?;
    if !env.join("bin/python").exists() {
        bail!(
            "{} is not a venv (no bin/python); create it with scripts/provision-envs.sh or pass --env",
            env.display()
        );
    }
    let scratch = profile_dir
        .parent()
        .unwrap_or(&profile_dir)
        .join("bench-tmp");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let ctx = Ctx {
        env,
        profile_dir,
        scratch,
    };

    let selected: Vec<Case> = cases(&ctx)
        .into_iter()
        .filter(|c| args.filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();
    let load_selected = args.filter.as_deref().is_none_or(|f| LOAD_CASE.contains(f));
    if selected.is_empty() && !load_selected {
        bail!(
            "no case matches --filter {:?}",
            args.filter.as_deref().unwrap_or("")
        );
    }
    for case in &selected {
        if let Some(prepare) = case.prepare {
            if let Err(err) = prepare(&ctx) {
                stop_server(&ctx);
                return Err(err.context(format!("preparing {:?}", case.name)));
            }
        }
        for cmd in [&case.launcher, &case.reference] {
            if !Path::new(&cmd.argv[0]).exists() {
                stop_server(&ctx);
                bail!(
                    "{} is missing: build it with `cargo build --profile <profile> --bins --examples` \
                     (or run this benchmark through `cargo run --example bench`)",
                    Path::new(&cmd.argv[0]).display()
                );
            }
        }
    }

    println!(
        "env {}; binaries from {}; {} warm-up + {} interleaved rounds per case; medians in ms",
        ctx.env.display(),
        ctx.profile_dir.display(),
        args.warmup,
        args.runs
    );
    let mut rows = Vec::new();
    for case in &selected {
        println!("- {}", case.name);
        println!("    launcher:  {}", case.launcher.display());
        println!("    reference: {}", case.reference.display());
        let measured = measure(case, args, &ctx);
        if let Err(err) = &measured {
            println!("    failed: {err:#}");
        }
        rows.push((case, measured));
    }
    report_command_servers(&ctx);
    stop_command_servers(&ctx);
    stop_server(&ctx);
    let load = if load_selected {
        Some(library_load(&ctx, args.runs))
    } else {
        None
    };

    println!();
    println!(
        "{:<50} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>8}  {:<20} result",
        "case",
        "launcher",
        "reference",
        "ref/ours",
        "added ms",
        "RSS MiB",
        "ref MiB",
        "fork>exit",
        "goal"
    );
    let mut all_met = true;
    let mut failed = 0;
    for (case, measured) in rows {
        let goal = case.goal.map_or_else(|| "-".to_string(), |g| g.describe());
        let Ok(Measured {
            worker_ms,
            ours,
            theirs,
            ours_mib,
            theirs_mib,
        }) = measured
        else {
            failed += 1;
            println!(
                "{:<50} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>8}  {:<20} FAILED (see above)",
                case.name, "-", "-", "-", "-", "-", "-", "-", goal
            );
            continue;
        };
        let verdict = match case.goal {
            Some(g) if g.met(ours, theirs) => "met",
            Some(_) => {
                all_met = false;
                "NOT met"
            }
            None => "-",
        };
        println!(
            "{:<50} {:>10.1} {:>10.1} {:>7.2}x {:>+9.1} {:>9.1} {:>9.1} {:>8}  {:<20} {}",
            case.name,
            ours,
            theirs,
            theirs / ours,
            ours - theirs,
            ours_mib,
            theirs_mib,
            worker_ms.map_or_else(|| "-".to_string(), |ms| format!("{ms:.1}")),
            goal,
            verdict
        );
    }
    match load {
        Some(Ok((linked, loaded))) => {
            let met = loaded - linked <= 2.0;
            all_met &= met;
            println!(
                "{:<50} {:>10.2} {:>10.2} {:>8} {:>+9.2} {:>9} {:>9} {:>8}  {:<20} {}",
                LOAD_CASE,
                loaded,
                linked,
                "-",
                loaded - linked,
                "-",
                "-",
                "-",
                "adds <= 2 ms",
                if met { "met" } else { "NOT met" }
            );
        }
        Some(Err(err)) => {
            failed += 1;
            println!("{LOAD_CASE}: FAILED: {err:#}");
        }
        None => {}
    }
    if failed > 0 {
        bail!("{failed} case(s) could not be measured");
    }
    Ok(all_met)
}

const LOAD_CASE: &str = "library load: libpython + unlinked lib vs linked";

/// What loading costs before any Python runs (issue #17): the env's libpython loaded by the
/// launcher, then the wheel's kind of embedding library (linked to no libpython, built by
/// scripts/build-embed.sh with this profile), against this build's own library, linked to its
/// libpython (what the launcher loaded before the wheel). Both sides are a tier-2 call
/// (`stack list --name contains:def`), N interleaved rounds; the figure is the launcher's own
/// `in-process: loaded in X ms` debug line (finding libpython included), whose path the
/// command server's start takes too (`in_process::call`). Returns the medians (linked, unlinked).
fn library_load(ctx: &Ctx, runs: usize) -> Result<(f64, f64)> {
    println!("- {LOAD_CASE}");
    let linked = ctx.profile_dir.join("libzenml_launcher_embed.so");
    let needed = zenml_launcher::env::libpython::needed_libraries(&linked)
        .with_context(|| format!("cannot read {}", linked.display()))?;
    if !needed.iter().any(|n| n.starts_with(b"libpython")) {
        bail!(
            "{} links no libpython: build it with PYO3_PYTHON set to the env's base Python",
            linked.display()
        );
    }
    let out = Command::new(ctx.env.join("bin/python"))
        .args([
            "-c",
            "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')",
        ])
        .output()
        .context("cannot run the env's python")?;
    let tag = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let profile = ctx
        .profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug");
    let unlinked_dir = ctx.scratch.join("embed-unlinked");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(repo.join("scripts/build-embed.sh"))
        .arg(&unlinked_dir)
        .arg(&tag)
        .env(
            "ZENML_LAUNCHER_BUILD_PROFILE",
            if profile == "debug" { "dev" } else { profile },
        )
        .env(
            "CARGO_TARGET_DIR",
            ctx.profile_dir.parent().context("target dir")?,
        )
        .status()
        .context("cannot run scripts/build-embed.sh")?;
    if !status.success() {
        bail!("scripts/build-embed.sh {tag} failed ({status})");
    }
    let unlinked = unlinked_dir.join(&tag).join("libzenml_launcher_embed.so");
    let side = |lib: &Path| {
        Cmd::new(ctx.zenml())
            .args(["stack", "list", "--name", "contains:def"])
            .env("VIRTUAL_ENV", &ctx.env)
            .env("ZENML_DEBUG_PYTHON", "1")
            .env("ZENML_LAUNCHER_EMBED_LIB", lib)
    };
    let (ours, theirs) = (side(&unlinked), side(&linked));
    println!("    launcher:  {}", ours.display());
    println!("    reference: {}", theirs.display());
    let loaded_ms = |cmd: &Cmd| -> Result<f64> {
        let out = base_command(cmd, &ctx.scratch)
            .stdin(Stdio::null())
            .output()
            .context("cannot run the launcher")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("{} failed: {stderr}", cmd.display());
        }
        stderr
            .lines()
            .find_map(|l| {
                l.split("in-process: loaded in ")
                    .nth(1)?
                    .strip_suffix(" ms")?
                    .parse()
                    .ok()
            })
            .with_context(|| format!("no `loaded in` line (not run in-process?): {stderr}"))
    };
    loaded_ms(&ours)?;
    loaded_ms(&theirs)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(loaded_ms(&ours)?);
        b.push(loaded_ms(&theirs)?);
    }
    Ok((median(&mut b), median(&mut a)))
}

/// Medians of one case: wall ms and peak RSS (MiB), launcher and reference.
struct Measured {
    /// The served calls' fork-to-exit median (ms), for a case on a warm server.
    worker_ms: Option<f64>,
    ours: f64,
    theirs: f64,
    ours_mib: f64,
    theirs_mib: f64,
}

/// Warm-up, then interleaved timed rounds.
fn measure(case: &Case, args: &Args, ctx: &Ctx) -> Result<Measured> {
    let scratch = &ctx.scratch;
    let _burner = if case.burner {
        Some(Burner::start(&ctx.env)?)
    } else {
        None
    };
    for _ in 0..args.warmup {
        warm_up(&case.launcher, scratch)?;
        if let Some(settle) = case.settle {
            settle(ctx)?;
        }
        warm_up(&case.reference, scratch)?;
    }
    let served =
        case.launcher.env.iter().any(|(k, v)| {
            k == "ZENML_LAUNCHER_RUNTIME_DIR" && Path::new(v) == ctx.server_runtime()
        });
    let marks = if served {
        server_log_marks(ctx)
    } else {
        Vec::new()
    };
    let (mut ours, mut theirs, mut ours_rss, mut theirs_rss) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let (ms, kib) = time_once(&case.launcher, scratch)?;
        ours.push(ms);
        ours_rss.push(kib as f64 / 1024.0);
        if let Some(settle) = case.settle {
            settle(ctx)?;
        }
        let (ms, kib) = time_once(&case.reference, scratch)?;
        theirs.push(ms);
        theirs_rss.push(kib as f64 / 1024.0);
    }
    Ok(Measured {
        worker_ms: if served {
            worker_median_since(ctx, &marks)
        } else {
            None
        },
        ours: median(&mut ours),
        theirs: median(&mut theirs),
        ours_mib: median(&mut ours_rss),
        theirs_mib: median(&mut theirs_rss),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) if args.strict => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
