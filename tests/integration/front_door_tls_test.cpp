// TLS at the front door (server.tls): answers and streams over HTTPS to a
// client trusting the test CA; what is refused (plain HTTP, an old protocol
// version, clients without the right certificate under mTLS); and the
// connection limits, cancellation and graceful shutdown, which must hold over
// TLS as they do over plain TCP. Certificate rotation (SIGHUP) is in
// front_door_tls_daemon_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

class FrontDoorTls : public ::testing::Test {
 protected:
  TestPki pki;
  TestPki::Files server = pki.issue_files("server", {.common_name = "localhost", .server = true});

  // The server.tls mapping, with more keys when given.
  std::string tls_yaml(const YamlPairs& extra = {}) const {
    std::string out = "{ certificate: " + quoted(server.certificate) + ", key: " + quoted(server.key);
    for (const auto& [k, v] : extra) out += ", " + k + ": " + v;
    return out + " }";
  }
  // A mock-provider gateway behind TLS, with more server keys when given.
  std::string mock_tls_yaml(YamlPairs server_keys = {}, YamlPairs mock = {}, const YamlPairs& tls_extra = {}) const {
    server_keys.emplace_back("tls", tls_yaml(tls_extra));
    return mock_yaml(std::move(mock), std::move(server_keys));
  }
  TlsClientOptions client() const { return {.host = "localhost", .ca_file = pki.ca_file()}; }
};

