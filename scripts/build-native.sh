#!/usr/bin/env bash
# Builds the HCS simulator (native/hcs-sim) into native/build/libcomputecore-sim.so:
# a C library with computecore.dll's functions and ABI, which the koffi binding
# loads on Linux. Does nothing when the library is newer than every source.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/native/hcs-sim"
out_dir="$root/native/build"
out="$out_dir/libcomputecore-sim.so"

if [ "$(uname -s)" != "Linux" ]; then
  echo "build-native: the HCS simulator is built on Linux only (on Windows the binding loads computecore.dll)" >&2
  exit 1
fi

cc="${CC:-}"
if [ -z "$cc" ]; then
  for candidate in cc gcc clang; do
    if command -v "$candidate" >/dev/null 2>&1; then
      cc="$candidate"
      break
    fi
  done
fi
if [ -z "$cc" ]; then
  echo "build-native: no C compiler found (looked for \$CC, cc, gcc, clang)." >&2
  echo "  Install one, e.g. 'sudo apt-get install -y gcc' on Debian/Ubuntu, then run: bash scripts/build-native.sh" >&2
  exit 1
fi

sources=("$src"/*.c)
if [ -f "$out" ]; then
  stale=0
  for f in "$src"/*.c "$src"/*.h "${BASH_SOURCE[0]}"; do
    if [ "$f" -nt "$out" ]; then
      stale=1
      break
    fi
  done
  if [ "$stale" = 0 ]; then
    exit 0
  fi
fi

mkdir -p "$out_dir"
# Build to a temporary name and rename, so a concurrent loader never sees half a library.
tmp="$(mktemp "$out_dir/.libcomputecore-sim.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# -z nodelete: the library runs its own threads, so it must stay mapped when a worker that loaded it exits.
"$cc" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared -pthread -fvisibility=hidden -Wl,-z,nodelete \
  -o "$tmp" "${sources[@]}"
chmod 755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "build-native: built $out with $cc"
