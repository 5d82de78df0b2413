// Chat completions -> the Responses API: whole answers and streams.
#include "responses_answer.hpp"

#include <simdjson.h>

#include "json_body.hpp"

#include "sluice/core/json_text.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::server {

namespace dom = simdjson::dom;

namespace {

// The request parameters a Response repeats, as the API defaults them.
constexpr std::string_view kDefaultEcho =
    R"(,"tools":[],"tool_choice":"auto","instructions":null,"max_output_tokens":null,"temperature":1,"top_p":1,)"
    R"("parallel_tool_calls":true,"metadata":{},"user":null,"previous_response_id":null,"store":false,)"
    R"("background":false,"truncation":"disabled","reasoning":{"effort":null,"summary":null},)"
    R"("text":{"format":{"type":"text"}})";

Error protocol_error(std::string message) { return make_error(errc::upstream_protocol, std::move(message)); }

// incomplete_details for a finish_reason; "" when the response completed.
std::string_view incomplete_reason(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_output_tokens";
  if (finish_reason == "content_filter") return "content_filter";
  return {};
}

// The id of the draft without its "resp_", for the ids of its items.
std::string_view id_base(const ResponseDraft& draft) {
  std::string_view id = draft.id;
  if (id.starts_with("resp_")) id.remove_prefix(5);
  return id;
}

std::string output_text_part(std::string_view text) {
  std::string part = R"({"type":"output_text","text":)";
  append_json_string(part, text);
  return part + R"(,"annotations":[],"logprobs":[]})";
}

std::string message_item(std::string_view id, std::string_view status, std::string_view content) {
  std::string item = R"({"id":)";
  append_json_string(item, id);
  item += R"(,"type":"message","status":")" + std::string(status) + R"(","role":"assistant","content":[)";
  item += content;
  return item + "]}";
}

std::string call_item(std::string_view id, std::string_view status, std::string_view call_id, std::string_view name,
                      std::string_view arguments) {
  std::string item = R"({"id":)";
  append_json_string(item, id);
  item += R"(,"type":"function_call","status":")" + std::string(status) + R"(","arguments":)";
  append_json_string(item, arguments);
  item += R"(,"call_id":)";
  append_json_string(item, call_id);
  item += R"(,"name":)";
  append_json_string(item, name);
  return item + "}";
}

}  // namespace

std::string ResponseDraft::object(std::string_view status, std::string_view output, std::string_view usage,
                                  std::string_view error, std::string_view incomplete) const {
  std::string out = R"({"id":)";
  append_json_string(out, id);
  out += R"(,"object":"response","created_at":)" + std::to_string(created_at) + R"(,"status":")";
  out += status;
  out += R"(","error":)";
  out += error;
  out += R"(,"incomplete_details":)";
  out += incomplete;
  out += R"(,"model":)";
  append_json_string(out, model);
  out += R"(,"output":[)";
  out += output;
  out += R"(],"usage":)";
  out += usage;
  out += echo.empty() ? kDefaultEcho : std::string_view(echo);
  return out + "}";
}

std::string responses_usage_json(const Usage& usage) {
  return R"({"input_tokens":)" + std::to_string(usage.prompt_tokens) + R"(,"input_tokens_details":{"cached_tokens":)" +
         std::to_string(usage.cached_tokens) + R"(},"output_tokens":)" + std::to_string(usage.completion_tokens) +
         R"(,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":)" +
         std::to_string(usage.prompt_tokens + usage.completion_tokens) + "}";
}

std::string response_failed_event(const ResponseDraft& draft, std::int64_t sequence, const Error& error,
                                  std::string_view output) {
  const std::string_view code = traits(error.code).code.empty() ? "server_error" : traits(error.code).code;
  std::string error_json = R"({"code":)";
  append_json_string(error_json, code);
  error_json += R"(,"message":)";
  append_json_string(error_json, error.message);
  error_json += "}";
  return named_event("response.failed", R"({"type":"response.failed","sequence_number":)" + std::to_string(sequence) +
                                            R"(,"response":)" + draft.object("failed", output, "null", error_json) + "}");
}

