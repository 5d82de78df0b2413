// Fault injection, in process: upstreams that fail half the time, are dead,
// reset the connection, accept and never read, trickle their answer a byte
// at a time, or send an event over the limit; and the request-smuggling set
// on the client side (obs-fold, bare LF, CR in a value, oversize chunk sizes,
// requests pipelined behind a refused one). docs/security.md lists what each
// test proves. The daemon-process faults (disconnects and file descriptors,
// SIGTERM, Redis) are in faults_daemon_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string stream_body(json x_fake) {
  return chat_body("gpt-test", {{"stream", true}, {"x_fake", std::move(x_fake)}});
}

HttpResponse chat(std::uint16_t port, json x_fake, std::chrono::milliseconds timeout = 10s) {
  return http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test", {{"x_fake", std::move(x_fake)}}),
                      {}, timeout);
}

std::string error_code(const std::string& body) {
  const json j = parse_json(body);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "<no error object>";
  const json& code = j["error"]["code"];
  return code.is_string() ? code.get<std::string>() : "<no code>";
}

// ---------------------------------------------------------------------------
// Upstreams failing

TEST(UpstreamFaults, HalfOfAllRequestsFailing5xxEveryClientIsServed) {
  // Every other upstream call is a 503. The gateway's own retry absorbs it:
  // each client request costs exactly two calls (one 503, one 200), and
  // the deployment is never ejected (a success forgives the failure).
  FakeUpstream fake;
  Behaviour flaky;
  flaky.status = 503;
  flaky.status_every = 2;
  fake.set_behaviour(flaky);
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
    ASSERT_EQ(res.status, 200) << i << ": " << res.body;
  }
  EXPECT_EQ(fake.request_count(), 2u * kRequests);
}

TEST(UpstreamFaults, OneOfThreeUpstreamsDeadTheOtherTwoServeEverything) {
  FakeUpstream a, b;
  Gateway gw(ConfigBuilder()
                 .openai_provider("a", a.base_url())
                 .openai_provider("b", b.base_url())
                 .openai_provider("dead", "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1")
                 .model("gpt-test", {{"a", "m"}, {"b", "m"}, {"dead", "m"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  constexpr int kRequests = 60;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
    ASSERT_EQ(res.status, 200) << i << ": " << res.body;
    EXPECT_NE(res.headers.at("x-sluice-provider"), "dead");
  }
  EXPECT_EQ(a.request_count() + b.request_count(), std::size_t(kRequests)) << "each request answered once";
  EXPECT_GT(a.request_count(), 10u);
  EXPECT_GT(b.request_count(), 10u);
}

TEST(UpstreamFaults, ResetBeforeTheResponseHeadIsA502AfterTheGatewaysRetries) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  HttpResponse res = chat(gw.port(), {{"reset_before_head", true}});
  EXPECT_EQ(res.status, 502) << res.error << res.body;
  EXPECT_EQ(res.headers.at("x-should-retry"), "false") << "the gateway retried already";
  EXPECT_TRUE(parse_json(res.body)["error"]["message"].is_string()) << res.body;
  EXPECT_EQ(fake.request_count(), 3u) << "1 + max_retries attempts";
  EXPECT_LT(Clock::now() - t0, 3s);
}

TEST(UpstreamFaults, ResetBeforeTheResponseHeadOfAStreamFailsOverToTheNextDeployment) {
  FakeUpstream first, second;
  Behaviour reset;
  reset.reset_before_head = true;
  first.set_behaviour(reset);
  Gateway gw(ConfigBuilder()
                 .openai_provider("first", first.base_url())
                 .openai_provider("second", second.base_url())
                 .model_with("gpt-test", {{"first", "m1", {}}, {"second", "m2", {{"priority", "1"}}}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("x-sluice-provider"), "second");
  const auto events = sse.remaining_events(5s);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(first.request_count(), 1u);
}

TEST(UpstreamFaults, ResetMidStreamEndsWithAnErrorEventNeverDone) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"stream_chunks", 3}, {"drop_after", 1}, {"reset", true}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events(5s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_GE(events.size(), 2u) << sse.body();
  EXPECT_EQ(parse_json(events[1])["choices"][0]["delta"]["content"], "c0");
  ASSERT_TRUE(is_error_event(events.back())) << events.back();
  for (const auto& e : events) EXPECT_NE(e, "[DONE]");
  EXPECT_EQ(fake.request_count(), 1u) << "a stream is never retried after its first byte";
}

TEST(UpstreamFaults, AnSseEventOverTheLimitEndsTheStreamWithAProtocolError) {
  // One event of 4 MiB and more (SseFramer::kDefaultMaxEventBytes): the
  // gateway stops reading it there and says why; it never buffers without bound.
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"pad_bytes", 4 * 1024 * 1024 + 1}}), {}, 10s);
  ASSERT_EQ(sse.status(), 200) << sse.body();
  const auto events = sse.remaining_events(10s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_FALSE(events.empty()) << sse.body().substr(0, 500);
  ASSERT_TRUE(is_error_event(events.back())) << events.back().substr(0, 500);
  EXPECT_EQ(error_code(events.back()), "upstream_protocol_error") << events.back();
  EXPECT_LT(sse.body().size(), 64u * 1024) << "no part of the oversize event reached the client";
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "the upstream connection is dropped, not pooled";
}