TEST_F(FrontDoorTls, ChatCompletionAndStreamOverHttps) {
  Gateway gw(mock_tls_yaml());
  ASSERT_TRUE(gw.started());
  Connection c(gw.port(), client());
  ASSERT_TRUE(c.is_open()) << c.error();
  EXPECT_EQ(c.peer_certificate().serial, server.pem.serial);
  for (int i = 0; i < 2; ++i) {  // and the connection is kept alive
    const HttpResponse res = c.request("POST", "/v1/chat/completions", chat_body("gpt-4o-mini"));
    ASSERT_EQ(res.status, 200) << res.error << res.body;
    EXPECT_FALSE(res.connection_closed);
    EXPECT_FALSE(parse_json(res.body)["choices"][0]["message"]["content"].get<std::string>().empty()) << res.body;
  }

  SseReader sse(gw.port(), client(), "/v1/chat/completions", chat_body("gpt-4o-mini", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200) << sse.body();
  const auto events = sse.remaining_events(5s);
  ASSERT_GE(events.size(), 2u) << sse.body();
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_TRUE(sse.ended_cleanly());
}

TEST_F(FrontDoorTls, PlainHttpToTheTlsPortFailsAtOnce) {
  Gateway gw(mock_tls_yaml());
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  const HttpResponse res = http_request(gw.port(), "GET", "/healthz", {}, {}, 3s);
  EXPECT_EQ(res.status, 0) << res.body;
  EXPECT_TRUE(res.connection_closed) << res.error;
  EXPECT_EQ(res.error.find("reset"), std::string::npos) << "closed, not reset over the unread request: " << res.error;
  EXPECT_LT(Clock::now() - t0, 1s) << "the failed handshake closes the connection, not the header timeout";
}

// What a client sends behind a failed handshake is drained (so the alert is
// not lost to a reset), for a second at most: one that keeps sending is cut.
TEST_F(FrontDoorTls, TheDrainAfterAFailedHandshakeIsBounded) {
  Gateway gw(mock_tls_yaml());
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  const auto t0 = Clock::now();
  bool sending = s.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string more(16 * 1024, 'x');
  while (sending && Clock::now() - t0 < 10s) {
    sending = s.send(more);
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(sending) << "still taken after 10 s";
  EXPECT_LT(Clock::now() - t0, 3s) << "the drain lasts about a second";
}

TEST_F(FrontDoorTls, Tls12ClientsAreServedByDefault) {
  Gateway gw(mock_tls_yaml());
  ASSERT_TRUE(gw.started());
  TlsClientOptions old = client();
  old.tls12_only = true;
  Connection c(gw.port(), old);
  ASSERT_TRUE(c.is_open()) << c.error();
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);
}

TEST_F(FrontDoorTls, MinVersion13RefusesATls12OnlyClient) {
  Gateway gw(mock_tls_yaml({}, {}, {{"min_version", "\"1.3\""}}));
  ASSERT_TRUE(gw.started());
  TlsClientOptions old = client();
  old.tls12_only = true;
  Connection refused(gw.port(), old);
  EXPECT_FALSE(refused.is_open());
  EXPECT_NE(refused.error().find("TLS handshake"), std::string::npos) << refused.error();

  Connection modern(gw.port(), client());
  ASSERT_TRUE(modern.is_open()) << modern.error();
  EXPECT_EQ(modern.request("GET", "/healthz").status, 200);
}

class MutualTls : public FrontDoorTls {
 protected:
  // Whether a client showing `certificate` (none when null) gets an answer.
  HttpResponse healthz_as(const TestPki::Files* certificate, std::uint16_t port) {
    TlsClientOptions options = client();
    if (certificate) {
      options.certificate = certificate->certificate;
      options.key = certificate->key;
    }
    Connection c(port, options, 3s);
    if (!c.is_open()) {
      HttpResponse failed;
      failed.error = c.error();
      return failed;
    }
    // With TLS 1.3 the client's side of the handshake ends before the server
    // has checked its certificate: the refusal arrives as an alert instead
    // of the answer.
    return c.request("GET", "/healthz", {}, {}, 3s);
  }
};

TEST_F(MutualTls, AClientWithoutACertificateIsRefused) {
  std::string line;
  HttpResponse res;
  {
    StdoutCapture capture;
    Gateway gw(mock_tls_yaml({}, {}, {{"client_ca", quoted(pki.ca_file())}}), {.log_level = "info"});
    if (gw.started()) res = healthz_as(nullptr, gw.port());
    // The client may read the alert before the gateway has logged why it sent it.
    line = capture.wait_for_line({"tls_handshake_failed"}, 3s);
  }
  EXPECT_EQ(res.status, 0) << res.body;
  // The client is told why: OpenSSL's alert reaches it (the bytes it sent
  // after its certificate are drained, not reset away).
  EXPECT_NE(res.error.find("certificate required"), std::string::npos) << res.error;
  EXPECT_NE(line.find("did not return a certificate"), std::string::npos) << line;
}

TEST_F(MutualTls, OnlyCertificatesFromTheClientCaAreAccepted) {
  Gateway gw(mock_tls_yaml({}, {}, {{"client_ca", quoted(pki.ca_file())}}));
  ASSERT_TRUE(gw.started());
  TestPki other("Another CA");
  const auto stranger = other.issue_files("stranger", {.common_name = "stranger", .client = true});
  const HttpResponse refused = healthz_as(&stranger, gw.port());
  EXPECT_EQ(refused.status, 0) << refused.body;

  const auto pod = pki.issue_files("pod", {.common_name = "pod-a", .client = true});
  const HttpResponse served = healthz_as(&pod, gw.port());
  EXPECT_EQ(served.status, 200) << served.error;
}

// A client that connects and never handshakes must not hold its connection
// (and, at max_connections, everyone else's) beyond header_timeout.
TEST_F(FrontDoorTls, AClientThatNeverHandshakesIsCutAtTheHeaderTimeout) {
  Gateway gw(mock_tls_yaml({{"header_timeout", "300ms"}, {"max_connections", "1"}}));
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  RawSocket silent(gw.port());
  ASSERT_TRUE(silent.connected());
  // The only slot is taken: over TLS a connection above the limit is closed
  // without a handshake (no 503 can be read before one).
  Connection refused(gw.port(), client(), 3s);
  EXPECT_FALSE(refused.is_open());
  EXPECT_TRUE(silent.wait_closed(1s));
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(silent.received().empty());
  // The slot is free again.
  Connection next(gw.port(), client(), 3s);
  ASSERT_TRUE(next.is_open()) << next.error();
  EXPECT_EQ(next.request("GET", "/healthz").status, 200);
}

TEST_F(FrontDoorTls, AStalledHandshakeIsCutAtTheHeaderTimeout) {
  Gateway gw(mock_tls_yaml({{"header_timeout", "300ms"}}));
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a ClientHello's first bytes
  const auto t0 = Clock::now();
  EXPECT_TRUE(s.wait_closed(3s));
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(FrontDoorTls, RequestLimitsHoldOverTls) {
  Gateway gw(mock_tls_yaml({{"header_timeout", "300ms"}, {"max_body_bytes", "2048"}}));
  ASSERT_TRUE(gw.started());
  // A head that never ends: 408 after the handshake, like over plain TCP.
  Connection slow(gw.port(), client());
  ASSERT_TRUE(slow.is_open()) << slow.error();
  ASSERT_TRUE(slow.send_raw("POST /v1/chat/comp"));
  const HttpResponse timed_out = slow.read_response(3s);
  EXPECT_EQ(timed_out.status, 408) << timed_out.error;

  // A body over the limit sent in full: the 413 arrives (what the client
  // still sends is read and dropped, not answered with a reset).
  Connection big(gw.port(), client());
  ASSERT_TRUE(big.is_open()) << big.error();
  const HttpResponse too_large =
      big.request("POST", "/v1/chat/completions", chat_body("gpt-4o-mini", {}, std::string(64 * 1024, 'x')));
  EXPECT_EQ(too_large.status, 413) << too_large.error;
  EXPECT_TRUE(too_large.connection_closed);
}

TEST_F(FrontDoorTls, IdleKeepAliveConnectionsAreClosed) {
  Gateway gw(mock_tls_yaml({{"keepalive_timeout", "300ms"}}));
  ASSERT_TRUE(gw.started());
  Connection c(gw.port(), client());
  ASSERT_EQ(c.request("GET", "/healthz").status, 200) << c.error();
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_by_peer(2s));
  EXPECT_LT(Clock::now() - t0, 1500ms);
}

TEST_F(FrontDoorTls, AClientLeavingMidStreamCancelsTheUpstream) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"tls", tls_yaml()}}));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), client(), "/v1/chat/completions",
                chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"stream_chunks", 100}, {"chunk_delay_ms", 100}}}}));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());
  sse.disconnect();  // close_notify, then the close
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
}

