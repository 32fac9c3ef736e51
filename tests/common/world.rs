//! A private ZenML world for `stack list` comparisons: a scratch HOME and config dir, an env,
//! state changed through the Python CLI or ZenML's client, and one-call comparisons of the
//! launcher against the live CLI (bytes, exit code, and the tier that answered).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// No terminal: every stream a pipe.
pub const PIPE: &[&str] = &[];

/// One `stack list` comparison: arguments after `stack list`, variables, terminal streams, and
/// the tier that must answer.
pub type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    Tier,
);

const TERM: &[(&str, &str)] = &[("TERM", "xterm")];

/// The terminal cases of `stack list`: a table on a terminal (the Rust route), ZenML's
/// spinner on a terminal on stderr, highlighted JSON on a terminal (both tier 2).
pub const TERMINAL_CASES: &[Case] = &[
    (&[], TERM, &["stdout"], Tier::Rust),
    (&[], TERM, &["stdout", "stderr"], Tier::InProcess),
    (&["-o", "json"], TERM, &["stdout"], Tier::InProcess),
];

pub struct World {
    pub home: PathBuf,
    pub env: PathBuf,
    /// The launcher's cache dir (`<home>/cache` unless shared).
    pub cache: PathBuf,
}

/// A launcher cache shared by the worlds of this process that ask for it (`World::sharing_cache`):
/// it depends only on the installed ZenML and is written atomically, so it is generated once, by
/// whichever run needs it first, instead of once per world. Generating it reads no ZenML
/// config (it imports the CLI and renders help and banners), so it is the same for every world.
pub fn shared_cache() -> PathBuf {
    static CACHE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| scratch("shared-launcher-cache"))
        .clone()
}

/// Makes `home`'s config dir (`home/zenml-config`, empty or missing) what the first `zenml
/// status` of `env`'s Python CLI leaves there: config.yaml and the local store. That run is made
/// once per process and env, in a template world of its own (the same command as `World::new`
/// ran in every world before, fresh); each world gets a copy, with the template's config dir in
/// config.yaml (`url`, `database`, `backup_directory`) replaced by its own. The store holds no
/// path (the local artifact store's is derived from the config dir at run time), and the copy
/// is checked to hold no byte of the template's path. The IDs in it (user, project, stack) are
/// the template's, in every world of the process: each world is still a state the CLI made,
/// read by the launcher and the CLI alike. A home whose path YAML would write quoted gets its
/// own fresh first run instead. Tests of first runs make their worlds' first run themselves.
pub fn initialise(home: &Path, env: &Path) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TEMPLATES: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let first_run = |home: PathBuf| {
        World {
            cache: home.join("cache"),
            home,
            env: env.to_path_buf(),
        }
        .zenml(&["status"])
    };
    let plain = |p: &Path| {
        p.to_str().is_some_and(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        })
    };
    if !plain(home) {
        return first_run(home.to_path_buf());
    }
    let template = {
        let mut templates = TEMPLATES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        templates
            .entry(env.to_path_buf())
            .or_insert_with(|| {
                let home = scratch("world-template");
                first_run(home.clone());
                home
            })
            .clone()
    };
    let (from, to) = (template.join("zenml-config"), home.join("zenml-config"));
    let (old, new) = (from.to_str().unwrap(), to.to_str().unwrap());
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        std::fs::create_dir_all(to.join(&rel)).unwrap();
        for entry in std::fs::read_dir(from.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                dirs.push(rel);
                continue;
            }
            let mut bytes = std::fs::read(from.join(&rel)).unwrap();
            if rel == Path::new("config.yaml") {
                bytes = show(&bytes).replace(old, new).into_bytes();
            }
            let marker = template.to_str().unwrap().as_bytes();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "the template world's {} names its own path: a copy would not be a state the CLI \
                 makes (initialise needs another rewrite)",
                rel.display()
            );
            std::fs::write(to.join(&rel), bytes).unwrap();
            std::fs::set_permissions(to.join(&rel), entry.metadata().unwrap().permissions())
                .unwrap();
        }
    }
}

impl World {
    /// A private config with the local store, as the Python CLI's first `status` leaves it
    /// (`initialise`).
    pub fn new(name: &str) -> World {
        let w = World::bare(name, ZENML_VERSION);
        initialise(&w.home, &w.env);
        w
    }

    /// A private config dir for `zenml-<env_version>`, nothing initialised.
    pub fn bare(name: &str, env_version: &str) -> World {
        let home = scratch(name);
        World {
            cache: home.join("cache"),
            home,
            env: zenml_env(env_version),
        }
    }

    /// The same world with the process's shared launcher cache (see `shared_cache`); a world
    /// that keeps its own starts every launcher run of its first check on a cold cache.
    pub fn sharing_cache(self) -> World {
        World {
            cache: shared_cache(),
            ..self
        }
    }

