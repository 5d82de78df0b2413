// HttpClient against the in-process FakeUpstream (and, where a misbehaviour
// the fake cannot script is needed, a tiny scripted server on the test's own
// io_context): status and body, keep-alive pooling, stale connections,
// per-step timeouts, streaming, cancellation and TLS verification.
#include "sluice/net/http_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "support/run_coro.hpp"
#include "support/fake_upstream.hpp"

namespace sluice::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using test::Behaviour;
using test::FakeUpstream;
using test::run_coro;
using test::run_until;
using namespace std::chrono_literals;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

HttpRequest chat_request(json x_fake = nullptr, bool stream = false) {
  json body = {{"model", "gpt-test"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (stream) body["stream"] = true;
  if (!x_fake.is_null()) body["x_fake"] = std::move(x_fake);
  HttpRequest r;
  r.target = "/v1/chat/completions";
  r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-test"}};
  r.body = body.dump();
  return r;
}

// A request without a body: what the scripted servers below answer,
// whatever it asks.
HttpRequest bare_request() {
  HttpRequest r;
  r.target = "/x";
  return r;
}

ClientOptions options(std::string ca_file = {}) {
  ClientOptions o;
  o.name = "fake";
  o.connect_timeout = 2s;
  o.first_byte_timeout = 5s;
  o.idle_timeout = 5s;
  o.ca_file = std::move(ca_file);
  return o;
}

Url url_of(const std::string& text) {
  auto url = parse_url(text);
  EXPECT_TRUE(url.has_value()) << text;
  return url.value_or(Url{});
}

// The pieces a streaming read yields, and how it ended.
struct Drained {
  std::vector<std::string> pieces;
  std::optional<Error> error;
  std::string all() const {
    std::string s;
    for (const auto& p : pieces) s += p;
    return s;
  }
};

asio::awaitable<Drained> drain(BodyReader* reader) {
  Drained d;
  for (;;) {
    auto piece = co_await reader->read_some();
    if (!piece) {
      d.error = piece.error();
      co_return d;
    }
    if (piece->empty()) co_return d;
    d.pieces.emplace_back(*piece);
  }
}

// A port nobody listens on (bound, then released).
uint16_t closed_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

// --- a scripted server on the test's io_context ---------------------------

// What the scripted server does with the n-th accepted connection (0-based).
using Script = std::function<asio::awaitable<void>(tcp::socket&)>;

struct Scripted {
  int accepted = 0;
  int finished = 0;
};

asio::awaitable<bool> read_one_request(tcp::socket& s, beast::flat_buffer& buffer) {
  http::request<http::string_body> req;
  auto [ec, n] = co_await http::async_read(s, buffer, req, kAwait);
  co_return !ec;
}

asio::awaitable<void> write_raw(tcp::socket& s, std::string bytes) {
  co_await asio::async_write(s, asio::buffer(bytes), kAwait);
}

asio::awaitable<void> run_connection(tcp::socket socket, Script script, Scripted* state) {
  co_await script(socket);
  boost::system::error_code ignored;
  socket.close(ignored);
  ++state->finished;
}

asio::awaitable<void> scripted_server(tcp::acceptor acceptor, std::vector<Script> scripts, Scripted* state) {
  for (Script& script : scripts) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec) co_return;
    ++state->accepted;
    asio::co_spawn(acceptor.get_executor(), run_connection(std::move(socket), script, state), asio::detached);
  }
}

// Starts the server; returns its base URL.
std::string start_scripted(asio::io_context& io, std::vector<Script> scripts, Scripted* state) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::string url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  asio::co_spawn(io, scripted_server(std::move(acceptor), std::move(scripts), state), asio::detached);
  return url;
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

// --- is_safe_header_value -------------------------------------------------

TEST(IsSafeHeaderValue, RejectsLineBreaksAndNul) {
  EXPECT_TRUE(is_safe_header_value(""));
  EXPECT_TRUE(is_safe_header_value("60; reset=1s\t\x7f"));
  EXPECT_FALSE(is_safe_header_value("a\r\nX-Injected: 1"));
  EXPECT_FALSE(is_safe_header_value("a\rb"));
  EXPECT_FALSE(is_safe_header_value("a\nb"));
  EXPECT_FALSE(is_safe_header_value(std::string("a\0b", 3)));
}