Result<std::string> chat_to_response(std::string_view chat, ResponseDraft draft) {
  static thread_local dom::parser parser;
  dom::element root, choice, message;
  if (parser.parse(chat.data(), chat.size()).get(root) || !root.is_object() ||
      root["choices"].at(0).get(choice) || choice["message"].get(message) || !message.is_object())
    return protocol_error("the upstream's chat completion has no choice to translate");
  if (const std::string_view model = string_at(root, "model"); !model.empty()) draft.model = std::string(model);
  if (std::int64_t created = 0; !root["created"].get_int64().get(created)) draft.created_at = created;

  std::string text;
  if (dom::element content; !message["content"].get(content)) {
    if (content.is_string()) text = std::string(content.get_string().value_unsafe());
    else if (content.is_array())
      for (dom::element part : array_of(content)) text += string_at(part, "text");
  }
  const std::string_view refusal = string_at(message, "refusal");
  dom::element calls;
  const bool has_calls = !message["tool_calls"].get(calls) && calls.is_array() && array_of(calls).size() > 0;
  const std::string base(id_base(draft));
  std::string output;
  // Item ids as the stream numbers them: by output index.
  std::size_t items = 0;
  if (!refusal.empty()) {
    output = message_item("msg_" + base + "_0", "completed", R"({"type":"refusal","refusal":)" + json_string(refusal) + "}");
    ++items;
  } else if (!text.empty() || !has_calls) {
    output = message_item("msg_" + base + "_0", "completed", output_text_part(text));
    ++items;
  }
  if (has_calls) {
    for (dom::element call : array_of(calls)) {
      dom::element function;
      if (call["function"].get(function)) continue;
      if (!output.empty()) output += ',';
      output += call_item("fc_" + base + "_" + std::to_string(items++), "completed", string_at(call, "id"),
                          string_at(function, "name"), string_at(function, "arguments"));
    }
  }
  const std::string_view reason = incomplete_reason(string_at(choice, "finish_reason"));
  const Usage usage = chat_usage(root);
  return draft.object(reason.empty() ? "completed" : "incomplete", output,
                      usage.known ? responses_usage_json(usage) : "null", "null",
                      reason.empty() ? "null" : R"({"reason":")" + std::string(reason) + "\"}");
}

// --- ChatToResponsesStream -----------------------------------------------------

void ChatToResponsesStream::event_out(std::string_view type, std::string body, std::string& out) {
  // body: the event's members after type and sequence_number, each led by a comma.
  out += named_event(type, R"({"type":")" + std::string(type) + R"(","sequence_number":)" +
                               std::to_string(sequence_++) + body + "}");
}

void ChatToResponsesStream::start(std::string_view model, std::string& out) {
  if (!model.empty()) draft_.model = std::string(model);
  const std::string in_progress = draft_.object("in_progress", "");
  event_out("response.created", R"(,"response":)" + in_progress, out);
  event_out("response.in_progress", R"(,"response":)" + in_progress, out);
}

ChatToResponsesStream::Item& ChatToResponsesStream::open_message(std::string& out) {
  if (open_message_ >= 0) return items_[static_cast<std::size_t>(open_message_)];
  Item item;
  item.message = true;
  item.id = "msg_" + std::string(id_base(draft_)) + "_" + std::to_string(items_.size());
  items_.push_back(std::move(item));
  open_message_ = static_cast<int>(items_.size() - 1);
  const std::string index = std::to_string(open_message_);
  event_out("response.output_item.added", R"(,"output_index":)" + index + R"(,"item":)" + item_json(items_.back(), false), out);
  event_out("response.content_part.added", R"(,"item_id":)" + json_string(items_.back().id) + R"(,"output_index":)" + index +
                                           R"(,"content_index":0,"part":)" + output_text_part(""), out);
  return items_.back();
}

