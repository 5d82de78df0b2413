// The streams a client of another dialect pulls: a chat.completion.chunk
// stream turned into that dialect's events by a StreamTranslator, or a
// stream the deployment answered in the client's dialect, relayed as it is.
// Either way the outermost stream renders a failure after the first byte as
// the dialect's own event (ChunkStream::failure_event): `event: error` for
// Anthropic's, `response.failed` for the Responses API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/answer.hpp"

namespace sluice::server {

// One event of a chat.completion.chunk stream, as the translators read it.
// The views point into the thread's parser: valid until the next
// read_chat_event on this thread.
struct ChatEvent {
  enum class Kind { nothing, done, chunk };  // nothing: a comment, an event without data
  struct ToolDelta {
    std::int64_t index = 0;
    std::string_view id, name, arguments;  // id and name on a call's first delta
  };
  Kind kind = Kind::nothing;
  std::string_view model;
  Usage usage;                     // the chunk's own, when it carries one
  std::string_view finish_reason;  // the first choice's
  std::string_view content;        // its delta's text
  std::vector<ToolDelta> tool_calls;
};

// Reads one raw SSE event of a chat stream. Errors: upstream_protocol for
// data that is neither [DONE] nor a JSON object; upstream_unavailable for a
// chunk that carries an error (an upstream that failed mid-stream).
Result<ChatEvent> read_chat_event(std::string_view raw_event);

// Turns a chat.completion.chunk stream into another dialect's events, one
// event (read_chat_event) at a time. Pure: no I/O. The base keeps what every
// dialect needs to know of the chat stream (started, ended, its finish
// reason and usage) and calls the dialect's hooks in order: start, then
// text and tool-call deltas as they come, then finish.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  // Appends what `event` (a chunk, or [DONE]: never Kind::nothing) yields
  // to `out`; called until done(). `usage` is what the chat stream reported
  // so far: the final events carry it when no chunk did (a provider that
  // takes the usage chunk out). [DONE] makes the final events. Errors:
  // upstream_protocol when the answer cannot be translated.
  Status feed(const ChatEvent& event, const Usage& usage, std::string& out);
  // The final events went out.
  bool done() const noexcept { return done_; }
  // The dialect's event for a stream that broke after its first byte.
  virtual std::string failure_event(const Error& error) = 0;

 protected:
  // The first event: the model the chunks name ("" when none).
  virtual void start(std::string_view model, std::string& out) = 0;
  virtual Status text(std::string_view text, std::string& out) = 0;
  virtual Status tool_delta(const ChatEvent::ToolDelta& delta, std::string& out) = 0;
  // [DONE]: the chat stream's finish_reason ("" when it gave none) and usage.
  virtual void finish(std::string_view finish_reason, const Usage& usage, std::string& out) = 0;

 private:
  bool started_ = false;
  bool done_ = false;
  std::string finish_reason_;
  Usage usage_;  // from a usage chunk, when the stream had one
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