// The client's close_notify arrives as bytes the gateway cannot tell from a
// pipelined request without decrypting them; only the close behind it (or a
// reset) is a disconnect, however much later it comes.
TEST_F(FrontDoorTls, AClientLeavingWhileTheUpstreamWorksCancelsIt) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"tls", tls_yaml()}}));
  ASSERT_TRUE(gw.started());
  Connection c(gw.port(), client());
  ASSERT_TRUE(c.is_open()) << c.error();
  ASSERT_TRUE(c.send_raw(raw_chat_post(chat_body("gpt-test", {{"x_fake", {{"hang", true}}}}), "localhost")));
  ASSERT_TRUE(fake.wait_for_requests(1, 2s));
  ASSERT_TRUE(c.close_notify());
  EXPECT_FALSE(fake.wait_for_closed(1, 300ms)) << "a client that only stopped sending may still read the answer";
  c.close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
}

// A stream far larger than the socket buffers to a client that reads nothing
// for a while, then reads in small pieces: the gateway's TLS writes wait for
// the socket to drain (OpenSSL's WANT_WRITE, retried with the same record)
// and every byte arrives, in order.
TEST_F(FrontDoorTls, ALongStreamToASlowReaderArrivesWhole) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"tls", tls_yaml()}}));
  ASSERT_TRUE(gw.started());
  constexpr int kChunks = 1'500, kPad = 8192;  // about 12 MiB
  const std::string body =
      chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"stream_chunks", kChunks}, {"event_pad", kPad}}}});

  // A client with a 4 KiB receive buffer.
  RawTlsClient::Connection c = RawTlsClient(pki.ca_file()).connect(gw.port(), 4096);
  ASSERT_EQ(c.error(), "");
  ASSERT_TRUE(c.write(raw_chat_post(body, "localhost")));

  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  std::this_thread::sleep_for(1s);  // the gateway's writes fill the buffers and wait
  EXPECT_LT(fake.bytes_written(), static_cast<std::size_t>(kChunks) * kPad) << "the upstream paused with the client";

  std::string received;
  char buf[1000];  // small reads: many records are read in pieces
  const auto until = Clock::now() + 60s;
  while (!received.ends_with("data: [DONE]\n\n\r\n0\r\n\r\n") && Clock::now() < until) {
    const int n = c.read(buf, sizeof buf);
    if (n <= 0) break;
    received.append(buf, static_cast<std::size_t>(n));
  }
  ASSERT_TRUE(received.ends_with("data: [DONE]\n\n\r\n0\r\n\r\n"))
      << received.size() << " bytes; last: " << received.substr(received.size() - std::min<std::size_t>(received.size(), 200));
  EXPECT_GT(received.size(), static_cast<std::size_t>(kChunks) * kPad);
  // In order: the fake's chunk i says "c<i>"; each is there, after the one before.
  std::size_t at = 0;
  for (int i = 0; i < kChunks && at != std::string::npos; ++i) {
    at = received.find("\"content\":\"c" + std::to_string(i) + "\"", at);
    EXPECT_NE(at, std::string::npos) << "chunk " << i << " is missing or out of order";
  }
}

TEST_F(FrontDoorTls, ShutdownDrainsTlsConnections) {
  Gateway gw(mock_tls_yaml({{"shutdown_grace", "10s"}}, {{"stream_chunks", "4"}, {"chunk_interval", "150ms"}}));
  ASSERT_TRUE(gw.started());
  Connection idle(gw.port(), client());
  ASSERT_EQ(idle.request("GET", "/readyz").status, 200) << idle.error();
  SseReader sse(gw.port(), client(), "/v1/chat/completions", chat_body("gpt-4o-mini", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());

  gw.begin_shutdown();
  EXPECT_TRUE(idle.closed_by_peer(1s)) << "idle keep-alive connections close at once";
  const auto rest = sse.remaining_events(5s);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), "[DONE]");
  EXPECT_TRUE(sse.ended_cleanly());
  EXPECT_TRUE(gw.wait_shutdown(2s)) << "shutdown completes once the last stream ends";
}

TEST_F(FrontDoorTls, GraceExpiryEndsATlsStreamProperly) {
  Gateway gw(mock_tls_yaml({{"shutdown_grace", "200ms"}}, {{"stream_chunks", "100"}, {"chunk_interval", "100ms"}}));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), client(), "/v1/chat/completions", chat_body("gpt-4o-mini", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());
  gw.begin_shutdown();
  const auto rest = sse.remaining_events(3s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_FALSE(rest.empty()) << sse.body();
  EXPECT_TRUE(is_error_event(rest.back())) << rest.back();
  EXPECT_EQ(parse_json(rest.back())["error"]["code"], "shutting_down");
  EXPECT_TRUE(sse.ended_cleanly());
  EXPECT_TRUE(gw.wait_shutdown(3s));
}

}  // namespace
}  // namespace sluice::test
