// Chat completions -> Anthropic Messages: whole answers and streams.
#include "anthropic_answer.hpp"

#include <simdjson.h>

#include "json_body.hpp"

#include "reply.hpp"
#include "sluice/core/anthropic_api.hpp"
#include "sluice/core/json_text.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::server {

namespace dom = simdjson::dom;

namespace {

Error protocol_error(std::string message) { return make_error(errc::upstream_protocol, std::move(message)); }

// Anthropic's usage object for `usage`.
std::string usage_json(const Usage& usage) {
  const anthropic::Tokens t = anthropic::Tokens::of(usage);
  return R"({"input_tokens":)" + std::to_string(t.input) + R"(,"cache_creation_input_tokens":0,"cache_read_input_tokens":)" +
         std::to_string(t.cache_read) + R"(,"output_tokens":)" + std::to_string(t.output) + "}";
}

// A chat message's content: a string, null, or text parts.
std::string content_text(const dom::element& message) {
  dom::element content;
  if (message["content"].get(content) || content.is_null()) return {};
  if (content.is_string()) return std::string(content.get_string().value_unsafe());
  std::string text;
  if (content.is_array())
    for (dom::element part : array_of(content)) text += string_at(part, "text");
  return text;
}

std::string text_block(std::string_view text) {
  std::string block = R"({"type":"text","text":)";
  append_json_string(block, text);
  return block + "}";
}

}  // namespace

Result<std::string> chat_to_message(std::string_view chat, std::string_view id) {
  static thread_local dom::parser parser, arguments_parser;
  dom::element root, choice;
  if (parser.parse(chat.data(), chat.size()).get(root) || !root.is_object() ||
      root["choices"].at(0).get(choice) || !choice.is_object())
    return protocol_error("the upstream's chat completion has no choice to translate");
  dom::element message;
  if (choice["message"].get(message) || !message.is_object())
    return protocol_error("the upstream's chat completion has no message");

  std::string content;
  std::string text = content_text(message);
  std::string_view stop_reason = anthropic::to_stop_reason(string_at(choice, "finish_reason"));
  if (text.empty()) {
    text = std::string(string_at(message, "refusal"));
    if (!text.empty()) stop_reason = "refusal";
  }
  if (!text.empty()) content = text_block(text);
  dom::element calls;
  if (!message["tool_calls"].get(calls) && calls.is_array()) {
    for (dom::element call : array_of(calls)) {
      dom::element function;
      if (call["function"].get(function)) continue;
      const std::string_view arguments = string_at(function, "arguments");
      std::string input = "{}";
      if (!arguments.empty()) {
        dom::element parsed;
        if (arguments_parser.parse(arguments.data(), arguments.size()).get(parsed) || !parsed.is_object())
          return protocol_error("the model's tool call arguments are not a JSON object");
        input = simdjson::to_string(parsed);
      }
      if (!content.empty()) content += ',';
      content += R"({"type":"tool_use","id":)" + json_string(string_at(call, "id")) + R"(,"name":)" +
                 json_string(string_at(function, "name")) + R"(,"input":)" + input + "}";
    }
  }
  std::string out = R"({"id":)";
  append_json_string(out, id);
  out += R"(,"type":"message","role":"assistant","model":)";
  append_json_string(out, string_at(root, "model"));
  out += R"(,"content":[)" + content + R"(],"stop_reason":)";
  append_json_string(out, stop_reason);
  out += R"(,"stop_sequence":null,"usage":)" + usage_json(chat_usage(root)) + "}";
  return out;
}

// --- ChatToMessagesStream ------------------------------------------------------

Status ChatToMessagesStream::text(std::string_view text, std::string& out) {
  if (open_ < 0 || !open_is_text_) {
    open_block(R"({"type":"text","text":""})", out);
    open_is_text_ = true;
  }
  std::string json = R"({"type":"content_block_delta","index":)" + std::to_string(open_) +
                     R"(,"delta":{"type":"text_delta","text":)";
  append_json_string(json, text);
  out += named_event("content_block_delta", json + "}}");
  return Ok{};
}

Status ChatToMessagesStream::tool_delta(const ChatEvent::ToolDelta& call, std::string& out) {
  auto it = tools_.find(call.index);
  if (it == tools_.end()) {
    std::string call_id(call.id);
    if (call_id.empty()) call_id = "toolu_" + id_ + "_" + std::to_string(call.index);
    open_block(R"({"type":"tool_use","id":)" + json_string(call_id) + R"(,"name":)" + json_string(call.name) +
                   R"(,"input":{}})",
               out);
    open_is_text_ = false;
    it = tools_.emplace(call.index, open_).first;
  }
  if (call.arguments.empty()) return Ok{};
  std::string json = R"({"type":"content_block_delta","index":)" + std::to_string(it->second) +
                     R"(,"delta":{"type":"input_json_delta","partial_json":)";
  append_json_string(json, call.arguments);
  out += named_event("content_block_delta", json + "}}");
  return Ok{};
}

void ChatToMessagesStream::start(std::string_view model, std::string& out) {
  std::string json = R"({"type":"message_start","message":{"id":)";
  append_json_string(json, id_);
  json += R"(,"type":"message","role":"assistant","model":)";
  append_json_string(json, model);
  // The prompt's size is known only at the end (message_delta carries it).
  json += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})";
  out += named_event("message_start", json);
  out += named_event("ping", R"({"type":"ping"})");
}

void ChatToMessagesStream::open_block(std::string_view block_json, std::string& out) {
  close_block(out);
  open_ = next_index_++;
  out += named_event("content_block_start", R"({"type":"content_block_start","index":)" + std::to_string(open_) +
                                                R"(,"content_block":)" + std::string(block_json) + "}");
}

void ChatToMessagesStream::close_block(std::string& out) {
  if (open_ < 0) return;
  out += named_event("content_block_stop", R"({"type":"content_block_stop","index":)" + std::to_string(open_) + "}");
  open_ = -1;
}

void ChatToMessagesStream::finish(std::string_view finish_reason, const Usage& usage, std::string& out) {
  close_block(out);
  std::string json = R"({"type":"message_delta","delta":{"stop_reason":)";
  append_json_string(json, anthropic::to_stop_reason(finish_reason));
  json += R"(,"stop_sequence":null},"usage":)" + usage_json(usage) + "}";
  out += named_event("message_delta", json);
  out += named_event("message_stop", R"({"type":"message_stop"})");
}

std::string ChatToMessagesStream::failure_event(const Error& error) {
  return named_event("error", anthropic_error_body(error));
}

std::string anthropic_model_object(std::string_view id) {
  std::string out = R"({"type":"model","id":)";
  append_json_string(out, id);
  out += R"(,"display_name":)";
  append_json_string(out, id);
  out += R"(,"created_at":"1970-01-01T00:00:00Z"})";
  return out;
}

}  // namespace sluice::server