// An upstream that accepts the connection and never reads nor answers: the
// first-byte timeout bounds each attempt; the client gets a 504 (stream or
// not) after 1 + max_retries attempts.
TEST(UpstreamFaults, AnUpstreamThatAcceptsAndNeverAnswersIsA504WithinTheTimeouts) {
  SilentListener hole;  // accepts (the kernel does) and never reads nor answers
  Gateway gw(ConfigBuilder()
                 .openai_provider("hole", hole.base_url(), {{"first_byte_timeout", "300ms"}})
                 .model("gpt-test", {{"hole", "m"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  for (bool stream : {false, true}) {
    const auto t0 = Clock::now();
    const HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions",
                                          chat_body("gpt-test", {{"stream", stream}}), {}, 10s);
    const auto took = Clock::now() - t0;
    EXPECT_EQ(res.status, 504) << "stream " << stream << ": " << res.error << res.body;
    EXPECT_EQ(error_code(res.body), "upstream_timeout") << res.body;
    EXPECT_EQ(res.headers.at("x-should-retry"), "false");
    EXPECT_GE(took, 900ms) << "three attempts of 300 ms";
    EXPECT_LT(took, 4s);
  }
}

// ---------------------------------------------------------------------------
// An upstream that trickles its answer one byte at a time (every 100 ms here,
// every second in the wild: the timeouts scale with it). What bounds it:
// first_byte_timeout the head, `timeout` a whole non-streamed answer; a
// stream has no total bound (it would cut long answers), so a stream that
// trickles without ever going silent for idle_timeout is relayed, one whole
// event at a time.

// A non-streamed request to an upstream that trickles a byte every 100 ms,
// with the provider's timeouts `timeouts` and no retry: a 504
// upstream_timeout after about `bound`, and the connection is not pooled.
void expect_trickle_cut_after(YamlPairs timeouts, std::chrono::milliseconds bound) {
  FakeUpstream fake;
  timeouts.push_back({"max_retries", "0"});
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", timeouts));
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  const HttpResponse res = chat(gw.port(), {{"trickle_ms", 100}});
  const auto took = Clock::now() - t0;
  EXPECT_EQ(res.status, 504) << res.error << res.body;
  EXPECT_EQ(error_code(res.body), "upstream_timeout") << res.body;
  EXPECT_GE(took, bound - 50ms);
  EXPECT_LT(took, bound + 2500ms);
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "the trickling connection is closed, not pooled";
}

TEST(Trickle, AHeadTrickledPastTheFirstByteTimeoutIsA504) {
  expect_trickle_cut_after({{"first_byte_timeout", "500ms"}, {"idle_timeout", "10s"}}, 500ms);
}

TEST(Trickle, ANonStreamedAnswerTrickledPastTheTotalTimeoutIsA504) {
  // Never silent for idle_timeout, the head within first_byte_timeout: only
  // the total `timeout` can end it.
  expect_trickle_cut_after({{"first_byte_timeout", "30s"}, {"idle_timeout", "10s"}, {"timeout", "1s"}}, 1000ms);
}

TEST(Trickle, AStreamTrickledFasterThanItsIdleTimeoutIsRelayedInWholeEvents) {
  // A byte every 2 ms: each event takes a few hundred milliseconds, the
  // stream longer than idle_timeout (300 ms) in all, yet it is never silent
  // that long. Every event the client gets is whole, and it ends with [DONE].
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"first_byte_timeout", "5s"}, {"idle_timeout", "300ms"}}));
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"stream_chunks", 2}, {"trickle_ms", 2}}), {}, 20s);
  ASSERT_EQ(sse.status(), 200) << sse.body();
  const auto events = sse.remaining_events(20s);
  EXPECT_FALSE(sse.timed_out());
  EXPECT_TRUE(sse.ended_cleanly());
  ASSERT_EQ(events.size(), 5u) << sse.body();  // role, c0, c1, finish, [DONE]
  for (std::size_t i = 0; i + 1 < events.size(); ++i) EXPECT_TRUE(parse_json(events[i]).is_object()) << events[i];
  EXPECT_EQ(parse_json(events[1])["choices"][0]["delta"]["content"], "c0");
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_GT(Clock::now() - t0, 300ms) << "the stream outlasted idle_timeout";
}