// --- plain HTTP against the fake -----------------------------------------

TEST(HttpClient, SendReturnsStatusHeadersAndBody) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  EXPECT_EQ(client.origin().port, std::to_string(fake.port()));
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->head.status, 200);
  EXPECT_EQ(res->head.header("content-type"), "application/json");
  EXPECT_EQ(res->head.header("server"), "sluice-fake-upstream");
  EXPECT_EQ(res->head.header("no-such-header"), "");
  for (const Header& h : res->head.headers)
    for (char c : h.name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << h.name;
  const json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["content"], "fake answer 1");

  ASSERT_EQ(fake.request_count(), 1u);
  const test::Recorded r = fake.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions");
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(fake.port()));
  EXPECT_EQ(r.headers.at("authorization"), "Bearer sk-test");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("user-agent").rfind("sluice/", 0), 0u);
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.body, chat_request().body);
}

TEST(HttpClient, AnyHttpStatusIsASuccessOfTheTransport) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request({{"status", 503}, {"retry_after_s", 7}}), cancel));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->head.status, 503);
  EXPECT_EQ(res->head.header("retry-after"), "7");
  EXPECT_EQ(json::parse(res->body)["error"]["type"], "server_error");
  // The error answer kept the connection alive.
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(HttpClient, GetWithoutBody) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  HttpRequest req;
  req.method = "GET";
  req.target = "/v1/models";
  auto res = run_coro(io, client.send(req, cancel));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->head.status, 200);
  EXPECT_EQ(json::parse(res->body)["data"][0]["id"], "fake-model");
  EXPECT_EQ(fake.requests().at(0).method, "GET");
}

TEST(HttpClient, KeepAliveReusesOneConnection) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  EXPECT_EQ(client.idle_connections(), 0u);
  for (int i = 1; i <= 3; ++i) {
    auto res = run_coro(io, client.send(chat_request(), cancel));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(json::parse(res->body)["choices"][0]["message"]["content"], "fake answer " + std::to_string(i));
    EXPECT_EQ(client.idle_connections(), 1u);
  }
  EXPECT_EQ(fake.connections_accepted(), 1);
  for (const auto& r : fake.requests()) EXPECT_EQ(r.connection_id, 1);
}

TEST(HttpClient, MaxIdleConnectionsZeroKeepsNothing) {
  FakeUpstream fake;
  asio::io_context io;
  ClientOptions o = options();
  o.max_idle_connections = 0;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), o);
  Cancellation cancel;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(run_coro(io, client.send(chat_request(), cancel)).ok());
  EXPECT_EQ(client.idle_connections(), 0u);
  EXPECT_EQ(fake.connections_accepted(), 2);
}

TEST(HttpClient, ConnectionCloseAnswerIsNotPooledAndNextRequestSucceeds) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto first = run_coro(io, client.send(chat_request({{"close_after_response", true}}), cancel));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->head.status, 200);
  EXPECT_EQ(client.idle_connections(), 0u);
  ASSERT_TRUE(fake.wait_for_closed(1, 2s));

  auto second = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->head.status, 200);
  EXPECT_EQ(fake.connections_accepted(), 2);
  const auto recorded = fake.requests();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].connection_id, 1);
  EXPECT_EQ(recorded[1].connection_id, 2);
}

TEST(HttpClient, PooledConnectionClosedByTheServerWhileIdleIsNotReused) {
  asio::io_context io;
  Scripted state;
  // Connection 1 answers with keep-alive, then the server closes it while it
  // sits in the client's pool. Connection 2 answers normally.
  Script answer_then_close = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (co_await read_one_request(s, buffer)) co_await write_raw(s, kOk);
  };
  const std::string url = start_scripted(io, {answer_then_close, answer_then_close}, &state);
  HttpClient client(io.get_executor(), url_of(url), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  auto first = run_coro(io, client.send(req, cancel));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(client.idle_connections(), 1u);
  ASSERT_TRUE(run_until(io, [&] { return state.finished == 1; }, 2s));

  auto second = run_coro(io, client.send(req, cancel));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->body, "ok");
  EXPECT_EQ(state.accepted, 2);
}

