//! Which shared libpython an env's base interpreter uses, found without running Python: from
//! that Python's own sysconfig data (`<base>/lib/pythonX.Y/_sysconfigdata_*.py`: `INSTSONAME`,
//! `LIBDIR`, `MULTIARCH`, `ABIFLAGS`, `VERSION`), with stats and one file read.
//!
//! The wheel's embedding libraries link no libpython (one per minor version serves every build of
//! it), so the launcher loads this one first (`RTLD_GLOBAL`), then the library. It is always the
//! versioned soname (`libpython3.12.so.1.0`): the bare `.so` link exists only with -dev packages.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::PythonEnv;

/// The libpython file to load, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibPython {
    pub path: PathBuf,
    pub why: String,
}

/// The values of a `_sysconfigdata_*.py` the search needs (raw bytes, as in the file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysconfigData {
    pub file: PathBuf,
    pub abiflags: Vec<u8>,
    pub instsoname: Vec<u8>,
    pub libdir: Vec<u8>,
    pub multiarch: Vec<u8>,
    pub version: Vec<u8>,
    pub shared: Option<bool>,
}

/// The libpython of `env`'s base interpreter. `Err`: none usable, and why (one line).
pub fn find(env: &PythonEnv) -> Result<LibPython, String> {
    let version = env.version.ok_or("the env's Python version is unknown")?;
    let base = env
        .base_prefix()
        .ok_or("the env names no base Python (pyvenv.cfg has no `home`)")?;
    let data = read_sysconfig(&base.join("lib").join(version.lib_dir_name()))?;
    let shown = data.file.display();
    if data.version != format!("{}.{}", version.major, version.minor).as_bytes() {
        return Err(format!(
            "{shown} says VERSION {:?}, the env runs Python {}.{}",
            String::from_utf8_lossy(&data.version),
            version.major,
            version.minor
        ));
    }
    if data.abiflags.contains(&b'd') {
        return Err(format!(
            "the base Python is a debug build (ABIFLAGS {:?} in {shown}), which the embedding libraries do not serve",
            String::from_utf8_lossy(&data.abiflags)
        ));
    }
    if data.abiflags.contains(&b't') {
        return Err(format!(
            "the base Python is a free-threaded build (ABIFLAGS {:?} in {shown}), which the embedding libraries do not serve",
            String::from_utf8_lossy(&data.abiflags)
        ));
    }
    let soname = if data.instsoname.windows(3).any(|w| w == b".so") {
        data.instsoname.clone()
    } else {
        // A static build names its archive here; the shared library, if a package added one,
        // has the standard soname.
        let mut name = b"libpython".to_vec();
        name.extend_from_slice(&data.version);
        name.extend_from_slice(&data.abiflags);
        name.extend_from_slice(b".so.1.0");
        name
    };
    let shown_soname = String::from_utf8_lossy(&soname).into_owned();
    let soname = OsStr::from_bytes(&soname);
    let libdir = Path::new(OsStr::from_bytes(&data.libdir));
    let mut candidates: Vec<(PathBuf, String)> = vec![(
        base.join("lib").join(soname),
        format!(
            "beside the base Python's standard library, in {}/lib",
            base.display()
        ),
    )];
    if !data.libdir.is_empty() {
        candidates.push((libdir.join(soname), format!("in LIBDIR of {shown}")));
        if !data.multiarch.is_empty() {
            candidates.push((
                libdir.join(OsStr::from_bytes(&data.multiarch)).join(soname),
                format!("in LIBDIR/MULTIARCH of {shown}"),
            ));
        }
    }
    if !data.multiarch.is_empty() {
        candidates.push((
            Path::new("/usr/lib")
                .join(OsStr::from_bytes(&data.multiarch))
                .join(soname),
            format!("in the system's multiarch directory (MULTIARCH of {shown})"),
        ));
    }
    // The same path by two rules (Debian: LIBDIR is the multiarch directory) is looked at once.
    let mut unique = std::collections::HashSet::new();
    candidates.retain(|(path, _)| unique.insert(path.clone()));
    if let Some((path, why)) = candidates.iter().find(|(path, _)| path.is_file()) {
        return Ok(LibPython {
            path: path.clone(),
            why: format!("{shown_soname} (INSTSONAME) found {why}"),
        });
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|(p, _)| p.parent().unwrap_or(p).display().to_string())
        .collect();
    Err(format!(
        "the base Python {} has no shared libpython{}: {} is not in {}",
        base.display(),
        if data.shared == Some(false) {
            " (built without --enable-shared)"
        } else {
            ""
        },
        shown_soname,
        looked.join(", ")
    ))
}

