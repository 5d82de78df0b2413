#include "chat_draft.hpp"

#include <memory>

#include "json_body.hpp"
#include "sluice/core/json_text.hpp"

namespace sluice::server {

void ChatDraft::refuse(std::string message, std::string param) {
  if (!refused_) refused_ = invalid(std::move(message) + " (the model is served through chat completions)", std::move(param));
}

void ChatDraft::add(std::string message) {
  flush();
  append(message);
}

void ChatDraft::assistant_text(std::string_view text) {
  if (!calls_.empty()) flush();
  if (!text_.empty() && !text.empty()) text_ += "\n\n";
  text_ += text;
  pending_ = true;
}

void ChatDraft::tool_call(std::string_view id, std::string_view name, std::string_view arguments) {
  if (!calls_.empty()) calls_ += ',';
  calls_ += R"({"id":)" + json_string(id) + R"(,"type":"function","function":{"name":)" + json_string(name) +
            R"(,"arguments":)" + json_string(arguments) + "}}";
  pending_ = true;
}

void ChatDraft::flush() {
  if (!pending_) return;
  pending_ = false;
  if (text_.empty() && calls_.empty()) return;
  std::string message = R"({"role":"assistant","content":)";
  if (text_.empty()) message += "null";
  else append_json_string(message, text_);
  if (!calls_.empty()) message += R"(,"tool_calls":[)" + calls_ + "]";
  append(message + "}");
  text_.clear();
  calls_.clear();
}

void ChatDraft::append(const std::string& message) {
  if (refused_) return;
  if (!messages_.empty()) messages_ += ',';
  messages_ += message;
}

void ChatDraft::finish(LlmRequest& req, std::string_view options) {
  flush();
  // Empty turns (content [], thinking only) write no chat message; chat
  // completions refuses a request with none.
  if (messages_.empty()) refuse("no message has content to send", "messages");
  if (refused_) {
    req.untranslatable = std::move(refused_);
    return;
  }
  auto chat = std::make_shared<LlmRequest>();
  chat->endpoint = Endpoint::chat_completions;
  chat->model = req.model;
  chat->body = R"({"model":)";
  chat->model_offset = chat->body.size();
  append_json_string(chat->body, req.model);
  chat->model_length = chat->body.size() - chat->model_offset;
  chat->body.append(R"(,"messages":[)").append(messages_).append("]").append(options).append("}");
  chat->stream = req.stream;
  chat->include_usage = req.stream;
  chat->max_tokens = req.max_tokens;
  chat->messages = req.messages;
  req.as_chat = std::move(chat);
}

void note(std::vector<Message>& texts, std::string_view role, std::string_view text) {
  if (!text.empty()) texts.push_back({std::string(role), std::string(text)});
}

}  // namespace sluice::server
