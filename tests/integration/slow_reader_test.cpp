// Back-pressure: a client that stops reading a long, fast stream must not
// make the gateway buffer it. The session writes one batch at a time and
// pulls the next from the relay only when the write completed; the relay
// reads the upstream only when pulled (at most one 16 KiB read buffer). So a
// stalled client stalls the upstream read, and the upstream's own writes
// block once the kernel's socket buffers between them are full.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// This process's resident memory (the gateway runs in it), in bytes.
std::size_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// A client with a 4 KiB receive buffer, which sends its request and then
// reads only when told to.
class SlowClient {
 public:
  explicit SlowClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int rcvbuf = 4096;  // before connect: the window is negotiated then
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~SlowClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Reads until the peer closes, or `end` arrives, or the timeout; keeps only
  // the count and the last bytes.
  bool read_to_end(const std::string& end, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buf[65536];
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      received_ += static_cast<std::size_t>(n);
      tail_.append(buf, static_cast<std::size_t>(n));
      if (tail_.ends_with(end)) return true;
      if (tail_.size() > 256) tail_.erase(0, tail_.size() - 256);
    }
    return false;
  }
  std::size_t received() const { return received_; }
  const std::string& tail() const { return tail_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::size_t received_ = 0;
  std::string tail_;
};

TEST(SlowReader, AClientThatStopsReadingPausesTheUpstream) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model("m", {{"up", "m"}}).yaml());
  ASSERT_TRUE(gw.started());

  // About 130 MiB of stream, sent as fast as the sockets take it: far more
  // than the kernel buffers between the fake and the client can hold (a
  // few MiB each way here; at most tcp_rmem/tcp_wmem's maximum, 32 + 4 + 4 MiB).
  constexpr int kChunks = 16'000, kPad = 8192;
  const std::string body = chat_body("m", {{"stream", true}, {"x_fake", {{"stream_chunks", kChunks}, {"event_pad", kPad}}}});
  const std::size_t total_at_least = static_cast<std::size_t>(kChunks) * kPad;

  const std::size_t rss_before = rss_bytes();
  SlowClient client(gw.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));

  // The client reads nothing. The fake's writes must stop: its count stays
  // the same for a second.
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  std::size_t written = 0;
  bool stalled = false;
  for (auto same_since = Clock::now(), until = Clock::now() + 30s; Clock::now() < until;) {
    std::this_thread::sleep_for(100ms);
    const std::size_t now = fake.bytes_written();
    if (now != written) {
      written = now;
      same_since = Clock::now();
    } else if (written > 0 && Clock::now() - same_since >= 1s) {
      stalled = true;
      break;
    }
  }
  ASSERT_TRUE(stalled) << "the upstream kept writing: " << written << " bytes";
  EXPECT_LT(written, total_at_least / 2) << "the upstream's writes should block while the client does not read";
  const std::size_t rss_stalled = rss_bytes();
  std::printf("[ measured ] the upstream stalled after %zu of at least %zu bytes; RSS %zu -> %zu KiB\n", written,
              total_at_least, rss_before >> 10, rss_stalled >> 10);
#if !defined(__SANITIZE_ADDRESS__)  // ASan's quarantine keeps what the relay freed
  EXPECT_LT(rss_stalled, rss_before + (32u << 20))
      << "the gateway holds what the client has not read: RSS " << rss_before << " -> " << rss_stalled;
#endif

  // Reading again resumes the upstream; the whole stream arrives, in order and ended.
  ASSERT_TRUE(client.read_to_end("data: [DONE]\n\n\r\n0\r\n\r\n", 60s))
      << client.received() << " bytes; last: " << client.tail();
  EXPECT_GT(client.received(), total_at_least);
  EXPECT_GT(fake.bytes_written(), total_at_least);
}

// server.write_timeout: a client that takes nothing for that long is cut
// off, and so is the upstream it was paused on.
TEST(SlowReader, AClientThatReadsNothingIsCutAtTheWriteTimeout) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder()
                 .server("write_timeout", "1s")
                 .openai_provider("up", fake.base_url())
                 .model("m", {{"up", "m"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  const std::string body = chat_body("m", {{"stream", true}, {"x_fake", {{"stream_chunks", 16'000}, {"event_pad", 8192}}}});
  SlowClient client(gw.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  const auto t0 = Clock::now();
  EXPECT_TRUE(fake.wait_for_closed(1, 10s)) << "the upstream of a client cut off is closed";
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 5s);
  // What was sent before the cut can still be read, then the connection ends.
  EXPECT_FALSE(client.read_to_end("data: [DONE]\n\n", 10s));
  EXPECT_LT(client.received(), static_cast<std::size_t>(16'000) * 8192);
}

}  // namespace
}  // namespace sluice::test
