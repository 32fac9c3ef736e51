#!/usr/bin/env bash
# Builds the wheel: `pip install target/wheels/zenml_launcher-*.whl`, then
# `zenml-launcher self install`. One wheel for this platform lands in target/wheels/ (older ones
# are removed). It serves every CPython 3.10–3.13 env: the embedding libraries (one per minor
# version) link no libpython; the launcher loads the env's own at run time.
#   bash scripts/build-wheel.sh
# What goes in: bin/zenml-launcher (maturin, `bindings = "bin"`), and as data files installed under
# the env's prefix, lib/zenml-launcher/zenml (the launcher; never bin/zenml, which is ZenML's
# console script) and lib/zenml-launcher/embed/cp3XY/libzenml_launcher_embed.so.
# Everything is linked with zig for an old glibc floor (ZENML_LAUNCHER_GLIBC, default 2.17:
# manylinux_2_17, as ruff and uv ship). maturin, ziglang and cargo-zigbuild come from PyPI into
# target/wheel-tools (made with ZENML_LAUNCHER_TOOLS_PYTHON, default python3) when missing.
# ZENML_LAUNCHER_BUILD_PROFILE: the cargo profile (default release; the tests use wheel-test).
# ZENML_LAUNCHER_WHEEL_DIR: where the wheel goes (default target/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ROOT="$PWD"
PROFILE="${ZENML_LAUNCHER_BUILD_PROFILE:-release}"
case "$PROFILE" in dev) DIR=debug ;; *) DIR="$PROFILE" ;; esac
GLIBC="${ZENML_LAUNCHER_GLIBC:-2.17}"
ARCH="$(uname -m)"
TRIPLE="$ARCH-unknown-linux-gnu"
TOOLS="$ROOT/target/wheel-tools"

if ! [ -x "$TOOLS/bin/maturin" ] || ! [ -x "$TOOLS/bin/cargo-zigbuild" ] ||
  ! [ -x "$TOOLS/bin/wheel" ] || ! "$TOOLS/bin/python" -c 'import ziglang' 2>/dev/null; then
  echo "== installing maturin, ziglang, cargo-zigbuild and wheel into $TOOLS (PyPI)" >&2
  "${ZENML_LAUNCHER_TOOLS_PYTHON:-python3}" -m venv "$TOOLS" ||
    die "cannot create $TOOLS" "set ZENML_LAUNCHER_TOOLS_PYTHON to a Python 3.8+ with venv"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.5,<2' ziglang cargo-zigbuild wheel ||
    die "installing the build tools from PyPI failed" "check the network, or install maturin[zig] and cargo-zigbuild into $TOOLS yourself"
fi
export PATH="$TOOLS/bin:$PATH"

# pyo3's configuration for the launcher binaries, which link no libpython (any 3.x will do).
mkdir -p target/wheel-build
config="$(printf '%s\n' implementation=CPython version=3.11 shared=true abi3=false pointer_width=64 \
  build_flags= suppress_build_script_link_lines=true)"
# Rewritten only when it differs: pyo3 rebuilds everything when the file's mtime changes.
[ "$(cat target/wheel-build/pyo3-config.txt 2>/dev/null)" = "$config" ] ||
  printf '%s\n' "$config" >target/wheel-build/pyo3-config.txt
export PYO3_CONFIG_FILE="$ROOT/target/wheel-build/pyo3-config.txt"

DATA="$ROOT/target/wheel-data/data/lib/zenml-launcher"
rm -rf "$ROOT/target/wheel-data"
mkdir -p "$DATA/embed"

# cargo-zigbuild's wrappers (zig as C compiler, archiver and linker) go under target/, not the
# user's cache shared by every checkout.
export CARGO_ZIGBUILD_CACHE_DIR="$ROOT/target/wheel-build/zig"

echo "== the launcher (lib/zenml-launcher/zenml), $PROFILE, glibc $GLIBC" >&2
cargo zigbuild --quiet --locked --profile "$PROFILE" --bin zenml --target "$TRIPLE.$GLIBC" \
  --target-dir target/wheel-build
cp "target/wheel-build/$TRIPLE/$DIR/zenml" "$DATA/zenml"
strip "$DATA/zenml" 2>/dev/null || true

# maturin (below) drives zig through its own copy of cargo-zigbuild, whose wrappers have other
# paths: cargo would see another linker and C compiler and rebuild every dependency in place, a
# second full build. Both take these variables when they are set (cargo-zigbuild sets only the
# missing ones), so every build here uses the wrappers the launcher's build just used.
cc=()
for f in "$CARGO_ZIGBUILD_CACHE_DIR"/cargo-zigbuild/*/wrappers/*/"zigcc-$TRIPLE.$GLIBC"-*.sh; do
  grep -qF "\"$TOOLS/bin/cargo-zigbuild\" zig cc" "$f" 2>/dev/null && cc+=("$f")
