// 10,000 idle connections against the daemon (issue 15's fault-injection
// list): the memory each costs, measured from the daemon's VmRSS, stays
// within 16 KiB (silent, and with half a request line each), and /healthz on
// another connection keeps a p99 under 10 ms (plus what the machine adds
// without them) while they are opened and held. The daemon raises its own
// soft RLIMIT_NOFILE to the hard limit at start: the test starts it with a
// soft limit of 1024, far below the connections it then holds. The numbers
// are printed ("[ measured ]") and recorded as test properties.
//
// Bounded in time: about 12 s, at most a minute. Skipped when the hard
// RLIMIT_NOFILE cannot hold the connections. Disabled in discovery: ctest
// runs it alone (idle_connections_10k in tests/CMakeLists.txt), since load
// that a neighbouring test starts after the baseline second would count as
// the connections' latency.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kConnections = 10'000;
// Under AddressSanitizer every allocation carries redzones and freed memory
// sits in a quarantine, and everything runs several times slower: the memory
// and latency targets are for the release build. The sanitized run still
// checks the rest (the limit raised, every connection held and released).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr std::size_t kTargetBytesPerConnection = 16u << 10;

std::size_t rss_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// "Max open files" soft limit of a process, as /proc/PID/limits shows it.
std::string soft_fd_limit(pid_t pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(limits, line);)
    if (line.starts_with("Max open files")) {
      std::istringstream fields(line.substr(14));
      std::string soft;
      fields >> soft;
      return soft;
    }
  return {};
}

// A plain blocking connection to 127.0.0.1:port; -1 on failure.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// sluice_open_connections from /metrics (over TLS trusting `ca_file` when
// one is given); -1 when it cannot be read.
double open_connections(std::uint16_t port, std::chrono::milliseconds timeout = 5s, const std::string& ca_file = "") {
  const HttpResponse res = ca_file.empty() ? http_request(port, "GET", "/metrics", {}, {}, timeout)
                                           : https_request("localhost", port, ca_file, "GET", "/metrics", {}, {}, timeout);
  const std::size_t at = res.body.find("\nsluice_open_connections ");
  return res.status == 200 && at != std::string::npos ? std::stod(res.body.substr(at + 25)) : -1;
}

// Waits until sluice_open_connections is at least (or, `at_most`, at most) `n`.
bool wait_for_open_connections(std::uint16_t port, double n, std::chrono::seconds timeout, bool at_most = false,
                               const std::string& ca_file = "") {
  for (const auto until = Clock::now() + timeout; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
    const double open = open_connections(port, 5s, ca_file);
    if (open >= 0 && (at_most ? open <= n : open >= n)) return true;
  }
  return false;
}

// GET /healthz on one keep-alive connection, every 5 ms, until stopped.
class HealthProbe {
 public:
  explicit HealthProbe(std::uint16_t port) : thread_([this, port] { run(port); }) {}
  ~HealthProbe() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Latencies in microseconds (of the probes started in [from, to), or all),
  // and the failed requests.
  std::vector<double> latencies_us(Clock::time_point from = {}, Clock::time_point to = Clock::time_point::max()) const {
    std::vector<double> out;
    for (const auto& [at, us] : samples_)
      if (at >= from && at < to) out.push_back(us);
    return out;
  }
  int failures() const { return failures_; }

 private:
  void run(std::uint16_t port) {
    Connection c(port, 2s);
    while (!stop_) {
      const auto t0 = Clock::now();
      const HttpResponse res = c.request("GET", "/healthz", {}, {}, 2s);
      const auto took = Clock::now() - t0;
      if (res.status != 200) ++failures_;
      else samples_.emplace_back(t0, std::chrono::duration<double, std::micro>(took).count());
      std::this_thread::sleep_for(5ms);
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<std::pair<Clock::time_point, double>> samples_;
  int failures_ = 0;
  std::thread thread_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

TEST(IdleConnections, DISABLED_TenThousandIdleConnectionsCostLittleAndHealthzStaysFast) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < kConnections + 512)
    GTEST_SKIP() << "the hard RLIMIT_NOFILE (" << limit.rlim_max << ") cannot hold " << kConnections
                 << " connections; raise it (ulimit -Hn) to run this test";

  const std::string path = ::testing::TempDir() + "sluice-idle-" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << "server:\n"
           "  listen: \"127.0.0.1:0\"\n"
           "  header_timeout: 5m\n"  // the idle connections are held longer than the default 10 s
           "  max_connections: 11000\n"
           "providers:\n"
           "  - { name: mock, type: mock }\n"
           "models:\n"
           "  - { name: m, deployments: [{ provider: mock, model: m }] }\n"
           "logging: { level: info, access_log: false }\n";
  }
  // The daemon starts with the usual soft limit and must raise it itself.
  const rlim_t hard = limit.rlim_max;
  rlimit low = limit;
  low.rlim_cur = std::min<rlim_t>(1024, hard);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  DaemonProcess daemon({"--config", path});
  limit.rlim_cur = hard;  // this process holds the client ends
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  EXPECT_EQ(soft_fd_limit(daemon.pid()), hard == RLIM_INFINITY ? "unlimited" : std::to_string(hard))
      << "the daemon raises its soft limit to the hard one";

