#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit and integration
# (ctest), then the official OpenAI and Anthropic Node SDKs against the real daemon. Starts
# its own redis-server on a free loopback port for tests that need one
# (REDIS_URL), then builds the container image and runs it (tests/container/run.sh).
# Exits non-zero if anything fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}" redis-server python3-yaml
command -v node >/dev/null && command -v npm >/dev/null || ensure_packages nodejs npm

CMAKE_ARGS=(-DSLUICE_TESTS=ON)
build

# A private Redis on a free loopback port, gone when the script ends.
REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)))
REDIS_DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$REDIS_DIR" \
  --daemonize no --loglevel warning > "$REDIS_DIR/redis.log" 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null; wait $REDIS_PID 2>/dev/null; rm -rf "$REDIS_DIR"' EXIT
for _ in $(seq 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

status=0
echo "==> unit and integration tests"
(cd "$BUILD_DIR" && ctest --output-on-failure --no-tests=error --timeout 120 -j "$(nproc)") || status=1

echo "==> the official OpenAI and Anthropic Node SDKs against the daemon"
SLUICE_BIN="$BUILD_DIR/src/sluice" bash "$REPO_ROOT/tests/node/run.sh" || status=1

# The container image: built with podman (sharing the ccache this build filled)
# and run: health check, a completion and a stream, SIGTERM, an async job
# through Redis. SLUICE_CONTAINER_TEST=0 skips it where podman cannot run.
if [ "${SLUICE_CONTAINER_TEST:-1}" != 0 ]; then
  echo "==> the container image, built and run (tests/container/run.sh)"
  bash "$REPO_ROOT/tests/container/run.sh" || status=1
fi

if [ $status -eq 0 ]; then echo "==> all tests passed"; else echo "==> TESTS FAILED"; fi
exit $status
