#!/usr/bin/env bash
# Installs the fast launcher into a Python env that has ZenML from source (for developers; users
# `pip install zenml-launcher` and run `zenml-launcher self install`), or takes it out again.
#   bash scripts/install.sh [ENV_ROOT]               (default: $VIRTUAL_ENV, else $CONDA_PREFIX)
#   bash scripts/install.sh --uninstall [ENV_ROOT]
# Install builds the wheel's files for this env (the release `zenml` and `zenml-launcher`, and
# the embedding library for the env's Python minor version, linked to no libpython: the launcher
# loads the env's own, which must be shared) into a staging directory laid out as the env, then
# `zenml-launcher self install --from` copies them in, keeps pip's bin/zenml byte for byte and
# puts the launcher in its place. Running it twice changes nothing. Uninstall restores bin/zenml
# exactly as pip wrote it and removes every launcher file.
# ZENML_LAUNCHER_BUILD_PROFILE: the cargo profile to build with (default release; the tests use
# dev). CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
fail() { # message hint: one line, as the launcher's own errors
  echo "install.sh: error: $1 (hint: $2)" >&2
  exit 1
}

uninstall=0
if [ "${1:-}" = --uninstall ]; then
  uninstall=1
  shift
fi
case "${1:-}" in -*) fail "unknown option $1" "usage: bash scripts/install.sh [--uninstall] [ENV_ROOT]" ;; esac
[ "$#" -le 1 ] || fail "too many arguments: $*" "usage: bash scripts/install.sh [--uninstall] [ENV_ROOT]"
root="${1:-${VIRTUAL_ENV:-${CONDA_PREFIX:-}}}"
[ -n "$root" ] ||
  fail "no env named and none active (VIRTUAL_ENV and CONDA_PREFIX are unset)" \
       "activate the env that has ZenML, or name its root: bash scripts/install.sh /path/to/env"
[ -d "$root" ] || fail "$root: no such env directory" "name the root of a venv or conda env (the directory with bin/python)"
root="$(cd "$root" && pwd)"
py="$root/bin/python"
[ -x "$py" ] || fail "$root has no bin/python: not a Python env" "name the root of a venv or conda env"

PROFILE="${ZENML_LAUNCHER_BUILD_PROFILE:-release}"
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

# The admin binary does the file work. The launcher and it link no libpython: with PYO3_PYTHON
# (developers, the tests) pyo3 is configured from that Python as for every other build here;
# without it, from a fixed configuration with pyo3's link lines suppressed (as the wheel's
# binaries), so the build needs neither a libpython nor its -dev files (Debian's python3.X
# without libpython3.X installs this way too), in a target dir of its own: built in the same one,
# pyo3's changed configuration would rebuild the developers' (and the tests') build each time.
if [ -n "${PYO3_PYTHON:-}" ]; then BIN="$TARGET/$OUT"; else BIN="$TARGET/install-build/$OUT"; fi
build_binaries() {
  if [ -n "${PYO3_PYTHON:-}" ]; then
    cargo build --quiet --locked --profile "$PROFILE" --bin zenml --bin zenml-launcher --target-dir "$TARGET"
  else
    local config="$TARGET/install-build/pyo3-config.txt" text
    text="$(printf '%s\n' implementation=CPython version=3.11 shared=true abi3=false pointer_width=64 \
      build_flags= suppress_build_script_link_lines=true)"
    mkdir -p "$TARGET/install-build"
    # Rewritten only when it differs: pyo3 rebuilds everything when the file's mtime changes.
    [ "$(cat "$config" 2>/dev/null)" = "$text" ] || printf '%s\n' "$text" >"$config"
    PYO3_CONFIG_FILE="$config" cargo build --quiet --locked --profile "$PROFILE" \
      --bin zenml --bin zenml-launcher --target-dir "$TARGET/install-build"
  fi
}

if [ "$uninstall" = 1 ]; then
  # The env's own admin binary when it is there (it may remove itself); else a fresh build.
  admin="$root/bin/zenml-launcher"
  if ! head -c 4 "$admin" 2>/dev/null | grep -q ELF; then
    build_binaries
    admin="$BIN/zenml-launcher"
  fi
  exec "$admin" self uninstall --env "$root"
fi

# What the env's Python is: version tag, shared libpython, and its identity for the build dir.
info="$("$py" - <<'PY'
import sys, sysconfig
try:
    from importlib.metadata import version
    zenml = version("zenml")
except Exception:
    zenml = ""
v = sys.version_info
print(f"cp{v[0]}{v[1]}")
print(1 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 0)
print(getattr(sys, "_base_executable", sys.executable))
print(zenml)
print(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY"), sys.version.replace("\n", " "))
PY
)" || fail "$py does not run" "recreate the env, or repair its base Python"
{ read -r tag; read -r shared; read -r base; read -r zenml; read -r identity; } <<<"$info"
[ -n "$zenml" ] ||
  fail "ZenML is not installed in the env at $root" "install it first: $py -m pip install 'zenml[local]'"
[ "$shared" = 1 ] ||
  echo "note: the env's base Python $base has no shared libpython: its own python runs the command server, and tier 2 is off" >&2

echo "building the launcher ($PROFILE) and the embedding library for $tag (the env's base Python is $base)" >&2
build_binaries
stage="$TARGET/stage/$tag"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib/zenml-launcher/embed"
cp "$BIN/zenml-launcher" "$stage/bin/zenml-launcher"
cp "$BIN/zenml" "$stage/lib/zenml-launcher/zenml"
case "$tag" in
  cp310 | cp311 | cp312 | cp313) CARGO_TARGET_DIR="$TARGET" bash scripts/build-embed.sh "$stage/lib/zenml-launcher/embed" "$tag" ;;
  *) echo "note: no embedding library for $tag (the launcher embeds CPython 3.10 to 3.13); the env's own python runs what Rust does not answer" >&2 ;;
esac

exec "$BIN/zenml-launcher" self install --env "$root" --from "$stage"
