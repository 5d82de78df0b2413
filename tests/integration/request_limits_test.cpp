// The front door's admission rules, against the mock provider: request
// validation with OpenAI-shaped 4xx answers, body and header limits, refused
// transfer encodings (request smuggling), slow senders (head and body
// deadlines), Expect: 100-continue, the connection limit and the requests
// per connection.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kChat = "/v1/chat/completions";

json error_of(const HttpResponse& res) {
  const json j = parse_json(res.body);
  return j.is_object() && j.contains("error") ? j["error"] : json();
}

std::string message_of(const HttpResponse& res) {
  const json e = error_of(res);
  return e.is_object() && e["message"].is_string() ? e["message"].get<std::string>() : std::string();
}

std::string post_head(std::size_t content_length, const std::string& extra_headers = {}) {
  return std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n") +
         extra_headers + "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

class Validation : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.started()); }
  HttpResponse post(const std::string& target, const std::string& body) {
    return http_request(gw.port(), "POST", target, body);
  }
  Gateway gw{mock_yaml()};
};

TEST_F(Validation, MalformedJsonIs400MentioningJson) {
  HttpResponse res = post(kChat, R"({"model":"gpt-4o-mini","messages":[)");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(message_of(res).find("JSON"), std::string::npos) << res.body;
  EXPECT_EQ(error_of(res)["type"], "invalid_request_error");
  EXPECT_EQ(res.headers["x-should-retry"], "false");
}

TEST_F(Validation, MissingMessagesIs400WithParam) {
  HttpResponse res = post(kChat, R"({"model":"gpt-4o-mini"})");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(error_of(res)["param"], "messages") << res.body;
}

TEST_F(Validation, MessagesNotAnArrayIs400) {
  HttpResponse res = post(kChat, R"({"model":"gpt-4o-mini","messages":"hello"})");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(error_of(res)["param"], "messages") << res.body;
}

TEST_F(Validation, MissingModelIs400WithParam) {
  HttpResponse res = post(kChat, R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(error_of(res)["param"], "model") << res.body;
}

TEST_F(Validation, BodyThatIsNotAnObjectIs400) {
  HttpResponse res = post(kChat, R"([1,2,3])");
  EXPECT_EQ(res.status, 400) << res.body;
}

TEST_F(Validation, DuplicateTopLevelKeyIs400) {
  HttpResponse res =
      post(kChat, R"({"model":"gpt-4o-mini","model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(error_of(res)["param"], "model") << res.body;
}

TEST_F(Validation, WrongTypeForStreamIs400) {
  HttpResponse res = post(kChat, chat_body("gpt-4o-mini", {{"stream", "yes"}}));
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(error_of(res)["param"], "stream") << res.body;
}

TEST_F(Validation, UnknownModelIs404ModelNotFound) {
  HttpResponse res = post(kChat, chat_body("no-such-model"));
  EXPECT_EQ(res.status, 404) << res.body;
  EXPECT_EQ(error_of(res)["code"], "model_not_found") << res.body;
  EXPECT_EQ(error_of(res)["param"], "model") << res.body;
  EXPECT_NE(message_of(res).find("no-such-model"), std::string::npos);
}

TEST_F(Validation, UnknownRouteIs404) {
  HttpResponse res = post("/v1/nothing-here", chat_body("gpt-4o-mini"));
  EXPECT_EQ(res.status, 404) << res.body;
  EXPECT_TRUE(error_of(res).is_object()) << res.body;
  HttpResponse get = http_request(gw.port(), "GET", "/");
  EXPECT_EQ(get.status, 404) << get.body;
}

TEST_F(Validation, GetOnChatCompletionsIs405) {
  HttpResponse res = http_request(gw.port(), "GET", kChat);
  EXPECT_EQ(res.status, 405) << res.body;
  EXPECT_TRUE(error_of(res).is_object()) << res.body;
}

TEST_F(Validation, InvalidUtf8Is400) {
  std::string body = chat_body("gpt-4o-mini", {}, "PLACEHOLDER");
  body.replace(body.find("PLACEHOLDER"), 11, "bad \xC3\x28 bytes \xFF");
  HttpResponse res = post(kChat, body);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(message_of(res).find("UTF-8"), std::string::npos) << res.body;
  // The answer itself is valid JSON (the bad bytes are not echoed raw).
  EXPECT_FALSE(parse_json(res.body).is_discarded());
}

TEST_F(Validation, QueryStringIsIgnoredForRouting) {
  HttpResponse res = post("/v1/chat/completions?api-version=1", chat_body("gpt-4o-mini"));
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST_F(Validation, ConnectionStaysUsableAfterA400) {
  Connection c(gw.port());
  HttpResponse bad = c.request("POST", kChat, "{oops");
  EXPECT_EQ(bad.status, 400);
  EXPECT_FALSE(bad.connection_closed) << "a request the pipeline refused does not need a new connection";
  HttpResponse good = c.request("POST", kChat, chat_body("gpt-4o-mini"));
  EXPECT_EQ(good.status, 200) << good.error << good.body;
}

// ---------------------------------------------------------------------------
// Limits, framing and timing of the HTTP request itself.

std::string limits_yaml() {
  return mock_yaml({}, {{"max_body_bytes", "2048"},
                        {"max_header_bytes", "2048"},
                        {"header_timeout", "300ms"},
                        {"body_timeout", "1s"}});
}

class Limits : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.started()); }
  Gateway gw{limits_yaml()};
};