/// The sysconfig data in a stdlib directory (`<prefix>/lib/pythonX.Y`). With several files, the
/// name CPython itself reads on Linux wins (`_sysconfigdata__linux_<multiarch>.py`: no ABI flags).
pub fn read_sysconfig(stdlib: &Path) -> Result<SysconfigData, String> {
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(stdlib)
        .map_err(|e| format!("cannot list {}: {e}", stdlib.display()))?
        .flatten()
        .map(|e| e.file_name().as_bytes().to_vec())
        .filter(|n| n.starts_with(b"_sysconfigdata_") && n.ends_with(b".py"))
        .collect();
    names.sort_by_key(|n| {
        (
            !n.starts_with(b"_sysconfigdata__linux_"),
            !n.starts_with(b"_sysconfigdata__"),
            n.clone(),
        )
    });
    let name = names
        .first()
        .ok_or_else(|| format!("no _sysconfigdata_*.py in {}", stdlib.display()))?;
    let file = stdlib.join(OsStr::from_bytes(name));
    let text = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let string = |key: &str| match value(&text, key) {
        Some(Value::Str(s)) => Ok(s),
        Some(Value::Int(_)) | None => Err(format!("{} has no string {key}", file.display())),
    };
    Ok(SysconfigData {
        abiflags: string("ABIFLAGS").unwrap_or_default(),
        instsoname: string("INSTSONAME")?,
        libdir: string("LIBDIR").unwrap_or_default(),
        multiarch: string("MULTIARCH").unwrap_or_default(),
        version: string("VERSION")?,
        shared: match value(&text, "Py_ENABLE_SHARED") {
            Some(Value::Int(n)) => Some(n != 0),
            _ => None,
        },
        file,
    })
}

/// The `DT_NEEDED` entries of the ELF shared library at `path` (64-bit little-endian only: the
/// platforms the wheel is built for). Reads its headers, never loads it.
pub fn needed_libraries(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    use std::os::unix::fs::FileExt;
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    let file = std::fs::File::open(path)?;
    let read = |offset: u64, len: usize| -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    };
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let header = read(0, 64)?;
    if !header.starts_with(b"\x7fELF") || header[4] != 2 || header[5] != 1 {
        return Err(bad("not a 64-bit little-endian ELF file"));
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&header, 0x20),
        usize::from(u16_at(&header, 0x36)),
        usize::from(u16_at(&header, 0x38)),
    );
    if phentsize < 56 || phnum > 4096 {
        return Err(bad("unexpected program headers"));
    }
    let table = read(phoff, phentsize * phnum)?;
    let headers: Vec<&[u8]> = table.chunks(phentsize).collect();
    let kind = |h: &[u8]| u32::from_le_bytes(h[0..4].try_into().unwrap());
    let Some(dynamic) = headers.iter().find(|h| kind(h) == 2) else {
        return Ok(Vec::new());
    };
    let size = usize::try_from(u64_at(dynamic, 32)).map_err(|_| bad("dynamic section size"))?;
    if size > 1 << 20 {
        return Err(bad("dynamic section too large"));
    }
    let entries = read(u64_at(dynamic, 8), size)?;
    let (mut needed, mut strtab, mut strsz) = (Vec::new(), None, 0u64);
    for entry in entries.chunks_exact(16) {
        match u64_at(entry, 0) {
            0 => break,
            1 => needed.push(u64_at(entry, 8)),
            5 => strtab = Some(u64_at(entry, 8)),
            10 => strsz = u64_at(entry, 8),
            _ => {}
        }
    }
    let Some(strtab) = strtab else {
        return Ok(Vec::new());
    };
    // The string table's address, as a file offset (through the PT_LOAD segment holding it).
    let offset = headers
        .iter()
        .filter(|h| kind(h) == 1)
        .find(|h| (u64_at(h, 16)..u64_at(h, 16) + u64_at(h, 32)).contains(&strtab))
        .map(|h| strtab - u64_at(h, 16) + u64_at(h, 8))
        .ok_or_else(|| bad("string table outside the loaded segments"))?;
    if strsz > 1 << 24 {
        return Err(bad("string table too large"));
    }
    let strings = read(offset, strsz as usize)?;
    Ok(needed
        .into_iter()
        .filter_map(|at| {
            let rest = strings.get(usize::try_from(at).ok()?..)?;
            Some(rest[..rest.iter().position(|&b| b == 0)?].to_vec())
        })
        .collect())
}

/// True when the shared library at `path` names a libpython among its dependencies (a library
/// built against one Python): it then brings its own, and nothing is loaded before it.
pub fn links_libpython(path: &Path) -> std::io::Result<bool> {
    Ok(needed_libraries(path)?
        .iter()
        .any(|name| name.starts_with(b"libpython")))
}

#[derive(Debug, PartialEq, Eq)]
enum Value {
    Str(Vec<u8>),
    Int(i64),
}

