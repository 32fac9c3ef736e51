#!/usr/bin/env bash
# Creates (or re-uses) the Python environments the tests, the benchmark and the demo need.
# Everything lands under target/envs/ (ignored by git); a missing or stale env is rebuilt here.
#   target/envs/tools          uv, used to install the others quickly
#   target/envs/zenml-0.98.0   python 3.11 venv with zenml[local]==0.98.0 (the reference CLI; also the
#                              one env of scripts/test-fast.sh, whose references import rich, PyYAML
#                              and zenml's console/table code from it, never its CLI)
#   target/envs/zenml-0.85.0   python 3.11 venv with zenml[local]==0.85.0 (before the zenml_cli entry point)
#   target/envs/zenml-0.98.0-server
#                              python 3.11 venv with zenml[local,server]==0.98.0 (tests/server_parity.rs
#                              deploys a local ZenML server from it)
#   target/envs/demo           python 3.11 venv with zenml[local]==0.98.0 for scripts/demo.sh (only when
#                              asked for: the launcher is installed into it as its bin/zenml)
#   target/envs/py3.10 … py3.13
#                              venvs of pyenv's CPython 3.10/3.11/3.12/3.13 with zenml[local]==0.98.0
#                              (tests/install.rs installs the launcher into copies of them)
#   target/envs/py3.12-uv      a uv-made venv (no `version` key in pyvenv.cfg) on CPython 3.12
#   target/envs/conda-3.13     a conda-like prefix: a copy of pyenv's CPython 3.13 prefix with
#                              zenml[local]==0.98.0 installed into it (no pyvenv.cfg)
#   target/envs/debian-3.11    a venv of Debian's /usr/bin/python3.11 (statically linked; its
#                              libpython3.11.so.1.0 is another package) with zenml[local]==0.98.0
#                              (tests/python_server.rs hides that libpython in a mount namespace)
# Usage: provision-envs.sh [ENV...]   (default: the test envs above but demo; they are
#                                      provisioned in parallel)
# ZENML_LAUNCHER_PYTHONS: the directory holding the CPython builds (default ~/.pyenv/versions).
set -euo pipefail
cd "$(dirname "$0")/.."
ENVS="${ZENML_LAUNCHER_ENVS:-$PWD/target/envs}"
BASE_PY="${ZENML_LAUNCHER_BASE_PYTHON:-$HOME/.pyenv/versions/3.11.7/bin/python3.11}"
UV_VERSION=0.13.9
mkdir -p "$ENVS"

if [ ! -x "$BASE_PY" ]; then
  echo "error: base interpreter $BASE_PY not found" >&2
  echo "hint: install CPython 3.11 with a shared libpython (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11.7)" >&2
  echo "      or point ZENML_LAUNCHER_BASE_PYTHON at one" >&2
  exit 1
fi

stamp_ok() { [ -f "$1/.provisioned" ] && [ "$(cat "$1/.provisioned")" = "$2" ]; }

tools="$ENVS/tools"
if ! stamp_ok "$tools" "uv==$UV_VERSION"; then
  rm -rf "$tools"
  "$BASE_PY" -m venv "$tools"
  "$tools/bin/python" -m pip install -q "uv==$UV_VERSION"
  echo "uv==$UV_VERSION" > "$tools/.provisioned"
fi
UV="$tools/bin/uv"

PYTHONS="${ZENML_LAUNCHER_PYTHONS:-$HOME/.pyenv/versions}"
# The CPython build of each minor version the tests use (pyenv's names).
python_of() { # minor
  local dir
  dir=$(ls -d "$PYTHONS/$1".* 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] || [ ! -x "$dir/bin/python$1" ]; then
    echo "error: no CPython $1 under $PYTHONS" >&2
    echo "hint: install it with a shared libpython: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install $1" >&2
    return 1
  fi
  echo "$dir/bin/python$1"
}

# Debian's own CPython 3.11 and its venv module (installed as root with apt-get when missing).
debian_python() {
  local py=/usr/bin/python3.11
  if ! { [ -x "$py" ] && "$py" -c 'import ensurepip, venv' 2>/dev/null; }; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      (apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv) >/dev/null || {
        echo "error: installing Debian's python3.11 and python3.11-venv failed" >&2
        echo "hint: install them by hand: apt-get install -y python3.11 python3.11-venv" >&2
        return 1
      }
    else
      echo "error: Debian's $py with its venv module is missing (tests/python_server.rs needs it)" >&2
      echo "hint: sudo apt-get install -y python3.11 python3.11-venv" >&2
      return 1
    fi
  fi
  echo "$py"
}