    pub fn command(&self, program: &Path, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = clean_command(program, &self.home);
        cmd.env("ZENML_LAUNCHER_CACHE_DIR", &self.cache)
            .env("VIRTUAL_ENV", &self.env)
            .args(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// Changes state through the Python CLI. Fresh (`output`, not `cli_output`) unless the
    /// world's config names the local store only (`writes_stay_local`). A warm reference run's
    /// sample reruns a call that left the config dir as it was: a write to a ZenML server leaves
    /// it so (`stack register` on a server ran twice: "already exists"), while a write to the
    /// local store changes the store's file, which a sample checks first (`refrun::reference`).
    pub fn zenml(&self, args: &[&str]) {
        let mut cmd = self.command(&self.env.join("bin/zenml"), args, &[]);
        let out = if self.writes_stay_local() {
            cli_output(&mut cmd)
        } else {
            output(&mut cmd)
        };
        assert!(
            out.status.success(),
            "zenml {args:?}: {}",
            show(&out.stderr)
        );
    }

    /// Whether the config exists and names the local SQLite store only (not when there is no
    /// config yet, a ZenML server, or a config that cannot be read).
    fn writes_stay_local(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.home.join("zenml-config/config.yaml")) else {
            return false;
        };
        let mut urls = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("url: "))
            .peekable();
        urls.peek().is_some() && urls.all(|url| url.starts_with("sqlite:"))
    }

    /// Runs a Python script with ZenML's client in the test config (a file: ZenML needs a source
    /// root, which `-c` does not have).
    pub fn python(&self, code: &str) {
        let script = self.home.join("setup_script.py");
        std::fs::write(&script, code).unwrap();
        let out = output(&mut self.command(
            &self.env.join("bin/python"),
            &[script.to_str().unwrap()],
            &[],
        ));
        assert!(out.status.success(), "{code}: {}", show(&out.stderr));
    }

    /// Creates `count` stacks through ZenML's client, named `stack-NN-` plus 2·NN `x`s (long
    /// names), with the default orchestrator and artifact store, newest last.
    pub fn create_stacks(&self, count: usize) {
        self.create_stacks_then(count, "");
    }

    /// `create_stacks`, then more client code on `c` in the same script (e.g.
    /// `c.activate_stack(…)`, what `zenml stack set` runs), saving a Python start-up.
    pub fn create_stacks_then(&self, count: usize, then: &str) {
        self.python(&format!(
            "from zenml.client import Client\n\
             c = Client()\n\
             for i in range({count}):\n    c.create_stack(name=f'stack-{{i:02d}}-' + 'x' * (i * 2), components={{'orchestrator': 'default', 'artifact_store': 'default'}})\n\
             {then}"
        ));
    }

    /// The terminal cases of `stack list` (`TERMINAL_CASES`).
    pub fn check_terminals(&self) -> Vec<Result<(), String>> {
        self.check_all(TERMINAL_CASES)
    }

    /// `check` for each case, one after the other: never two at once in one config dir (every
    /// Python CLI run rewrites `config.yaml`, not atomically, so a run beside it can read a
    /// truncated file and start a new config).
    pub fn check_all(&self, cases: &[Case]) -> Vec<Result<(), String>> {
        cases
            .iter()
            .map(|(args, extra, ttys, tier)| self.check(args, extra, ttys, *tier))
            .collect()
    }

    /// Compares one invocation; `tier` must have answered it.
    pub fn check(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
        ttys: &[&str],
        tier: Tier,
    ) -> Result<(), String> {
        let mut full = vec!["stack", "list"];
        full.extend_from_slice(args);
        let mut mine = self.command(&launcher(), &full, extra);
        mine.env("ZENML_DEBUG_PYTHON", "1");
        let mine = run_streams(&mine, 100, ttys, None);
        let reference = run_streams(
            &self.command(&self.env.join("bin/zenml"), &full, extra),
            100,
            ttys,
            None,
        );
        let (mine, reference, debug) = comparable(mine, reference);
        if mine != reference {
            return Err(format!(
                "stack list {args:?} {extra:?} ttys {ttys:?}\nlauncher rc {} out {:?} err {:?}\npython   rc {} out {:?} err {:?}",
                mine.code,
                show(&mine.stdout),
                show(&mine.stderr),
                reference.code,
                show(&reference.stdout),
                show(&reference.stderr)
            ));
        }
        let rust = took_rust_route(&debug, "stack list");
        if tier_taken(&debug) != Some(tier) || (tier == Tier::Rust) != rust {
            return Err(format!(
                "stack list {args:?} {extra:?} ttys {ttys:?}: expected {tier:?}, {debug:#?}"
            ));
        }
        Ok(())
    }
}

/// A launcher run and the Python CLI's, ready to compare: the launcher's debug lines split off
/// (returned), ZenML's spinner frames replaced on both sides (`without_spinner`).
pub fn comparable(mine: Captured, reference: Captured) -> (Captured, Captured, Vec<String>) {
    let (stderr, debug) = split_debug(&mine.stderr);
    let mine = Captured {
        stderr: without_spinner(&stderr),
        ..mine
    };
    let reference = Captured {
        stderr: without_spinner(&reference.stderr),
        ..reference
    };
    (mine, reference, debug)
}

/// ZenML's spinner on a terminal (`console.status`) draws as many frames as time allows: the
/// frames between hiding and showing the cursor are replaced by one marker on both sides.
pub fn without_spinner(stderr: &[u8]) -> Vec<u8> {
    const HIDE: &[u8] = b"\x1b[?25l";
    const SHOW: &[u8] = b"\x1b[?25h";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    match find(stderr, HIDE) {
        Some(start) => match find(&stderr[start..], SHOW) {
            Some(len) => {
                let mut out = stderr[..start].to_vec();
                out.extend_from_slice(b"<spinner>");
                out.extend_from_slice(&without_spinner(&stderr[start + len + SHOW.len()..]));
                out
            }
            None => stderr.to_vec(),
        },
        None => stderr.to_vec(),
    }
}

pub fn all_ok(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
