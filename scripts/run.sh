#!/usr/bin/env bash
# Installs what is missing, builds Release (scripts/build.sh), and runs sluice on
# config/sluice.yaml (the built-in mock provider: no secrets, no network). Extra
# arguments go to sluice, e.g. scripts/run.sh --config my.yaml
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/build.sh"
cd "$REPO_ROOT"
echo "==> sluice listening per config; try: curl -s localhost:8080/v1/models"
exec "$BUILD_DIR/src/sluice" --config "${SLUICE_CONFIG:-config/sluice.yaml}" "$@"
