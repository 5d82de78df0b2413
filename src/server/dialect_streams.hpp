// The streams a client of another dialect pulls: a chat.completion.chunk
// stream turned into that dialect's events by a StreamTranslator, or a
// stream the deployment answered in the client's dialect, relayed as it is.
// Either way the outermost stream renders a failure after the first byte as
// the dialect's own event (ChunkStream::failure_event): `event: error` for
// Anthropic's, `response.failed` for the Responses API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/answer.hpp"

namespace sluice::server {

// Turns a chat.completion.chunk stream into another dialect's events, one
// raw SSE event at a time. Pure: no I/O.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  // Appends what `raw_event` (one whole SSE event of the chat stream)
  // yields to `out`. `usage` is what the chat stream reported so far: the
  // final events carry it when no chunk did (a provider that takes the
  // usage chunk out). `data: [DONE]` makes the final events. Errors:
  // upstream_protocol for a chunk that is not JSON or carries an error.
  virtual Status feed(std::string_view raw_event, const Usage& usage, std::string& out) = 0;
  // The final events went out.
  virtual bool done() const noexcept = 0;
  // The dialect's event for a stream that broke after its first byte.
  virtual std::string failure_event(const Error& error) = 0;
};

// `chat` (chat.completion.chunk events) translated by `translator`. A chat
// stream that ends before its [DONE] is an upstream_protocol error.
std::unique_ptr<ChunkStream> translated_stream(std::unique_ptr<ChunkStream> chat,
                                               std::unique_ptr<StreamTranslator> translator);

// An Anthropic Messages stream relayed as the deployment sent it; a failure
// after the first byte becomes `event: error` in Anthropic's shape.
std::unique_ptr<ChunkStream> native_messages_stream(std::unique_ptr<ChunkStream> inner);

// A Responses API stream relayed as the deployment sent it. It notes the
// response's id, creation time and model from response.created and the
// last sequence_number, so that a failure after the first byte becomes a
// `response.failed` event that continues the sequence.
std::unique_ptr<ChunkStream> native_responses_stream(std::unique_ptr<ChunkStream> inner);

// "event: <name>\ndata: <json>\n\n", as Anthropic and the Responses API
// write their events (the Anthropic SDK drops events without the name).
std::string named_event(std::string_view name, std::string_view json);

}  // namespace sluice::server
