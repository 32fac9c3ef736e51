//! `zenml-launcher self install|uninstall`: puts the launcher in place of the env's `bin/zenml`,
//! and takes it out again. Where each file goes is [`InstallLayout`]'s.
//!
//! The wheel (`pip install zenml-launcher`) installs `bin/zenml-launcher` (this binary), the
//! launcher as `lib/zenml-launcher/zenml` and the embedding libraries under
//! `lib/zenml-launcher/embed/`; it never carries `bin/zenml`, which is ZenML's console script.
//! `scripts/install.sh` builds the same files from source and hands them over with `--from`,
//! which copies them into the env first. Then install keeps pip's `bin/zenml` byte for byte (mode
//! included) in the launcher's own directory, puts a copy of the launcher in its place (a copy:
//! uninstalling the wheel first still leaves a working `bin/zenml`), and generates the
//! per-distribution cache, so the first `zenml --version` is answered in Rust. Every file is
//! written to a temporary name in its directory and renamed into place, and only when its bytes
//! or mode differ: running it twice changes nothing. The marker, written last, lists every file
//! install wrote, so an interrupted install is not taken for a finished one, and uninstall
//! removes exactly those (never the wheel's own files, which `pip uninstall` removes). A
//! `bin/zenml` that pip rewrote since (`pip install -U zenml`) is pip's current script: install
//! keeps that one instead, uninstall leaves it alone.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::env::discovery::env_at;
use crate::env::layout::{InstallLayout, LAUNCHER_NAME, python_tag};
use crate::error::UserError;
use crate::zenml::package;

/// The marker's first line (a marker without `file` lines is from an older install, which
/// owned the whole `lib/zenml-launcher` directory).
const MARKER_HEAD: &str = "zenml-launcher install";

/// The env `self install|uninstall` works on: `--env`, else the env this binary was installed
/// into (`<root>/bin/zenml-launcher` beside `<root>/bin/python`), else the active one.
pub fn target_env(named: Option<&Path>) -> Result<PathBuf> {
    if let Some(root) = named {
        return absolute(root);
    }
    if let Some(root) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .filter(|root| root.join("bin/python").exists())
    {
        return Ok(root);
    }
    for var in [crate::vars::VIRTUAL_ENV, crate::vars::CONDA_PREFIX] {
        if let Some(root) = crate::vars::os(var).filter(|v| !v.is_empty()) {
            return absolute(Path::new(&root));
        }
    }
    Err(UserError::new(
        "no env named, none active, and this binary is not inside one",
        "name the env's root: zenml-launcher self install --env /path/to/env",
    )
    .into())
}

