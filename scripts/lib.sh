# Sourced by the scripts: `die`, the toolchain check, and require_base_python (test.sh, demo.sh),
# which exports PYO3_PYTHON (the Python whose shared libpython the launcher's own build links).

die() { # message hint
  echo "error: $1" >&2
  echo "hint: $2" >&2
  exit 1
}

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 ||
  die "cargo not found on PATH" \
      "install Rust (>= 1.85) with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"

# The base Python of the test envs and the demo, whose shared libpython the launcher's own build
# links (PYO3_PYTHON). scripts/install.sh does not need it: it builds for the env it installs into.
require_base_python() {
  export ZENML_LAUNCHER_BASE_PYTHON="${ZENML_LAUNCHER_BASE_PYTHON:-$HOME/.pyenv/versions/3.11.7/bin/python3.11}"
  export PYO3_PYTHON="${PYO3_PYTHON:-$ZENML_LAUNCHER_BASE_PYTHON}"
  for py in "$ZENML_LAUNCHER_BASE_PYTHON" "$PYO3_PYTHON"; do
    [ -x "$py" ] ||
      die "base Python $py not found" \
          "install CPython 3.11 with a shared libpython (PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11.7), or set PYO3_PYTHON / ZENML_LAUNCHER_BASE_PYTHON to one"
  done
  "$PYO3_PYTHON" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' ||
    die "$PYO3_PYTHON has no shared libpython, and the launcher embeds it" \
        "rebuild it with --enable-shared (PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11.7)"
}