TEST_F(Limits, BodyJustUnderTheLimitIsAccepted) {
  std::string body = chat_body("gpt-4o-mini", {}, std::string(1800, 'a'));
  ASSERT_LE(body.size(), 2048u);
  HttpResponse res = http_request(gw.port(), "POST", kChat, body);
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST_F(Limits, OversizedContentLengthIs413BeforeTheBodyIsSent) {
  // Only the head: the answer must come without waiting for 5000 bytes.
  const auto t0 = Clock::now();
  HttpResponse res = raw_request(gw.port(), post_head(5000), 3s);
  EXPECT_EQ(res.status, 413) << res.error << res.body;
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(error_of(res)["code"], "request_too_large") << res.body;
  EXPECT_TRUE(res.connection_closed);
}

TEST_F(Limits, OversizedBodySentInFullIs413) {
  const std::string body = chat_body("gpt-4o-mini", {}, std::string(4000, 'a'));
  HttpResponse res = http_request(gw.port(), "POST", kChat, body);
  EXPECT_EQ(res.status, 413) << res.error << res.body;
}

TEST_F(Limits, OversizedChunkedBodyIs413) {
  std::string raw =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) raw += "400\r\n" + std::string(1024, 'a') + "\r\n";
  raw += "0\r\n\r\n";
  HttpResponse res = raw_request(gw.port(), raw, 3s);
  EXPECT_EQ(res.status, 413) << res.error << res.body;
}

TEST_F(Limits, SmallChunkedBodyIsAccepted) {
  const std::string body = chat_body("gpt-4o-mini");
  const std::string half1 = body.substr(0, body.size() / 2), half2 = body.substr(body.size() / 2);
  char size1[16], size2[16];
  std::snprintf(size1, sizeof size1, "%zx", half1.size());
  std::snprintf(size2, sizeof size2, "%zx", half2.size());
  const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n" +
                          std::string(size1) + "\r\n" + half1 + "\r\n" + size2 + "\r\n" + half2 + "\r\n0\r\n\r\n";
  HttpResponse res = raw_request(gw.port(), raw, 3s);
  EXPECT_EQ(res.status, 200) << res.error << res.body;
}

