#!/usr/bin/env bash
# The canary-secret run (docs/security.md, "Secrets"): every secret the tests
# put into configs carries a random token made here, and any appearance of it
# in the gateway's output fails the test that caused it (tests/support/canary.hpp).
#
#   canary_run.sh suite EXE       the whole integration suite in canary mode
#   canary_run.sh self-test EXE   the scanner's own proof: each CanaryScan test
#                                 leaks the canary on purpose and must fail,
#                                 saying where the canary appeared
#   canary_run.sh node SLUICE     the Node SDK tests (tests/node, canary.mjs)
#                                 against the daemon SLUICE in canary mode
set -euo pipefail

mode=${1:?usage: canary_run.sh suite|self-test|node EXE}
exe=${2:?usage: canary_run.sh suite|self-test|node EXE}

# 24 hex digits, new on every run: no fixed string in the sources can match it.
SLUICE_CANARY=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export SLUICE_CANARY
# The run starts its own Redis servers, each with a password (REDIS_URL is
# not used: a shared server has no canary password).
unset SLUICE_TEST_LOG

case $mode in
  suite)
    exec "$exe" --gtest_brief=1
    ;;
  node)
    SLUICE_BIN=$(realpath "$exe") exec bash "$(dirname "$0")/../node/run.sh"
    ;;
  self-test)
    # test name : the place its finding must name
    expected=(
      "ALogLineWithTheCanaryFails:the gateway's log (stdout)"
      "ACapturedLogLineWithTheCanaryFails:the gateway's log (a test's capture of stdout)"
      "StderrWithTheCanaryFails:the test process's stderr"
      "AResponseWithTheCanaryFails:the body of the response to POST /v1/chat/completions"
      "MetricsWithTheCanaryFail:the body of the response to GET /metrics"
      "ADaemonPrintingTheCanaryFails:the daemon's stdout or stderr"
    )
    set +e
    output=$("$exe" --gtest_also_run_disabled_tests --gtest_filter='CanaryScan.DISABLED_*' 2>&1)
    status=$?
    set -e
    printf '%s\n' "$output"
    failed=0
    if [[ $status -eq 0 ]]; then
      echo "canary_run.sh: the deliberate leaks passed: the scanner caught nothing" >&2
      failed=1
    fi
    if [[ $output == *"$SLUICE_CANARY"* ]]; then
      echo "canary_run.sh: a finding printed the canary itself (it must be masked)" >&2
      failed=1
    fi
    for entry in "${expected[@]}"; do
      test=${entry%%:*} place=${entry#*:}
      if ! grep -q "^\[  FAILED  \] CanaryScan.DISABLED_$test\b" <<<"$output"; then
        echo "canary_run.sh: CanaryScan.DISABLED_$test did not fail" >&2
        failed=1
      fi
      if ! grep -qF "a canary secret appeared in $place: " <<<"$output"; then
        echo "canary_run.sh: no finding in \"$place\"" >&2
        failed=1
      fi
    done
    exit $failed
    ;;
  *)
    echo "usage: canary_run.sh suite|self-test|node EXE" >&2
    exit 2
    ;;
esac
