// Canary secrets: the one place where tests get the secrets they write into
// configs, and the scanner that fails a test when one of them shows up in
// what the gateway writes.
//
// A canary run is a test run with SLUICE_CANARY set to a random token (the
// ctest entry canary_secrets makes one; tests/integration/canary_run.sh). In
// it every secret test_secret() gives contains canary() ("CANARY<token>"):
// provider API keys, gateway keys, header secrets, the Redis password
// (RedisServer then requires one). What the gateway writes is scanned:
//   - its log (stdout of the test process, read through a pipe for the whole
//     run, and whatever a StdoutCapture took), and stderr likewise,
//   - every response a test client reads (status line aside: headers and
//     body, SSE streams whole, raw socket bytes),
//   - /metrics, scraped when each Gateway or DaemonProcess ends,
//   - a daemon's stdout and stderr, `sluice --check-config` included.
// A finding fails the running test at its end, naming where the canary
// appeared, with the text around it (the canary itself masked). What the
// fake upstreams receive is not output: they are the one place a provider
// key must reach.
//
// Outside a canary run test_secret() gives fixed values (the same in every
// run) and scanning does nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::test {

// True when SLUICE_CANARY is set (to at least 8 letters and digits).
bool canary_run();

// "CANARY<token>" in a canary run; empty otherwise.
const std::string& canary();

// The secret a test uses for `role` ("provider", "gw-team-a", "redis"):
// "sk-test-<role>-<fixed hex>" normally, "sk-<canary>-<role>" in a canary run.
// Distinct roles give distinct secrets; `role` must be letters, digits, '-'
// or '_' so the secret needs no quoting in YAML or a URL.
std::string test_secret(std::string_view role);

// Looks for the canary in `text`, output of the gateway that `where` names
// ("the gateway's log", "a response body"). Each occurrence is recorded as a
// finding of the running test. No-op outside a canary run; thread-safe.
void scan_for_canary(std::string_view where, std::string_view text);

// The findings recorded so far, removed from the record. The canary run's
// test listener reports them as failures of the test that ends.
std::vector<std::string> take_canary_findings();

// Waits (bounded) until everything written to stdout and stderr before the call has been
// scanned. The listener calls it at the end of each test; tests of the
// scanner itself call it before take_canary_findings().
void sync_stdout_scan();

}  // namespace sluice::test
