// Answer: what the pipeline returns for a call, whoever produced it (a
// provider, and later the cache or a queued job): a complete body, or a
// stream of events the front door pulls. Data, never HTTP: the front door
// renders it in the client's dialect.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "sluice/core/error.hpp"
#include "sluice/core/header.hpp"
#include "sluice/core/request.hpp"

namespace sluice {

// A streamed answer, pulled by the writer: each next() yields whole SSE events
// in the answer's format (OpenAI's chat.completion.chunk events ending with
// `data: [DONE]`, or the events of the API the request named when the
// deployment spoke it), ready to relay, and an empty string once the stream
// has ended cleanly. An error means the stream broke; destroying the stream
// cancels the upstream request.
class ChunkStream {
 public:
  virtual ~ChunkStream() = default;
  virtual boost::asio::awaitable<Result<std::string>> next() = 0;
  virtual Usage usage() const = 0;  // as reported so far

  // The SSE event that tells the client the stream broke after its first
  // byte (a client would take a stream that just stops for a complete
  // answer). The outermost stream speaks the client's dialect: OpenAI's
  // `data: {"error":{...}}` unless it renders another.
  virtual std::string failure_event(const Error& error) { return "data: " + error_body(error) + "\n\n"; }
};

struct Answer {
  int status = 200;                      // a 2xx
  std::string body;                      // JSON in `format`'s shape; empty for a stream
  std::vector<Header> headers;           // upstream headers worth relaying (rate limits)
  Usage usage;                           // complete answers; streams report theirs as they end
  std::unique_ptr<ChunkStream> stream;   // set: the answer is this SSE stream
  // The API whose shape the body or stream has: the request's endpoint, or
  // chat_completions when the deployment was sent the request's as_chat.
  Endpoint format = Endpoint::chat_completions;

  bool streamed() const noexcept { return stream != nullptr; }
};

}  // namespace sluice
