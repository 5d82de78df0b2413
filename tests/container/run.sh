#!/usr/bin/env bash
# Builds docker/Dockerfile with podman and runs the image, as scripts/test.sh's
# last step. No container registry is needed: the Debian 12 base images are
# made here (tests/container/base_images.sh).
#
# 1. The image: built niced, sharing the host's ccache (the build stage compiles
#    only what the host's build has not), with the layer cache of earlier runs.
# 2. The default image as shipped: the HEALTHCHECK turns healthy, the process
#    runs as the non-root user, a chat completion and a stream reach the mock
#    provider through it, SIGTERM ends it with exit 0 within server.shutdown_grace.
# 3. The compose file's configuration (docker/sluice.compose.yaml) mounted at
#    /etc/sluice/sluice.yaml, with the test's Redis (REDIS_URL): an async job
#    goes through Redis and is answered.
#
# Needs root (rootful podman; through sudo otherwise). The container mostly
# shares the host's network and listens on a free loopback port; one run
# publishes a port from the container network, as docs/operations.md shows.
# Environment: REDIS_URL (scripts/test.sh sets it; without it step 3 is
# skipped), SLUICE_IMAGE (default localhost/sluice:test).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

ensure_packages podman runc debootstrap curl
IMAGE=${SLUICE_IMAGE:-localhost/sluice:test}
# crun refuses this machine kind's hybrid cgroups, and the default rlimits
# exceed what may be set: every podman call takes these (docs/development.md).
PODMAN=(podman --runtime runc)
[ "$(id -u)" -eq 0 ] || PODMAN=(sudo "${PODMAN[@]}")   # rootful podman
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
NAME="sluice-test-$$"

