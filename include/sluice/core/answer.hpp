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
// in OpenAI's chat.completion.chunk format, ready to relay, and an empty
// string once the stream has ended cleanly (after `data: [DONE]`). An error
// means the stream broke; destroying the stream cancels the upstream request.
class ChunkStream {
 public:
  virtual ~ChunkStream() = default;
  virtual boost::asio::awaitable<Result<std::string>> next() = 0;
  virtual Usage usage() const = 0;  // as reported so far
};

struct Answer {
  int status = 200;                      // a 2xx
  std::string body;                      // OpenAI's JSON shape; empty for a stream
  std::vector<Header> headers;           // upstream headers worth relaying (rate limits)
  Usage usage;                           // complete answers; streams report theirs as they end
  std::unique_ptr<ChunkStream> stream;   // set: the answer is this SSE stream

  bool streamed() const noexcept { return stream != nullptr; }
};

}  // namespace sluice
