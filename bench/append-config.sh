#!/usr/bin/env bash
# Runs sluice ($SLUICE, default build/src/sluice) with the YAML given as the
# first argument appended to the config it is started with (--config FILE):
# what the bench/run.sh --also wrappers (with-*.sh) are made of.
set -euo pipefail
extra=$1
shift
sluice=${SLUICE:-$(dirname "$0")/../build/src/sluice}
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --config ]; then
    derived="${2%.yaml}.derived-$$.yaml"
    { cat "$2"; printf '%s\n' "$extra"; } >"$derived"
    args+=(--config "$derived")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
exec "$sluice" "${args[@]}"