TEST(HttpClient, ReusedConnectionClosedWithoutAnAnswerIsRetriedOnce) {
  asio::io_context io;
  Scripted state;
  // Connection 1: answers the first request, reads the second and closes
  // without a byte (a server that timed the idle connection out just then).
  Script first_conn = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (!co_await read_one_request(s, buffer)) co_return;
    co_await write_raw(s, kOk);
    co_await read_one_request(s, buffer);
  };
  Script second_conn = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (co_await read_one_request(s, buffer))
      co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nretry");
  };
  const std::string url = start_scripted(io, {first_conn, second_conn}, &state);
  HttpClient client(io.get_executor(), url_of(url), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  ASSERT_TRUE(run_coro(io, client.send(req, cancel)).ok());
  auto second = run_coro(io, client.send(req, cancel));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->body, "retry");
  EXPECT_EQ(state.accepted, 2);
}

TEST(HttpClient, FreshConnectionClosedWithoutAnAnswerIsNotRetried) {
  asio::io_context io;
  Scripted state;
  Script close_silently = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    co_await read_one_request(s, buffer);
  };
  const std::string url = start_scripted(io, {close_silently, close_silently}, &state);
  HttpClient client(io.get_executor(), url_of(url), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  auto res = run_coro(io, client.send(req, cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_unavailable) << res.error().message;
  EXPECT_EQ(state.accepted, 1);
}

TEST(HttpClient, MalformedResponseIsAProtocolError) {
  asio::io_context io;
  Scripted state;
  Script garbage = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (co_await read_one_request(s, buffer)) co_await write_raw(s, "SMTP ready\r\n\r\n");
  };
  const std::string url = start_scripted(io, {garbage}, &state);
  HttpClient client(io.get_executor(), url_of(url), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  auto res = run_coro(io, client.send(req, cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_protocol) << res.error().message;
}

// Also when the body's end comes a byte at a time: Beast 1.81 asserts on a
// last chunk offered again with fewer than five bytes (boostorg/beast#2861),
// which aborted the Debug and sanitizer builds.
TEST(HttpClient, ChunkedResponseIsDechunked) {
  for (const std::string& chunks : {std::string("3\r\nabc\r\n4\r\ndefg\r\n"), std::string()}) {
    for (const bool trickled : {false, true}) {
      SCOPED_TRACE(chunks + (trickled ? ", the end a byte at a time" : ""));
      asio::io_context io;
      Scripted state;
      Script chunked = [&](tcp::socket& s) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        if (!co_await read_one_request(s, buffer)) co_return;
        const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", end = "0\r\n\r\n";
        if (!trickled) co_return co_await write_raw(s, head + chunks + end);
        co_await write_raw(s, head + chunks);
        for (const char c : end) {
          asio::steady_timer pause(s.get_executor(), 5ms);
          co_await pause.async_wait(kAwait);
          co_await write_raw(s, std::string(1, c));
        }
      };
      const std::string url = start_scripted(io, {chunked}, &state);
      HttpClient client(io.get_executor(), url_of(url), options());
      Cancellation cancel;
      const HttpRequest req = bare_request();
      auto res = run_coro(io, client.send(req, cancel));
      ASSERT_TRUE(res.ok()) << res.error().message;
      EXPECT_EQ(res->body, chunks.empty() ? "" : "abcdefg");
      EXPECT_EQ(client.idle_connections(), 1u);
    }
  }
}

TEST(HttpClient, ConnectRefusedIsUpstreamUnavailable) {
  asio::io_context io;
  const std::uint16_t port = closed_port();
  HttpClient client(io.get_executor(), url_of("http://127.0.0.1:" + std::to_string(port)), options());
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_unavailable);
  EXPECT_TRUE(res.error().fails_over());
  // The client's message names the provider, not where it lives; the
  // address and the system's words are the log's detail.
  EXPECT_EQ(res.error().message, "the connection to provider 'fake' failed");
  EXPECT_NE(res.error().detail.find("provider 'fake' (127.0.0.1:" + std::to_string(port) + "): connect failed"),
            std::string::npos)
      << res.error().detail;
}