TEST_F(Limits, TransferEncodingGzipIsRefusedAndTheConnectionClosed) {
  // A smuggling attempt: a parser that took TE: gzip as an empty body would
  // answer the GET hidden in the "body" as a second request.
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Transfer-Encoding: gzip\r\n\r\n" + smuggled));
  HttpResponse res = c.read_response(3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
  EXPECT_EQ(error_of(res)["code"], "unsupported_transfer_encoding") << res.body;
  EXPECT_TRUE(res.connection_closed);
  EXPECT_TRUE(c.closed_by_peer(2s)) << "no second response may follow";
}

TEST_F(Limits, TransferEncodingGzipChunkedIsRefused) {
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  HttpResponse res = c.read_response(3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
  EXPECT_TRUE(c.closed_by_peer(2s));
}

TEST_F(Limits, ContentLengthTogetherWithChunkedIsRefused) {
  // CL.TE smuggling: whichever length a front proxy believed, the rest would
  // be read here as a second request. Refuse and close.
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled));
  HttpResponse res = c.read_response(3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
  EXPECT_TRUE(c.closed_by_peer(2s)) << "no second response may follow";
}

TEST_F(Limits, ConflictingContentLengthsAreRefused) {
  HttpResponse res = raw_request(gw.port(),
                                 "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                 "Content-Length: 20\r\n\r\n{}",
                                 3s);
  EXPECT_EQ(res.status, 400) << res.error << res.body;
}

TEST_F(Limits, AgreeingContentLengthsAreAccepted) {
  // RFC 9110 section 8.6: a recipient may take repeated, identical values.
  const std::string body = chat_body("gpt-4o-mini");
  const std::string n = std::to_string(body.size());
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  HttpResponse twice = raw_request(gw.port(), head + "Content-Length: " + n + "\r\nContent-Length: " + n + "\r\n\r\n" + body, 3s);
  EXPECT_EQ(twice.status, 200) << twice.error << twice.body;
  HttpResponse listed = raw_request(gw.port(), head + "Content-Length: " + n + ", " + n + "\r\n\r\n" + body, 3s);
  EXPECT_EQ(listed.status, 200) << listed.error << listed.body;
}

TEST_F(Limits, RefusalsEchoAValidRequestId) {
  HttpResponse res = raw_request(gw.port(), post_head(5000, "x-request-id: big-body-1\r\n"), 3s);
  EXPECT_EQ(res.status, 413) << res.error;
  EXPECT_EQ(res.headers["x-request-id"], "big-body-1");
  HttpResponse big_head = raw_request(
      gw.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(3000, 'p') + "\r\n\r\n", 3s);
  EXPECT_EQ(big_head.status, 431);
  EXPECT_TRUE(is_hex32(big_head.headers["x-request-id"])) << big_head.headers["x-request-id"];
}

TEST_F(Limits, HeaderBlockOverTheLimitIs431) {
  std::string raw = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(3000, 'p') + "\r\n\r\n";
  HttpResponse res = raw_request(gw.port(), raw, 3s);
  EXPECT_EQ(res.status, 431) << res.error << res.body;
  EXPECT_TRUE(error_of(res).is_object()) << res.body;
}

TEST_F(Limits, SlowHeaderSenderIsCutOff) {
  const auto t0 = Clock::now();  // before the connect: the gateway counts from its accept
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("POST /v1/chat/comp"));
  EXPECT_TRUE(s.wait_closed(3s)) << "a client that never finishes its head must not hold the connection";
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1500ms);
  // A 408 in the OpenAI error shape, then the close.
  const std::string& got = s.received();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 408")) << got;
  EXPECT_NE(got.find("\"request_timeout\""), std::string::npos) << got;
}

TEST_F(Limits, SlowBodySenderIsCutOffAtTheBodyTimeout) {
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(post_head(100) + "{\"model\":"));
  const auto t0 = Clock::now();
  // A byte every 200 ms keeps the body moving, far below any real rate: the
  // body_timeout (1 s from the end of the head) cuts it, not header_timeout.
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    closed = s.wait_closed(200ms);
    if (!closed) s.send(" ");
  }
  EXPECT_TRUE(closed);
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 2500ms);
  const std::string& got = s.received();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 408")) << got;
  EXPECT_NE(got.find("body timeout"), std::string::npos) << got;
}

TEST_F(Limits, ABodyStillFlowingAfterTheHeaderTimeoutIsServed) {
  // The head arrives at once; the body takes about 600 ms, twice the
  // header_timeout, and within the body_timeout.
  const std::string body = chat_body("gpt-4o-mini", {}, std::string(1200, 'a'));
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(post_head(body.size())));
  const std::size_t piece = body.size() / 6 + 1;
  for (std::size_t at = 0; at < body.size(); at += piece) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(s.send(body.substr(at, piece)));
  }
  ASSERT_TRUE(s.read_until("\"chat.completion\"", 3s)) << s.received();
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 200")) << s.received();
}

TEST_F(Limits, IdleFreshConnectionIsClosedAfterHeaderTimeout) {
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  const auto t0 = Clock::now();
  EXPECT_TRUE(s.wait_closed(3s));
  EXPECT_LT(Clock::now() - t0, 1500ms);
  EXPECT_TRUE(s.received().empty()) << s.received();
}

TEST_F(Limits, ExpectContinueGetsInterimResponseThenTheAnswer) {
  const std::string body = chat_body("gpt-4o-mini");
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(post_head(body.size(), "Expect: 100-continue\r\n")));
  // curl waits for the interim answer before sending the body.
  ASSERT_TRUE(s.read_until("\r\n\r\n", 2s)) << s.received();
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 100 Continue\r\n")) << s.received();
  ASSERT_TRUE(s.send(body));
  ASSERT_TRUE(s.read_until("\"chat.completion\"", 3s)) << s.received();
  const std::string after_continue = s.received().substr(s.received().find("\r\n\r\n") + 4);
  EXPECT_TRUE(after_continue.starts_with("HTTP/1.1 200")) << after_continue;
}

TEST_F(Limits, ExpectContinueWithOversizedBodyGets413WithoutContinue) {
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(post_head(100000, "Expect: 100-continue\r\n")));
  ASSERT_TRUE(s.read_until("\r\n\r\n", 2s)) << s.received();
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 413")) << s.received();
}

