// server.max_buffered_body_bytes: one process-wide budget for request bodies
// being buffered. A body that would exceed it is refused with 503 and
// Retry-After before it is read; the budget frees when a request is done.
#include <gtest/gtest.h>

#include <string>

#include "gateway_fixture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string post_head(std::size_t content_length, const std::string& extra = {}) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

// A valid chat body of exactly `size` bytes.
std::string chat_of_size(std::size_t size) {
  const std::string empty = chat_body("gpt-4o-mini", {}, "");
  return chat_body("gpt-4o-mini", {}, std::string(size - empty.size(), 'a'));
}

// Sends the head of a POST whose body is `body`, and `sent` bytes of the body,
// once the gateway has taken the head (its 100 Continue says so).
void hold(RawSocket& s, const std::string& body, std::size_t sent) {
  ASSERT_TRUE(s.send(post_head(body.size(), "Expect: 100-continue\r\n")));
  ASSERT_TRUE(s.read_until("HTTP/1.1 100 Continue\r\n\r\n", 2s)) << s.received();
  ASSERT_TRUE(s.send(body.substr(0, sent)));
}

// Sends the rest of the held body; true when the answer is a 200.
bool finish(RawSocket& s, const std::string& body, std::size_t sent) {
  return s.send(body.substr(sent)) && s.read_until("chat.completion", 3s) &&
         s.received().find("HTTP/1.1 200") != std::string::npos;
}

class BodyBudget : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.started()); }
  // 100,000 bytes for all bodies together; one body may be up to 65,536.
  Gateway gw{mock_yaml({}, {{"max_body_bytes", "65536"}, {"max_buffered_body_bytes", "100000"},
                            {"header_timeout", "5s"}})};
};

TEST_F(BodyBudget, ABodyOverWhatIsLeftIs503WithRetryAfterUntilTheBudgetFrees) {
  // A holds 60,000 bytes of the budget: its head declared them, a little
  // of the body came, the rest waits.
  const std::string held = chat_of_size(60'000);
  RawSocket a(gw.port());
  ASSERT_NO_FATAL_FAILURE(hold(a, held, 1000));

  // B's 50,000 would take the total past 100,000: refused before its body is
  // read, with a status the SDKs retry and a hint when to.
  const std::string refused = chat_of_size(50'000);
  const auto t0 = Clock::now();
  HttpResponse b = raw_request(gw.port(), post_head(refused.size()), 3s);
  EXPECT_LT(Clock::now() - t0, 1s) << "refused on its head, not after waiting for the body";
  EXPECT_EQ(b.status, 503) << b.error << b.body;
  EXPECT_FALSE(b.headers["retry-after"].empty());
  EXPECT_EQ(b.headers["x-should-retry"], "true");
  const json error = parse_json(b.body)["error"];
  EXPECT_EQ(error["code"], "overloaded") << b.body;
  EXPECT_NE(error["message"].get<std::string>().find("request bodies"), std::string::npos) << b.body;
  EXPECT_TRUE(b.connection_closed);

  // What fits still goes through, and requests without a body always do.
  EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_of_size(30'000)).status, 200);
  EXPECT_EQ(http_request(gw.port(), "GET", "/healthz").status, 200);

  // A finishes and is answered; its bytes return to the budget.
  EXPECT_TRUE(finish(a, held, 1000)) << a.received();
  HttpResponse again = http_request(gw.port(), "POST", "/v1/chat/completions", refused);
  EXPECT_EQ(again.status, 200) << again.error << again.body;
}

TEST_F(BodyBudget, ChunkedBodiesAreCountedAsTheyGrow) {
  const std::string held = chat_of_size(60'000);
  RawSocket a(gw.port());
  ASSERT_NO_FATAL_FAILURE(hold(a, held, 10));

  // A chunked body declares nothing: it is refused once what arrived passes
  // the 40,000 bytes left.
  RawSocket b(gw.port());
  ASSERT_TRUE(b.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 5 && !b.peer_closed(); ++i) b.send("2000\r\n" + std::string(0x2000, ' ') + "\r\n");
  ASSERT_TRUE(b.read_until("\r\n\r\n", 3s)) << b.received();
  EXPECT_TRUE(b.received().starts_with("HTTP/1.1 503")) << b.received();
  EXPECT_NE(b.received().find("retry-after:"), std::string::npos) << b.received();
  EXPECT_TRUE(b.wait_closed(3s));

  // A small chunked body fits.
  const std::string small = chat_body("gpt-4o-mini");
  char size[16];
  std::snprintf(size, sizeof size, "%zx", small.size());
  HttpResponse ok = raw_request(gw.port(),
                                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n" +
                                    std::string(size) + "\r\n" + small + "\r\n0\r\n\r\n",
                                3s);
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;

  EXPECT_TRUE(finish(a, held, 10)) << a.received();
}

TEST_F(BodyBudget, ARefusedExpectContinueGetsNo100) {
  const std::string held = chat_of_size(60'000);
  RawSocket a(gw.port());
  ASSERT_NO_FATAL_FAILURE(hold(a, held, 0));
  RawSocket b(gw.port());
  ASSERT_TRUE(b.send(post_head(50'000, "Expect: 100-continue\r\n")));
  ASSERT_TRUE(b.read_until("\r\n\r\n", 2s)) << b.received();
  EXPECT_TRUE(b.received().starts_with("HTTP/1.1 503")) << b.received();
  EXPECT_TRUE(finish(a, held, 0)) << a.received();
}

}  // namespace
}  // namespace sluice::test
