// Canary secrets and the scanner (see canary.hpp): the token, the findings,
// the pipe that stdout goes through in a canary run, and the GoogleTest
// listener that turns findings into failures of the test that ends.
#include "support/canary.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "sluice/core/log.hpp"

namespace sluice::test {

namespace {

constexpr std::size_t kContextBytes = 60;      // shown each side of a finding
constexpr std::size_t kMaxFindingsPerText = 3;  // one text, however many occurrences

std::string read_token() {
  const char* env = std::getenv("SLUICE_CANARY");
  if (!env || !*env) return {};
  const std::string token = env;
  const bool valid = token.size() >= 8 && std::all_of(token.begin(), token.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) != 0;
                     });
  if (!valid) {
    std::fprintf(stderr, "SLUICE_CANARY must be at least 8 letters and digits (a random token)\n");
    std::exit(2);
  }
  return "CANARY" + token;
}

struct Findings {
  std::mutex mutex;
  std::vector<std::string> list;
};

Findings& findings() {
  static Findings* f = new Findings;  // never destroyed: the stdout reader may record at exit
  return *f;
}

// `text` around [at, at + size) with the canary masked and control bytes escaped.
std::string excerpt(std::string_view text, std::size_t at, std::size_t size) {
  const std::size_t begin = at > kContextBytes ? at - kContextBytes : 0;
  const std::size_t end = std::min(text.size(), at + size + kContextBytes);
  std::string out = begin > 0 ? "..." : "";
  for (std::size_t i = begin; i < end;) {
    if (text.compare(i, canary().size(), canary()) == 0) {
      out += "<CANARY>";
      i += canary().size();
      continue;
    }
    const auto c = static_cast<unsigned char>(text[i++]);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) out += '?';
    else out += static_cast<char>(c);
  }
  if (end < text.size()) out += "...";
  return out;
}

// ---------------------------------------------------------------------------
// stdout and stderr through pipes. File descriptors 1 and 2 become the
// pipes' write ends, so the gateway's log (written to fd 1 by core/log) and
// anything written to fd 2 pass the scanner. The C streams `stdout` and
// `stderr`, which GoogleTest prints with, are moved to copies of the real
// ones, so test output never passes the scanner: a failing assertion that
// prints a secret is not a leak of the gateway's. Log lines are passed on to
// the real descriptor only when SLUICE_TEST_LOG asks for them; other lines (a
// test's own std::cout) always are.

class OutputScan {
 public:
  // `fd`: 1 or 2; `stream`: stdout or stderr; `where` names it in findings.
  OutputScan(int fd, FILE*& stream, const char* where) : fd_(fd), stream_(stream), where_(where) {}

  void start() {
    if (started_) return;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    std::fflush(stream_);
    real_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
    FILE* real_stream = ::fdopen(::fcntl(real_, F_DUPFD_CLOEXEC, 3), "w");
    if (!real_stream) return;
    std::setvbuf(real_stream, nullptr, fd_ == STDERR_FILENO ? _IONBF : _IOLBF, 0);
    stream_ = real_stream;  // glibc's stdout and stderr are ordinary variables (its manual's own example)
    ::dup2(fds[1], fd_);
    ::close(fds[1]);
    read_ = fds[0];
    const char* env = std::getenv("SLUICE_TEST_LOG");
    pass_logs_ = env && *env;
    started_ = true;
    std::thread([this] { run(); }).detach();  // reads until the process ends
  }

  void sync() {
    if (!started_) return;
    log::flush();
    std::unique_lock lock(mutex_);
    const std::uint64_t marker = ++sent_;
    const std::string line = std::string(kMarker) + std::to_string(marker) + "\n";
    lock.unlock();
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
    lock.lock();
    // A test that still redirects stdout (a StdoutCapture it did not end) keeps
    // the marker from the pipe: give up after a while, its capture is scanned.
    seen_.wait_for(lock, std::chrono::seconds(5), [&] { return received_ >= marker; });
  }

 private:
  static constexpr std::string_view kMarker = "\x1e" "sluice-canary-sync ";