// ---------------------------------------------------------------------------
// Request smuggling: each malformed head is refused (400, or 413 for a chunk
// size over the body limit) and the connection closed; a request pipelined
// behind it is never answered, so no second response can be smuggled in.

struct Smuggle {
  const char* name;
  std::string head;  // the malformed request, before the pipelined one
  int status;
};

class Smuggling : public ::testing::TestWithParam<Smuggle> {
 protected:
  Gateway gw{mock_yaml({}, {{"max_body_bytes", "4096"}})};
};

TEST_P(Smuggling, IsRefusedAndNothingPipelinedBehindItIsAnswered) {
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send(GetParam().head + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(s.wait_closed(3s)) << "the connection is closed after the refusal";
  const std::string& got = s.received();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 " + std::to_string(GetParam().status) + " ")) << got;
  std::size_t responses = 0;
  for (std::size_t at = got.find("HTTP/1."); at != std::string::npos; at = got.find("HTTP/1.", at + 1)) ++responses;
  EXPECT_EQ(responses, 1u) << got;
  EXPECT_EQ(got.find("\"status\":\"ok\""), std::string::npos) << "the pipelined /healthz was answered: " << got;
  // The gateway is fine.
  EXPECT_EQ(http_request(gw.port(), "GET", "/healthz").status, 200);
}

const std::string kPost = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

// An error in a well-framed request (bad JSON: 400, the connection kept)
// does not desynchronise what was pipelined behind it: each is answered,
// in order, and the connection stays open.
TEST(Pipelining, RequestsBehindAnAnswered400AreAnsweredInOrder) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  const std::string bad = "{\"model\":", good = chat_body("gpt-4o-mini");
  Connection c(gw.port());
  ASSERT_TRUE(c.send_raw(kPost + "Content-Length: " + std::to_string(bad.size()) + "\r\n\r\n" + bad + kPost +
                         "Content-Length: " + std::to_string(good.size()) + "\r\n\r\n" + good +
                         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const HttpResponse first = c.read_response(3s), second = c.read_response(3s), third = c.read_response(3s);
  EXPECT_EQ(first.status, 400) << first.error << first.body;
  EXPECT_FALSE(first.connection_closed);
  EXPECT_EQ(second.status, 200) << second.error << second.body;
  EXPECT_EQ(parse_json(second.body)["object"], "chat.completion") << second.body;
  EXPECT_EQ(third.status, 200) << third.error;
  EXPECT_EQ(parse_json(third.body)["status"], "ok") << third.body;
  EXPECT_FALSE(c.closed_by_peer(200ms)) << "the connection stays usable";
}

INSTANTIATE_TEST_SUITE_P(
    Faults, Smuggling,
    ::testing::Values(
        Smuggle{"ContentLengthAndChunked", kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Smuggle{"ChunkedAndContentLength", kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
        Smuggle{"TwoContentLengths", kPost + "Content-Length: 0\r\nContent-Length: 41\r\n\r\n", 400},
        Smuggle{"TransferEncodingGzip", kPost + "Transfer-Encoding: gzip\r\n\r\n", 400},
        Smuggle{"TransferEncodingTwice", kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Smuggle{"ObsFold", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
        Smuggle{"BareLf", "GET /healthz HTTP/1.1\nHost: x\n\n", 400},
        Smuggle{"CrInAHeaderValue", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n", 400},
        Smuggle{"LfInAHeaderValue", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\nContent-Length: 3\r\n\r\n", 400},
        Smuggle{"SpaceBeforeTheColon", kPost + "Content-Length : 5\r\n\r\n", 400},
        Smuggle{"ChunkSizeOverflowing64Bits", kPost + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400},
        Smuggle{"ChunkSizeOverTheBodyLimit", kPost + "Transfer-Encoding: chunked\r\n\r\n100000\r\n", 413},
        Smuggle{"NegativeChunkSize", kPost + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
        Smuggle{"GarbageRequestLine", "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<Smuggle>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice::test
