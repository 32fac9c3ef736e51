//! The per-distribution cache: what the launcher needs from the installed CLI (root options and
//! commands, the help text and banners as rich renders them, Click's stream and exit-code wiring),
//! generated once by running `gen_cache.py` with the env's own python, then read in microseconds.
//!
//! Key: a fingerprint of the env and of the installed files (site-packages and dist-info, every
//! `zenml/cli/*.py`, `zenml/VERSION`, the generator itself), so installing, upgrading or editing
//! ZenML regenerates it. Stored under `$ZENML_LAUNCHER_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/zenml-launcher`, else `~/.cache/zenml-launcher`; written atomically (a temp
//! dir renamed into place).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::cli_spec::RootSpec;
use crate::declined::Declined;
use crate::env::PythonEnv;
use crate::render::highlight::ThemeData;
use crate::render::text::{Line, StyleCodes};
use crate::vars;
use crate::zenml::package::ZenmlInstall;

/// The generator, one script in two files: the theme steps first, then `gen_cache.py` with `main`.
const GENERATOR: &str = concat!(
    include_str!("gen_cache_theme.py"),
    "\n",
    include_str!("gen_cache.py")
);
/// FNV-1a of the generator, computed at compile time (it is part of every fingerprint).
const GENERATOR_HASH: u64 = {
    let bytes = GENERATOR.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
};

/// How Click finishes a help call: what follows the body on each stream, and the exit code.
#[derive(Debug, Clone, Deserialize)]
pub struct HelpWiring {
    pub exit: i32,
    pub stdout_after: String,
    pub stderr_after: String,
}

/// Lines rich prints, and whether the last one ends with a newline (a prompt does not).
#[derive(Debug, Clone, Deserialize)]
pub struct Rendered {
    pub lines: Vec<Line>,
    pub newline: bool,
}

/// `clean`'s confirmation (rich `Confirm.ask` on the zenml console).
#[derive(Debug, Clone, Deserialize)]
pub struct CleanSpec {
    pub prompt: Rendered,
    pub invalid: Rendered,
    pub aborting: Rendered,
    /// What EOF (and Ctrl-C: Click handles both alike) prints after the prompt, and the rc.
    pub eof: HelpWiring,
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionCommand {
    pub banners: Vec<Vec<Line>>,
    pub tail_plain: String,
    pub tail_tty: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionFlag {
    pub stream: String,
    pub template: String,
}

/// `meta.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub schema: u32,
    /// Parts the generator could not reproduce (`all`, `version`, `help`, `version_flag`, `theme`).
    pub unsupported: BTreeMap<String, String>,
    #[serde(default)]
    pub stdout_rerouted: bool,
    pub root: Option<RootSpec>,
    #[serde(default)]
    pub styles: Vec<StyleCodes>,
    /// The banners of `zenml version` (most of meta.json): parsed only by that command.
    #[serde(default)]
    pub version: Option<Deferred<VersionCommand>>,
    pub version_flag: Option<VersionFlag>,
    pub help_flag: Option<HelpWiring>,
    pub no_args: Option<HelpWiring>,
    /// `StackComponentType` values in enum order (the stack list's component columns).
    #[serde(default)]
    pub stack_component_types: Option<Vec<String>>,
    #[serde(default)]
    pub clean: Option<Deferred<CleanSpec>>,
}

/// A part of a cache file kept as JSON text when the file is read, and parsed by the command that
/// uses it: the other commands do not pay for building it.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Deferred<T> {
    raw: Box<serde_json::value::RawValue>,
    #[serde(skip)]
    parsed: std::marker::PhantomData<T>,
}

impl<T: serde::de::DeserializeOwned> Deferred<T> {
    /// The parsed value; `None` when it does not have the expected shape.
    pub fn get(&self) -> Option<T> {
        serde_json::from_str(self.raw.get()).ok()
    }
}

impl Meta {
    /// The fd the CLI's `sys.stdout` writes to.
    pub fn out_fd(&self) -> usize {
        if self.stdout_rerouted { 2 } else { 1 }
    }

