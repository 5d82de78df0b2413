#!/usr/bin/env bash
# Runs the openai-npm-client tests against a built sluice binary.
#   tests/node/run.sh                       # uses build/src/sluice
#   SLUICE_BIN=/abs/or/relative/path tests/node/run.sh [extra node --test args]
# Installs the pinned dependencies (npm ci) only when node_modules is missing or
# package-lock.json changed since the last install.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.sluice-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules/openai || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# A relative SLUICE_BIN is taken relative to the caller's directory, not this one.
if [[ -n "${SLUICE_BIN:-}" && "${SLUICE_BIN}" != /* ]]; then
  SLUICE_BIN="$OLDPWD/$SLUICE_BIN"
fi
export SLUICE_BIN="${SLUICE_BIN:-$PWD/../../build/src/sluice}"
exec node --test "$@"
