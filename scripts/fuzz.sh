#!/usr/bin/env bash
# Runs one fuzz target (tests/fuzz/<target>.cpp) under libFuzzer with
# AddressSanitizer and UBSan for MINUTES minutes, then merges the inputs it
# found that reach new code into its seed corpus (tests/fuzz/corpus/<target>/),
# which the normal test command replays. A crash, a broken invariant, a leak
# or an input slower than the timeout stops the run and leaves the input in
# build-fuzz/artifacts/: fix the bug, then keep that input in the corpus.
#
#   scripts/fuzz.sh TARGET [MINUTES]     one target (default 5 minutes)
#   scripts/fuzz.sh all [MINUTES]        every target in turn, MINUTES each
#   scripts/fuzz.sh list                 the targets
#
# Environment: SLUICE_FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (parallel
# fuzzing processes, default 1), FUZZ_TIMEOUT (seconds one input may take,
# default 2: the parsers are linear, so a slower input is the quadratic class
# of bug), FUZZ_MAX_LEN (default 65536 bytes: large enough that a quadratic
# cost exceeds the timeout).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGETS_FILE="$REPO_ROOT/tests/fuzz/CMakeLists.txt"
targets() { sed -n 's/^ *sluice_fuzz_target(\([a-z_]*\) .*/\1/p' "$TARGETS_FILE"; }

usage() {
  echo "usage: $0 TARGET|all|list [MINUTES]" >&2
  echo "targets: $(targets | tr '\n' ' ')" >&2
  exit 2
}

[ $# -ge 1 ] || usage
TARGET="$1"
MINUTES="${2:-5}"
[[ "$MINUTES" =~ ^[0-9]+$ ]] || usage
if [ "$TARGET" = list ]; then targets; exit 0; fi
if [ "$TARGET" != all ] && ! targets | grep -qx "$TARGET"; then usage; fi

# clang-14's libclang-rt-14-dev carries libFuzzer (libclang_rt.fuzzer) and the
# sanitizer runtimes.
ensure_packages "${BUILD_PACKAGES[@]}" clang-14 libclang-rt-14-dev

FUZZ_BUILD_DIR="${SLUICE_FUZZ_BUILD_DIR:-$REPO_ROOT/build-fuzz}"
# -O1 with line tables: readable stack traces, and less compile time than
# -O2 -g (every Asio TU is heavy under the sanitizers).
CC=clang-14 CXX=clang++-14 cmake -S "$REPO_ROOT" -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DSLUICE_FUZZ=ON -DSLUICE_TESTS=ON > /dev/null

run_one() {
  local target="$1" seconds=$(( $2 * 60 ))
  local corpus="$REPO_ROOT/tests/fuzz/corpus/$target"
  local found="$FUZZ_BUILD_DIR/found/$target"
  local artifacts="$FUZZ_BUILD_DIR/artifacts"
  cmake --build "$FUZZ_BUILD_DIR" -j "$(nproc)" --target "fuzz_$target"
  mkdir -p "$found" "$artifacts" "$corpus"
  echo "==> fuzzing $target for $2 minute(s)"
  # New inputs go to $found (the first directory); the seeds are read only.
  local status=0 parallel=()
  # -jobs sends each process's output to fuzz-N.log: only when asked for.
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && parallel=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$FUZZ_BUILD_DIR/tests/fuzz/fuzz_$target" "$found" "$corpus" \
    -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-2}" -max_len="${FUZZ_MAX_LEN:-65536}" \
    -rss_limit_mb=2048 -report_slow_units=1 -print_final_stats=1 \
    "${parallel[@]}" \
    -artifact_prefix="$artifacts/$target-" || status=$?
  # Keep only what reaches new code: the corpus stays small and the replay
  # fast. -use_counters=0: an edge counts once, not per hit-count bucket
  # (with the buckets, four minutes merged a thousand files; without, a
  # hundred or two).
  echo "==> merging new inputs of $target into tests/fuzz/corpus/$target"
  "$FUZZ_BUILD_DIR/tests/fuzz/fuzz_$target" -merge=1 -use_counters=0 "$corpus" "$found" \
    > "$FUZZ_BUILD_DIR/merge-$target.log" 2>&1 ||
    tail -20 "$FUZZ_BUILD_DIR/merge-$target.log"
  rm -rf "$found"
  if [ $status -ne 0 ]; then
    echo "==> $target FAILED: see the input in $artifacts/ (replay it with the normal build's" \
         "tests/fuzz/fuzz_replay_$target, or with fuzz_$target FILE)"
  fi
  return $status
}

status=0
if [ "$TARGET" = all ]; then
  for t in $(targets); do run_one "$t" "$MINUTES" || status=1; done
else
  run_one "$TARGET" "$MINUTES" || status=1
fi
exit $status
