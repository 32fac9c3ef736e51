#!/usr/bin/env bash
# The fast loop (issue #20), what to run first: the unit and doc tests, the layout test, and the
# differential tests against the installed rich, Python and PyYAML (cell widths, highlighting,
# colours, tables, JSON/YAML/CSV formats: tests/highlight_parity.rs, table_parity.rs,
# pyformat_parity.rs; the embedded interpreter's sys.path: env_shapes.rs), and the docs' check
# against the code (docs.rs). It starts no ZenML CLI (`bin/zenml`); the references are rich's,
# zenml's and PyYAML's own functions, and the launcher's cache generator, imported by the env's
# python. It provisions one venv, target/envs/zenml-0.98.0
# (zenml[local]==0.98.0: the references import zenml.console and zenml.cli.utils, so the rich,
# Click and PyYAML versions are the ones the full suite's reference CLI uses), plus uv.
# Its last line is its wall time (also when it fails). Extra arguments go to scripts/run_tests.py
# (e.g. --jobs 1). The whole suite: scripts/test.sh.
#   bash scripts/test-fast.sh
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'echo "scripts/test-fast.sh: exit $? after $SECONDS s wall"' EXIT
source scripts/lib.sh
require_base_python

bash scripts/provision-envs.sh zenml-0.98.0
echo "PYO3_PYTHON=$PYO3_PYTHON" >&2
"$ZENML_LAUNCHER_BASE_PYTHON" scripts/run_tests.py "$@" --workspace --lib \
  --test layout --test highlight_parity --test table_parity --test pyformat_parity \
  --test env_shapes --test docs --test hostile_input
# Doc tests only when the library has some (as scripts/test.sh).
if grep -rqE '^\s*//[/!].*```' src; then
  cargo test --quiet --doc
fi
