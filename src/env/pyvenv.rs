//! `pyvenv.cfg`: `key = value` lines split at the first `=` (not INI: no sections, no quoting),
//! read as CPython reads it: `home` as getpath reads it (lines split at `\n`, up to the first NUL,
//! the first `home` line), the other keys as site.py's `venv()` reads them (universal newlines,
//! the last line wins); keys compared after Python's `strip().lower()`, values `strip()`ped with
//! Python's white space. A file CPython cannot start with (not UTF-8, 32 KiB or more) is
//! refused. tests/hostile_input.rs compares it with CPython's own getpath and site.py.

use std::os::unix::ffi::OsStrExt;
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
        let text = std::str::from_utf8(content).expect("checked above");
        // `home` as CPython's getpath reads it (the base interpreter, hence the base prefix):
        // the text up to the first NUL, lines split at '\n' (the '\r's before it removed),
        // the first `home` line.
        let getpath_text = text.split('\0').next().unwrap_or_default();
        let mut lines: Vec<&str> = getpath_text.split('\n').collect();
        let last = lines.pop().unwrap_or_default();
        let lines = lines
            .into_iter()
            .map(|l| l.trim_end_matches(['\r', '\n']))
            .chain([last]);
        cfg.home = lines
            .filter_map(key_value)
            .find(|(key, _)| key == "home")
            .map(|(_, value)| PathBuf::from(value));
        // The other keys as site.py's venv() reads them: universal newlines, every line, the
        // last one wins.
        let mut version = None;
        let mut version_info = None;
        for (key, value) in universal_lines(text).filter_map(key_value) {
            match key.as_str() {
                "include-system-site-packages" => {
                    cfg.system_site_packages = value.to_lowercase() == "true"
                }
                "version" => version = PyVersion::parse(value),
                "version_info" => version_info = PyVersion::parse(value),
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

/// `key, _, value = line.partition('=')` with `key.strip().lower()` and `value.strip()`, as
/// getpath and site.py split a line (`None`: no `=`).
fn key_value(line: &str) -> Option<(String, &str)> {
    let (key, value) = line.split_once('=')?;
    Some((py_strip(key).to_lowercase(), py_strip(value)))
}

/// Python's `str.strip()`: Unicode white space and U+001C..U+001F (`Py_UNICODE_ISSPACE`).
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The lines of a file read in text mode (`\r\n`, `\r` and `\n` end a line).
fn universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[end..];
        rest = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\r'))
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or(rest);
        Some(line)
    })
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
    fn keys_and_lines_as_getpath_and_site_py_read_them() {
        // getpath: the first `home`, any case, Python's white space around it.
        let cfg = PyvenvCfg::parse(b"\xc2\xa0HOME = /a/bin\x0b\nhome = /b/bin\n");
        assert_eq!(cfg.home.as_deref(), Some(Path::new("/a/bin")));
        // A lone '\r' ends a line for site.py, not for getpath.
        let cfg = PyvenvCfg::parse(b"x = 1\rhome = /a/bin\rinclude-system-site-packages = FALSE\n");
        assert_eq!(cfg.home, None);
        assert!(!cfg.system_site_packages);
        // getpath stops at a NUL; site.py reads on.
        let cfg = PyvenvCfg::parse(b"version = 3.12.1\0\nhome = /a/bin\n");
        assert_eq!(cfg.home, None);
        assert_eq!(cfg.version.map(|v| v.minor), Some(12));
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
