//! Soak of the warm command server (issue #22): many served calls in a row and in parallel, for
//! each kind of server, watching what a long-lived fork server leaks. Not a test: run it by hand,
//! in release mode:
//!
//!     cargo run --release --example soak -- [--env target/envs/zenml-0.98.0] [--kind both]
//!         [--serial 1000] [--parallel 500] [--sample 50]
//!
//! For each kind (`embedded`: the embedding library; `python`: the env's own python, forced with
//! `ZENML_LAUNCHER_EMBED_LIB=/nonexistent/…`), in a private ZenML config and socket dir under
//! `target/soak-tmp`: warms the server, then
//! 1. `--serial` calls in a row, cycling through reads (`stack describe`, `pipeline list`), help
//!    (`stack --help`) and completion (`zenml stack de<TAB>`);
//! 2. `--parallel` calls from 2 clients at once, then `--parallel` calls from 8;
//!
//! and reports: failures (an exit code other than 0, or a call the server did not run, counted
//! from its log), outputs different from the CLI's (every `--sample`-th call's bytes against a
//! fresh run of the Python CLI, after the phase so that the timing is the server's alone), the
//! master's RSS and open fds before and after (`/proc`), zombie and orphan workers at the end,
//! and the throughput in calls/s at 1, 2 and 8 clients. It exits 1 when a call failed or
//! differed, the RSS grew by more than 5%, the fd count grew, or a worker was left.
//!
//! One exception, in the concurrent phases only, counted apart: ZenML rewrites its global
//! `config.yaml` in place (truncate, then write) several times per store command, so a command
//! reading it at that moment finds it empty (it prints its initialisation lines again: "Setting
//! the global active stack to default.") or half written (a YAML error from
//! `GlobalConfiguration._read_config`). That is ZenML's own code racing, through the CLI as
//! through the server (docs/benchmarks.md has the measurement without the launcher).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use zenml_launcher::python::server;

#[path = "common/mod.rs"]
mod common;
use common::{profile_dir, worker_times};

#[derive(Parser)]
#[command(about = "Soak the launcher's command server and compare samples with the Python CLI")]
struct Args {
    /// The venv to serve (ZenML installed).
    #[arg(long, default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/envs/zenml-0.98.0"))]
    env: PathBuf,
    /// `embedded`, `python` or `both`.
    #[arg(long, default_value = "both")]
    kind: String,
    /// Calls in a row (one client).
    #[arg(long, default_value_t = 1000)]
    serial: usize,
    /// Calls for each of the parallel phases (2 clients, then 8).
    #[arg(long, default_value_t = 500)]
    parallel: usize,
    /// Every this many calls, one is compared with a fresh run of the Python CLI.
    #[arg(long, default_value_t = 50)]
    sample: usize,
    /// Do not build the launcher first (under cargo it is built with this profile).
    #[arg(long)]
    no_build: bool,
}

/// What makes the launcher serve the env with its own python (as examples/bench.rs does).
const NO_LIBRARY: (&str, &str) = (
    "ZENML_LAUNCHER_EMBED_LIB",
    "/nonexistent/libzenml_launcher_embed.so",
);

/// One call: its arguments and the variables added to the base environment.
struct Call {
    name: &'static str,
    args: &'static [&'static str],
    vars: &'static [(&'static str, &'static str)],
}

const CALLS: [Call; 4] = [
    Call {
        name: "stack describe",
        args: &["stack", "describe"],
        vars: &[],
    },
    Call {
        name: "pipeline list",
        args: &["pipeline", "list"],
        vars: &[],
    },
    Call {
        name: "stack --help",
        args: &["stack", "--help"],
        vars: &[],
    },
    Call {
        name: "completion zenml stack de<TAB>",
        args: &[],
        vars: &[
            ("_ZENML_COMPLETE", "bash_complete"),
            ("COMP_WORDS", "zenml stack de"),
            ("COMP_CWORD", "2"),
        ],
    },
];