void ChatToResponsesStream::close(std::size_t index, std::string& out) {
  Item& item = items_[index];
  if (item.closed) return;
  item.closed = true;
  const std::string where = R"(,"item_id":)" + json_string(item.id) + R"(,"output_index":)" + std::to_string(index);
  if (item.message) {
    event_out("response.output_text.done", where + R"(,"content_index":0,"text":)" + json_string(item.text) + R"(,"logprobs":[])", out);
    event_out("response.content_part.done", where + R"(,"content_index":0,"part":)" + output_text_part(item.text), out);
    if (open_message_ == static_cast<int>(index)) open_message_ = -1;
  } else {
    event_out("response.function_call_arguments.done",
          where + R"(,"name":)" + json_string(item.name) + R"(,"arguments":)" + json_string(item.text), out);
  }
  event_out("response.output_item.done", R"(,"output_index":)" + std::to_string(index) + R"(,"item":)" + item_json(item, true),
        out);
}

std::string ChatToResponsesStream::item_json(const Item& item, bool done) const {
  const std::string_view status = done ? "completed" : "in_progress";
  if (item.message) return message_item(item.id, status, done ? output_text_part(item.text) : "");
  return call_item(item.id, status, item.call_id, item.name, done ? std::string_view(item.text) : std::string_view());
}

std::string ChatToResponsesStream::output_json() const {
  std::string out;
  for (const Item& item : items_) {
    if (!out.empty()) out += ',';
    out += item_json(item, true);
  }
  return out;
}

Status ChatToResponsesStream::hold(std::size_t bytes) {
  if ((held_ += bytes) > kMaxHeldBytes) return protocol_error("the answer is too large to translate");
  return Ok{};
}

Status ChatToResponsesStream::text(std::string_view text, std::string& out) {
  if (Status s = hold(text.size()); !s) return s;
  Item& item = open_message(out);
  item.text += text;
  event_out("response.output_text.delta", R"(,"item_id":)" + json_string(item.id) + R"(,"output_index":)" +
                                              std::to_string(open_message_) + R"(,"content_index":0,"delta":)" +
                                              json_string(text) + R"(,"logprobs":[])",
            out);
  return Ok{};
}

Status ChatToResponsesStream::tool_delta(const ChatEvent::ToolDelta& call, std::string& out) {
  auto it = calls_.find(call.index);
  if (it == calls_.end()) {
    if (open_message_ >= 0) close(static_cast<std::size_t>(open_message_), out);
    Item item;
    item.id = "fc_" + std::string(id_base(draft_)) + "_" + std::to_string(items_.size());
    item.call_id = call.id;
    if (item.call_id.empty()) item.call_id = "call_" + std::string(id_base(draft_)) + "_" + std::to_string(call.index);
    item.name = call.name;
    items_.push_back(std::move(item));
    it = calls_.emplace(call.index, items_.size() - 1).first;
    event_out("response.output_item.added", R"(,"output_index":)" + std::to_string(it->second) + R"(,"item":)" +
                                                item_json(items_.back(), false),
              out);
  }
  if (call.arguments.empty()) return Ok{};
  if (Status s = hold(call.arguments.size()); !s) return s;
  Item& item = items_[it->second];
  item.text += call.arguments;
  event_out("response.function_call_arguments.delta", R"(,"item_id":)" + json_string(item.id) + R"(,"output_index":)" +
                                                          std::to_string(it->second) + R"(,"delta":)" +
                                                          json_string(call.arguments),
            out);
  return Ok{};
}

void ChatToResponsesStream::finish(std::string_view finish_reason, const Usage& usage, std::string& out) {
  for (std::size_t i = 0; i < items_.size(); ++i) close(i, out);
  const std::string_view reason = incomplete_reason(finish_reason);
  const std::string response =
      draft_.object(reason.empty() ? "completed" : "incomplete", output_json(),
                    usage.known ? responses_usage_json(usage) : "null", "null",
                    reason.empty() ? "null" : R"({"reason":")" + std::string(reason) + "\"}");
  event_out(reason.empty() ? "response.completed" : "response.incomplete", R"(,"response":)" + response, out);
}

std::string ChatToResponsesStream::failure_event(const Error& error) {
  return response_failed_event(draft_, sequence_++, error, output_json());
}

}  // namespace sluice::server
