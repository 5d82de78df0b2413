// Streaming chat completions end to end: events relayed in order and as they
// arrive, usage passed through, client disconnects cancelling the upstream,
// failures after the first byte turned into an SSE error event, and the
// access-log status of a stream the client abandoned.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string stream_body(json extra = json::object()) {
  extra["stream"] = true;
  return chat_body("gpt-test", std::move(extra));
}

// The content deltas of chat chunk events, in order ("" for events without one).
std::vector<std::string> contents(const std::vector<std::string>& events) {
  std::vector<std::string> out;
  for (const std::string& e : events) {
    const json j = parse_json(e);
    if (!j.is_object() || !j.contains("choices") || j["choices"].empty()) continue;
    const json& delta = j["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string() && !delta["content"].get<std::string>().empty())
      out.push_back(delta["content"]);
  }
  return out;
}

TEST(Streaming, EventsRelayedInOrderEndingWithDone) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model("gpt-test", {{"up", "gpt-up"}}).yaml());
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"x_fake", {{"stream_chunks", 4}}}}));
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("content-type"), "text/event-stream");
  EXPECT_EQ(sse.headers().at("x-sluice-provider"), "up");
  EXPECT_EQ(sse.headers().at("x-sluice-model"), "gpt-up");
  EXPECT_FALSE(sse.headers().at("x-request-id").empty());

  const std::vector<std::string> events = sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  ASSERT_EQ(events.size(), 7u) << sse.body();  // role, c0..c3, finish, [DONE]
  EXPECT_EQ(parse_json(events[0])["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(contents(events), (std::vector<std::string>{"c0", "c1", "c2", "c3"}));
  EXPECT_EQ(parse_json(events[5])["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(events.back(), "[DONE]");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_FALSE(is_error_event(events[i])) << events[i];
    EXPECT_EQ(parse_json(events[i])["model"], "gpt-up");
  }
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(parse_json(fake.requests()[0].body)["model"], "gpt-up");
  EXPECT_EQ(fake.requests()[0].headers["accept"], "text/event-stream");
}

TEST(Streaming, ChunksAreRelayedAsTheyArriveNotBuffered) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  const auto sent = Clock::now();
  SseReader sse(gw.port(), "/v1/chat/completions",
                stream_body({{"x_fake", {{"stream_chunks", 3}, {"chunk_delay_ms", 200}}}}));
  ASSERT_EQ(sse.status(), 200);
  std::vector<std::string> events;
  while (auto e = sse.next_event(5s)) events.push_back(*e);
  ASSERT_EQ(events.size(), 6u) << sse.body();  // role, c0, c1, c2, finish, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  const auto& t = sse.arrival_times();
  ASSERT_EQ(t.size(), events.size());
  // The upstream paces c0, c1, c2 200 ms apart, so c2 cannot arrive before
  // 600 ms. A relay that buffered would deliver c0 together with c2; one that
  // streams delivers c0 about 400 ms earlier (200 ms of slack for a loaded machine).
  EXPECT_GE(t[3] - sent, 590ms);
  EXPECT_GE(t[3] - t[1], 200ms) << "the first content event must arrive well before the last";
  EXPECT_GE(t[1] - t[0], 100ms) << "the role event is relayed before c0 exists upstream";
}

TEST(Streaming, ManyChunksAreRelayedCompleteAndInOrder) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"x_fake", {{"stream_chunks", 500}}}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  const auto got = contents(events);
  ASSERT_EQ(got.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    std::string want(1, 'c');  // (not "c" + ...: g++ 12 warns falsely with -Wrestrict)
    want += std::to_string(i);
    ASSERT_EQ(got[i], want);
  }
  EXPECT_EQ(events.back(), "[DONE]");
}