TEST(HttpClient, FirstByteTimeoutIsUpstreamTimeout) {
  FakeUpstream fake;
  asio::io_context io;
  ClientOptions o = options();
  o.first_byte_timeout = 100ms;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), o);
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request({{"hang", true}}), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_timeout) << res.error().message;
  EXPECT_EQ(res.error().message, "provider 'fake' did not answer in time");
  EXPECT_NE(res.error().detail.find("100 ms"), std::string::npos) << res.error().detail;
  EXPECT_NE(res.error().detail.find(":" + std::to_string(fake.port())), std::string::npos) << res.error().detail;
  // The timed-out connection is closed, not pooled.
  EXPECT_EQ(client.idle_connections(), 0u);
  EXPECT_TRUE(fake.wait_for_closed(1, 2s));
}

TEST(HttpClient, TotalTimeoutBoundsTheWholeAnswer) {
  FakeUpstream fake;
  asio::io_context io;
  ClientOptions o = options();
  o.first_byte_timeout = 10s;
  o.total_timeout = 600ms;  // a fresh connect and the first answer fit, on a loaded machine too
  HttpClient client(io.get_executor(), url_of(fake.base_url()), o);
  Cancellation cancel;
  // In time: answered, and the connection is kept for the next request.
  auto fine = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(client.idle_connections(), 1u);
  const auto start = std::chrono::steady_clock::now();
  auto res = run_coro(io, client.send(chat_request({{"delay_ms", 5000}}), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_timeout) << res.error().message;
  EXPECT_NE(res.error().detail.find("no complete answer within 600 ms"), std::string::npos) << res.error().detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(cancel.cancelled()) << "the caller's cancellation is not fired by the timeout";
  // A body that keeps trickling in, each piece well within idle_timeout, is cut too.
  auto trickle = run_coro(io, client.send(chat_request({{"chunk_delay_ms", 100}, {"stream_chunks", 10}}, true), cancel));
  ASSERT_FALSE(trickle.ok());
  EXPECT_EQ(trickle.error().code, errc::upstream_timeout) << trickle.error().message;
  EXPECT_NE(trickle.error().detail.find("no complete answer within 600 ms"), std::string::npos)
      << trickle.error().detail;
}

// Events "data: e<from>" .. "data: e<to - 1>", as a client should see them.
std::string sse_events(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "data: e" + std::to_string(i) + "\n\n";
  return out;
}

// The same events as an upstream sends them: one HTTP chunk each; `last` ends the body.
std::string chunked_events(int from, int to, bool last) {
  std::string out;
  for (int i = from; i < to; ++i) {
    const std::string event = sse_events(i, i + 1);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", event.size());
    out += size + event + "\r\n";
  }
  if (last) out += "0\r\n\r\n";
  return out;
}

const std::string kSseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(HttpClient, TakeBufferedHandsOutWhatHasArrivedWithoutWaiting) {
  asio::io_context io;
  Scripted state;
  Script burst = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (co_await read_one_request(s, buffer)) co_await write_raw(s, kSseHead + chunked_events(0, 20, true));
  };
  HttpClient client(io.get_executor(), url_of(start_scripted(io, {burst}, &state)), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  auto opened = run_coro(io, client.open(req, cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto first = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, sse_events(0, 1)) << "read_some hands out one chunk at a time";
  std::string rest;
  for (std::string_view more = opened->body->take_buffered(); !more.empty(); more = opened->body->take_buffered())
    rest += more;
  EXPECT_EQ(rest, sse_events(1, 20)) << "everything that had arrived, without waiting";
  // The body is complete: the end comes without waiting, and the connection is reusable.
  auto end = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->empty());
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(HttpClient, TakeBufferedIsEmptyWhileNothingMoreHasArrived) {
  asio::io_context io;
  Scripted state;
  Script paced = [](tcp::socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (!co_await read_one_request(s, buffer)) co_return;
    co_await write_raw(s, kSseHead + chunked_events(0, 1, false));
    asio::steady_timer pause(s.get_executor(), 200ms);
    co_await pause.async_wait(kAwait);
    co_await write_raw(s, chunked_events(1, 3, true));
  };
  HttpClient client(io.get_executor(), url_of(start_scripted(io, {paced}, &state)), options());
  Cancellation cancel;
  const HttpRequest req = bare_request();
  auto opened = run_coro(io, client.open(req, cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto first = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, sse_events(0, 1));
  EXPECT_TRUE(opened->body->take_buffered().empty()) << "the next chunk is 200 ms away";
  const Drained rest = run_coro(io, drain(opened->body.get()));
  EXPECT_FALSE(rest.error.has_value());
  EXPECT_EQ(rest.all(), sse_events(1, 3));
}

TEST(HttpClient, IdleTimeoutBetweenBodyPiecesIsUpstreamTimeout) {
  FakeUpstream fake;
  asio::io_context io;
  ClientOptions o = options();
  o.idle_timeout = 100ms;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), o);
  Cancellation cancel;
  auto opened = run_coro(io, client.open(chat_request({{"chunk_delay_ms", 5000}}, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const Drained d = run_coro(io, drain(opened->body.get()));
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->code, errc::upstream_timeout) << d.error->message;
  EXPECT_NE(d.all().find("assistant"), std::string::npos);  // what came before the silence
}

TEST(HttpClient, ResponseLargerThanTheCapIsAProtocolError) {
  FakeUpstream fake;
  asio::io_context io;
  ClientOptions o = options();
  o.max_response_bytes = 16;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), o);
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_protocol);
  EXPECT_EQ(res.error().message, "provider 'fake' sent an invalid response");
  EXPECT_NE(res.error().detail.find("larger than 16 bytes"), std::string::npos) << res.error().detail;
}