done
[ "${#cc[@]}" -eq 1 ] ||
  die "expected one cargo-zigbuild cc wrapper for $TRIPLE.$GLIBC under $CARGO_ZIGBUILD_CACHE_DIR, found ${#cc[@]}" \
    "remove $CARGO_ZIGBUILD_CACHE_DIR and build again"
wrappers="$(dirname "${cc[0]}")"
env_target="${TRIPLE//-/_}"
export "CC_$env_target=${cc[0]}" "CXX_$env_target=$wrappers/$(basename "${cc[0]}" | sed 's/^zigcc-/zigcxx-/')" \
  "AR_$env_target=$wrappers/ar" "RANLIB_$env_target=$wrappers/zigranlib.sh" \
  "CARGO_TARGET_${env_target^^}_LINKER=${cc[0]}"

echo "== the embedding libraries cp310 … cp313" >&2
ZENML_LAUNCHER_ZIG_TARGET="$TRIPLE.$GLIBC" ZENML_LAUNCHER_BUILD_PROFILE="$PROFILE" \
  bash scripts/build-embed.sh "$DATA/embed"
strip --strip-unneeded "$DATA"/embed/*/libzenml_launcher_embed.so 2>/dev/null || true

echo "== the wheel (maturin --zig)" >&2
rm -rf target/wheels-new
maturin_profile=(--profile "$PROFILE")
[ "$PROFILE" = release ] && maturin_profile=(--release)
maturin build --quiet "${maturin_profile[@]}" --locked --zig --compatibility "manylinux_${GLIBC/./_}" \
  --target "$TRIPLE" --out target/wheels-new --target-dir target/wheel-build >&2
wheels=(target/wheels-new/*.whl)
[ "${#wheels[@]}" -eq 1 ] || die "expected one wheel, got: ${wheels[*]}" "check the maturin output above"
# maturin tags a `bin` wheel whose crate depends on pyo3 for the interpreter it found (cp311-cp311);
# nothing in this one is tied to an interpreter (the libraries are chosen at run time): py3-none.
wheel tags --remove --python-tag py3 --abi-tag none "${wheels[0]}" >/dev/null
wheels=(target/wheels-new/*.whl)
case "${wheels[0]}" in *-py3-none-*) ;; *) die "retagging failed: ${wheels[0]}" "check the wheel tool in $TOOLS" ;; esac
wheel="$(basename "${wheels[0]}")"

# What is in it: no bin/zenml, nothing linked to a libpython, no search path outside $ORIGIN,
# and the glibc tag auditwheel accepts for every ELF file (the data files included).
if unzip -l "${wheels[0]}" | grep -qE '\.data/scripts/zenml$'; then
  die "the wheel carries bin/zenml" "the zenml bin target must stay off in the wheel (feature zenml-bin)"
fi
check="$(mktemp -d)"
unzip -q "${wheels[0]}" -d "$check"
while IFS= read -r -d '' elf; do
  head -c 4 "$elf" | grep -q ELF || continue
  dynamic="$(readelf -d "$elf")"
  if grep -q 'NEEDED.*libpython' <<<"$dynamic"; then die "$elf links a libpython" "see scripts/build-embed.sh"; fi
  if grep -E '\((RPATH|RUNPATH)\)' <<<"$dynamic" | grep -qv '\[\$ORIGIN[^]:]*\]'; then
    die "$elf has an RPATH/RUNPATH outside \$ORIGIN" "check build.rs and embedlib/build.rs"
  fi
  newest="$(objdump -T "$elf" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo "   ${elf#"$check"/}: $(stat -c %s "$elf") bytes, newest symbol version $newest" >&2
  case "$newest" in GLIBC_2.*)
    [ "$(printf '%s\n' "${newest#GLIBC_}" "$GLIBC" | sort -V | tail -1)" = "$GLIBC" ] ||
      die "$elf needs $newest, above the glibc $GLIBC floor" "build it with zig (cargo zigbuild)" ;;
  esac
done < <(find "$check" -type f -print0)
rm -rf "$check"

OUT="${ZENML_LAUNCHER_WHEEL_DIR:-$ROOT/target/wheels}"
mkdir -p "$OUT"
rm -f "$OUT"/*.whl
mv "${wheels[0]}" "$OUT/"
rm -rf target/wheels-new
echo "$OUT/$wheel ($(($(stat -c %s "$OUT/$wheel") / 1024)) KiB)"