TEST(Streaming, ConcurrentStreamsAreIndependent) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  constexpr int kStreams = 4;
  std::vector<std::unique_ptr<SseReader>> readers;
  for (int i = 0; i < kStreams; ++i) {
    readers.push_back(std::make_unique<SseReader>(
        gw.port(), "/v1/chat/completions",
        stream_body({{"x_fake", {{"stream_chunks", 2 + i}, {"chunk_delay_ms", 100}}}})));
    ASSERT_EQ(readers.back()->status(), 200);
  }
  // All four heads arrived before any stream was read: they are in flight at
  // once, each on its own upstream connection.
  EXPECT_EQ(fake.connections_accepted(), kStreams);
  for (int i = 0; i < kStreams; ++i) {
    const auto events = readers[i]->remaining_events(5s);
    EXPECT_EQ(contents(events).size(), static_cast<std::size_t>(2 + i)) << "stream " << i;
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(), "[DONE]");
  }
  // Afterwards the pooled connections serve new requests.
  for (int i = 0; i < kStreams; ++i)
    EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test")).status, 200);
  EXPECT_EQ(fake.connections_accepted(), kStreams);
}

TEST(Streaming, ClientConnectionIsReusableAfterAStream) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  HttpResponse streamed = client.request("POST", "/v1/chat/completions", stream_body());
  ASSERT_EQ(streamed.status, 200) << streamed.error;
  EXPECT_EQ(streamed.headers["content-type"], "text/event-stream");
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  EXPECT_FALSE(streamed.connection_closed);
  HttpResponse next = client.request("POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(next.status, 200) << next.error << next.body;
}

TEST(Streaming, IncludeUsagePassesThroughAndUsageChunkArrives) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"stream_options", {{"include_usage", true}}}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events();
  ASSERT_GE(events.size(), 3u) << sse.body();
  EXPECT_EQ(events.back(), "[DONE]");
  const json usage_chunk = parse_json(events[events.size() - 2]);
  ASSERT_TRUE(usage_chunk.is_object()) << events[events.size() - 2];
  EXPECT_TRUE(usage_chunk["choices"].empty());
  ASSERT_TRUE(usage_chunk["usage"].is_object()) << usage_chunk.dump();
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 3);
  EXPECT_GT(usage_chunk["usage"]["prompt_tokens"].get<int>(), 0);
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(parse_json(fake.requests()[0].body)["stream_options"]["include_usage"], true);
}

TEST(Streaming, UpstreamErrorBeforeFirstByteIsAPlainErrorResponse) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res =
      http_request(gw.port(), "POST", "/v1/chat/completions", stream_body({{"x_fake", {{"status", 500}}}}));
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_EQ(res.headers["content-type"], "application/json");
  EXPECT_EQ(res.headers["x-should-retry"], "false") << "the gateway retried already";
  EXPECT_TRUE(parse_json(res.body)["error"].is_object()) << res.body;
}

// ---------------------------------------------------------------------------
// Cancellation: a client that goes away takes the upstream request with it.