/// Where one kind's soak runs.
struct Soak {
    kind: &'static str,
    env: PathBuf,
    zenml: PathBuf,
    scratch: PathBuf,
    runtime: PathBuf,
}

impl Soak {
    /// `program args` in the soak's clean environment (the launcher's variables included: the
    /// CLI ignores them).
    fn command(&self, program: &Path, call: &Call) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(call.args)
            .env_clear()
            .env("HOME", &self.scratch)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .env("VIRTUAL_ENV", &self.env)
            .env("ZENML_CONFIG_PATH", self.scratch.join("zenml-config"))
            .env("ZENML_ANALYTICS_OPT_IN", "false")
            .env(
                "ZENML_LAUNCHER_CACHE_DIR",
                self.scratch.join("launcher-cache"),
            )
            .env("ZENML_LAUNCHER_RUNTIME_DIR", &self.runtime)
            .env("ZENML_LAUNCHER_SERVER_IDLE_S", "3600")
            .current_dir(&self.scratch)
            .stdin(Stdio::null());
        if self.kind == "python" {
            cmd.env(NO_LIBRARY.0, NO_LIBRARY.1);
        }
        for (k, v) in call.vars {
            cmd.env(k, v);
        }
        cmd
    }

    fn launcher(&self, call: &Call) -> Command {
        self.command(&self.zenml, call)
    }

    fn cli(&self, call: &Call) -> Command {
        self.command(&self.env.join("bin/zenml"), call)
    }

    /// The server's files (one key: one server).
    fn server(&self) -> Result<(server::ServerFiles, u32)> {
        let files = server::list(&self.runtime)
            .into_iter()
            .next()
            .context("no server in the runtime dir")?;
        let pid = server::info_pid(&files).context("the server wrote no pid")?;
        Ok((files, pid))
    }

    /// The pids of the workers that ran a call (its log's worker lines).
    fn worker_pids(&self) -> Result<HashSet<u32>> {
        let (files, _) = self.server()?;
        let log = std::fs::read_to_string(&files.log)?;
        Ok(log
            .lines()
            .filter(|l| l.contains(", status "))
            .filter_map(|l| l.split(": worker ").nth(1)?.split(':').next()?.parse().ok())
            .collect())
    }

    /// The calls the server has run (its log's worker lines) and their fork-to-exit times.
    fn workers(&self) -> Result<Vec<f64>> {
        let (files, _) = self.server()?;
        let log = std::fs::read_to_string(&files.log)?;
        Ok(worker_times(&log))
    }
}

/// Output of one sampled call, to compare with the CLI after the phase.
struct Sampled {
    call: usize,
    out: Output,
}

/// What a phase did.
struct Phase {
    clients: usize,
    calls: usize,
    seconds: f64,
    failures: Vec<String>,
    /// Calls that failed reading a half-written `config.yaml` (see [`config_race_failure`]).
    raced: usize,
    samples: Vec<Sampled>,
}

/// A call of a concurrent phase that failed because ZenML read its global config while another
/// call was rewriting it in place: a YAML error raised in `GlobalConfiguration._read_config`.
fn config_race_failure(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("in _read_config")
        && ["ScannerError: ", "ParserError: ", "ComposerError: "]
            .iter()
            .any(|e| text.contains(e))
}