// An upstream that opens a chunk and never ends its size line: a quoted
// extension of megabytes, then silence. The client holds at most
// 64 KiB of it unparsed (kMaxUnparsedBytes) and fails the answer as invalid;
// it once buffered all of it (re-parsing it from the start on every read)
// until the total timeout.
struct EndlessChunkExtension {
  asio::io_context io;
  Scripted state;
  int written = 0;  // bytes of the extension the upstream could write
  HttpClient client{io.get_executor(), url_of(start_scripted(io, {script(&written)}, &state)), options_3s()};
  Cancellation cancel;
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  static ClientOptions options_3s() {
    ClientOptions o = options();
    o.total_timeout = 3s;
    return o;
  }

  static Script script(int* written) {
    return [written](tcp::socket& s) -> asio::awaitable<void> {
      beast::flat_buffer buffer;
      if (!co_await read_one_request(s, buffer)) co_return;
      co_await write_raw(s, kSseHead + "5\r\ndata:\r\n1;x=\"");
      const std::string piece(16 * 1024, 'a');
      for (*written = 0; *written < 64 * 1024 * 1024; *written += static_cast<int>(piece.size())) {
        auto [ec, n] = co_await asio::async_write(s, asio::buffer(piece), kAwait);
        if (ec) co_return;  // the client has closed
      }
      asio::steady_timer silence(s.get_executor(), 5s);
      co_await silence.async_wait(kAwait);
    };
  }

  // Failed at once, having read a bounded part.
  void expect_cut_short(const Error& e) const {
    EXPECT_EQ(e.code, errc::upstream_protocol) << e.message << ": " << e.detail;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_LT(written, 32 * 1024 * 1024) << "the client kept reading what it could not parse";
  }
};

TEST(HttpClient, AnEndlessChunkSizeLineIsAProtocolErrorNotABuffer) {
  EndlessChunkExtension t;
  auto res = run_coro(t.io, t.client.send(chat_request(), t.cancel));
  ASSERT_FALSE(res.ok());
  t.expect_cut_short(res.error());
  EXPECT_EQ(t.client.idle_connections(), 0u);
}

