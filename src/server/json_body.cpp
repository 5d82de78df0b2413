#include "json_body.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace sluice::server {

namespace dom = simdjson::dom;

Result<dom::object> parse_body_object(std::string& body) {
  static thread_local dom::parser parser;
  static thread_local bool sized = false;
  if (!sized) {
    // The depth bound is the parser's: a deeper body fails to parse, before
    // any of our code walks it.
    if (parser.allocate(64u << 10, kMaxBodyDepth)) return invalid("the gateway could not set up its JSON parser");
    sized = true;
  }
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  if (!simdjson::validate_utf8(body.data(), body.size())) return invalid("request body is not valid UTF-8");
  dom::element root_element;
  if (auto ec = parser.parse(body.data(), body.size(), false).get(root_element)) {
    if (ec == simdjson::DEPTH_ERROR)
      return invalid("request body is nested deeper than " + std::to_string(kMaxBodyDepth) + " levels");
    return invalid(std::string("request body is not valid JSON: ") + simdjson::error_message(ec));
  }
  dom::object root;
  if (root_element.get_object().get(root)) return invalid("request body must be a JSON object");
  if (auto duplicate = first_duplicate_key(root))
    return invalid("duplicate key '" + std::string(*duplicate) + "' in request body", std::string(*duplicate));
  return root;
}

Result<dom::object> begin_request(std::string& body, Endpoint endpoint, LlmRequest& req) {
  auto root = parse_body_object(body);
  if (!root) return root;
  auto model = read_model(*root);
  if (!model) return std::move(model).error();
  req.endpoint = endpoint;
  req.model = std::string(*model);
  return root;
}

void end_request(std::string body, LlmRequest& req) {
  req.body = std::move(body);
  locate_model(req.body, req);
}

Result<std::string_view> read_model(const dom::object& root) {
  std::string_view model;
  if (root["model"].get_string().get(model) || model.empty())
    return invalid("you must provide a model parameter (a non-empty string)", "model");
  return model;
}

std::optional<std::string_view> first_duplicate_key(const dom::object& object) {
  // Comparing every pair is quadratic: 40,000 keys stalled the event loop
  // for seconds. A request's handful of keys is compared pairwise in place;
  // more are sorted.
  constexpr std::size_t kPairwiseUpTo = 16;
  std::array<std::string_view, kPairwiseUpTo> few;
  std::size_t n = 0;
  for (auto field : object) {
    if (n == kPairwiseUpTo) break;
    for (std::size_t i = 0; i < n; ++i)
      if (few[i] == field.key) return field.key;
    few[n++] = field.key;
  }
  if (n < kPairwiseUpTo) return std::nullopt;
  std::vector<std::string_view> keys;
  keys.reserve(object.size());
  for (auto field : object) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  const auto twice = std::adjacent_find(keys.begin(), keys.end());
  if (twice == keys.end()) return std::nullopt;
  return *twice;
}

Usage chat_usage(const dom::element& answer) {
  Usage u;
  dom::object usage;
  if (answer["usage"].get_object().get(usage)) return u;
  std::int64_t n = 0;
  u.known = true;
  if (!usage["prompt_tokens"].get_int64().get(n)) u.prompt_tokens = n;
  if (!usage["completion_tokens"].get_int64().get(n)) u.completion_tokens = n;
  if (!usage.at_pointer("/prompt_tokens_details/cached_tokens").get_int64().get(n)) u.cached_tokens = n;
  return u;
}

void locate_model(const std::string& body, LlmRequest& req) {
  static thread_local simdjson::ondemand::parser parser;
  auto doc = parser.iterate(body.data(), body.size(), body.capacity());
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return;
  // Keys compared unescaped, as the DOM parse read them: {"\u006dodel":..}
  // is the model too, and find_field() would miss it.
  std::string_view raw;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return;
    if (key != "model") continue;
    if (field.value().raw_json_token().get(raw)) return;
    break;
  }
  if (raw.empty()) return;
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
    raw.remove_suffix(1);
  req.model_offset = static_cast<std::size_t>(raw.data() - body.data());
  req.model_length = raw.size();
}

}  // namespace sluice::server
