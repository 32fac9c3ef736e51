#!/bin/sh
# Runs PROGRAM in a private mount namespace where Debian's libpython3.11 package is not installed:
# /usr/lib/x86_64-linux-gnu is seen through a read-only overlay whose top layer holds whiteouts
# for libpython3.11.* (the files of libpython3.11 and libpython3.11-dev; those packages are
# optional for /usr/bin/python3.11, which is statically linked), and /etc/ld.so.cache is one
# made by ldconfig in that view (so the loader's cache does not name them either). Nothing
# outside the namespace changes. Needs root (mknod, mount), as tests/python_server.rs runs it.
#   hide_libpython.sh STATE_DIR PROGRAM [ARGS...]   (STATE_DIR: whiteouts and the cache, made once)
set -eu
state="$1"
shift
lib=/usr/lib/x86_64-linux-gnu
if [ ! -f "$state/ld.so.cache" ]; then
  mkdir -p "$state/whiteouts"
  for f in "$lib"/libpython3.11.*; do
    [ -e "$state/whiteouts/${f##*/}" ] || mknod "$state/whiteouts/${f##*/}" c 0 0
  done
  /usr/bin/unshare --mount --propagation private /bin/sh -c \
    'mount -t overlay overlay -o "lowerdir=$0/whiteouts:$1" "$1" && ldconfig -C "$0/ld.so.cache.new"' \
    "$state" "$lib"
  mv "$state/ld.so.cache.new" "$state/ld.so.cache"
fi
exec /usr/bin/unshare --mount --propagation private /bin/sh -c \
  'mount -t overlay overlay -o "lowerdir=$0/whiteouts:$1" "$1" && mount --bind "$0/ld.so.cache" /etc/ld.so.cache && shift && exec "$@"' \
  "$state" "$lib" "$@"
