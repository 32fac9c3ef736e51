//! Links the libpython of the Python PyO3 picks (PYO3_PYTHON, else the active env's, else `python3`)
//! and records its directory as an rpath, so `target/*/zenml` starts without LD_LIBRARY_PATH.

fn main() {
    let config = pyo3_build_config::get();
    if !config.shared() {
        eprintln!(
            "error: the Python chosen for the build ({}) has no shared libpython, and the launcher embeds it.\n\
             hint: build with PYO3_PYTHON pointing at a Python built with --enable-shared, e.g.\n\
             \x20     PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11.7\n\
             \x20     PYO3_PYTHON=$HOME/.pyenv/versions/3.11.7/bin/python3.11 cargo build --release",
            config.executable().unwrap_or("python3")
        );
        std::process::exit(1);
    }
    // The libpython rpath, for the binaries that embed Python (the examples, and the tests that
    // start it). The `zenml` binary links no libpython today: an rpath there would only make the
    // loader search pyenv's lib dir for libc, libm and libgcc_s on every start.
    if let Some(lib_dir) = config.lib_dir() {
        for kind in ["examples", "tests"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-rpath,{lib_dir}");
        }
    }
    // A linker of its own (RUSTC_LINKER: `cargo zigbuild`, `maturin --zig`) links for an older
    // glibc floor (the wheel's manylinux tag): the two start-up tweaks below are for builds with
    // the system's own toolchain only.
    let own_toolchain = std::env::var_os("RUSTC_LINKER").is_none();
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    // Packed relative relocations (DT_RELR, glibc ≥ 2.36): less work for the loader on every start.
    if own_toolchain
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && linker_supports_relr()
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // The unwinder linked statically (libgcc_eh, as `gcc -static-libgcc` does) instead of
    // libgcc_s.so: one shared library less to load, relocate and initialise on every start.
    if own_toolchain
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        if let Some(dir) = static_unwinder_dir() {
            println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
        }
    }
    // `cfg(Py_3_12)` etc. for this crate too: `python::ffi::BUILT_FOR` says which minor version
    // the PyConfig layout compiled in is (the embedding library checks it against the libpython
    // it runs with).
    pyo3_build_config::use_pyo3_cfgs();
    println!(
        "cargo:rustc-env=ZENML_LAUNCHER_BUILD_PYTHON={}",
        config.executable().unwrap_or("")
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
    println!("cargo:rerun-if-changed=build.rs");
}

/// True when the system linker and C library understand `-z pack-relative-relocs`.
fn linker_supports_relr() -> bool {
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let src = std::path::Path::new(&dir).join("relr_probe.c");
    let out = std::path::Path::new(&dir).join("relr_probe");
    if std::fs::write(&src, "int main(void){return 0;}\n").is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    std::process::Command::new(cc)
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .arg("-Wl,-z,pack-relative-relocs")
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && std::process::Command::new(&out)
                    .status()
                    .is_ok_and(|s| s.success())
        })
}

/// A directory where `-lgcc_s` (std's unwinder) finds the compiler's static `libgcc_eh.a`.
fn static_unwinder_dir() -> Option<std::path::PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let eh = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    if !out.status.success() || !eh.is_absolute() || !eh.is_file() {
        return None;
    }
    let dir = std::path::Path::new(&std::env::var("OUT_DIR").ok()?).join("static-unwinder");
    std::fs::create_dir_all(&dir).ok()?;
    let shim = dir.join("libgcc_s.a");
    let _ = std::fs::remove_file(&shim);
    std::os::unix::fs::symlink(&eh, &shim).ok()?;
    Some(dir)
}
