#!/usr/bin/env bash
# The main job on a fresh machine: a demo env (python 3.11 venv with pinned zenml[local]==0.98.0),
# the launcher installed into it as a user does (the wheel from scripts/build-wheel.sh, `pip
# install`, `zenml-launcher self install`), a few commands run through it, the install undone, then the side-by-side benchmark in release mode (its server cases
# deploy a local ZenML server from target/envs/zenml-0.98.0-server and shut it down).
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
require_base_python
ROOT="$PWD"
ENVS="${ZENML_LAUNCHER_ENVS:-$ROOT/target/envs}"
DEMO="$ENVS/demo"

echo "== provisioning the demo env and the benchmark's reference env" >&2
bash scripts/provision-envs.sh demo zenml-0.98.0 zenml-0.98.0-server

echo "== building the wheel (bash scripts/build-wheel.sh)" >&2
bash scripts/build-wheel.sh
WHEEL="$(ls "$ROOT"/target/wheels/*.whl)"
echo "== installing it into $DEMO: pip install, then zenml-launcher self install" >&2
"$DEMO/bin/python" -m pip install --quiet --no-deps --force-reinstall "$WHEEL" ||
  "$ENVS/tools/bin/uv" pip install --quiet --no-deps --reinstall --python "$DEMO/bin/python" "$WHEEL"
"$DEMO/bin/zenml-launcher" self install

# A private ZenML config and launcher cache: the demo leaves the user's own alone.
STATE="$ROOT/target/demo-state"
rm -rf "$STATE"
mkdir -p "$STATE"
export ZENML_CONFIG_PATH="$STATE/zenml-config"
export ZENML_LAUNCHER_CACHE_DIR="$STATE/launcher-cache"
export ZENML_ANALYTICS_OPT_IN=false
# The demo's command servers: a private socket dir, stopped at the end.
export ZENML_LAUNCHER_RUNTIME_DIR="$STATE/server-run"
# As if the env were activated.
export VIRTUAL_ENV="$DEMO"
export PATH="$DEMO/bin:$PATH"
unset CONDA_PREFIX PYTHONHOME ZENML_PYTHON ZENML_USE_PYTHON_CLI ZENML_DEBUG_PYTHON

TIMEFORMAT='   (%3R s)'
run() {
  echo
  echo "\$ $*"
  time "$@" </dev/null
}

echo
echo "== commands through the launcher ($(command -v zenml))"
echo "(self install generated the launcher's per-distribution cache: the first call is a Rust answer)"
run zenml --version
run zenml --version
run zenml version
run zenml --help
echo "(the first status creates the private config and store: ZenML does that, delegated)"
run zenml status
run zenml status
run zenml stack list
run zenml stack list -o json
echo "(a filter: ZenML's own command code in the embedded interpreter, in-process; tier 2)"
run zenml stack list --name contains:def
echo "n" | { echo; echo "\$ echo n | zenml clean"; time zenml clean; }
echo
echo "== every other command: the warm command server"
echo "(the first call finds no server: it starts one in the background and runs in the Python CLI)"
run zenml stack describe
echo "(waiting for the server to warm up: it imports ZenML once)"
for _ in $(seq 1 240); do
  ZENML_DEBUG_PYTHON=1 zenml stack --help 2>&1 >/dev/null </dev/null | grep -q "route: server" && break
  sleep 0.5
done
run zenml stack describe
run zenml pipeline list
run zenml stack --help
run env _ZENML_COMPLETE=bash_complete COMP_WORDS="zenml stack de" COMP_CWORD=2 zenml
run zenml-launcher server status
run zenml-launcher server stop
echo
echo "== the same --version through the Python CLI, and what the launcher decided"
run env ZENML_USE_PYTHON_CLI=1 zenml --version
run env ZENML_DEBUG_PYTHON=1 zenml --version
run zenml-launcher doctor

echo
echo "== undoing the install (zenml-launcher self uninstall, then pip uninstall)"
"$DEMO/bin/zenml-launcher" self uninstall
"$DEMO/bin/python" -m pip uninstall --quiet -y zenml-launcher
cmp "$DEMO/bin/zenml" "$DEMO/.provisioned-console-script" &&
  echo "bin/zenml is pip's console script again, byte for byte"
[ ! -e "$DEMO/bin/zenml-launcher" ] && [ ! -e "$DEMO/lib/zenml-launcher" ] &&
  echo "no launcher file left in $DEMO"

echo
echo "== benchmark (release build)"
unset VIRTUAL_ENV ZENML_CONFIG_PATH ZENML_LAUNCHER_CACHE_DIR
export PATH="${PATH#"$DEMO/bin:"}"
cargo run --release --example bench -- --env "$ENVS/zenml-0.98.0"
