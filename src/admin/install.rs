//! `zenml-launcher self install|uninstall`: the file work of `scripts/install.sh`, which builds the
//! binaries first. Where each file goes is [`InstallLayout`]'s.
//!
//! Install keeps pip's `bin/zenml` byte for byte (mode included) in the launcher's own directory,
//! then puts the launcher in its place. Every file is written to a temporary name in its
//! directory and renamed into place, and only when its bytes or mode differ: running it twice
//! changes nothing. The marker is written last, so an interrupted install is not taken for a
//! finished one (and is finished by running it again). Uninstall puts pip's script back and
//! removes every launcher file. A `bin/zenml` that pip rewrote since (`pip install -U zenml`) is
//! pip's current script: install keeps that one instead, uninstall leaves it alone.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::env::discovery::env_at;
use crate::env::layout::{ADMIN_NAME, InstallLayout, LAUNCHER_NAME, python_tag};
use crate::error::UserError;
use crate::zenml::package;

/// Installs the launcher into the env at `root`.
pub fn install(root: &Path, launcher: &Path, embed_lib: &Path) -> Result<u8> {
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
    for (what, path) in [("launcher", launcher), ("embedding library", embed_lib)] {
        if !path.is_file() {
            return Err(UserError::new(
                format!("the {what} to install is missing: {}", path.display()),
                "build it first (bash scripts/install.sh does)",
            )
            .into());
        }
    }
    let layout = InstallLayout::new(&root);
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
    let mut changed = Vec::new();
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
    let tag = python_tag(&version);
    let admin = admin_binary_next_to(launcher)?;
    // The launcher last: until it is in place, bin/zenml stays pip's script.
    let files = [
        (embed_lib, layout.embed_library(&tag)),
        (admin.as_path(), layout.admin()),
        (launcher, script.clone()),
    ];
    for (from, to) in files {
        let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        if put_file(&to, &bytes, 0o755)? {
            changed.push(to);
        }
    }
    let marker = format!(
        "{LAUNCHER_NAME}\n{ADMIN_NAME}\nzenml {}\npython {version} ({tag})\n",
        zenml.version().unwrap_or_default()
    );
    if put_file(&layout.marker(), marker.as_bytes(), 0o644)? {
        changed.push(layout.marker());
    }
    if changed.is_empty() {
        println!(
            "the launcher is installed in {} already (Python {version}, zenml {}): nothing changed",
            root.display(),
            zenml.version().unwrap_or_default()
        );
    } else {
        println!(
            "installed the launcher into {} (Python {version}, zenml {}): bin/{LAUNCHER_NAME}, bin/{ADMIN_NAME}, {}",
            root.display(),
            zenml.version().unwrap_or_default(),
            layout.embed_library(&tag).display()
        );
        for path in &changed {
            println!("  wrote {}", path.display());
        }
        println!(
            "pip's bin/zenml is kept in {}; undo with: bash scripts/install.sh --uninstall {}",
            saved.display(),
            root.display()
        );
    }
    Ok(0)
}

/// Takes the launcher out of the env at `root`: pip's `bin/zenml` back, every launcher file gone.
pub fn uninstall(root: &Path) -> Result<u8> {
    let root = absolute(root)?;
    let layout = InstallLayout::new(&root);
    let script = layout.console_script();
    let saved = layout.saved_console_script();
    let current = std::fs::read(&script).ok();
    let launcher_in_place = current.as_deref().is_some_and(is_binary);
    if !launcher_in_place && !layout.dir().exists() && !layout.admin().exists() {
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
    if std::fs::read(layout.admin()).is_ok_and(|b| is_binary(&b)) {
        std::fs::remove_file(layout.admin())
            .with_context(|| format!("removing {}", layout.admin().display()))?;
    }
    if layout.dir().exists() {
        std::fs::remove_dir_all(layout.dir())
            .with_context(|| format!("removing {}", layout.dir().display()))?;
    }
    println!(
        "removed the launcher from {}: bin/zenml is pip's console script again",
        root.display()
    );
    Ok(0)
}

/// `zenml-launcher`, built next to the `zenml` being installed.
fn admin_binary_next_to(launcher: &Path) -> Result<PathBuf> {
    let admin = launcher.with_file_name(ADMIN_NAME);
    if admin.is_file() {
        Ok(admin)
    } else {
        Err(UserError::new(
            format!(
                "the admin binary to install is missing: {}",
                admin.display()
            ),
            "build it first (bash scripts/install.sh does)",
        )
        .into())
    }
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
