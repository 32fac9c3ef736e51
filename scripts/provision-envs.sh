#!/usr/bin/env bash
# Creates (or re-uses) the Python environments the tests, the benchmark and the demo need.
# Everything lands under target/envs/ (ignored by git); a missing or stale env is rebuilt here.
#   target/envs/tools          uv, used to install the others quickly
#   target/envs/zenml-0.98.0   python 3.11 venv with zenml[local]==0.98.0 (the reference CLI)
#   target/envs/zenml-0.85.0   python 3.11 venv with zenml[local]==0.85.0 (before the zenml_cli entry point)
#   target/envs/zenml-0.98.0-server
#                              python 3.11 venv with zenml[local,server]==0.98.0 (tests/server_parity.rs
#                              deploys a local ZenML server from it)
#   target/envs/demo           python 3.11 venv with zenml[local]==0.98.0 for scripts/demo.sh (only when
#                              asked for: the launcher is installed into it as its bin/zenml)
# Usage: provision-envs.sh [ENV...]   (default: the test envs zenml-0.98.0, zenml-0.85.0 and
#                                      zenml-0.98.0-server)
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

make_env() { # name spec
  local dir="$ENVS/$1" spec="$2"
  if stamp_ok "$dir" "$spec"; then return 0; fi
  echo "provisioning $dir ($spec)" >&2
  rm -rf "$dir"
  "$BASE_PY" -m venv "$dir"
  "$UV" pip install -q --python "$dir/bin/python" "$spec"
  echo "$spec" > "$dir/.provisioned"
}

[ "$#" -gt 0 ] || set -- zenml-0.98.0 zenml-0.85.0 zenml-0.98.0-server
for name in "$@"; do
  case "$name" in
    zenml-0.98.0|demo) make_env "$name" "zenml[local]==0.98.0" ;;
    zenml-0.85.0) make_env "$name" "zenml[local]==0.85.0" ;;
    zenml-0.98.0-server) make_env "$name" "zenml[local,server]==0.98.0" ;;
    *) echo "error: unknown env $name (known: zenml-0.98.0 zenml-0.85.0 zenml-0.98.0-server demo)" >&2; exit 2 ;;
  esac
done
echo "envs ready in $ENVS" >&2
