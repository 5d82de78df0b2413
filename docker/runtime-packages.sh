#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY loads, one a
# line: what the runtime image must install for it. Run in the image's build
# stage (docker/Dockerfile), where the build packages are installed, so the
# list follows the binary's real links instead of a list kept by hand.
# Usage: docker/runtime-packages.sh BINARY
set -euo pipefail
bin=$1

# Fails loudly if the binary cannot be loaded here at all.
if ldd "$bin" | grep -q 'not found'; then
  ldd "$bin" >&2
  echo "runtime-packages: $bin has unresolved libraries" >&2
  exit 1
fi

# ldd names the path the loader found; dpkg knows each file by the path its
# package ships it at, which with Debian 12's merged /usr may be the /usr/lib
# twin or the symlink's target. Try each until one is owned.
owner() {
  local lib=$1 real candidates=()
  real=$(readlink -f "$lib")
  candidates=("$lib" "/usr$lib" "${lib#/usr}" "$real" "/usr$real" "${real#/usr}")
  for c in "${candidates[@]}"; do
    dpkg-query -S "$c" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  echo "runtime-packages: no package owns $lib" >&2
  return 1
}

ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r lib; do owner "$lib"; done | sort -u