  // Warm up (the first requests allocate what every request shares), then measure.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_request(port, "GET", "/healthz").status, 200);
  ASSERT_TRUE(wait_for_open_connections(port, 1, 5s));
  const std::size_t rss_before = rss_of(daemon.pid());
  ASSERT_GT(rss_before, 0u);

  HealthProbe probe(port);
  // A second of /healthz with no other connection: what this machine gives
  // anyway (on a loaded CI box the scheduler alone adds milliseconds).
  const auto baseline_from = Clock::now();
  std::this_thread::sleep_for(1s);
  const auto started = Clock::now();
  // Opened in batches of 100 every 20 ms (about 4,000 a second), from a
  // thread of lower priority: the kernel's work for both ends of each
  // loopback handshake runs on the connecting thread, and on a 2-core machine
  // a connect storm at full speed would measure the test's own CPU use.
  std::vector<int> fds;
  fds.reserve(kConnections);
  std::string connect_error;
  std::thread connector([&] {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);  // this thread only
    for (int i = 0; i < kConnections; ++i) {
      const int fd = connect_to(port);
      if (fd < 0) {
        connect_error = "connection " + std::to_string(i) + ": " + std::strerror(errno);
        return;
      }
      fds.push_back(fd);
      if (i % 100 == 99) std::this_thread::sleep_for(20ms);
    }
  });
  connector.join();
  ASSERT_EQ(connect_error, "");
  // The probe's connection, the scrape's own, and the idle ones.
  ASSERT_TRUE(wait_for_open_connections(port, kConnections + 2, 30s)) << open_connections(port);
  const auto opened = Clock::now();
  std::this_thread::sleep_for(1s);  // idle for a while, the probe still running
  const std::size_t rss_idle = rss_of(daemon.pid());
  const auto idled = Clock::now();

  // The same connections with half a request line each: now each has a read
  // buffer and a request being parsed.
  for (int fd : fds) ASSERT_EQ(::send(fd, "GET /hea", 8, MSG_NOSIGNAL), 8);
  std::this_thread::sleep_for(1s);
  const std::size_t rss_partial = rss_of(daemon.pid());
  probe.stop();
  const auto took = Clock::now() - started;

  const double idle_per_connection = (static_cast<double>(rss_idle) - static_cast<double>(rss_before)) / kConnections;
  const double partial_per_connection =
      (static_cast<double>(rss_partial) - static_cast<double>(rss_before)) / kConnections;
  // /healthz while the connections are opened and while they idle; then
  // while 10,000 half request lines arrive at once (a burst of work, not idle).
  const std::vector<double> held = probe.latencies_us(started, idled);
  const double baseline_p99_ms = percentile(probe.latencies_us(baseline_from, started), 0.99) / 1000;
  std::printf("[ measured ] /healthz p99 alone %.2f ms, while opening %.2f ms, while idle %.2f ms\n", baseline_p99_ms,
              percentile(probe.latencies_us(started, opened), 0.99) / 1000,
              percentile(probe.latencies_us(opened, idled), 0.99) / 1000);
  const std::vector<double> burst = probe.latencies_us(idled);
  const double p50_ms = percentile(held, 0.50) / 1000, p99_ms = percentile(held, 0.99) / 1000;
  std::printf("[ measured ] %d idle connections: RSS %zu -> %zu KiB, %.0f bytes each; with half a request line: "
              "%.0f bytes each. /healthz while they open and idle: p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu "
              "probes (opened in %.1f s); during the burst of half lines: p99 %.2f ms, max %.2f ms; %.1f s in all\n",
              kConnections, rss_before >> 10, rss_idle >> 10, idle_per_connection, partial_per_connection, p50_ms,
              p99_ms, percentile(held, 1.0) / 1000, held.size(),
              std::chrono::duration<double>(opened - started).count(), percentile(burst, 0.99) / 1000,
              percentile(burst, 1.0) / 1000, std::chrono::duration<double>(took).count());
  ::testing::Test::RecordProperty("idle_bytes_per_connection", static_cast<int>(idle_per_connection));
  ::testing::Test::RecordProperty("partial_bytes_per_connection", static_cast<int>(partial_per_connection));
  ::testing::Test::RecordProperty("healthz_p99_us", static_cast<int>(p99_ms * 1000));

  EXPECT_EQ(probe.failures(), 0);
  EXPECT_GE(held.size(), kSanitized ? 10u : 100u);
  if (!kSanitized) {
    EXPECT_LE(idle_per_connection, static_cast<double>(kTargetBytesPerConnection));
    EXPECT_LE(partial_per_connection, static_cast<double>(kTargetBytesPerConnection));
    // The issue's target, 10 ms, on top of what the machine adds without the
    // connections (about 0.2 ms on an idle one).
    EXPECT_LT(p99_ms, 10.0 + baseline_p99_ms) << "p99 without the connections: " << baseline_p99_ms << " ms";
  }
  EXPECT_LT(took, 60s);

  // Closed by the clients, every connection ends (their half requests are
  // refused with a 400 each, logged: the daemon's output is read meanwhile,
  // or its log lines would fill the pipe and stop it).
  for (int fd : fds) ::close(fd);
  bool back_to_one = false;
  for (const auto until = Clock::now() + 20s; !back_to_one && Clock::now() < until;) {
    daemon.output();
    const double open = open_connections(port, 250ms);
    back_to_one = open >= 0 && open <= 1;  // the scrape's own
    if (!back_to_one) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(back_to_one) << open_connections(port);
  std::remove(path.c_str());
}