TEST_F(Limits, PipelinedRequestsAreAnsweredInOrder) {
  const std::string body = chat_body("gpt-4o-mini");
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + post_head(body.size()) + body +
                         "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpResponse a = c.read_response(3s), b = c.read_response(3s), d = c.read_response(3s);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(parse_json(a.body)["status"], "ok");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(parse_json(b.body)["object"], "chat.completion") << b.body;
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(parse_json(d.body)["object"], "list");
}

// ---------------------------------------------------------------------------
// server.max_connections: connections above it are answered 503 at once.

TEST(ConnectionLimit, ConnectionsAboveTheLimitGetA503AtOnce) {
  Gateway gw(mock_yaml({}, {{"max_connections", "2"}}));
  ASSERT_TRUE(gw.started());
  // Two silent clients take both slots (accepted in order, so they are in
  // before the next connection is looked at).
  RawSocket a(gw.port()), b(gw.port());
  ASSERT_TRUE(a.connected() && b.connected());
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    HttpResponse res = raw_request(gw.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
    EXPECT_LT(Clock::now() - t0, 1s);
    ASSERT_EQ(res.status, 503) << res.error << res.body;
    EXPECT_EQ(error_of(res)["code"], "overloaded") << res.body;
    EXPECT_NE(message_of(res).find("max_connections"), std::string::npos) << res.body;
    EXPECT_EQ(res.headers["retry-after"], "1");
    EXPECT_TRUE(res.connection_closed);
  }
  // A refused client that sends nothing and never reads holds nothing up:
  // the next refusal is as quick.
  RawSocket mute(gw.port());
  ASSERT_TRUE(mute.connected());
  const auto t0 = Clock::now();
  HttpResponse again = raw_request(gw.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(again.status, 503);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(mute.wait_closed(2s)) << "a refused connection is closed within its short linger";

  // A slot freed is a slot served; the refusals were counted.
  a.close();
  HttpResponse served;
  for (int i = 0; i < 50 && served.status != 200; ++i) {
    std::this_thread::sleep_for(20ms);
    served = http_request(gw.port(), "GET", "/metrics");
  }
  ASSERT_EQ(served.status, 200) << served.error << served.body;
  // 22 refused above, and any /metrics attempt before a's slot was free.
  const std::size_t at = served.body.find("\nsluice_connections_refused_total ");
  ASSERT_NE(at, std::string::npos) << served.body;
  EXPECT_GE(std::stoi(served.body.substr(at + 34)), 22) << served.body.substr(at, 60);
}

// ---------------------------------------------------------------------------
// server.max_requests_per_connection

TEST(RequestsPerConnection, TheLastRequestIsAnsweredWithConnectionClose) {
  Gateway gw(mock_yaml({}, {{"max_requests_per_connection", "3"}}));
  ASSERT_TRUE(gw.started());
  Connection c(gw.port());
  for (int i = 1; i <= 2; ++i) {
    HttpResponse res = c.request("POST", kChat, chat_body("gpt-4o-mini"));
    EXPECT_EQ(res.status, 200) << res.error << res.body;
    EXPECT_FALSE(res.connection_closed) << "request " << i;
  }
  HttpResponse last = c.request("POST", kChat, chat_body("gpt-4o-mini"));
  EXPECT_EQ(last.status, 200) << last.error << last.body;
  EXPECT_EQ(last.headers["connection"], "close");
  EXPECT_TRUE(c.closed_by_peer(2s));
}

TEST(RequestsPerConnection, PipelinedRequestsBeyondTheLimitAreNotAnswered) {
  Gateway gw(mock_yaml({}, {{"max_requests_per_connection", "2"}}));
  ASSERT_TRUE(gw.started());
  Connection c(gw.port());
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send_raw(get + get + get));
  HttpResponse first = c.read_response(3s), second = c.read_response(3s);
  EXPECT_EQ(first.status, 200);
  EXPECT_FALSE(first.connection_closed);
  EXPECT_EQ(second.status, 200) << second.error << "the answer is not destroyed by the unread third request";
  EXPECT_EQ(second.headers["connection"], "close");
  EXPECT_TRUE(c.closed_by_peer(2s)) << "the third request is left for the client to resend";
}

TEST(RequestsPerConnection, ZeroMeansUnlimited) {
  Gateway gw(mock_yaml({}, {{"max_requests_per_connection", "0"}}));
  ASSERT_TRUE(gw.started());
  Connection c(gw.port());
  for (int i = 0; i < 50; ++i) {
    HttpResponse res = c.request("GET", "/healthz");
    ASSERT_EQ(res.status, 200) << res.error;
    ASSERT_FALSE(res.connection_closed) << "request " << i;
  }
}

}  // namespace
}  // namespace sluice::test