/// `calls` calls from `clients` clients at once, the `n`-th call being `CALLS[n % 4]`; every
/// `sample`-th call's output kept.
fn phase(soak: &Soak, clients: usize, calls: usize, sample: usize) -> Result<Phase> {
    settle(soak)?;
    let before = soak.workers()?.len();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let raced = AtomicUsize::new(0);
    let samples = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= calls {
                        break;
                    }
                    let call = &CALLS[n % CALLS.len()];
                    match soak.launcher(call).output() {
                        Ok(out) => {
                            if !out.status.success()
                                && clients > 1
                                && config_race_failure(&out.stderr)
                            {
                                raced.fetch_add(1, Ordering::SeqCst);
                            } else if !out.status.success() {
                                failures.lock().unwrap().push(format!(
                                    "call {n} ({}): {} {}",
                                    call.name,
                                    out.status,
                                    String::from_utf8_lossy(&out.stderr)
                                ));
                            }
                            if n % sample == 0 {
                                samples.lock().unwrap().push(Sampled { call: n, out });
                            }
                        }
                        Err(e) => failures
                            .lock()
                            .unwrap()
                            .push(format!("call {n} ({}): cannot run: {e}", call.name)),
                    }
                }
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut failures = failures.into_inner().unwrap();
    // A worker posts its exit code before it ends, so its client may exit before the master
    // reaps (and logs) it: the last workers' lines may come a moment after the phase.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut served = soak.workers()?.len() - before;
    while served < calls && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        served = soak.workers()?.len() - before;
    }
    if served != calls {
        failures.push(format!("{calls} calls, {served} run by the server"));
    }
    Ok(Phase {
        clients,
        calls,
        seconds,
        failures,
        raced: raced.into_inner(),
        samples: samples.into_inner().unwrap(),
    })
}

/// The lines ZenML prints when it finds its global config empty and initialises it again: what
/// a call prints when it reads `config.yaml` while another call rewrites it (ZenML truncates and
/// rewrites it several times per store command, in place), through the CLI as through the
/// server.
const CONFIG_RACE_LINES: [&str; 3] = [
    "Initializing the ZenML global configuration version to ",
    "Setting the global active project to ",
    "Setting the global active stack to ",
];

/// `stderr` is `reference` after lines of ZenML's config initialisation only.
fn only_config_race(stderr: &[u8], reference: &[u8]) -> bool {
    let (stderr, reference) = (
        String::from_utf8_lossy(stderr),
        String::from_utf8_lossy(reference),
    );
    let Some(extra) = stderr.strip_suffix(reference.as_ref()) else {
        return false;
    };
    !extra.is_empty()
        && extra.lines().all(|line| {
            let plain: String = line
                .split('\x1b')
                .map(|part| part.split_once('m').map_or(part, |(_, rest)| rest))
                .collect();
            CONFIG_RACE_LINES.iter().any(|p| plain.starts_with(p))
        })
}

/// The sampled calls whose stdout, stderr or exit code differ from a fresh CLI run's, and (when
/// `concurrent`) how many others differ only by ZenML's config initialisation lines.
fn mismatches(soak: &Soak, samples: &[Sampled], concurrent: bool) -> Result<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let mut raced = 0;
    for sampled in samples {
        let call = &CALLS[sampled.call % CALLS.len()];
        let cli = soak
            .cli(call)
            .output()
            .context("cannot run the Python CLI")?;
        let mine = &sampled.out;
        if (mine.status.code(), &mine.stdout, &mine.stderr)
            == (cli.status.code(), &cli.stdout, &cli.stderr)
        {
            continue;
        }
        if concurrent
            && (mine.status.code(), &mine.stdout) == (cli.status.code(), &cli.stdout)
            && only_config_race(&mine.stderr, &cli.stderr)
        {
            raced += 1;
            continue;
        }
        out.push(format!(
            "call {} ({}): launcher {} {:?} {:?}, CLI {} {:?} {:?}",
            sampled.call,
            call.name,
            mine.status,
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&mine.stderr),
            cli.status,
            String::from_utf8_lossy(&cli.stdout),
            String::from_utf8_lossy(&cli.stderr)
        ));
    }
    Ok((out, raced))
}