fail() { echo "container test FAILED: $*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - $1 )); }

cleanup() { "${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

as_root "$REPO_ROOT/tests/container/base_images.sh"

# --- 1. build ---------------------------------------------------------------
ccache_dir=$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")
weights_cache=${SLUICE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}
mkdir -p "$ccache_dir" "$weights_cache" "$BUILD_DIR"
echo "==> building $IMAGE (ccache $ccache_dir)"
start=$(date +%s)
iid="$BUILD_DIR/container-image.id"
rm -f "$iid"
nice -n 15 "${PODMAN[@]}" build --format docker --network=host "${LIMITS[@]}" --iidfile "$iid" \
  --volume "$ccache_dir:/ccache" --volume "$weights_cache:/weights-cache" -f "$REPO_ROOT/docker/Dockerfile" -t "$IMAGE" "$REPO_ROOT" \
  > "$BUILD_DIR/container-build.log" 2>&1 ||
  { tail -n 40 "$BUILD_DIR/container-build.log" >&2; fail "podman build (log: $BUILD_DIR/container-build.log)"; }
[ -s "$iid" ] || fail "podman build made no image (log: $BUILD_DIR/container-build.log)"
echo "==> image built in $(elapsed "$start") s; $(grep -m1 '^runtime packages:' "$BUILD_DIR/container-build.log" || echo "(every layer cached)")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts the image detached as $NAME, read-only and without capabilities; extra
# podman run arguments first. On the host's network listening on 127.0.0.1:$PORT,
# or with PUBLISH=1 on the container network with 8080 published there.
start_container() {
  PORT=$(free_port)
  cleanup
  local net=(--network=host -e SLUICE_LISTEN="127.0.0.1:$PORT")
  [ "${PUBLISH:-0}" = 1 ] && net=(-p "127.0.0.1:$PORT:8080")
  "${PODMAN[@]}" run -d --name "$NAME" "${LIMITS[@]}" "${net[@]}" \
    --read-only --cap-drop=all --security-opt no-new-privileges "$@" "$IMAGE" \
    > "$BUILD_DIR/container-run.log" 2>&1 || { cat "$BUILD_DIR/container-run.log" >&2; fail "podman run"; }
  BASE="http://127.0.0.1:$PORT"
}

# Runs the image's own HEALTHCHECK until it reports healthy (at most 60 s). Without
# systemd podman cannot schedule it (podman run says so), so the test runs it.
wait_healthy() {
  local start status
  start=$(date +%s)
  while [ "$(elapsed "$start")" -lt 60 ]; do
    "${PODMAN[@]}" healthcheck run "$NAME" > /dev/null 2>&1 && break
    [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$NAME")" = true ] ||
      { "${PODMAN[@]}" logs "$NAME" >&2; fail "the container exited before it was healthy"; }
    sleep 0.5
  done
  status=$("${PODMAN[@]}" inspect -f '{{.State.Health.Status}}' "$NAME")
  [ "$status" = healthy ] || { "${PODMAN[@]}" logs "$NAME" >&2; fail "health is '$status' after 60 s"; }
  echo "==> healthy after $(elapsed "$start") s"
}

# SIGTERM; the container must exit 0 within GRACE seconds.
stop_within() {
  local grace=$1 start code
  start=$(date +%s)
  "${PODMAN[@]}" kill --signal TERM "$NAME" > /dev/null || fail "podman kill"
  code=$(timeout "$((grace + 5))" "${PODMAN[@]}" wait "$NAME") || fail "no exit within $((grace + 5)) s of SIGTERM"
  local took
  took=$(elapsed "$start")
  [ "$code" = 0 ] || { "${PODMAN[@]}" logs "$NAME" >&2; fail "exit code $code after SIGTERM"; }
  [ "$took" -le "$grace" ] || fail "took $took s to stop after SIGTERM; shutdown_grace is $grace s"
  LOGS=$("${PODMAN[@]}" logs "$NAME" 2>&1)   # not piped into grep -q: pipefail would see podman's SIGPIPE
  grep -q '"event":"stopped"' <<< "$LOGS" || fail "no 'stopped' log line"
  echo "==> SIGTERM: exit 0 after $took s (grace $grace s)"
}

chat='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello from the container test"}]}'

# --- 2. the image as shipped ---------------------------------------------------
start_container
wait_healthy
! "${PODMAN[@]}" exec -e SLUICE_HEALTH_PORT=1 "$NAME" sluice-healthcheck 2>/dev/null ||
  fail "the health check passes on a port nothing listens on"
"${PODMAN[@]}" exec "$NAME" sleep 0 || fail "no sleep in the image for the Kubernetes examples' preStop hook"
[ "$("${PODMAN[@]}" exec "$NAME" id -u)" = 65532 ] || fail "the daemon's user is not 65532"
pid=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$NAME")
[ "$(awk '/^Uid:/{print $2}' "/proc/$pid/status")" = 65532 ] || fail "the daemon process does not run as 65532"

answer=$(curl -sS --max-time 10 -H 'content-type: application/json' -d "$chat" "$BASE/v1/chat/completions") ||
  fail "chat completion request"
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a["object"]=="chat.completion", a; assert a["choices"][0]["message"]["content"], a' \
  "$answer" || fail "chat completion answer: $answer"
stream=$(curl -sS -N --max-time 10 -H 'content-type: application/json' \
  -d "${chat%\}},\"stream\":true}" "$BASE/v1/chat/completions") || fail "streamed chat completion"
chunks=$(grep -c '^data: {.*"chat.completion.chunk"' <<< "$stream" || true)
[ "$chunks" -ge 2 ] && [ "$(grep '^data: ' <<< "$stream" | tail -n1)" = "data: [DONE]" ] ||
  fail "stream: $stream"
echo "==> chat completion and a stream of $chunks chunks through the container"
stop_within 30   # server.shutdown_grace's default; config/sluice.yaml does not set it

# --- 2b. behind a published port (the container network, not loopback) ----------
# The default file has no gateway keys: clients from outside the container are
# refused until SLUICE_ALLOW_UNAUTHENTICATED=true, while probes always pass.
PUBLISH=1 start_container
wait_healthy
for _ in $(seq 50); do curl -s -o /dev/null "$BASE/healthz" && break; sleep 0.1; done  # the port forwarder
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ] || fail "/healthz through the published port"
refused=$(curl -s "$BASE/v1/models")
grep -q '"peer_not_allowed"' <<< "$refused" || fail "without keys a client off loopback was not refused: $refused"
PUBLISH=1 start_container -e SLUICE_ALLOW_UNAUTHENTICATED=true
wait_healthy
for _ in $(seq 50); do curl -s -o /dev/null "$BASE/healthz" && break; sleep 0.1; done
served=$(curl -sS --max-time 10 -H 'content-type: application/json' -d "$chat" "$BASE/v1/chat/completions") || true
grep -q '"chat.completion"' <<< "$served" ||
  fail "chat completion through the published port with SLUICE_ALLOW_UNAUTHENTICATED: $served"
echo "==> published port: refused without keys (probes pass), served with SLUICE_ALLOW_UNAUTHENTICATED=true"
stop_within 30

# --- 3. the compose configuration, with Redis ---------------------------------
if [ -z "${REDIS_URL:-}" ]; then
  echo "==> REDIS_URL unset: skipping the compose configuration's Redis run"
  exit 0
fi
start_container -e REDIS_URL="$REDIS_URL" \
  -v "$REPO_ROOT/docker/sluice.compose.yaml:/etc/sluice/sluice.yaml:ro"
wait_healthy
headers=$(mktemp)
job=$(curl -sS --max-time 10 -D "$headers" -H 'content-type: application/json' -H 'Prefer: respond-async' \
  -d "$chat" "$BASE/v1/chat/completions") || fail "async job submit"
grep -q '^HTTP/1.1 202' "$headers" || fail "async submit: $(head -n1 "$headers") $job"
rm -f "$headers"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
for _ in $(seq 100); do
  polled=$(curl -sS --max-time 5 "$BASE/v1/jobs/$id") || fail "job poll"
  python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["status"] != "completed")' "$polled" && break
  sleep 0.1
done
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["status"]=="completed" and j["response"]["status_code"]==200, j' \
  "$polled" || fail "async job through Redis: $polled"
echo "==> async job $id through Redis answered"
stop_within 25   # docker/sluice.compose.yaml's server.shutdown_grace
# Info lines are flushed every second, and at exit: read what stop_within kept.
grep -q '"event":"redis_connected"' <<< "$LOGS" || fail "no redis_connected log line"
echo "==> container tests passed"
