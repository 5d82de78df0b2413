// Answers for clients of /v1/messages whose request went to a deployment
// through chat completions: a chat.completion as an Anthropic Message, and
// a chunk stream as the Messages stream's named events. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "dialect_streams.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

// `chat` (a chat.completion object) as a Message with id `id`: the text (or
// refusal) as a text block, tool calls as tool_use blocks (their arguments
// parsed into the input object), finish_reason as stop_reason, usage as
// Anthropic's (input_tokens without the cached part, which is
// cache_read_input_tokens). Errors: upstream_protocol when `chat` has no
// choice, or a tool call's arguments are not a JSON object.
Result<std::string> chat_to_message(std::string_view chat, std::string_view id);

// Chat chunks -> message_start (id `id`, the chunk's model, usage still
// zero), `ping`, content_block_start / content_block_delta (text_delta,
// input_json_delta) / content_block_stop per text run and tool call,
// message_delta (stop_reason, the whole usage) and message_stop at [DONE].
// Each event carries its `event:` line. Reasoning deltas are dropped.
class ChatToMessagesStream final : public StreamTranslator {
 public:
  explicit ChatToMessagesStream(std::string id) : id_(std::move(id)) {}

  std::string failure_event(const Error& error) override;

 private:
  void start(std::string_view model, std::string& out) override;
  Status text(std::string_view text, std::string& out) override;
  Status tool_delta(const ChatEvent::ToolDelta& delta, std::string& out) override;
  void finish(std::string_view finish_reason, const Usage& usage, std::string& out) override;
  void open_block(std::string_view block_json, std::string& out);
  void close_block(std::string& out);

  std::string id_;
  int next_index_ = 0;               // the next content block's index
  int open_ = -1;                    // the open block's index; -1: none
  bool open_is_text_ = false;
  std::map<std::int64_t, int> tools_;  // chat tool_calls index -> block index
};

// The Anthropic model object for `id` (GET /v1/models with anthropic-version).
std::string anthropic_model_object(std::string_view id);

}  // namespace sluice::server