fn fd_count(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Processes that are the server's children in a zombie state, processes running the server's
/// own command line other than the master (a worker is a fork of it: one left over after every
/// call ended is an orphan, whatever its parent now is), and the spare: the one child of the
/// master that ran no call (`workers`: those that did), forked ahead for the next call.
fn leftovers(master: u32, workers: &HashSet<u32>) -> (Vec<u32>, Vec<u32>, Option<u32>) {
    let cmdline = |pid: u32| std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let own = cmdline(master);
    let mut zombies = Vec::new();
    let mut orphans = Vec::new();
    let mut spare = None;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == master {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().to_string())
        else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if state == "Z" && ppid == master {
            zombies.push(pid);
        } else if state != "Z" && !own.is_empty() && cmdline(pid) == own {
            if ppid == master && !workers.contains(&pid) && spare.is_none() {
                spare = Some(pid);
            } else {
                orphans.push(pid);
            }
        }
    }
    (zombies, orphans, spare)
}

/// Waits (at most 60 s) until the master has no child but its spare and its log has not changed
/// for 100 ms: the worker of the last call before (the warm-up's, the previous phase's last) may
/// be logged after its client exited, and would be counted in the next phase.
fn settle(soak: &Soak) -> Result<()> {
    let (files, master) = soak.server()?;
    let children = || {
        std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read(&files.log)?;
        std::thread::sleep(Duration::from_millis(100));
        if children() <= 1 && std::fs::read(&files.log)? == log {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("server {master}'s calls did not end within a minute");
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Prepares `soak`'s config (initialised, one more stack) and waits until a call is served.
fn warm(soak: &Soak) -> Result<()> {
    let _ = std::fs::remove_dir_all(&soak.scratch);
    std::fs::create_dir_all(&soak.scratch)?;
    std::fs::create_dir_all(&soak.runtime)?;
    std::fs::set_permissions(&soak.runtime, std::fs::Permissions::from_mode(0o700))?;
    let run = |args: &'static [&'static str]| -> Result<()> {
        let out = soak
            .cli(&Call {
                name: "setup",
                args,
                vars: &[],
            })
            .output()?;
        if !out.status.success() {
            bail!("zenml {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    run(&["status"])?;
    run(&[
        "stack", "register", "soak", "-o", "default", "-a", "default",
    ])?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = soak
            .launcher(&CALLS[2])
            .env("ZENML_DEBUG_PYTHON", "1")
            .output()?;
        let debug = String::from_utf8_lossy(&out.stderr);
        if debug.contains("route: server (worker ") {
            if !debug.contains(&format!("{} server)", soak.kind)) {
                bail!("not a {} server: {debug}", soak.kind);
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no server came up in 600 s: {debug}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// One kind's soak; `Ok(true)` when every figure is within its bound. Its rows of the closing
/// table go into `table`.
fn soak_kind(soak: &Soak, args: &Args, table: &mut Vec<String>) -> Result<bool> {
    println!("== {} server ({})", soak.kind, soak.env.display());
    println!("load average before: {}", loadavg());
    warm(soak)?;
    let (_, master) = soak.server()?;
    let rss_before = server::rss_kib(master).context("the master's RSS")?;
    let fds_before = fd_count(master)?;
    let mut phases = vec![phase(soak, 1, args.serial, args.sample)?];
    for clients in [2, 8] {
        phases.push(phase(soak, clients, args.parallel, args.sample)?);
    }
    let (_, master_after) = soak.server()?;
    if master_after != master {
        bail!("the server changed during the soak: {master} then {master_after}");
    }
    let rss_after = server::rss_kib(master).context("the master's RSS")?;
    let fds_after = fd_count(master)?;
    std::thread::sleep(Duration::from_millis(500));
    let (zombies, orphans, spare) = leftovers(master, &soak.worker_pids()?);
    let mut ok = true;
    let mut total = 0;
    let mut rows = Vec::new();
    for phase in &phases {
        let (bad, raced) = mismatches(soak, &phase.samples, phase.clients > 1)?;
        total += phase.calls;
        println!(
            "{} client(s): {} calls in {:.1} s: {:.1} calls/s; {} failures (and {} failing on a half-written config.yaml); {} of {} sampled outputs differ from the CLI; {raced} more differ only by ZenML's config initialisation (a concurrent call was rewriting config.yaml)",
            phase.clients,
            phase.calls,
            phase.seconds,
            phase.calls as f64 / phase.seconds,
            phase.failures.len(),
            phase.raced,
            bad.len(),
            phase.samples.len()
        );
        for line in phase.failures.iter().chain(&bad).take(5) {
            println!("  {line}");
        }
        ok &= phase.failures.is_empty() && bad.is_empty();
        rows.push((phase, bad.len(), raced));
    }
    let mut times = soak.workers()?;
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let growth = (rss_after as f64 - rss_before as f64) / rss_before as f64 * 100.0;
    println!(
        "master {master}: RSS {:.1} -> {:.1} MiB ({growth:+.2}%), open fds {fds_before} -> {fds_after}; \
         {} workers in its log (fork to exit median {median:.1} ms); zombies {zombies:?}, orphans {orphans:?}, spare {spare:?}",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        times.len(),
    );
    println!("{total} calls; load average after: {}", loadavg());
    let within =
        growth <= 5.0 && fds_after <= fds_before && zombies.is_empty() && orphans.is_empty();
    for (phase, bad, raced) in rows {
        table.push(format!(
            "| {} | {} | {} | {:.1} | {:.1} | {} ({} config race) | {} of {} ({raced} config race) | {:.1} → {:.1} MiB ({growth:+.2}%) | {fds_before} → {fds_after} | {} / {} |",
            soak.kind,
            phase.clients,
            phase.calls,
            phase.seconds,
            phase.calls as f64 / phase.seconds,
            phase.failures.len(),
            phase.raced,
            bad,
            phase.samples.len(),
            rss_before as f64 / 1024.0,
            rss_after as f64 / 1024.0,
            zombies.len(),
            orphans.len(),
        ));
    }
    ok &= within;
    if let Ok((files, _)) = soak.server() {
        server::stop(&files, Duration::from_secs(10));
    }
    Ok(ok)
}

/// Under `cargo run`, builds the launcher and the embedding library with the same profile.
fn build(profile_dir: &Path) -> Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().context("target dir")?)
        .args(["--workspace", "--lib", "--bin", "zenml"]);
    match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    if !cmd.status().context("cannot run cargo build")?.success() {
        bail!("building the launcher failed");
    }
    Ok(())
}

fn run(args: &Args) -> Result<bool> {
    if args.serial == 0 || args.parallel == 0 || args.sample == 0 {
        bail!("--serial, --parallel and --sample must be at least 1");
    }
    let profile_dir = profile_dir()?;
    if !args.no_build {
        build(&profile_dir)?;
    }
    let env = std::path::absolute(&args.env).context("--env")?;
    if !env.join("bin/zenml").exists() {
        bail!(
            "{} has no bin/zenml: pass a venv with ZenML (--env)",
            env.display()
        );
    }
    let kinds: &[&'static str] = match args.kind.as_str() {
        "both" => &["embedded", "python"],
        "embedded" => &["embedded"],
        "python" => &["python"],
        other => bail!("--kind {other:?}: embedded, python or both"),
    };
    let root = profile_dir
        .parent()
        .unwrap_or(&profile_dir)
        .join("soak-tmp");
    println!(
        "{} cores; zenml {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        profile_dir.join("zenml").display()
    );
    let mut ok = true;
    let mut table = Vec::new();
    for kind in kinds {
        let scratch = root.join(kind);
        let soak = Soak {
            kind,
            env: env.clone(),
            zenml: profile_dir.join("zenml"),
            runtime: root.join(format!("{kind}-run")),
            scratch,
        };
        let _ = std::fs::remove_dir_all(&soak.runtime);
        ok &= soak_kind(&soak, args, &mut table)?;
    }
    println!();
    println!(
        "| server | clients | calls | s | calls/s | failures | sampled outputs differing from the CLI | master RSS (whole soak) | master fds | zombies / orphans |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("soak: some figure is out of bounds (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("soak: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
