//! Where the launcher's own files live inside an env it was installed into (`scripts/install.sh`,
//! `zenml-launcher self install`): the one place that spells these paths.
//!
//! ```text
//! <root>/bin/zenml                   the launcher (in place of pip's console script)
//! <root>/bin/zenml-launcher          the admin binary
//! <root>/lib/zenml-launcher/         everything else, in a directory pip does not list as its own:
//!     zenml                          the launcher as the wheel installs it (copied to bin/zenml)
//!     installed                      the marker: what `self install` wrote (`file <path>` lines)
//!     zenml.console-script           pip's `bin/zenml`, byte for byte (put back on uninstall)
//!     embed/cp3XY/libzenml_launcher_embed.so
//!                                    the embedding library for CPython 3.XY (one per minor
//!                                    version; links no libpython: see env/libpython.rs)
//! ```

use std::path::{Path, PathBuf};

use super::PyVersion;

/// The embedding library's file name (what `embedlib/` builds).
pub const EMBED_LIBRARY_FILE: &str = "libzenml_launcher_embed.so";
/// The launcher's and the admin binary's names in `<root>/bin`.
pub const LAUNCHER_NAME: &str = "zenml";
pub const ADMIN_NAME: &str = "zenml-launcher";

/// The embedding libraries' tag for a Python version: `cp312` (as in wheel tags).
pub fn python_tag(version: &PyVersion) -> String {
    format!("cp{}{}", version.major, version.minor)
}

/// The launcher's files inside the env at `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallLayout {
    pub root: PathBuf,
}

impl InstallLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        InstallLayout { root: root.into() }
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// `bin/zenml`: pip's console script, or the launcher once installed.
    pub fn console_script(&self) -> PathBuf {
        self.bin_dir().join(LAUNCHER_NAME)
    }

    pub fn admin(&self) -> PathBuf {
        self.bin_dir().join(ADMIN_NAME)
    }

    /// `lib/zenml-launcher`: the launcher's own directory.
    pub fn dir(&self) -> PathBuf {
        self.root.join("lib").join("zenml-launcher")
    }

    /// The launcher binary as the wheel installs it (`self install` copies it to `bin/zenml`).
    pub fn launcher(&self) -> PathBuf {
        self.dir().join(LAUNCHER_NAME)
    }

    /// The marker that says the launcher is installed here.
    pub fn marker(&self) -> PathBuf {
        self.dir().join("installed")
    }

    /// pip's `bin/zenml`, kept byte for byte.
    pub fn saved_console_script(&self) -> PathBuf {
        self.dir().join("zenml.console-script")
    }

    pub fn embed_dir(&self) -> PathBuf {
        self.dir().join("embed")
    }

    /// The embedding library for `tag` (see [`python_tag`]).
    pub fn embed_library(&self, tag: &str) -> PathBuf {
        self.embed_dir().join(tag).join(EMBED_LIBRARY_FILE)
    }

    /// True when `install` put the launcher here (the marker exists).
    pub fn is_installed(&self) -> bool {
        self.marker().is_file()
    }

    /// The env a launcher binary at `exe` was installed into: `<root>/bin/<name>` with the marker
    /// under `<root>`. Stats only.
    pub fn of_binary(exe: &Path) -> Option<InstallLayout> {
        let bin = exe.parent()?;
        if bin.file_name()? != "bin" {
            return None;
        }
        let layout = InstallLayout::new(bin.parent()?);
        layout.is_installed().then_some(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_env() {
        let l = InstallLayout::new("/e");
        assert_eq!(l.console_script(), Path::new("/e/bin/zenml"));
        assert_eq!(l.admin(), Path::new("/e/bin/zenml-launcher"));
        assert_eq!(
            l.saved_console_script(),
            Path::new("/e/lib/zenml-launcher/zenml.console-script")
        );
        assert_eq!(
            l.embed_library("cp312"),
            Path::new("/e/lib/zenml-launcher/embed/cp312/libzenml_launcher_embed.so")
        );
        let v = PyVersion::parse("3.13.0").unwrap();
        assert_eq!(python_tag(&v), "cp313");
    }

    #[test]
    fn an_installed_binary_names_its_env() {
        let dir = std::env::temp_dir().join(format!("zl-layout-{}", std::process::id()));
        let layout = InstallLayout::new(&dir);
        std::fs::create_dir_all(layout.dir()).unwrap();
        let exe = layout.console_script();
        assert_eq!(InstallLayout::of_binary(&exe), None, "no marker yet");
        std::fs::write(layout.marker(), "zenml\n").unwrap();
        assert_eq!(InstallLayout::of_binary(&exe), Some(layout.clone()));
        assert_eq!(InstallLayout::of_binary(&dir.join("target/zenml")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
