#include "openai_wire.hpp"
#include "sluice/server/job_call.hpp"

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "json_body.hpp"
#include "sluice/core/base64.hpp"

namespace sluice::server {

namespace dom = simdjson::dom;

namespace {

// "messages[3]", for an error's `param`: built only when there is an error.
std::string message_param(std::size_t index) { return "messages[" + std::to_string(index) + "]"; }

// Text of a message's content: a string, an array of parts (text parts
// joined), or null (assistant messages carrying only tool calls).
std::optional<Error> read_content(const dom::element& content, std::size_t index, std::string& text) {
  auto param = [index] { return message_param(index) + ".content"; };
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    text = std::string(content.get_string().value_unsafe());
    return std::nullopt;
  }
  if (!content.is_array()) return invalid("'content' must be a string, an array of content parts, or null", param());
  const dom::array parts = content.get_array().value_unsafe();
  for (dom::element part : parts) {
    if (!part.is_object()) return invalid("each content part must be an object", param());
    std::string_view part_text;
    if (!part["text"].get_string().get(part_text)) {
      if (!text.empty()) text += '\n';
      text += part_text;
    }
  }
  return std::nullopt;
}

std::optional<Error> read_messages(const dom::object& root, LlmRequest& req) {
  dom::element messages;
  if (root["messages"].get(messages)) return invalid("you must provide a 'messages' parameter", "messages");
  if (!messages.is_array()) return invalid("'messages' must be an array of message objects", "messages");
  dom::array list = messages.get_array().value_unsafe();
  if (list.size() == 0) return invalid("'messages' must contain at least one message", "messages");
  req.messages.reserve(std::min<std::size_t>(list.size(), 64));  // client input: never reserve its claim
  std::size_t i = 0;
  for (dom::element m : list) {
    const std::size_t index = i++;
    if (!m.is_object()) return invalid(message_param(index) + " must be an object", message_param(index));
    std::string_view role;
    if (m["role"].get_string().get(role))
      return invalid(message_param(index) + ".role must be a string", message_param(index) + ".role");
    Message msg{std::string(role), {}};
    dom::element content;
    if (!m["content"].get(content))
      if (auto e = read_content(content, index, msg.text)) return e;
    req.messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

// prompt (completions) or input (embeddings): a string, or an array of
// strings; arrays of token ids pass through without text.
std::optional<Error> read_inputs(const dom::object& root, const char* key, LlmRequest& req) {
  dom::element value;
  if (root[key].get(value)) return invalid(std::string("you must provide an '") + key + "' parameter", key);
  if (value.is_string()) {
    if (req.endpoint == Endpoint::embeddings && value.get_string().value_unsafe().empty())
      return invalid("'input' must not be an empty string", "input");
    req.inputs.emplace_back(value.get_string().value_unsafe());
    return std::nullopt;
  }
  if (!value.is_array()) return invalid(std::string("'") + key + "' must be a string or an array", key);
  const dom::array items = value.get_array().value_unsafe();
  std::size_t token_ids = 0;
  for (dom::element item : items) {
    if (item.is_string()) req.inputs.emplace_back(item.get_string().value_unsafe());
    else if (is_integer(item)) ++token_ids;
    else if (item.is_array()) req.inputs.emplace_back();  // token ids
    else return invalid(std::string("'") + key + "' items must be strings or token arrays", key);
  }
  // A flat array of token ids is one input, as OpenAI reads it.
  if (token_ids > 0) {
    if (token_ids != items.size())
      return invalid(std::string("'") + key + "' must not mix token ids with other items", key);
    req.inputs.emplace_back();
  }
  if (req.endpoint == Endpoint::embeddings && req.inputs.empty()) return invalid("'input' must not be empty", "input");
  return std::nullopt;
}

std::optional<Error> read_options(const dom::object& root, LlmRequest& req) {
  dom::element e;
  if (!root["stream"].get(e) && !e.is_null()) {
    if (!e.is_bool()) return invalid("'stream' must be a boolean", "stream");
    req.stream = e.get_bool().value_unsafe();
  }
  if (!root["stream_options"].get(e) && e.is_object()) {
    dom::element usage;
    if (!e["include_usage"].get(usage)) {
      if (!usage.is_bool()) return invalid("'stream_options.include_usage' must be a boolean", "stream_options.include_usage");
      req.include_usage = usage.get_bool().value_unsafe();
    }
  }
  // Only counted, for the router: the array goes upstream as it came.
  for (const char* key : {"tools", "functions"}) {
    if (req.endpoint == Endpoint::chat_completions && !root[key].get(e) && e.is_array())
      req.tools = std::max(req.tools, e.get_array().value_unsafe().size());
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (root[key].get(e) || e.is_null()) continue;
    if (!e.is_int64() || e.get_int64().value_unsafe() < 0) return invalid(std::string("'") + key + "' must be a non-negative integer", key);
    if (!req.max_tokens) req.max_tokens = e.get_int64().value_unsafe();
  }
  if (req.endpoint == Endpoint::embeddings) {
    if (!root["encoding_format"].get(e) && !e.is_null()) {
      std::string_view f;
      if (e.get_string().get(f) || (f != "float" && f != "base64"))
        return invalid("'encoding_format' must be 'float' or 'base64'", "encoding_format");
      req.encoding_format = f == "base64" ? EncodingFormat::base64 : EncodingFormat::float_array;
    }
    if (!root["dimensions"].get(e) && !e.is_null()) {
      if (!e.is_int64() || e.get_int64().value_unsafe() < 1 || e.get_int64().value_unsafe() > 65536)
        return invalid("'dimensions' must be an integer from 1 to 65536", "dimensions");
      req.dimensions = static_cast<int>(e.get_int64().value_unsafe());
    }
  }
  return std::nullopt;
}

}  // namespace

Result<LlmRequest> parse_request(Endpoint endpoint, std::string body) {
  LlmRequest req;
  auto parsed = begin_request(body, endpoint, req);
  if (!parsed) return std::move(parsed).error();
  const dom::object root = *parsed;

  std::optional<Error> problem;
  switch (endpoint) {
    case Endpoint::chat_completions: problem = read_messages(root, req); break;
    case Endpoint::completions: problem = read_inputs(root, "prompt", req); break;
    case Endpoint::embeddings: problem = read_inputs(root, "input", req); break;
    case Endpoint::messages:
    case Endpoint::count_tokens:
    case Endpoint::responses:  // other dialects: anthropic_wire, responses_wire
      problem = make_error(errc::internal, "not an OpenAI chat, completions or embeddings endpoint");
      break;
  }
  if (!problem) problem = read_options(root, req);
  if (problem) return std::move(*problem);

  end_request(std::move(body), req);
  return req;
}

std::optional<std::string> convert_embeddings(std::string_view body, EncodingFormat wanted) {
  const bool want_base64 = wanted == EncodingFormat::base64;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("data") || !doc["data"].is_array()) return std::nullopt;
  bool changed = false;
  for (auto& item : doc["data"]) {
    if (!item.is_object() || !item.contains("embedding")) continue;
    auto& emb = item["embedding"];
    if (want_base64 && emb.is_array()) {
      std::vector<float> values;
      values.reserve(emb.size());
      for (const auto& x : emb) values.push_back(x.is_number() ? x.get<float>() : 0.0f);
      emb = floats_to_base64(values);
      changed = true;
    } else if (!want_base64 && emb.is_string()) {
      auto values = base64_to_floats(emb.get<std::string>());
      if (!values) return std::nullopt;
      emb = *values;
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return doc.dump();
}

}  // namespace sluice::server

namespace sluice::server {

Result<Call> decode_job_call(std::string_view endpoint, std::string body) {
  for (Endpoint e : {Endpoint::chat_completions, Endpoint::completions, Endpoint::embeddings}) {
    if (to_string(e) != endpoint) continue;
    body.reserve(body.size() + kBodyPadding);
    auto parsed = parse_request(e, std::move(body));
    if (!parsed) return std::move(parsed).error();
    return Call{std::move(parsed).value()};
  }
  // The entry may be anyone's (Redis): the endpoint is quoted only when it
  // reads as a name, so the message stays printable and the body JSON.
  const bool name = !endpoint.empty() && endpoint.size() <= 64 &&
                    endpoint.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-/") == std::string_view::npos;
  if (!name) return make_error(errc::bad_request, "a queued job names an unknown endpoint (not a name)");
  return make_error(errc::bad_request, "a queued job names an unknown endpoint `" + std::string(endpoint) + "`");
}

}  // namespace sluice::server
