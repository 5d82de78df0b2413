#include "sluice/core/request.hpp"

#include "sluice/core/json_text.hpp"

namespace sluice {

std::string_view to_string(Endpoint e) noexcept {
  switch (e) {
    case Endpoint::chat_completions: return "chat.completions";
    case Endpoint::completions: return "completions";
    case Endpoint::embeddings: return "embeddings";
    case Endpoint::messages: return "messages";
    case Endpoint::count_tokens: return "messages.count_tokens";
    case Endpoint::responses: return "responses";
  }
  return "unknown";
}

std::string_view upstream_path(Endpoint e) noexcept {
  switch (e) {
    case Endpoint::chat_completions: return "/chat/completions";
    case Endpoint::completions: return "/completions";
    case Endpoint::embeddings: return "/embeddings";
    case Endpoint::messages: return "/messages";
    case Endpoint::count_tokens: return "/messages/count_tokens";
    case Endpoint::responses: return "/responses";
  }
  return "/";
}

std::string LlmRequest::body_for_model(std::string_view upstream_model) const {
  if (upstream_model == model) return body;
  std::string out;
  out.reserve(body.size() + upstream_model.size() + 2);
  out.append(body, 0, model_offset);
  append_json_string(out, upstream_model);
  out.append(body, model_offset + model_length);
  return out;
}

std::size_t LlmRequest::prompt_chars() const {
  std::size_t n = 0;
  for (const Message& m : messages) n += m.text.size();
  for (const std::string& s : inputs) n += s.size();
  return n;
}

}  // namespace sluice