/// The value of `'KEY': <literal>` in the `build_time_vars` dict as `pprint` writes it: a string
/// (adjacent literals concatenated, as Python does for long values) or an integer.
fn value(text: &[u8], key: &str) -> Option<Value> {
    let needle = format!("'{key}': ");
    let at = text
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    let mut rest = &text[at + needle.len()..];
    if rest
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    {
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(rest.len());
        return std::str::from_utf8(&rest[..end])
            .ok()?
            .parse()
            .ok()
            .map(Value::Int);
    }
    let mut out = Vec::new();
    loop {
        let quote = *rest.first().filter(|q| **q == b'\'' || **q == b'"')?;
        let mut i = 1;
        loop {
            match rest.get(i)? {
                b'\\' => {
                    let escaped = *rest.get(i + 1)?;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        other => out.push(other),
                    }
                    i += 2;
                }
                b if *b == quote => break,
                b => {
                    out.push(*b);
                    i += 1;
                }
            }
        }
        rest = &rest[i + 1..];
        let skip = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        if rest.get(skip).is_some_and(|b| *b == b'\'' || *b == b'"') {
            rest = &rest[skip..];
        } else {
            return Some(Value::Str(out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &[u8] = b"# system configuration\nbuild_time_vars = {'ABIFLAGS': '',\n 'BLDSHARED': 'gcc -shared '\n              '-Wl,-rpath',\n 'INSTSONAME': 'libpython3.12.so.1.0',\n 'LIBDIR': '/opt/py/lib',\n 'LIBDIR2': 'no',\n 'MULTIARCH': 'x86_64-linux-gnu',\n 'Py_ENABLE_SHARED': 1,\n 'VERSION': '3.12'}\n";

    #[test]
    fn reads_pprint_literals() {
        assert_eq!(value(DATA, "ABIFLAGS"), Some(Value::Str(Vec::new())));
        assert_eq!(
            value(DATA, "BLDSHARED"),
            Some(Value::Str(b"gcc -shared -Wl,-rpath".to_vec()))
        );
        assert_eq!(
            value(DATA, "LIBDIR"),
            Some(Value::Str(b"/opt/py/lib".to_vec()))
        );
        assert_eq!(value(DATA, "Py_ENABLE_SHARED"), Some(Value::Int(1)));
        assert_eq!(value(DATA, "MISSING"), None);
        assert_eq!(
            value(b"{'A': 'x\\'y'}", "A"),
            Some(Value::Str(b"x'y".to_vec()))
        );
    }

    fn prefix_with(name: &str, data: &[u8], lib: bool) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zl-libpython-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stdlib = dir.join("lib/python3.12");
        std::fs::create_dir_all(&stdlib).unwrap();
        std::fs::write(stdlib.join("os.py"), "").unwrap();
        std::fs::write(
            stdlib.join("_sysconfigdata__linux_x86_64-linux-gnu.py"),
            data,
        )
        .unwrap();
        if lib {
            std::fs::write(dir.join("lib/libpython3.12.so.1.0"), "").unwrap();
        }
        dir
    }

    fn standalone(root: &Path) -> PythonEnv {
        PythonEnv {
            source: super::super::Source::Named,
            kind: super::super::Kind::Standalone,
            root: root.to_path_buf(),
            executable: root.join("bin/python"),
            version: super::super::PyVersion::parse("3.12.1"),
            pyvenv: None,
        }
    }

    #[test]
    fn finds_the_versioned_soname_beside_the_stdlib_first() {
        let dir = prefix_with("found", DATA, true);
        let found = find(&standalone(&dir)).unwrap();
        assert_eq!(found.path, dir.join("lib/libpython3.12.so.1.0"));
        assert!(found.why.contains("INSTSONAME"), "{}", found.why);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn says_why_when_there_is_none() {
        let dir = prefix_with("none", DATA, false);
        let why = find(&standalone(&dir)).unwrap_err();
        assert!(
            why.contains("has no shared libpython") && why.contains("/opt/py/lib"),
            "{why}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let data = String::from_utf8_lossy(DATA)
            .replace("'libpython3.12.so.1.0'", "'libpython3.12.a'")
            .replace("'Py_ENABLE_SHARED': 1", "'Py_ENABLE_SHARED': 0");
        let dir = prefix_with("static", data.as_bytes(), false);
        let why = find(&standalone(&dir)).unwrap_err();
        assert!(
            why.contains("--enable-shared") && why.contains("libpython3.12.so.1.0 is not in"),
            "{why}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_needed_entries_of_an_elf_file() {
        let exe = std::env::current_exe().unwrap();
        let needed = needed_libraries(&exe).unwrap();
        assert!(
            needed.iter().any(|n| n.starts_with(b"libc.so")),
            "{:?}",
            needed
                .iter()
                .map(|n| String::from_utf8_lossy(n))
                .collect::<Vec<_>>()
        );
        let dir = std::env::temp_dir().join(format!("zl-elf-{}", std::process::id()));
        std::fs::write(&dir, "#!/bin/sh\n").unwrap();
        assert!(needed_libraries(&dir).is_err());
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn refuses_debug_and_free_threaded_builds() {
        for (flags, what) in [("d", "debug"), ("t", "free-threaded")] {
            let data = String::from_utf8_lossy(DATA)
                .replace("'ABIFLAGS': ''", &format!("'ABIFLAGS': '{flags}'"));
            let dir = prefix_with(what, data.as_bytes(), true);
            let why = find(&standalone(&dir)).unwrap_err();
            assert!(why.contains(what), "{why}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