TEST(Streaming, ClientDisconnectMidStreamClosesUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions",
                stream_body({{"x_fake", {{"stream_chunks", 3}, {"chunk_delay_ms", 10'000}}}}));
  ASSERT_EQ(sse.status(), 200);
  auto first = sse.next_event(2s);  // the role event; c0 is 10 s away
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(fake.connections_accepted(), 1);
  ASSERT_EQ(fake.connections_closed(), 0);
  sse.disconnect();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
  // The gateway is still fine.
  EXPECT_EQ(http_request(gw.port(), "GET", "/healthz").status, 200);
}

// Sends `body` on `client` and waits until the upstream has the request.
void send_upstream(Connection& client, FakeUpstream& fake, const std::string& body) {
  ASSERT_TRUE(client.send_raw(raw_chat_post(body)));
  ASSERT_TRUE(fake.wait_for_requests(1, 2s));
}

TEST(Streaming, ClientDisconnectBeforeUpstreamAnswersClosesUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  ASSERT_NO_FATAL_FAILURE(send_upstream(client, fake, stream_body({{"x_fake", {{"delay_ms", 10'000}}}})));
  client.close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
}

TEST(NonStreaming, ClientDisconnectWhileUpstreamHangsClosesUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  ASSERT_NO_FATAL_FAILURE(send_upstream(client, fake, chat_body("gpt-test", {{"x_fake", {{"hang", true}}}})));
  ASSERT_EQ(fake.connections_closed(), 0);
  client.close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
  EXPECT_EQ(http_request(gw.port(), "GET", "/healthz").status, 200);
}

// Bytes waiting behind the request (here the start of a pipelined one; over
// TLS a close_notify) must not end the watch: the close behind them counts.
TEST(NonStreaming, ClientLeavingAfterPipeliningMoreClosesUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  ASSERT_NO_FATAL_FAILURE(send_upstream(client, fake, chat_body("gpt-test", {{"x_fake", {{"hang", true}}}})));
  ASSERT_TRUE(client.send_raw("GET /healthz HTTP/1.1\r\n"));
  EXPECT_FALSE(fake.wait_for_closed(1, 200ms)) << "more bytes are not a disconnect";
  client.close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected after the client left";
}

TEST(NonStreaming, ClientClosingRightAfterItsRequestClosesUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  const std::string body = chat_body("gpt-test", {{"x_fake", {{"hang", true}}}});
  {
    RawSocket s(gw.port());
    ASSERT_TRUE(s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  }  // closed at once: the FIN may arrive together with the request
  EXPECT_EQ(http_request(gw.port(), "GET", "/healthz").status, 200);
  // With a hanging upstream and a 30 s grace, shutdown is quick only if the
  // session noticed its client leave (before or after forwarding the request).
  gw.begin_shutdown();
  EXPECT_TRUE(gw.wait_shutdown(1s)) << "the session outlived its client";
  if (fake.request_count() > 0) {
    EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected";
  }
}

// ---------------------------------------------------------------------------
// Failures after the first byte: never a silent clean end.

TEST(Streaming, UpstreamDropAfterFirstChunkEndsWithErrorEvent) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions",
                stream_body({{"x_fake", {{"stream_chunks", 3}, {"drop_after", 1}}}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events(5s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_GE(events.size(), 2u) << sse.body();
  EXPECT_EQ(contents(events), (std::vector<std::string>{"c0"}));
  const std::string& last = events.back();
  ASSERT_TRUE(is_error_event(last)) << "last event: " << last;
  const json err = parse_json(last)["error"];
  EXPECT_TRUE(err["message"].is_string());
  EXPECT_TRUE(err.contains("type"));
  for (const auto& e : events) EXPECT_NE(e, "[DONE]");
  // The error event is the end: the stream is closed after it.
  EXPECT_EQ(sse.next_event(1s), std::nullopt);
  EXPECT_FALSE(sse.timed_out());
}

TEST(Streaming, UpstreamCleanEndWithoutDoneEndsWithErrorEvent) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", stream_body({{"x_fake", {{"no_done", true}}}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events(5s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_GE(events.size(), 2u) << sse.body();
  EXPECT_EQ(contents(events), (std::vector<std::string>{"c0", "c1", "c2"}));
  ASSERT_TRUE(is_error_event(events.back())) << "last event: " << events.back();
  EXPECT_NE(parse_json(events.back())["error"]["message"].get<std::string>().find("[DONE]"), std::string::npos);
  for (const auto& e : events) EXPECT_NE(e, "[DONE]");
}

TEST(Streaming, ErrorEventClosesTheClientConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  const std::string body = stream_body({{"x_fake", {{"drop_after", 0}}}});
  ASSERT_TRUE(s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  EXPECT_TRUE(s.wait_closed(3s)) << s.received();
  EXPECT_NE(s.received().find("\"error\""), std::string::npos) << s.received();
  EXPECT_EQ(s.received().find("[DONE]"), std::string::npos) << s.received();
}

// ---------------------------------------------------------------------------
// The access log of a stream the client abandoned: 499, not 200

TEST(AccessLog, AStreamTheClientAbandonedIsLoggedAs499) {
  Gateway gw(mock_yaml({{"stream_chunks", "5"}, {"chunk_interval", "2s"}}), GatewayOptions{.log_level = "info"});
  ASSERT_TRUE(gw.started());
  std::string line;
  {
    StdoutCapture capture;
    SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-4o-mini", {{"stream", true}}),
                  {{"x-request-id", "gone-mid-stream"}});
    if (sse.status() == 200 && sse.next_event(2s)) {
      sse.disconnect();
      line = capture.wait_for_line({"request_id=gone-mid-stream", " request "}, 3s);
    }
  }
  ASSERT_FALSE(line.empty()) << "no access-log line for the abandoned stream";
  EXPECT_NE(line.find("status=499"), std::string::npos) << line;
  EXPECT_NE(line.find("stream=true"), std::string::npos) << line;
}

}  // namespace
}  // namespace sluice::test