  static bool is_log_line(std::string_view line) {
    // "2026-12-06T08:49:37.300251Z info ..." or {"ts":"...
    const bool text = line.size() > 20 && line[4] == '-' && line[7] == '-' && line[10] == 'T' &&
                      std::isdigit(static_cast<unsigned char>(line[0]));
    return text || line.starts_with("{\"ts\":");
  }

  void run() {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(read_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      pending_.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t end; (end = pending_.find('\n', start)) != std::string::npos; start = end + 1)
        line(std::string_view(pending_).substr(start, end + 1 - start));
      pending_.erase(0, start);
      if (pending_.size() > (1u << 20)) {  // a megabyte without a newline: scan it as a line
        line(pending_);
        pending_.clear();
      }
    }
  }

  void line(std::string_view text) {
    if (text.starts_with(kMarker)) {
      const std::uint64_t marker = std::strtoull(std::string(text.substr(kMarker.size())).c_str(), nullptr, 10);
      std::lock_guard lock(mutex_);
      received_ = std::max(received_, marker);
      seen_.notify_all();
      return;
    }
    scan_for_canary(where_, text);
    if (pass_logs_ || !is_log_line(text)) {
      // Passed on with the canary masked, as findings show it.
      std::string shown(text);
      for (auto at = shown.find(canary()); at != std::string::npos; at = shown.find(canary(), at))
        shown.replace(at, canary().size(), "<CANARY>");
      for (std::size_t done = 0; done < shown.size();) {
        const ssize_t w = ::write(real_, shown.data() + done, shown.size() - done);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) done += static_cast<std::size_t>(w);
      }
    }
  }

  const int fd_;
  FILE*& stream_;
  const char* const where_;
  bool started_ = false;
  bool pass_logs_ = false;
  int real_ = -1, read_ = -1;
  std::string pending_;  // the reader thread's
  std::mutex mutex_;
  std::condition_variable seen_;
  std::uint64_t sent_ = 0, received_ = 0;
};

// Never destroyed: their threads read until the process exits.
OutputScan& stdout_scan() {
  static OutputScan* scan = new OutputScan(STDOUT_FILENO, stdout, "the gateway's log (stdout)");
  return *scan;
}
OutputScan& stderr_scan() {
  static OutputScan* scan = new OutputScan(STDERR_FILENO, stderr, "the test process's stderr");
  return *scan;
}

// Reports the findings as failures of the test that ends: assertions in
// OnTestEnd count for that test (GoogleTest's own leak-checker sample does
// the same), and OnTestEnd runs in reverse order of registration, so before
// the printer writes the test's result.
class CanaryListener final : public testing::EmptyTestEventListener {
 public:
  void OnTestProgramStart(const testing::UnitTest&) override {
    stdout_scan().start();
    stderr_scan().start();
  }
  void OnTestEnd(const testing::TestInfo&) override {
    sync_stdout_scan();
    for (const auto& finding : take_canary_findings()) ADD_FAILURE() << finding;
  }
};

[[maybe_unused]] const bool kListenerRegistered = [] {
  if (canary_run()) testing::UnitTest::GetInstance()->listeners().Append(new CanaryListener);
  return true;
}();

}  // namespace

bool canary_run() { return !canary().empty(); }

const std::string& canary() {
  static const std::string value = read_token();
  return value;
}

std::string test_secret(std::string_view role) {
  if (canary_run()) return "sk-" + canary() + "-" + std::string(role);
  // FNV-1a of the role: fixed, and different for each role.
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : role) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "sk-test-" + std::string(role) + "-" + hex;
}

void scan_for_canary(std::string_view where, std::string_view text) {
  if (!canary_run()) return;
  std::size_t count = 0;
  for (std::size_t at = text.find(canary()); at != std::string_view::npos && count < kMaxFindingsPerText;
       at = text.find(canary(), at + 1), ++count) {
    std::lock_guard lock(findings().mutex);
    findings().list.push_back("a canary secret appeared in " + std::string(where) + ": " +
                              excerpt(text, at, canary().size()));
  }
}

std::vector<std::string> take_canary_findings() {
  std::lock_guard lock(findings().mutex);
  return std::exchange(findings().list, {});
}

void sync_stdout_scan() {
  stdout_scan().sync();
  stderr_scan().sync();
}

}  // namespace sluice::test