// TLS connections (server.tls): an idle one holds OpenSSL's connection state
// and no record buffer (server/tls_stream.hpp). asio's TLS stream, used
// before, held 79 KB an idle connection (four 17 KiB record buffers); these
// bounds fail on that and leave room for OpenSSL's own state (about 14 KB)
// and, after a request, the 4 KiB read buffer a keep-alive connection keeps.
TEST(IdleConnections, AnIdleTlsConnectionHoldsNoRecordBuffers) {
  constexpr int kTlsConnections = kSanitized ? 100 : 1'000;
  constexpr double kIdleBound = 24 * 1024, kServedBound = 32 * 1024;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < kTlsConnections + 512)
    GTEST_SKIP() << "the hard RLIMIT_NOFILE (" << limit.rlim_max << ") cannot hold " << kTlsConnections
                 << " connections";
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);

  TestPki pki;
  const TestPki::Files server = pki.issue_files("server", {.common_name = "localhost", .server = true});
  const std::string path = pki.write("sluice.yaml",
                                     "server:\n"
                                     "  listen: \"127.0.0.1:0\"\n"
                                     "  header_timeout: 5m\n"
                                     "  keepalive_timeout: 5m\n"
                                     "  max_connections: 2000\n"
                                     "  tls: { certificate: \"" + server.certificate + "\", key: \"" + server.key +
                                         "\" }\n"
                                     "providers: [{ name: mock, type: mock }]\n"
                                     "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n"
                                     "logging: { level: info, access_log: false }\n");
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();

  // Warm up with one connection served (what every connection shares is
  // allocated), then measure.
  const RawTlsClient tls(pki.ca_file());
  std::vector<RawTlsClient::Connection> clients;
  const auto serve_one = [](RawTlsClient::Connection& c) -> bool {
    if (!c.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) return false;
    std::string got;
    char buf[1024];
    while (got.find("\"ok\"") == std::string::npos) {
      const int n = c.read(buf, sizeof buf);
      if (n <= 0) return false;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  };
  clients.push_back(tls.connect(port));
  ASSERT_EQ(clients.back().error(), "");
  ASSERT_TRUE(serve_one(clients.back()));
  ASSERT_TRUE(wait_for_open_connections(port, 2, 30s, false, pki.ca_file()));
  const std::size_t rss_before = rss_of(daemon.pid());

  for (int i = 0; i < kTlsConnections; ++i) {
    clients.push_back(tls.connect(port));
    ASSERT_EQ(clients.back().error(), "") << "connection " << i;
  }
  ASSERT_TRUE(wait_for_open_connections(port, kTlsConnections + 2, 30s, false, pki.ca_file()));
  std::this_thread::sleep_for(500ms);
  const std::size_t rss_idle = rss_of(daemon.pid());
  bool served = true;
  for (std::size_t i = 1; i < clients.size() && served; ++i) served = serve_one(clients[i]);
  std::this_thread::sleep_for(500ms);
  const std::size_t rss_served = rss_of(daemon.pid());
  clients.clear();
  ASSERT_TRUE(served) << "every connection is served one request, then idles again";

  const double idle = (static_cast<double>(rss_idle) - static_cast<double>(rss_before)) / kTlsConnections;
  const double after_request = (static_cast<double>(rss_served) - static_cast<double>(rss_before)) / kTlsConnections;
  std::printf("[ measured ] %d idle TLS connections: %.0f bytes each after the handshake, %.0f after a request\n",
              kTlsConnections, idle, after_request);
  ::testing::Test::RecordProperty("tls_idle_bytes_per_connection", static_cast<int>(idle));
  ::testing::Test::RecordProperty("tls_served_bytes_per_connection", static_cast<int>(after_request));
  if (!kSanitized) {
    EXPECT_LE(idle, kIdleBound);
    EXPECT_LE(after_request, kServedBound);
  }
}

}  // namespace
}  // namespace sluice::test
