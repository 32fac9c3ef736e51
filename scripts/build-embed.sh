#!/usr/bin/env bash
# Builds the embedding library once per CPython minor version the wheel serves (cp310 … cp313),
# none of them linked to a libpython: pyo3 is configured through PYO3_CONFIG_FILE with its link
# lines suppressed, so no interpreter of that version is needed to build. The launcher loads the
# env's own libpython before the library (src/env/libpython.rs).
#   bash scripts/build-embed.sh OUT_DIR [cp3XY …]   → OUT_DIR/cp3XY/libzenml_launcher_embed.so
# (default: every tag the wheel ships, cp310 cp311 cp312 cp313).
# ZENML_LAUNCHER_BUILD_PROFILE: cargo profile (default release). ZENML_LAUNCHER_ZIG_TARGET: build
# with `cargo zigbuild --target <it>` (e.g. x86_64-unknown-linux-gnu.2.17: the wheel's glibc
# floor); cargo-zigbuild must be on PATH then. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$#" -ge 1 ] || die "usage: bash scripts/build-embed.sh OUT_DIR [cp3XY …]" "name the directory to put cp3XY/ into"
OUT="$1"
shift
TAGS=("$@")
[ "${#TAGS[@]}" -gt 0 ] || TAGS=(cp310 cp311 cp312 cp313)
PROFILE="${ZENML_LAUNCHER_BUILD_PROFILE:-release}"
case "$PROFILE" in dev) DIR=debug ;; *) DIR="$PROFILE" ;; esac
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
ZIG="${ZENML_LAUNCHER_ZIG_TARGET:-}"
LIB=libzenml_launcher_embed.so

for tag in "${TAGS[@]}"; do
  case "$tag" in cp310 | cp311 | cp312 | cp313) minor="${tag#cp3}" ;;
    *) die "no embedding library for $tag" "the launcher embeds CPython 3.10 to 3.13 (cp310 … cp313)" ;;
  esac
  dir="$TARGET/embed/$tag${ZIG:+-zig}"
  mkdir -p "$dir"
  # pyo3's build configuration for CPython 3.$minor, a release (non-debug, GIL) build.
  # Rewritten only when it differs: pyo3 rebuilds everything when the file's mtime changes.
  config="$(printf '%s\n' implementation=CPython "version=3.$minor" shared=true abi3=false \
    pointer_width=64 build_flags= suppress_build_script_link_lines=true)"
  [ "$(cat "$dir/pyo3-config.txt" 2>/dev/null)" = "$config" ] || printf '%s\n' "$config" >"$dir/pyo3-config.txt"
  if [ -n "$ZIG" ]; then
    PYO3_CONFIG_FILE="$dir/pyo3-config.txt" cargo zigbuild --quiet --locked --profile "$PROFILE" \
      -p zenml-launcher-embed --target "$ZIG" --target-dir "$dir"
    built="$dir/${ZIG%%.*}/$DIR/$LIB"
  else
    PYO3_CONFIG_FILE="$dir/pyo3-config.txt" cargo build --quiet --locked --profile "$PROFILE" \
      -p zenml-launcher-embed --target-dir "$dir"
    built="$dir/$DIR/$LIB"
  fi
  # No libpython linked, no search path outside the library's own directory.
  dynamic="$(readelf -d "$built")"
  if grep -q 'NEEDED.*libpython' <<<"$dynamic"; then
    die "$built links a libpython" "the PYO3_CONFIG_FILE link-line suppression did not apply"
  fi
  if grep -E '\((RPATH|RUNPATH)\)' <<<"$dynamic" | grep -qv '\[\$ORIGIN[^]:]*\]'; then
    die "$built has an RPATH/RUNPATH outside \$ORIGIN" "check build.rs and embedlib/build.rs for rpath lines"
  fi
  mkdir -p "$OUT/$tag"
  cp "$built" "$OUT/$tag/$LIB"
  echo "built $OUT/$tag/$LIB" >&2
done
