// sluice_log_bench: what one access-log line costs the thread that logs it.
//
// Writes N lines shaped like Session's access line (event "request", 18
// fields) through the real sluice::log API, with stdout pointed at /dev/null,
// a pipe drained by a child process, or a temporary file, and prints ns per
// line: the median, min and max over several repetitions of the wall time,
// and the median of the CPU time the logging thread used (user + system: on a
// shared machine the wall time also holds other processes' slices, and for a
// pipe the time spent waiting for its reader). Each repetition ends with a
// flush, so the write(2) calls are part of the figure. Results go to stderr;
// stdout is the log. See docs/benchmarks.md, "Access log cost".
//
//   sluice_log_bench [--lines N] [--reps R] [--sinks null,pipe,file] [--format json|text]
//
// Run pinned to one core (taskset -c 1): the pipe's reader then moves itself
// to a core the benchmark does not use, as the log shipper would be.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "sluice/core/config.hpp"
#include "sluice/core/log.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  long lines = 1'000'000;
  int reps = 5;
  std::vector<std::string> sinks{"null", "pipe"};
  sluice::LogFormat format = sluice::LogFormat::json;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "sluice_log_bench: %s\nusage: sluice_log_bench [--lines N] [--reps R] "
                       "[--sinks null,pipe,file] [--format json|text]\n", why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "--lines") o.lines = std::atol(value().c_str());
    else if (a == "--reps") o.reps = std::atoi(value().c_str());
    else if (a == "--format") {
      const std::string f = value();
      if (f == "json") o.format = sluice::LogFormat::json;
      else if (f == "text") o.format = sluice::LogFormat::text;
      else usage("format is json or text");
    } else if (a == "--sinks") {
      o.sinks.clear();
      std::string s = value();
      for (std::size_t p = 0; p <= s.size();) {
        std::size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        if (q > p) o.sinks.push_back(s.substr(p, q - p));
        p = q + 1;
      }
    } else usage("unknown argument");
  }
  if (o.lines <= 0 || o.reps <= 0) usage("--lines and --reps must be positive");
  return o;
}

// The access line of src/server/session.cpp, with values that vary per line
// the way they do in production (ids, sizes, durations).
void log_request(std::uint64_t i, const std::string& request_id) {
  const double upstream_ms = 0.041 + static_cast<double>(i % 997) * 0.013;
  sluice::log::info("request", {{"request_id", request_id},
                                {"method", "POST"},
                                {"path", "/v1/chat/completions"},
                                {"status", 200},
                                {"model", "gpt-4o-mini"},
                                {"provider", "openai"},
                                {"upstream_model", "gpt-4o-mini"},
                                {"stream", (i & 7) == 0},
                                {"attempts", 1},
                                {"retries", 0},
                                {"cooldowns", 0},
                                {"bytes_in", std::size_t{986}},
                                {"bytes_out", std::size_t{900 + i % 200}},
                                {"prompt_tokens", std::int64_t{23 + static_cast<std::int64_t>(i % 50)}},
                                {"completion_tokens", std::int64_t{static_cast<std::int64_t>(i % 400)}},
                                {"upstream_ms", upstream_ms},
                                {"total_ms", upstream_ms + 0.087},
                                {"error", std::string_view{}}});
}

void next_id(std::string& id, std::uint64_t i) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t v = i * 0x9e3779b97f4a7c15ull;
  for (int k = 0; k < 16; ++k, v >>= 4) id[16 + k] = kHex[v & 0xf];
}

// Points fd 1 at the sink; returns the drain child's pid for "pipe", else 0.
pid_t open_sink(const std::string& sink) {
  std::fflush(stdout);
  if (sink == "null" || sink == "file") {
    int fd = -1;
    if (sink == "null") fd = ::open("/dev/null", O_WRONLY);
    else {
      char path[] = "/tmp/sluice_log_bench.XXXXXX";
      fd = ::mkstemp(path);
      if (fd >= 0) ::unlink(path);
    }
    if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0) { std::perror("sink"); std::exit(1); }
    ::close(fd);
    return 0;
  }
  if (sink != "pipe") usage("sinks are null, pipe and file");
  int p[2];
  if (::pipe(p) != 0) { std::perror("pipe"); std::exit(1); }
  const pid_t child = ::fork();
  if (child < 0) { std::perror("fork"); std::exit(1); }
  if (child == 0) {
    ::close(p[1]);
    // Move to a core the parent is not pinned to, if there is one.
    cpu_set_t mine, all;
    CPU_ZERO(&all);
    if (sched_getaffinity(0, sizeof mine, &mine) == 0) {
      const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
      for (long c = 0; c < n && c < CPU_SETSIZE; ++c)
        if (!CPU_ISSET(c, &mine)) CPU_SET(c, &all);
      if (CPU_COUNT(&all) > 0) sched_setaffinity(0, sizeof all, &all);
    }
    static char buf[1 << 16];
    while (true) {
      const ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    ::_exit(0);
  }
  ::close(p[0]);
  if (::dup2(p[1], STDOUT_FILENO) < 0) { std::perror("dup2"); std::exit(1); }
  ::close(p[1]);
  return child;
}

void close_sink(pid_t child) {
  const int null = ::open("/dev/null", O_WRONLY);
  ::dup2(null, STDOUT_FILENO);  // closes the pipe's last write end: the child sees EOF
  ::close(null);
  if (child > 0) ::waitpid(child, nullptr, 0);
}

double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct PerLine {
  double wall_ns, cpu_ns;
};

PerLine run_once(long lines, std::uint64_t& seq, std::string& id) {
  const double c0 = thread_cpu_ns();
  const auto t0 = Clock::now();
  for (long n = 0; n < lines; ++n, ++seq) {
    next_id(id, seq);
    log_request(seq, id);
  }
  spdlog::default_logger()->flush();
  const auto t1 = Clock::now();
  const double c1 = thread_cpu_ns();
  const auto count = static_cast<double>(lines);
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / count, (c1 - c0) / count};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  sluice::LoggingConfig config;
  config.level = "info";
  config.format = opt.format;
  sluice::log::init(config);

  std::string id = "3f9c2a7b1e4d5c60" "0000000000000000";  // 32 hex digits, as new_request_id()
  std::uint64_t seq = 0;
  std::fprintf(stderr, "%-5s %10s %5s %10s %10s %10s %10s  (ns per line, %s)\n", "sink", "lines", "reps",
               "median", "min", "max", "cpu median", opt.format == sluice::LogFormat::json ? "json" : "text");
  for (const std::string& sink : opt.sinks) {
    const pid_t child = open_sink(sink);
    run_once(std::min(opt.lines, 100'000L), seq, id);  // warm-up: caches, page faults, buffers
    std::vector<double> wall, cpu;
    for (int r = 0; r < opt.reps; ++r) {
      const PerLine t = run_once(opt.lines, seq, id);
      wall.push_back(t.wall_ns);
      cpu.push_back(t.cpu_ns);
    }
    close_sink(child);
    std::fprintf(stderr, "%-5s %10ld %5d %10.1f %10.1f %10.1f %10.1f\n", sink.c_str(), opt.lines, opt.reps,
                 median(wall), *std::min_element(wall.begin(), wall.end()),
                 *std::max_element(wall.begin(), wall.end()), median(cpu));
  }
  spdlog::shutdown();
  return 0;
}