TEST(HttpClient, AnEndlessChunkSizeLineEndsAStreamAsInvalid) {
  EndlessChunkExtension t;
  auto opened = run_coro(t.io, t.client.open(chat_request({}, true), t.cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const Drained d = run_coro(t.io, drain(opened->body.get()));
  ASSERT_TRUE(d.error.has_value());
  t.expect_cut_short(*d.error);
  EXPECT_EQ(d.all(), "data:");
}

TEST(HttpClient, BodyCutShortIsUpstreamUnavailable) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request({{"drop_after", 10}}), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_unavailable) << res.error().message;
  EXPECT_EQ(client.idle_connections(), 0u);
}

// --- streaming ------------------------------------------------------------

TEST(HttpClient, OpenYieldsBodyPiecesAsTheyArrive) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  // The role event goes out at once; the content chunk only 300 ms later.
  auto opened = run_coro(io, client.open(chat_request({{"stream_chunks", 1}, {"chunk_delay_ms", 300}}, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->head.status, 200);
  EXPECT_EQ(opened->head.header("content-type"), "text/event-stream");

  auto first = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string first_piece(*first);
  EXPECT_NE(first_piece.find("\"role\":\"assistant\""), std::string::npos) << first_piece;
  EXPECT_EQ(first_piece.find("\"c0\""), std::string::npos) << "waited for later data: " << first_piece;
  EXPECT_EQ(client.idle_connections(), 0u);  // in use

  const Drained rest = run_coro(io, drain(opened->body.get()));
  ASSERT_FALSE(rest.error.has_value()) << rest.error->message;
  const std::string all = first_piece + rest.all();
  EXPECT_NE(all.find("\"c0\""), std::string::npos);
  EXPECT_NE(all.find("data: [DONE]\n\n"), std::string::npos);
  EXPECT_EQ(all.find("\r\n0\r\n"), std::string::npos) << "chunked framing leaked into the body";
  // Read to the end: the connection went back to the pool, and later reads stay at the end.
  EXPECT_EQ(client.idle_connections(), 1u);
  auto after = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());

  // And the pooled connection serves the next request.
  ASSERT_TRUE(run_coro(io, client.send(chat_request(), cancel)).ok());
  EXPECT_EQ(fake.connections_accepted(), 1);
}

TEST(HttpClient, StreamCutShortIsUpstreamUnavailable) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto opened = run_coro(io, client.open(chat_request({{"stream_chunks", 3}, {"drop_after", 1}}, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const Drained d = run_coro(io, drain(opened->body.get()));
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->code, errc::upstream_unavailable) << d.error->message;
  EXPECT_NE(d.all().find("\"c0\""), std::string::npos);
  EXPECT_EQ(d.all().find("[DONE]"), std::string::npos);
  EXPECT_EQ(client.idle_connections(), 0u);
}

asio::awaitable<Result<std::string_view>> cancel_then_read(BodyReader* reader, Cancellation* cancel) {
  // The posted cancel runs once this coroutine is suspended in the read.
  asio::post(co_await asio::this_coro::executor, [cancel] { cancel->cancel(); });
  co_return co_await reader->read_some();
}

TEST(HttpClient, CancellationMidStreamEndsTheReadAndClosesTheUpstream) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto opened = run_coro(io, client.open(chat_request({{"stream_chunks", 1}, {"chunk_delay_ms", 5000}}, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto first = run_coro(io, opened->body->read_some());
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_FALSE(first->empty());

  auto res = run_coro(io, cancel_then_read(opened->body.get(), &cancel), 2s);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::cancelled) << res.error().message;
  EXPECT_TRUE(fake.wait_for_closed(1, 2s)) << "the upstream did not see the connection close";
  EXPECT_EQ(client.idle_connections(), 0u);
}

// Fires the cancellation once the upstream has the request (bounded poll:
// the fake runs on its own thread).
asio::awaitable<void> cancel_when_received(FakeUpstream* fake, Cancellation* cancel) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 400 && fake->request_count() == 0; ++i) {
    timer.expires_after(5ms);
    co_await timer.async_wait(kAwait);
  }
  cancel->cancel();
}

