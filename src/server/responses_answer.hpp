// Answers for clients of /v1/responses whose request went to a deployment
// through chat completions: a chat.completion as a Response object, and a
// chunk stream as the Responses API's streaming events, numbered from 0
// (sequence_number) as the API numbers them. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dialect_streams.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

// What a Response object says besides its output: its id, time, model,
// and the request's parameters it repeats (ResponsesRequest::echo).
struct ResponseDraft {
  std::string id;
  std::int64_t created_at = 0;
  std::string model;
  std::string echo;  // ",\"instructions\":...": empty gives the API's defaults

  // The Response object with `status` (in_progress, completed, incomplete,
  // failed), `output` (item objects joined by commas) and the JSON texts of
  // usage, error and incomplete_details ("null" when none).
  std::string object(std::string_view status, std::string_view output, std::string_view usage = "null",
                     std::string_view error = "null", std::string_view incomplete = "null") const;
};

// The Responses API's usage object for `usage`.
std::string responses_usage_json(const Usage& usage);

// A `response.failed` event numbered `sequence`: the response with status
// failed, the output items so far, and error {code, message}.
std::string response_failed_event(const ResponseDraft& draft, std::int64_t sequence, const Error& error,
                                  std::string_view output = {});

// `chat` (a chat.completion object) as a Response: a message item with the
// text as output_text (or a refusal part), function_call items for the tool
// calls, status incomplete (max_output_tokens, content_filter) for
// finish_reason length / content_filter, usage as input/output tokens. The
// draft's model is the chat's when it names one. Errors: upstream_protocol
// when `chat` has no choice.
Result<std::string> chat_to_response(std::string_view chat, ResponseDraft draft);

// Chat chunks -> response.created and response.in_progress (on the first
// chunk); per text run a message item (output_item.added,
// content_part.added, output_text.delta..., output_text.done,
// content_part.done, output_item.done); per tool call a function_call item
// (output_item.added, function_call_arguments.delta..., .done,
// output_item.done); at [DONE] response.completed (response.incomplete
// when cut by max_output_tokens or a content filter) with the whole output
// and usage. Every event carries its `event:` line and sequence_number.
class ChatToResponsesStream final : public StreamTranslator {
 public:
  // Output text is held until the final event, which repeats it; past this
  // the stream fails rather than hold more.
  static constexpr std::size_t kMaxHeldBytes = 64u << 20;

  explicit ChatToResponsesStream(ResponseDraft draft) : draft_(std::move(draft)) {}

  std::string failure_event(const Error& error) override;

 private:
  struct Item {
    bool message = false;        // else a function_call
    std::string id;              // msg_... / fc_...
    std::string text;            // output text, or the call's arguments
    std::string call_id, name;   // function calls
    bool closed = false;
  };

  void start(std::string_view model, std::string& out) override;
  Status text(std::string_view text, std::string& out) override;
  Status tool_delta(const ChatEvent::ToolDelta& delta, std::string& out) override;
  void finish(std::string_view finish_reason, const Usage& usage, std::string& out) override;
  void event_out(std::string_view type, std::string body, std::string& out);
  Item& open_message(std::string& out);
  void close(std::size_t index, std::string& out);
  Status hold(std::size_t bytes);
  std::string item_json(const Item& item, bool done) const;
  std::string output_json() const;

  ResponseDraft draft_;
  std::int64_t sequence_ = 0;
  std::vector<Item> items_;               // in output order
  int open_message_ = -1;                 // index into items_ of the message taking text; -1: none
  std::map<std::int64_t, std::size_t> calls_;  // chat tool_calls index -> items_ index
  std::size_t held_ = 0;
};

}  // namespace sluice::server
