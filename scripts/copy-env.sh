#!/usr/bin/env bash
# Copies a Python env (venv, uv venv or conda-like prefix) to a new path and points its scripts'
# `#!` lines at the copy, so the copy is an env of its own (the tests install into copies of the
# shared, read-only provisioned envs).
#   bash scripts/copy-env.sh FROM TO
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: bash scripts/copy-env.sh FROM TO" >&2; exit 2; }
from="$(cd "$1" && pwd)"
to="$2"
rm -rf "$to"
mkdir -p "$(dirname "$to")"
cp -a "$from" "$to"
to="$(cd "$to" && pwd)"
for f in "$to"/bin/* "$to"/.provisioned-console-script; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  head -c 2 "$f" | grep -q '#!' || continue
  sed -i "1s|^#!$from/|#!$to/|" "$f"
done
