// Graceful shutdown: stop accepting, let in-flight streams finish within
// server.shutdown_grace, close idle keep-alive connections at once, cut what
// is left when the grace period ends (a stream with an SSE error event and a
// proper chunked end).
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

std::string slow_stream(int chunks, int delay_ms) {
  return chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"stream_chunks", chunks}, {"chunk_delay_ms", delay_ms}}}});
}

// Reads the rest of a stream the shutdown cut: it must end properly, with an
// SSE error event saying why (SDKs raise on it; a bare close reads as a
// complete answer) and the chunked terminator, never with [DONE].
void expect_cut_properly(SseReader& sse) {
  const auto rest = sse.remaining_events(3s);
  EXPECT_FALSE(sse.timed_out()) << "the client's stream was cut, not left hanging";
  ASSERT_FALSE(rest.empty()) << "no error event before the close: " << sse.body();
  EXPECT_TRUE(is_error_event(rest.back())) << rest.back();
  EXPECT_EQ(parse_json(rest.back())["error"]["code"], "shutting_down") << rest.back();
  for (const auto& e : rest) EXPECT_NE(e, "[DONE]");
  EXPECT_TRUE(sse.ended_cleanly()) << "the chunked body ends with its terminator: " << sse.body();
}

TEST(Shutdown, InFlightStreamCompletesAndNewConnectionsAreRefused) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"shutdown_grace", "10s"}}));
  ASSERT_TRUE(gw.started());
  Connection idle(gw.port());  // an idle keep-alive client
  ASSERT_EQ(idle.request("GET", "/readyz").status, 200);

  SseReader sse(gw.port(), "/v1/chat/completions", slow_stream(5, 200));
  ASSERT_EQ(sse.status(), 200);
  std::vector<std::string> events;
  auto first = sse.next_event(2s);
  ASSERT_TRUE(first.has_value());
  events.push_back(*first);

  gw.begin_shutdown();
  EXPECT_TRUE(idle.closed_by_peer(1s)) << "idle keep-alive connections close at once";
  // The acceptor is closed: new clients are refused (which also means no
  // load balancer can get a 200 from /readyz any more).
  EXPECT_TRUE(connection_refused(gw.port()));
  EXPECT_FALSE(gw.shutdown_done()) << "a stream is still in flight";

  for (auto e = sse.next_event(3s); e; e = sse.next_event(3s)) events.push_back(*e);
  EXPECT_FALSE(sse.timed_out());
  EXPECT_TRUE(sse.ended_cleanly());
  ASSERT_EQ(events.size(), 8u) << sse.body();  // role, c0..c4, finish, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) EXPECT_FALSE(is_error_event(e)) << e;

  EXPECT_TRUE(gw.wait_shutdown(2s)) << "shutdown completes once the last stream ends";
}

TEST(Shutdown, CompletesAtOnceWhenIdle) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  Connection idle(gw.port());
  ASSERT_EQ(idle.request("GET", "/healthz").status, 200);
  gw.begin_shutdown();
  EXPECT_TRUE(gw.wait_shutdown(1s));
  EXPECT_TRUE(idle.closed_by_peer(1s));
  EXPECT_TRUE(connection_refused(gw.port()));
}

TEST(Shutdown, ResponseInFlightDuringShutdownSaysConnectionClose) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"shutdown_grace", "10s"}}));
  ASSERT_TRUE(gw.started());
  const std::string body = chat_body("gpt-test", {{"x_fake", {{"delay_ms", 300}}}});
  Connection client(gw.port());
  ASSERT_TRUE(client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(fake.wait_for_requests(1, 2s));
  gw.begin_shutdown();
  HttpResponse res = client.read_response(3s);
  EXPECT_EQ(res.status, 200) << res.error << res.body;
  EXPECT_TRUE(res.connection_closed) << "a draining gateway tells the client not to reuse the connection";
  EXPECT_TRUE(gw.wait_shutdown(2s));
}

TEST(Shutdown, GraceExpiryCutsLongStreams) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"shutdown_grace", "300ms"}}));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", slow_stream(3, 10'000));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());  // the role event; c0 is 10 s away

  gw.begin_shutdown();
  ASSERT_TRUE(gw.wait_shutdown(3s));
  const auto took = gw.shutdown_done_at() - gw.shutdown_started_at();
  EXPECT_GE(took, 250ms) << "the stream had the grace period";
  EXPECT_LT(took, 1s);

  expect_cut_properly(sse);
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "the upstream request is cancelled with it";
}

// The same with the mock provider's paced stream, whose pause the shutdown
// cancels rather than an upstream socket.
TEST(Shutdown, AStreamCutAtGraceExpiryGetsAnErrorEventAndAChunkedEnd) {
  Gateway gw(mock_yaml({{"stream_chunks", "5"}, {"chunk_interval", "10s"}}, {{"shutdown_grace", "300ms"}}));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-4o-mini", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());  // the role event; the content is 10 s away

  gw.begin_shutdown();
  expect_cut_properly(sse);
  ASSERT_TRUE(gw.wait_shutdown(2s));
  EXPECT_LT(gw.shutdown_done_at() - gw.shutdown_started_at(), 1s);
}

TEST(Shutdown, ZeroGraceCutsAtOnce) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"shutdown_grace", "0s"}}));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/chat/completions", slow_stream(3, 10'000));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());
  gw.begin_shutdown();
  ASSERT_TRUE(gw.wait_shutdown(2s));
  EXPECT_LT(gw.shutdown_done_at() - gw.shutdown_started_at(), 1s);
  EXPECT_TRUE(fake.wait_for_closed(1, 1s));
  expect_cut_properly(sse);
}

TEST(Shutdown, HangingNonStreamRequestIsCutAfterGrace) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {}, {{"shutdown_grace", "300ms"}}));
  ASSERT_TRUE(gw.started());
  const std::string body = chat_body("gpt-test", {{"x_fake", {{"hang", true}}}});
  Connection client(gw.port());
  ASSERT_TRUE(client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(fake.wait_for_requests(1, 2s));
  gw.begin_shutdown();
  ASSERT_TRUE(gw.wait_shutdown(3s));
  EXPECT_LT(gw.shutdown_done_at() - gw.shutdown_started_at(), 1s);
  EXPECT_TRUE(client.closed_by_peer(1s));
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "the upstream request is cancelled with the client's";
}

}  // namespace
}  // namespace sluice::test