/// Installs the launcher into the env at `root`. `from`: a directory laid out as the env
/// (`bin/zenml-launcher`, `lib/zenml-launcher/…`) whose files are copied in first
/// (`scripts/install.sh`); without it, the wheel's files must be in the env already.
pub fn install(root: &Path, from: Option<&Path>) -> Result<u8> {
    let root = absolute(root)?;
    let env = env_at(root.clone());
    if !env.executable.exists() {
        return Err(UserError::new(
            format!("{} has no bin/python: not a Python env", root.display()),
            "name the root of a venv or conda env (the directory with bin/python)",
        )
        .into());
    }
    let zenml = package::find(&env)?;
    let version = env.version.ok_or_else(|| {
        UserError::new(
            format!(
                "the Python version of the env at {} is unknown",
                root.display()
            ),
            "recreate the env (its pyvenv.cfg or lib/pythonX.Y is missing)",
        )
    })?;
    let layout = InstallLayout::new(&root);
    let mut written: Vec<PathBuf> = previously_written(&layout);
    let mut changed = Vec::new();
    if let Some(from) = from {
        for rel in files_under(from)? {
            let source = from.join(&rel);
            let to = root.join(&rel);
            let bytes =
                std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
            let mode = std::fs::metadata(&source)?.permissions().mode();
            if put_file(&to, &bytes, mode)? {
                changed.push(to.clone());
            }
            written.push(to);
        }
    }
    let launcher = layout.launcher();
    if !launcher.is_file() {
        return Err(UserError::new(
            format!("the launcher to install is missing: {}", launcher.display()),
            format!(
                "install the wheel into this env first ({} -m pip install zenml-launcher), or build from source: bash scripts/install.sh {}",
                env.executable.display(),
                root.display()
            ),
        )
        .into());
    }
    let tag = python_tag(&version);
    let script = layout.console_script();
    let current = std::fs::read(&script).map_err(|e| {
        UserError::new(
            format!("cannot read {}: {e}", script.display()),
            format!(
                "reinstall ZenML's console script: {} -m pip install --force-reinstall --no-deps zenml=={}",
                env.executable.display(),
                zenml.version().unwrap_or_default()
            ),
        )
    })?;
    let saved = layout.saved_console_script();
    if is_binary(&current) {
        // The launcher is in place already (an earlier install, maybe interrupted): pip's script
        // must have been kept, or it would be lost.
        if !saved.is_file() {
            return Err(UserError::new(
                format!(
                    "{} is a binary and pip's console script was not kept in {}",
                    script.display(),
                    saved.display()
                ),
                format!(
                    "restore pip's script first: {} -m pip install --force-reinstall --no-deps zenml=={}",
                    env.executable.display(),
                    zenml.version().unwrap_or_default()
                ),
            )
            .into());
        }
    } else {
        let mode = std::fs::metadata(&script)?.permissions().mode();
        if put_file(&saved, &current, mode)? {
            changed.push(saved.clone());
        }
    }
    written.push(saved.clone());
    // The launcher last: until it is in place, bin/zenml stays pip's script.
    let bytes =
        std::fs::read(&launcher).with_context(|| format!("reading {}", launcher.display()))?;
    if put_file(&script, &bytes, 0o755)? {
        changed.push(script.clone());
    }
    written.push(script.clone());
    let mut marker = format!(
        "{MARKER_HEAD}\nzenml {}\npython {version} ({tag})\n",
        zenml.version().unwrap_or_default()
    );
    written.sort();
    written.dedup();
    for path in &written {
        if let Ok(rel) = path.strip_prefix(&root) {
            marker.push_str(&format!("file {}\n", rel.display()));
        }
    }
    if put_file(&layout.marker(), marker.as_bytes(), 0o644)? {
        changed.push(layout.marker());
    }
    let library = layout.embed_library(&tag);
    if changed.is_empty() {
        println!(
            "the launcher is installed in {} already (Python {version}, zenml {}): nothing changed",
            root.display(),
            zenml.version().unwrap_or_default()
        );
    } else {
        println!(
            "installed the launcher into {} (Python {version}, zenml {}): bin/{LAUNCHER_NAME}",
            root.display(),
            zenml.version().unwrap_or_default(),
        );
        for path in &changed {
            println!("  wrote {}", path.display());
        }
        println!(
            "pip's bin/zenml is kept in {}; undo with: {} self uninstall --env {}",
            saved.display(),
            layout.admin().display(),
            root.display()
        );
    }
    if !library.is_file() {
        println!(
            "note: no embedding library for Python {version} ({tag}) in {}: the commands the launcher does not answer in Rust run in the env's own python",
            layout.embed_dir().display()
        );
    }
    // The per-distribution cache, so that the first `zenml --version` is answered in Rust.
    let env = crate::env::discovery::env_at(root.clone());
    let key = crate::cache::fingerprint(&env, &zenml);
    match crate::cache::load_or_generate(&env, &zenml, &key) {
        Ok(_) => println!(
            "generated the launcher's cache for zenml {}",
            zenml.version().unwrap_or_default()
        ),
        Err(why) => println!(
            "note: the launcher's cache was not generated ({why}); the first call generates it"
        ),
    }
    Ok(0)
}

/// The files an earlier install recorded in the marker (kept when installing again).
fn previously_written(layout: &InstallLayout) -> Vec<PathBuf> {
    std::fs::read_to_string(layout.marker())
        .map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("file "))
                .map(|rel| layout.root.join(rel))
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, root, out)?;
            } else {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out).with_context(|| format!("listing {}", dir.display()))?;
    out.sort();
    Ok(out)
}

