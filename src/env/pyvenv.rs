//! `pyvenv.cfg`: `key = value` lines split at the first `=` (not INI: no sections, no quoting).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::PyVersion;

/// The parts of a `pyvenv.cfg` the launcher uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PyvenvCfg {
    /// `home`: the directory of the base interpreter (raw bytes kept).
    pub home: Option<PathBuf>,
    /// `version` (venv, virtualenv) or `version_info` (virtualenv, uv).
    pub version: Option<PyVersion>,
    /// `include-system-site-packages`: `true` when absent, as site.py reads it.
    pub system_site_packages: bool,
    /// Why CPython cannot start with this file (then nothing else is read, and pre-flight
    /// refuses the env).
    pub refused: Option<String>,
}

/// getpath.c's `readlines` reads at most this much; a larger file stops CPython's start-up.
const GETPATH_MAX_FILE: usize = 32 * 1024;

impl PyvenvCfg {
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read(path)?))
    }

    pub fn parse(content: &[u8]) -> Self {
        let mut cfg = PyvenvCfg {
            system_site_packages: true,
            ..PyvenvCfg::default()
        };
        let refused = if content.len() >= GETPATH_MAX_FILE {
            Some("larger than the 32 KiB CPython's getpath reads")
        } else if std::str::from_utf8(content).is_err() {
            Some("not UTF-8, which site.py cannot decode")
        } else {
            None
        };
        if let Some(why) = refused {
            cfg.refused = Some(format!("{why}: Python cannot start with it"));
            return cfg;
        }
        let mut version = None;
        let mut version_info = None;
        for line in content.split(|&b| b == b'\n') {
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                continue;
            };
            let key = trim(&line[..eq]);
            let value = trim(&line[eq + 1..]);
            match key {
                b"home" => cfg.home = Some(PathBuf::from(OsString::from_vec(value.to_vec()))),
                b"version" => version = std::str::from_utf8(value).ok().and_then(PyVersion::parse),
                b"version_info" => {
                    version_info = std::str::from_utf8(value).ok().and_then(PyVersion::parse)
                }
                b"include-system-site-packages" => {
                    cfg.system_site_packages = value.eq_ignore_ascii_case(b"true")
                }
                _ => {}
            }
        }
        cfg.version = version.or(version_info);
        cfg
    }

    /// The base prefix a venv's `home` implies: `home` is `<prefix>/bin`.
    pub fn base_prefix(&self) -> Option<PathBuf> {
        let home = self.home.as_ref()?;
        let trimmed = home.as_os_str().as_bytes();
        let trimmed = trimmed.strip_suffix(b"/").unwrap_or(trimmed);
        Path::new(std::ffi::OsStr::from_bytes(trimmed))
            .parent()
            .map(Path::to_path_buf)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_style() {
        let cfg = PyvenvCfg::parse(
            b"home = /root/.pyenv/versions/3.11.7/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
        );
        assert_eq!(
            cfg.home.as_deref(),
            Some(Path::new("/root/.pyenv/versions/3.11.7/bin"))
        );
        assert_eq!(
            cfg.version,
            Some(PyVersion {
                major: 3,
                minor: 11,
                micro: Some(7)
            })
        );
        assert!(!cfg.system_site_packages);
        assert_eq!(
            cfg.base_prefix().as_deref(),
            Some(Path::new("/root/.pyenv/versions/3.11.7"))
        );
    }

    #[test]
    fn uv_style_has_only_version_info_and_equals_in_values() {
        let cfg = PyvenvCfg::parse(
            b"home=/opt/py/bin\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.12.1\nprompt = a=b\ninclude-system-site-packages = true\n",
        );
        assert_eq!(
            cfg.version,
            Some(PyVersion {
                major: 3,
                minor: 12,
                micro: Some(1)
            })
        );
        assert!(cfg.system_site_packages);
        assert_eq!(cfg.home.as_deref(), Some(Path::new("/opt/py/bin")));
    }

    #[test]
    fn no_section_headers_needed_and_garbage_ignored() {
        let cfg = PyvenvCfg::parse(b"[weird]\nno equals here\nhome = /x/bin/\n");
        assert_eq!(cfg.base_prefix().as_deref(), Some(Path::new("/x")));
        assert_eq!(cfg.version, None);
    }

    #[test]
    fn files_python_cannot_start_with_are_refused() {
        // site.py reads the file as UTF-8 and stops the start-up on anything else (3.10-3.13).
        let cfg = PyvenvCfg::parse(b"home = /bad\xffdir/bin\n");
        assert!(
            cfg.refused.as_deref().unwrap().contains("not UTF-8"),
            "{cfg:?}"
        );
        assert_eq!(cfg.home, None);
        let mut big = b"home = /usr/bin\n".to_vec();
        big.resize(GETPATH_MAX_FILE, b'#');
        assert!(PyvenvCfg::parse(&big).refused.is_some());
        big.pop();
        assert!(PyvenvCfg::parse(&big).refused.is_none());
    }
}