    pub fn supports(&self, part: &str) -> bool {
        !self.unsupported.contains_key("all") && !self.unsupported.contains_key(part)
    }
}

/// `help-<click width>.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct HelpText {
    pub lines: Vec<Line>,
    pub echo: String,
}

/// A loaded cache entry.
#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
    pub meta: Meta,
}

impl Cache {
    /// The zenml console's theme and rich's highlighter patterns (`theme.json`), for the commands
    /// that highlight; read only by them.
    pub fn theme(&self) -> Result<ThemeData, Declined> {
        let missing = Declined::new("console theme not generated");
        if !self.meta.supports("theme") {
            return Err(missing);
        }
        read_json(&self.dir.join("theme.json")).ok_or(missing)
    }

    pub fn help(&self, click_width: usize) -> Option<HelpText> {
        read_json(&self.dir.join(format!("help-{click_width}.json")))
    }
}

const SCHEMA: u32 = 1;

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The cache root directory.
pub fn root_dir() -> Option<PathBuf> {
    if let Some(dir) = vars::os(vars::ZENML_LAUNCHER_CACHE_DIR).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = vars::os(vars::XDG_CACHE_HOME)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(xdg.join("zenml-launcher"));
    }
    let home = vars::os(vars::HOME)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())?;
    Some(home.join(".cache").join("zenml-launcher"))
}

/// True for the names the cache gives its entries (a 16-digit hex fingerprint) and the generator's
/// unfinished ones (`<fingerprint>.tmp-<pid>`): what `zenml-launcher cache clear` may remove.
pub fn is_entry_name(name: &str) -> bool {
    // Bytes, not chars: a name with a multi-byte character at byte 16 is simply not ours.
    let (key, rest) = name.as_bytes().split_at(name.len().min(16));
    let hex = key.len() == 16
        && key
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let rest = std::str::from_utf8(rest).unwrap_or("\u{fffd}");
    hex && (rest.is_empty()
        || rest
            .strip_prefix(".tmp-")
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())))
}

/// Removes every cache entry under `root` (and nothing else there): how many were removed.
pub fn clear(root: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let ours = entry.file_name().to_str().is_some_and(is_entry_name);
        if ours && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// FNV-1a, 64 bit: a stable, dependency-free hash for cache keys.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn path(&mut self, path: &Path) {
        self.bytes(path.as_os_str().as_bytes());
    }
    fn stat(&mut self, path: &Path) {
        match std::fs::metadata(path) {
            Ok(m) => {
                self.bytes(&m.mtime().to_le_bytes());
                self.bytes(&m.mtime_nsec().to_le_bytes());
                self.bytes(&m.size().to_le_bytes());
                self.bytes(&m.ino().to_le_bytes());
            }
            Err(_) => self.bytes(b"-"),
        }
    }
}

/// The key of the installed distribution as this env sees it.
pub fn fingerprint(env: &PythonEnv, install: &ZenmlInstall) -> String {
    let mut h = Fnv::new();
    h.bytes(&SCHEMA.to_le_bytes());
    h.bytes(env!("CARGO_PKG_VERSION").as_bytes());
    h.bytes(&GENERATOR_HASH.to_le_bytes());
    h.path(&env.executable);
    h.stat(&env.executable);
    h.path(&install.site_packages);
    h.stat(&install.site_packages);
    h.path(&install.dist_info);
    h.stat(&install.dist_info.join("RECORD"));
    // What gen_cache.py reads from rich and PyYAML (cell widths, resolvers): a reinstall of
    // either changes site-packages too, these make an in-place edit count as well.
    for dep in [
        "rich/cells.py",
        "rich/_unicode_data/_versions.py",
        "yaml/resolver.py",
    ] {
        h.stat(&install.site_packages.join(dep));
    }
    h.bytes(install.entry_point.module.as_bytes());
    h.bytes(install.entry_point.attr.as_bytes());
    if let Some(pkg) = &install.package_dir {
        h.path(pkg);
        h.stat(&pkg.join("VERSION"));
        let cli = pkg.join("cli");
        h.stat(&cli);
        // A regular install changes site-packages (and RECORD) when it changes; an editable one
        // (the package outside site-packages) can be edited in place: stat its CLI sources too.
        let editable = !pkg.starts_with(&install.site_packages);
        let mut files: Vec<PathBuf> = if !editable {
            Vec::new()
        } else {
            std::fs::read_dir(&cli)
                .map(|rd| rd.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "py"))
        {
            h.path(f);
            h.stat(f);
        }
        if let Some(parent) = pkg.parent() {
            h.stat(&parent.join("zenml_cli").join("__init__.py"));
        }
    }
    format!("{:016x}", h.0)
}