// (g++ 12 cannot hold a braced initializer list in a coroutine frame: the
// request is built by the caller.)
asio::awaitable<Result<FullResponse>> send_and_cancel_when_received(HttpClient* client, HttpRequest request,
                                                                    FakeUpstream* fake, Cancellation* cancel) {
  asio::co_spawn(co_await asio::this_coro::executor, cancel_when_received(fake, cancel), asio::detached);
  co_return co_await client->send(std::move(request), *cancel);
}

TEST(HttpClient, CancellationWhileWaitingForTheHeadIsCancelled) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto res = run_coro(io, send_and_cancel_when_received(&client, chat_request({{"hang", true}}), &fake, &cancel), 4s);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::cancelled) << res.error().message;
  EXPECT_EQ(fake.request_count(), 1u);
  EXPECT_TRUE(fake.wait_for_closed(1, 2s));
}

TEST(HttpClient, AlreadyCancelledRequestIsNotSent) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  cancel.cancel();
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::cancelled) << res.error().message;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(HttpClient, DestroyingTheReaderMidStreamClosesTheUpstream) {
  FakeUpstream fake;
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());
  Cancellation cancel;
  auto opened = run_coro(io, client.open(chat_request({{"stream_chunks", 1}, {"chunk_delay_ms", 5000}}, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ASSERT_TRUE(run_coro(io, opened->body->read_some()).ok());
  opened->body.reset();
  EXPECT_TRUE(fake.wait_for_closed(1, 2s));
  EXPECT_EQ(client.idle_connections(), 0u);
  // A later cancel() finds no stale handler (the registration ended with the reader).
  cancel.cancel();
}

// --- TLS ------------------------------------------------------------------

TEST(HttpClientTls, VerifiedConnectionToLocalhostWorksAndIsReused) {
  FakeUpstream fake(FakeUpstream::Options{.tls = true});
  asio::io_context io;
  const Url url = url_of(fake.base_url());
  ASSERT_TRUE(url.tls);
  ASSERT_EQ(url.host, "localhost");
  HttpClient client(io.get_executor(), url, options(fake.ca_file()));
  Cancellation cancel;
  for (int i = 0; i < 2; ++i) {
    auto res = run_coro(io, client.send(chat_request(), cancel));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->head.status, 200);
    EXPECT_EQ(json::parse(res->body)["object"], "chat.completion");
  }
  EXPECT_EQ(fake.connections_accepted(), 1);
  EXPECT_EQ(fake.requests().at(0).headers.at("host"), "localhost:" + std::to_string(fake.port()));
}

TEST(HttpClientTls, StreamingOverTls) {
  FakeUpstream fake(FakeUpstream::Options{.tls = true});
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options(fake.ca_file()));
  Cancellation cancel;
  auto opened = run_coro(io, client.open(chat_request(nullptr, true), cancel));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const Drained d = run_coro(io, drain(opened->body.get()));
  ASSERT_FALSE(d.error.has_value()) << d.error->message;
  EXPECT_NE(d.all().find("data: [DONE]"), std::string::npos);
}

TEST(HttpClientTls, IpAddressFailsHostVerification) {
  FakeUpstream fake(FakeUpstream::Options{.tls = true});
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of("https://127.0.0.1:" + std::to_string(fake.port()) + "/v1"),
                    options(fake.ca_file()));
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_unavailable);
  EXPECT_NE(res.error().detail.find("certificate verification failed"), std::string::npos) << res.error().detail;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(HttpClientTls, UntrustedCertificateFails) {
  FakeUpstream fake(FakeUpstream::Options{.tls = true});
  asio::io_context io;
  HttpClient client(io.get_executor(), url_of(fake.base_url()), options());  // system CAs only
  Cancellation cancel;
  auto res = run_coro(io, client.send(chat_request(), cancel));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_unavailable);
  EXPECT_NE(res.error().detail.find("certificate verification failed"), std::string::npos) << res.error().detail;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(HttpClientTls, UnreadableCaFileThrowsAtConstruction) {
  asio::io_context io;
  EXPECT_THROW(HttpClient(io.get_executor(), url_of("https://localhost:1"), options("/nonexistent/ca.pem")),
               std::runtime_error);
}

}  // namespace
}  // namespace sluice::net