make_env() { # name spec [base python] [how: venv|uv|prefix]
  local dir="$ENVS/$1" spec="$2" py="${3:-$BASE_PY}" how="${4:-venv}"
  local stamp="$spec $how $py"
  # A base Python that was asked for but not found (its finder printed why) is never replaced.
  if [ "$#" -gt 2 ] && [ -z "$3" ]; then return 1; fi
  [ "$#" -gt 2 ] || stamp="$spec"
  if stamp_ok "$dir" "$stamp"; then compile_env "$dir"; return 0; fi
  echo "provisioning $dir ($spec)" >&2
  rm -rf "$dir"
  rm -f "$dir/.provisioned-console-script"
  case "$how" in
    venv) "$py" -m venv "$dir" ;;
    uv) "$UV" venv -q --python "$py" "$dir" ;;
    prefix) cp -a "$(dirname "$(dirname "$py")")" "$dir" ;;
  esac
  if [ "$how" = prefix ]; then
    "$UV" pip install -q --python "$dir/bin/python" --system --break-system-packages "$spec"
  else
    "$UV" pip install -q --python "$dir/bin/python" "$spec"
  fi
  compile_env "$dir"
  echo "$stamp" > "$dir/.provisioned"
}

# The installed packages' bytecode, written once, as pip writes it when it installs (uv does
# not by default). Without it every Python start compiles ZenML's modules again in memory
# wherever bytecode is not written (PYTHONDONTWRITEBYTECODE=1, as in CI's environment): about
# twice the CPU per start (3.3 s against 5.1–6.2 s user for `import zenml.cli.cli` in py3.12).
# Files that do not compile are left as pip leaves them.
compile_env() { # dir
  local dir="$1" site
  [ -f "$dir/.compiled" ] && return 0
  site="$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$dir/bin/python" -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true
  touch "$dir/.compiled"
}

# A copy of pip's bin/zenml as provisioned: tests/install.rs puts it back before each run (an
# interrupted run may have left the launcher installed) and compares with it after uninstalling.
keep_console_script() { # name
  local dir="$ENVS/$1"
  [ -f "$dir/.provisioned-console-script" ] && return 0
  if head -c 4 "$dir/bin/zenml" | grep -q ELF; then
    rm -f "$dir/.provisioned"   # pip's script is gone: provision again
    provision "$1"
    return
  fi
  cp -p "$dir/bin/zenml" "$dir/.provisioned-console-script"
}

provision() { # name
  case "$1" in
    zenml-0.98.0) make_env "$1" "zenml[local]==0.98.0" ;;
    demo) make_env "$1" "zenml[local]==0.98.0" && keep_console_script "$1" ;;
    zenml-0.85.0) make_env "$1" "zenml[local]==0.85.0" ;;
    zenml-0.98.0-server) make_env "$1" "zenml[local,server]==0.98.0" ;;
    py3.1[0-9]) make_env "$1" "zenml[local]==0.98.0" "$(python_of "${1#py}")" venv && keep_console_script "$1" ;;
    py3.12-uv) make_env "$1" "zenml[local]==0.98.0" "$(python_of 3.12)" uv && keep_console_script "$1" ;;
    conda-3.13) make_env "$1" "zenml[local]==0.98.0" "$(python_of 3.13)" prefix && keep_console_script "$1" ;;
    debian-3.11) make_env "$1" "zenml[local]==0.98.0" "$(debian_python)" venv && keep_console_script "$1" ;;
    *) echo "error: unknown env $1 (known: zenml-0.98.0 zenml-0.85.0 zenml-0.98.0-server py3.10 py3.11 py3.12 py3.13 py3.12-uv conda-3.13 debian-3.11 demo)" >&2; return 2 ;;
  esac
}

[ "$#" -gt 0 ] || set -- zenml-0.98.0 zenml-0.85.0 zenml-0.98.0-server py3.10 py3.11 py3.12 py3.13 py3.12-uv conda-3.13 debian-3.11
# In parallel (the work is mostly downloads and unpacking); each writes its own log.
mkdir -p "$ENVS/.logs"
pids=()
for name in "$@"; do
  provision "$name" > "$ENVS/.logs/$name.log" 2>&1 &
  pids+=("$!:$name")
done
failed=0
for entry in "${pids[@]}"; do
  if ! wait "${entry%%:*}"; then
    echo "error: provisioning ${entry#*:} failed:" >&2
    sed 's/^/  /' "$ENVS/.logs/${entry#*:}.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "envs ready in $ENVS" >&2
