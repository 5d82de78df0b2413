// Cached answers in the three answer formats the gateway relays (OpenAI
// chat completions, Anthropic messages, OpenAI responses): a stream's events
// added up into the complete answer the cache stores, and a stored answer
// made fresh (id, creation time, model) or replayed as its format's SSE
// events. Pure: no I/O. The front door still translates a chat-format
// answer into the client's dialect, as it does for a provider's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/answer.hpp"
#include "sluice/core/request.hpp"

namespace sluice::pipeline {

// Adds up a stream's SSE events into the complete answer of `format`: a
// chat.completion from chat.completion.chunk events, a Message from the
// Messages stream's events, the Response of a Responses stream's
// response.completed event. Holds at most `max_bytes` of answer: past that
// it stops and the stream is not stored.
class AnswerAccumulator {
 public:
  AnswerAccumulator(Endpoint format, std::size_t max_bytes);
  ~AnswerAccumulator();
  AnswerAccumulator(AnswerAccumulator&&) noexcept;
  AnswerAccumulator& operator=(AnswerAccumulator&&) noexcept;

  // Feeds what one ChunkStream::next() yielded (whole events; a trailing
  // partial one is kept for the next batch).
  void feed(std::string_view events);
  // After the stream ended cleanly: the complete answer, with `usage` (what
  // the stream reported) where the events carried none. nullopt when the
  // stream never reached its terminal event, carried an error, could not
  // be read or outgrew the bound.
  std::optional<std::string> finish(const Usage& usage);
  // Gave up (too large, unreadable, an error event): finish() is nullopt.
  bool abandoned() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whether the complete answer `body` (in `format`) ends in tool calls:
// finish_reason tool_calls, stop_reason tool_use, a *_call output item.
bool ends_in_tool_calls(Endpoint format, std::string_view body);

// A response id of `format`'s kind (chatcmpl-..., msg_..., resp_...) made
// from `random`.
std::string fresh_answer_id(Endpoint format, std::uint64_t random);

// The stored `body` with its top-level id, creation time (created /
// created_at) and model replaced. nullopt when body is not a JSON object.
std::optional<std::string> refreshed_body(std::string_view body, std::string_view id, std::int64_t created,
                                          std::string_view model);

// The SSE events that stream the complete answer `body` (already
// refreshed) in `format`: chat chunks of a few words each, with a usage
// chunk when `include_usage` and `data: [DONE]`; message_start ...
// message_stop; response.created ... response.completed. nullopt when the
// body is not an answer of that format.
std::optional<std::string> replay_events(Endpoint format, std::string_view body, const Usage& usage,
                                         bool include_usage);

// `events` as a stream that yields them in batches and then ends cleanly.
std::unique_ptr<ChunkStream> replay_stream(std::string events, Usage usage);

}  // namespace sluice::pipeline
