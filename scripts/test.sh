#!/usr/bin/env bash
# The one test command (also what CI runs, through .ci/run): provisions the test envs under
# target/envs, then runs every test target. Extra arguments go to `cargo test`.
#   bash scripts/test.sh
# Its last line is its wall time, provisioning and build included (also when it fails).
# scripts/test-fast.sh is the quick loop (no ZenML CLI run, one env).
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'echo "scripts/test.sh: exit $? after $SECONDS s wall ($((SECONDS / 60)) min $((SECONDS % 60)) s)"' EXIT
source scripts/lib.sh
require_base_python

bash scripts/provision-envs.sh
# tests/no_python.rs traces the launcher with strace.
if ! command -v strace >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq strace) >/dev/null ||
      die "installing strace failed" "install it by hand: apt-get install -y strace"
  else
    die "strace not found (tests/no_python.rs needs it)" "install it: sudo apt-get install -y strace"
  fi
fi
echo "PYO3_PYTHON=$PYO3_PYTHON" >&2
if [ $# -eq 0 ]; then
  # Every test binary, two side by side (ZENML_LAUNCHER_TEST_JOBS): see scripts/run_tests.py.
  "$ZENML_LAUNCHER_BASE_PYTHON" scripts/run_tests.py
else
  cargo test --no-fail-fast --all-targets "$@"
fi
# Doc tests only when the library has some (fenced code blocks in doc comments).
if grep -rqE '^\s*//[/!].*```' src; then
  cargo test --doc "$@"
fi
