//! `zenml clean` against the live Python CLI: the same prompt bytes, answer handling (`n`,
//! `maybe` then `y`, EOF, `--yes`), messages, exit codes, and the same files afterwards. The tree
//! holds symlinks from `.zen` and from the config dir to outside data, and a parent directory with
//! its own `.zen`: after every run everything outside `<cwd>/.zen` and the config dir is intact.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

struct World {
    root: PathBuf,
    template: PathBuf,
    env: PathBuf,
}

impl World {
    fn cwd(&self) -> PathBuf {
        self.root.join("parent/work")
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = clean_command(program, &self.root);
        cmd.current_dir(self.cwd())
            .env("ZENML_CONFIG_PATH", self.root.join("config"))
            .env("ZENML_LAUNCHER_CACHE_DIR", self.root.join("cache"))
            .env("VIRTUAL_ENV", &self.env)
            .args(args);
        cmd
    }

    /// Builds the tree once with the Python CLI, then keeps a pristine copy next to it.
    fn new(name: &str) -> World {
        let base = scratch(name);
        let w = World {
            root: base.join("world"),
            template: base.join("template"),
            env: zenml_env(ZENML_VERSION),
        };
        std::fs::create_dir_all(w.root.join("outside/data")).unwrap();
        std::fs::write(w.root.join("outside/data/keep.txt"), "precious").unwrap();
        std::fs::create_dir_all(w.root.join("parent/work")).unwrap();
        for (args, cwd) in [
            (&["status"][..], w.cwd()),
            (&["init"][..], w.root.join("parent")),
            (&["init"][..], w.cwd()),
        ] {
            let mut cmd = w.command(&w.env.join("bin/zenml"), args);
            cmd.current_dir(cwd);
            let out = output(&mut cmd);
            assert!(out.status.success(), "{args:?}: {}", show(&out.stderr));
        }
        std::os::unix::fs::symlink(
            w.root.join("outside/data"),
            w.root.join("parent/work/.zen/link"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            w.root.join("outside/data"),
            w.root.join("config/local_stores/link"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            w.root.join("outside/data/keep.txt"),
            w.root.join("config/file-link"),
        )
        .unwrap();
        copy_tree(&w.root, &w.template);
        w
    }

    fn restore(&self) {
        std::fs::remove_dir_all(&self.root).unwrap();
        copy_tree(&self.template, &self.root);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every path under `dir` (symlinks not followed) with its content or link target; the store
/// and config files are reduced to their names (ZenML writes new ids into them).
fn manifest(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let value = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if rel.ends_with(".db") || rel.ends_with(".yaml") {
                "file".to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
            };
            out.insert(rel, value);
        }
    }
    out
}

fn run_case(w: &World, args: &[&str], input: Option<&str>, ttys: &[&str], expect_rust: bool) {
    w.restore();
    let reference = run_streams(&w.command(&w.env.join("bin/zenml"), args), 80, ttys, input);
    let after_python = manifest(&w.root);
    w.restore();
    let mut mine = w.command(&launcher(), args);
    mine.env("ZENML_DEBUG_PYTHON", "1");
    let mine = run_streams(&mine, 80, ttys, input);
    let after_launcher = manifest(&w.root);
    let (stderr, debug) = split_debug(&mine.stderr);
    let mine = Captured { stderr, ..mine };
    assert_eq!(
        mine,
        reference,
        "{args:?} input {input:?} ttys {ttys:?}\nlauncher {:?}\npython {:?}",
        show(&mine.stderr),
        show(&reference.stderr)
    );
    assert_eq!(
        after_launcher, after_python,
        "{args:?} {input:?}: the files differ afterwards"
    );
    let outside = |m: &BTreeMap<String, String>| {
        m.iter()
            .filter(|(k, _)| k.starts_with("outside") || k.starts_with("parent/.zen"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let pristine = manifest(&w.template);
    assert_eq!(
        outside(&after_launcher),
        outside(&pristine),
        "{args:?} {input:?}: data outside the targets changed"
    );
    assert_eq!(
        debug.iter().any(|l| l == "route: rust: clean prompt"),
        expect_rust,
        "{args:?} {input:?}: {debug:#?}"
    );
}

#[test]
fn prompt_answers_in_a_pipe() {
    let w = World::new("clean-pipe");
    // Warm the launcher cache outside the measured runs.
    let _ = output(&mut w.command(&launcher(), &["--version"]));
    copy_tree_cache(&w);
    run_case(&w, &["clean"], Some("n\n"), &[], true);
    run_case(&w, &["clean"], Some("maybe\nyes\ny\n"), &[], true);
    run_case(&w, &["clean"], Some(""), &[], true);
    run_case(&w, &["clean", "--yes"], None, &[], false);
}

#[test]
fn prompt_answers_in_a_terminal() {
    let w = World::new("clean-tty");
    let _ = output(&mut w.command(&launcher(), &["--version"]));
    copy_tree_cache(&w);
    let tty = ["stdout", "stderr"];
    run_case(&w, &["clean"], Some("N\n"), &tty, true);
    run_case(&w, &["clean"], Some("x\n y \n"), &tty, true);
}

/// Keeps the generated launcher cache in the template so every restore has it.
fn copy_tree_cache(w: &World) {
    let _ = std::fs::remove_dir_all(w.template.join("cache"));
    copy_tree(&w.root.join("cache"), &w.template.join("cache"));
}
