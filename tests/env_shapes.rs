//! Real envs of every supported shape: the embedded interpreter (`examples/print_sys_path`) must
//! see exactly what the env's own `python` sees (its leading `''` sys.path entry removed).

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// What the env's own interpreter reports, in print_sys_path's key names.
const DUMP: &str = "import json, sys\n\
print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix, \
'exec_prefix': sys.exec_prefix, 'base_exec_prefix': sys.base_exec_prefix, \
'executable': sys.executable, 'path': sys.path, \
'version': '%d.%d.%d' % sys.version_info[:3]}))";

/// One env shape: the interpreter to ask, the variables to set, and the env the launcher should
/// resolve.
struct Shape {
    python: PathBuf,
    vars: Vec<(&'static str, OsString)>,
    source: &'static str,
    kind: &'static str,
    root: PathBuf,
}

fn parse(what: &str, bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {}", show(bytes)))
}

/// Runs both sides under the same clean environment, compares them, and returns the embedded
/// side's JSON for shape-specific checks.
fn check(home: &Path, shape: &Shape) -> Value {
    let mut embedded = clean_command(print_sys_path(), home);
    let mut real = clean_command(&shape.python, home);
    for (name, value) in &shape.vars {
        embedded.env(name, value);
        real.env(name, value);
    }
    let got = output(embedded.arg("--json"));
    assert!(
        got.status.success() && got.stderr.is_empty(),
        "print_sys_path failed ({:?}): {}",
        got.status,
        show(&got.stderr)
    );
    let want = output(real.args(["-c", DUMP]));
    assert!(
        want.status.success(),
        "{} failed: {}",
        shape.python.display(),
        show(&want.stderr)
    );
    let got = parse("print_sys_path", &got.stdout);
    let mut want = parse("the env's python", &want.stdout);

    let path = want["path"].as_array_mut().expect("path is a list");
    assert_eq!(
        path.first(),
        Some(&Value::from("")),
        "python -c puts '' first: {path:?}"
    );
    path.remove(0);
    for key in SYS_KEYS {
        assert_eq!(
            got[key], want[key],
            "`{key}` differs for {:?}\nembedded: {got:#}\nreal:     {want:#}",
            shape.root
        );
    }

    let env = &got["env"];
    assert_eq!(env["source"], shape.source, "env: {env:#}");
    assert_eq!(env["kind"], shape.kind, "env: {env:#}");
    assert_eq!(
        env["root"],
        Value::from(shape.root.to_str().unwrap()),
        "root is kept as given: {env:#}"
    );
    let version = env["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no env version: {env:#}"));
    let real_version = want["version"].as_str().unwrap();
    if shape.kind == "venv" {
        assert_eq!(version, real_version, "pyvenv.cfg version");
    } else {
        // A standalone prefix's version comes from `bin/python3.X` (major.minor only).
        assert!(
            version.split('.').count() >= 2 && real_version.starts_with(version),
            "standalone version {version} vs {real_version}"
        );
    }
    got
}

fn venv_shape(venv: &Path) -> Shape {
    Shape {
        python: venv.join("bin/python"),
        vars: vec![("VIRTUAL_ENV", venv.into())],
        source: "VIRTUAL_ENV",
        kind: "venv",
        root: venv.to_path_buf(),
    }
}

fn path_list(json: &Value) -> Vec<String> {
    json["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn text(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn plain_venv() {
    let home = scratch("shape-venv");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    let got = check(&home, &venv_shape(&venv));
    assert_eq!(got["prefix"], Value::from(text(&venv)));
    assert!(path_list(&got).contains(&text(&site_packages(&venv))));
}

#[test]
fn system_site_packages_venv() {
    let home = scratch("shape-ssp");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &["--system-site-packages"]);
    let got = check(&home, &venv_shape(&venv));
    let base_site = text(&base_prefix().join("lib/python3.11/site-packages"));
    assert!(
        path_list(&got).contains(&base_site),
        "the base site-packages is visible: {got:#}"
    );
}