/// Takes the launcher out of the env at `root`: pip's `bin/zenml` back, and every file install
/// wrote removed (the wheel's own files stay, for `pip uninstall`).
pub fn uninstall(root: &Path) -> Result<u8> {
    let root = absolute(root)?;
    let layout = InstallLayout::new(&root);
    let script = layout.console_script();
    let saved = layout.saved_console_script();
    let current = std::fs::read(&script).ok();
    let launcher_in_place = current.as_deref().is_some_and(is_binary);
    let marker = std::fs::read_to_string(layout.marker()).ok();
    if !launcher_in_place && marker.is_none() {
        println!(
            "the launcher is not installed in {}: nothing to do",
            root.display()
        );
        return Ok(0);
    }
    if launcher_in_place {
        let pip_script = std::fs::read(&saved).map_err(|e| {
            UserError::new(
                format!("cannot read pip's console script kept in {}: {e}", saved.display()),
                format!(
                    "reinstall ZenML's script instead: {}/bin/python -m pip install --force-reinstall --no-deps zenml",
                    root.display()
                ),
            )
        })?;
        let mode = std::fs::metadata(&saved)?.permissions().mode();
        put_file(&script, &pip_script, mode)?;
    }
    let recorded = previously_written(&layout);
    if marker
        .as_deref()
        .is_some_and(|m| m.starts_with(MARKER_HEAD))
    {
        for path in recorded.iter().filter(|p| **p != script) {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("removing {}", path.display()))
                    );
                }
            }
        }
        let _ = std::fs::remove_file(layout.marker());
        // The directories install created, when nothing else (the wheel's files) is left in them.
        let mut dirs: Vec<PathBuf> = recorded
            .iter()
            .flat_map(|p| {
                p.ancestors()
                    .skip(1)
                    .map(Path::to_path_buf)
                    .collect::<Vec<_>>()
            })
            .filter(|d| d.starts_with(layout.dir()))
            .collect();
        dirs.push(layout.dir());
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for dir in dirs {
            let _ = std::fs::remove_dir(dir);
        }
    } else {
        // An older install owned the whole directory and the admin binary.
        if std::fs::read(layout.admin()).is_ok_and(|b| is_binary(&b)) {
            std::fs::remove_file(layout.admin())
                .with_context(|| format!("removing {}", layout.admin().display()))?;
        }
        if layout.dir().exists() {
            std::fs::remove_dir_all(layout.dir())
                .with_context(|| format!("removing {}", layout.dir().display()))?;
        }
    }
    println!(
        "removed the launcher from {}: bin/zenml is pip's console script again",
        root.display()
    );
    Ok(0)
}

/// An executable file format (ELF), not a script: pip writes scripts.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let path =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    if !path.is_dir() {
        return Err(UserError::new(
            format!("{}: no such env directory", path.display()),
            "name the root of a venv or conda env (the directory with bin/python)",
        )
        .into());
    }
    Ok(path)
}

/// Writes `bytes` with `mode` at `path` (parents created) through a temporary file renamed into
/// place; nothing when the file has those bytes and that mode already. True when it wrote.
fn put_file(path: &Path, bytes: &[u8], mode: u32) -> Result<bool> {
    if let (Ok(old), Ok(meta)) = (std::fs::read(path), std::fs::metadata(path)) {
        if old == bytes && meta.permissions().mode() & 0o7777 == mode & 0o7777 {
            return Ok(false);
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("writing {}", path.display())));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_file_writes_only_what_differs() {
        let dir = std::env::temp_dir().join(format!("zl-put-{}", std::process::id()));
        let f = dir.join("a/b");
        assert!(put_file(&f, b"x", 0o755).unwrap());
        assert!(!put_file(&f, b"x", 0o755).unwrap(), "same bytes and mode");
        assert!(put_file(&f, b"x", 0o644).unwrap(), "another mode");
        assert!(put_file(&f, b"y", 0o644).unwrap(), "other bytes");
        assert_eq!(std::fs::read(&f).unwrap(), b"y");
        assert_eq!(
            std::fs::read_dir(dir.join("a")).unwrap().count(),
            1,
            "no temp file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scripts_are_not_binaries() {
        assert!(is_binary(b"\x7fELF\x02\x01"));
        assert!(!is_binary(b"#!/e/bin/python\n"));
    }
}
