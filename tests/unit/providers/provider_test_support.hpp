// Helpers the provider tests share: requests as admission would parse them,
// SSE framing of what a stream returned, response heads, draining a stream.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "sluice/core/request.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/net/sse.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::test {

// The whole events in `stream`, as SseFramer cuts them.
inline std::vector<std::string> frame(const std::string& stream) {
  std::vector<std::string> events;
  net::SseFramer framer;
  framer.feed(stream, [&](std::string_view e) { events.emplace_back(e); });
  return events;
}

inline net::ResponseHead head_with(std::vector<net::Header> headers, int status = 200) {
  net::ResponseHead head;
  head.status = status;
  head.headers = std::move(headers);
  return head;
}

// A request as admission would have parsed it, with the model span located.
inline LlmRequest make_llm_request(const nlohmann::json& body, Endpoint endpoint = Endpoint::chat_completions) {
  LlmRequest r;
  r.endpoint = endpoint;
  r.model = body["model"].get<std::string>();
  r.stream = body.value("stream", false);
  r.include_usage = body.contains("stream_options") && body["stream_options"].value("include_usage", false);
  for (const char* key : {"max_completion_tokens", "max_tokens"})
    if (!r.max_tokens && body.contains(key) && body[key].is_number_integer()) r.max_tokens = body[key].get<std::int64_t>();
  r.body = body.dump();
  const std::string token = nlohmann::json(r.model).dump();
  r.model_offset = r.body.find("\"model\":" + token) + 8;
  r.model_length = token.size();
  return r;
}

struct Collected {
  std::string text;  // everything next() returned, concatenated
  int calls = 0;     // non-empty results
  std::optional<Error> error;
};

// Calls next() until the end ("") or an error.
inline boost::asio::awaitable<Collected> collect(providers::ChunkStream* stream) {
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

}  // namespace sluice::test
