// Helpers the OpenAI-compatible provider tests share: requests as admission
// parses them, draining a ChunkStream, splitting SSE text, a one-shot replay
// server for recorded streams, and a scripted BodyReader for chunk streams
// without a socket.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/run_coro.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/request.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/net/sse.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::test {

// A provider entry for tests: its name, type, URL and key, with timeouts
// short enough that a broken test fails quickly.
inline ProviderConfig test_provider_config(std::string name, ProviderType type, std::string base_url, std::string api_key) {
  using namespace std::chrono_literals;
  ProviderConfig c;
  c.name = std::move(name);
  c.type = type;
  c.base_url = std::move(base_url);
  c.api_key = std::move(api_key);
  c.first_byte_timeout = 5s;
  c.idle_timeout = 5s;
  return c;
}

// The raw events of an SSE text.
inline std::vector<std::string> frame(const std::string& stream) {
  std::vector<std::string> events;
  net::SseFramer framer;
  EXPECT_TRUE(framer.feed(stream, [&](std::string_view e) { events.emplace_back(e); })) << "an event over the limit";
  return events;
}

inline net::ResponseHead head_with(std::vector<Header> headers, int status = 200) {
  net::ResponseHead head;
  head.status = status;
  head.headers = std::move(headers);
  return head;
}

// A request as admission would have parsed it from `body` (compact JSON with
// a top-level "model" string), with the model span located.
inline LlmRequest raw_llm_request(std::string body, Endpoint endpoint = Endpoint::chat_completions) {
  const nlohmann::json j = nlohmann::json::parse(body);
  LlmRequest r;
  r.endpoint = endpoint;
  r.model = j.at("model").get<std::string>();
  r.stream = j.value("stream", false);
  r.include_usage = j.contains("stream_options") && j["stream_options"].is_object() &&
                    j["stream_options"].value("include_usage", false);
  for (const char* key : {"max_completion_tokens", "max_tokens"})
    if (!r.max_tokens && j.contains(key) && j[key].is_number_integer()) r.max_tokens = j[key].get<std::int64_t>();
  r.body = std::move(body);
  const std::string token = nlohmann::json(r.model).dump();
  r.model_offset = r.body.find("\"model\":" + token) + 8;
  r.model_length = token.size();
  return r;
}

inline LlmRequest make_llm_request(const nlohmann::json& body, Endpoint endpoint = Endpoint::chat_completions) {
  return raw_llm_request(body.dump(), endpoint);
}

struct Collected {
  std::string text;  // everything next() returned, concatenated
  int calls = 0;     // non-empty results
  std::optional<Error> error;  // the stream's, or stream()'s when !started
  bool started = true;
  Usage usage;       // the stream's usage() at the end
};

inline boost::asio::awaitable<Collected> collect(ChunkStream* stream) {
  Collected c;
  for (;;) {
    auto piece = co_await stream->next();
    if (!piece) {
      c.error = piece.error();
      co_return c;
    }
    if (piece->empty()) co_return c;
    c.text += *piece;
    ++c.calls;
  }
}

// The body with "stream": true.
inline nlohmann::json streaming(nlohmann::json body) {
  body["stream"] = true;
  return body;
}

// Opens a stream for `body` on `provider` and reads it to its end or error.
inline Collected stream_through(boost::asio::io_context& io, providers::Provider& provider, const nlohmann::json& body,
                                std::string upstream_model, RequestContext& ctx) {
  const LlmRequest req = make_llm_request(body);
  auto started = run_coro(io, provider.stream(req, std::move(upstream_model), ctx));
  if (!started) {
    Collected c;
    c.started = false;
    c.error = started.error();
    return c;
  }
  Collected c = run_coro(io, collect(started->stream.get()));
  c.usage = started->stream->usage();
  return c;
}

// Serves one connection: reads the request into *seen, writes `response`, closes.
inline boost::asio::awaitable<void> replay_once(boost::asio::ip::tcp::acceptor acceptor, std::string response,
                                                std::shared_ptr<std::string> seen) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> req;
  auto [rec, n] = co_await http::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
  if (rec) co_return;
  *seen = req.body();
  co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
}

// Starts a server on `io` that answers one request with `body` as an SSE
// stream; returns "http://127.0.0.1:PORT" + `path`. The request body it
// received lands in *seen (when given).
inline std::string start_replay(boost::asio::io_context& io, const std::string& body, std::string path = "/v1",
                                std::shared_ptr<std::string> seen = std::make_shared<std::string>()) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::string url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + path;
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nx-ratelimit-remaining-requests: 499\r\n\r\n" + body;
  asio::co_spawn(io, replay_once(std::move(acceptor), response, std::move(seen)), asio::detached);
  return url;
}

// A BodyReader that hands out the given pieces, then the end (or an error).
class ScriptedBody final : public net::BodyReader {
 public:
  explicit ScriptedBody(std::vector<std::string> pieces, std::optional<Error> fail_at_end = std::nullopt)
      : pieces_(pieces.begin(), pieces.end()), fail_(std::move(fail_at_end)) {}

  boost::asio::awaitable<Result<std::string_view>> read_some() override {
    if (pieces_.empty()) {
      if (fail_) co_return *fail_;
      co_return std::string_view();
    }
    current_ = std::move(pieces_.front());
    pieces_.pop_front();
    co_return std::string_view(current_);
  }

  // `text` cut into pieces of `size` bytes.
  static std::vector<std::string> split(const std::string& text, std::size_t size) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < text.size(); i += size) out.push_back(text.substr(i, size));
    return out;
  }

 private:
  std::deque<std::string> pieces_;
  std::optional<Error> fail_;
  std::string current_;
};

}  // namespace sluice::test