#[test]
fn copies_venv() {
    let home = scratch("shape-copies");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &["--copies"]);
    assert!(
        !venv
            .join("bin/python")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    check(&home, &venv_shape(&venv));
}

#[test]
fn venv_reached_through_a_symlinked_directory() {
    let home = scratch("shape-symlink");
    let real_dir = home.join("real");
    std::fs::create_dir(&real_dir).unwrap();
    make_venv(&base_python(), &real_dir.join("venv"), &[]);
    let link = home.join("link");
    std::os::unix::fs::symlink(&real_dir, &link).unwrap();
    let venv = link.join("venv");
    let got = check(&home, &venv_shape(&venv));
    // Not canonicalized: the prefix is the path the user activated.
    assert_eq!(got["prefix"], Value::from(text(&venv)));
}

#[test]
fn editable_install_pth_files() {
    let home = scratch("shape-editable");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    let site = site_packages(&venv);
    let src = home.join("project/src");
    std::fs::create_dir_all(src.join("demo_pkg")).unwrap();
    std::fs::write(src.join("demo_pkg/__init__.py"), "").unwrap();
    let imported = home.join("imported");
    std::fs::create_dir(&imported).unwrap();
    // A path line (what setuptools/pip write for `pip install -e`), a relative one, and an
    // `import` line run at start-up.
    std::fs::write(
        site.join("__editable__.demo_pkg-0.1.pth"),
        format!("{}\n", src.display()),
    )
    .unwrap();
    std::fs::create_dir(site.join("relative_dir")).unwrap();
    std::fs::write(site.join("relative.pth"), "# comment\nrelative_dir\n").unwrap();
    std::fs::write(
        site.join("zz_import.pth"),
        format!(
            "import sys; sys.path.append({:?})\n",
            imported.to_str().unwrap()
        ),
    )
    .unwrap();
    let got = check(&home, &venv_shape(&venv));
    let path = path_list(&got);
    for want in [
        text(&src),
        text(&site.join("relative_dir")),
        text(&imported),
    ] {
        assert!(
            path.contains(&want),
            "{want} missing from sys.path: {path:?}"
        );
    }
}

#[test]
fn standalone_prefix_as_conda_prefix() {
    let home = scratch("shape-standalone");
    let prefix = base_prefix();
    // A user site dir: a standalone prefix enables it (venvs do not).
    let user_site = home.join(".local/lib/python3.11/site-packages");
    std::fs::create_dir_all(&user_site).unwrap();
    let shape = Shape {
        python: prefix.join("bin/python"),
        vars: vec![("CONDA_PREFIX", prefix.clone().into())],
        source: "CONDA_PREFIX",
        kind: "standalone",
        root: prefix.clone(),
    };
    let got = check(&home, &shape);
    assert_eq!(got["prefix"], got["base_prefix"]);
    assert!(
        path_list(&got).contains(&text(&user_site)),
        "user site: {got:#}"
    );
}

#[test]
fn venv_inside_standalone_prefix_with_both_variables() {
    let home = scratch("shape-venv-in-conda");
    let prefix = base_prefix();
    let venv = home.join("venv");
    make_venv(&prefix.join("bin/python"), &venv, &[]);
    let mut shape = venv_shape(&venv);
    shape.vars.push(("CONDA_PREFIX", prefix.into()));
    let got = check(&home, &shape);
    assert_eq!(got["prefix"], Value::from(text(&venv)), "the venv wins");
}

#[test]
fn venv_with_pythonpath() {
    let home = scratch("shape-pythonpath");
    let venv = home.join("venv");
    make_venv(&base_python(), &venv, &[]);
    let (a, b) = (home.join("pp-a"), home.join("pp-b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let mut shape = venv_shape(&venv);
    shape.vars.push((
        "PYTHONPATH",
        format!("{}:{}", a.display(), b.display()).into(),
    ));
    let got = check(&home, &shape);
    let path = path_list(&got);
    assert_eq!(
        &path[..2],
        &[text(&a), text(&b)],
        "PYTHONPATH comes first: {path:?}"
    );
}
