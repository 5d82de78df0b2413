// The front door's HTTP/1.1 details end to end: Host is required, absolute-form
// targets are routed by their path, header_timeout counts from a connection's
// first wait.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "gateway_fixture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kChat = "/v1/chat/completions";

// ---------------------------------------------------------------------------
// Host and the request target (RFC 9112 section 3.2)

class Protocol : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.started()); }
  Gateway gw{mock_yaml()};
};

TEST_F(Protocol, Http11RequestWithoutHostIs400AndCloses) {
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.1\r\n\r\n"));
  HttpResponse res = c.read_response(3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
  EXPECT_NE(res.body.find("Host"), std::string::npos) << res.body;
  EXPECT_TRUE(res.connection_closed);
}

TEST_F(Protocol, TwoHostHeadersAre400) {
  HttpResponse res = raw_request(gw.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
}

TEST_F(Protocol, Http10RequestWithoutHostIsServed) {
  HttpResponse res = raw_request(gw.port(), "GET /healthz HTTP/1.0\r\n\r\n", 3s);
  EXPECT_EQ(res.status, 200) << res.error << res.body;
}

TEST_F(Protocol, AbsoluteFormTargetIsRoutedByItsPath) {
  HttpResponse models = raw_request(gw.port(), "GET http://127.0.0.1:8080/v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(models.status, 200) << models.error << models.body;
  EXPECT_EQ(parse_json(models.body)["object"], "list") << models.body;

  const std::string body = chat_body("gpt-4o-mini");
  HttpResponse chat = raw_request(gw.port(),
                                  "POST HTTPS://gateway.example/v1/chat/completions?x=1 HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\n\r\n" + body,
                                  3s);
  EXPECT_EQ(chat.status, 200) << chat.error << chat.body;

  HttpResponse root = raw_request(gw.port(), "GET http://127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(root.status, 404) << "an empty path is '/'";
}

// ---------------------------------------------------------------------------
// header_timeout on a fresh connection

TEST(HeaderTimeout, CountsFromTheConnectionsFirstWaitNotFromItsFirstByte) {
  Gateway gw(mock_yaml({}, {{"header_timeout", "400ms"}}));
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  const auto connected = Clock::now();
  std::this_thread::sleep_for(300ms);  // silent, then a head that never ends
  ASSERT_TRUE(s.send("POST /v1/chat/comp"));
  EXPECT_TRUE(s.wait_closed(3s));
  const auto elapsed = Clock::now() - connected;
  EXPECT_LT(elapsed, 600ms) << "the head had 400 ms from the connection's start, not 400 ms from its first byte";
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 408")) << s.received();
}

TEST(HeaderTimeout, AKeepAliveConnectionGetsAFullWindowForItsNextHead) {
  Gateway gw(mock_yaml({}, {{"header_timeout", "400ms"}}));
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(s.read_until("{\"status\":\"ok\"}", 2s));
  std::this_thread::sleep_for(500ms);  // idle within keepalive_timeout
  ASSERT_TRUE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nx-request-id: second\r\n\r\n"));
  EXPECT_TRUE(s.read_until("x-request-id: second", 2s)) << s.received();
}

}  // namespace
}  // namespace sluice::test