/// The command that generates the cache entry `dir` (named `key`) with the env's own python.
pub fn generator_command(
    env: &PythonEnv,
    install: &ZenmlInstall,
    dir: &Path,
    key: &str,
) -> Command {
    let mut cmd = Command::new(&env.executable);
    cmd.arg("-c")
        .arg(GENERATOR)
        .arg(env.bin_dir())
        .arg(dir)
        .arg(key)
        .arg(&install.entry_point.module)
        .arg(&install.entry_point.attr)
        .arg(crate::zenml::package::STORE_VERIFIED_VERSIONS.join(","))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Loads the cache entry of this install (`key`: its [`fingerprint`]), generating it (≈ the
/// cost of one Python CLI run) when missing. `Err`: it cannot be had, and why; the caller then
/// has no Rust answer.
pub fn load_or_generate(
    env: &PythonEnv,
    install: &ZenmlInstall,
    key: &str,
) -> Result<Cache, Declined> {
    let root = root_dir().ok_or("no cache directory (HOME unset)")?;
    let dir = root.join(key);
    if let Some(meta) = read_json::<Meta>(&dir.join("meta.json")) {
        return check(Cache { dir, meta });
    }
    // An unwritable cache would cost a generation on every call: check before generating.
    std::fs::create_dir_all(&root)
        .map_err(|e| Declined::new(format!("cannot create {}: {e}", root.display())))?;
    let probe = root.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| Declined::new(format!("cannot write in {}: {e}", root.display())))?;
    let _ = std::fs::remove_file(&probe);
    let status = generator_command(env, install, &dir, key)
        .status()
        .map_err(|e| Declined::new(format!("cannot run {}: {e}", env.executable.display())))?;
    let meta = read_json::<Meta>(&dir.join("meta.json"))
        .ok_or_else(|| Declined::new(format!("cache generation failed ({status})")))?;
    check(Cache { dir, meta })
}

fn check(cache: Cache) -> Result<Cache, Declined> {
    if cache.meta.schema != SCHEMA {
        return Err(Declined::new(format!(
            "cache schema {} != {SCHEMA}",
            cache.meta.schema
        )));
    }
    if let Some(why) = cache.meta.unsupported.get("all") {
        return Err(Declined::new(format!(
            "installed CLI not reproducible: {why}"
        )));
    }
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entry_names_are_cleared() {
        assert!(is_entry_name("0123456789abcdef"));
        assert!(is_entry_name("0123456789abcdef.tmp-42"));
        for name in [
            "",
            "0123456789abcde",
            "0123456789ABCDEF",
            "0123456789abcdef0",
            "0123456789abcdef.tmp-",
            "notes",
            ".write-test-1",
            // A character across byte 16 (this panicked in `split_at`).
            "0123456789abcde\u{e9}",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert!(!is_entry_name(name), "{name}");
        }
        let root = std::env::temp_dir().join(format!("zl-cache-clear-{}", std::process::id()));
        std::fs::create_dir_all(root.join("0123456789abcdef")).unwrap();
        std::fs::write(root.join("0123456789abcdef/meta.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("keep-me")).unwrap();
        std::fs::write(root.join("fedcba9876543210"), "a file, not an entry").unwrap();
        assert_eq!(clear(&root).unwrap(), 1);
        assert!(root.join("keep-me").is_dir() && root.join("fedcba9876543210").is_file());
        assert!(!root.join("0123456789abcdef").exists());
        assert_eq!(clear(&root.join("missing")).unwrap(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
