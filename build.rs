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
    pyo3_build_config::add_libpython_rpath_link_args();
    println!(
        "cargo:rustc-env=ZENML_LAUNCHER_BUILD_PYTHON={}",
        config.executable().unwrap_or("")
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
}
