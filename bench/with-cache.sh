#!/usr/bin/env bash
# A bench/run.sh --also wrapper: the same config with the exact cache on. The
# load repeats one request, so every request after the first is a hit: one
# run compares a cache hit (this target) with a miss (plain `sluice`, which
# asks the mock upstream every time).
#   bench/run.sh --also cache-hit=bench/with-cache.sh
exec "$(dirname "$0")/append-config.sh" "$(printf 'cache:\n  enabled: true')" "$@"
