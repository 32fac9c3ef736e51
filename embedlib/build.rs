//! The embedding library links libpython (through pyo3-ffi); its directory is recorded as an
//! rpath so the library loads without LD_LIBRARY_PATH (pyenv's lib dir is off the loader path).

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
}
