#include "azure.hpp"

#include <simdjson.h>

#include "openai.hpp"

namespace sluice::providers {

namespace dom = simdjson::dom;

namespace {

std::string_view string_at(const dom::element& e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return {};
  return s;
}

std::string_view prompt_param(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::chat_completions: return "messages";
    case Endpoint::completions: return "prompt";
    case Endpoint::embeddings: return "input";
    case Endpoint::messages:
    case Endpoint::count_tokens: return "messages";
    case Endpoint::responses: return "input";
  }
  return {};
}

bool is_content_filter(const dom::element& error) {
  std::string_view inner_code;
  if (error["innererror"]["code"].get_string().get(inner_code)) inner_code = {};
  return string_at(error, "code") == "content_filter" || inner_code == "ResponsibleAIPolicyViolation";
}

Error content_filter_error(Endpoint endpoint, std::string_view body) {
  const std::vector<std::string> categories = azure_filtered_categories(body);
  std::string message = "Azure's content filter rejected the prompt";
  if (!categories.empty()) {
    message += " (filtered: ";
    for (std::size_t i = 0; i < categories.size(); ++i) message += (i ? ", " : "") + categories[i];
    message += ')';
  }
  message += "; change the prompt and try again";
  const std::string_view param = prompt_param(endpoint);
  Error e = make_error(errc::upstream_rejected, message, std::string(param));
  e.http_status = 400;
  // Rendered here rather than by core's error_body(), whose table has no
  // "content_filter" code: clients branch on it (OpenAI and Azure SDKs do).
  e.upstream_body = openai_error_json(message, "invalid_request_error", param, "content_filter");
  return e;
}

}  // namespace

bool azure_accepts_stream_options(std::string_view api_version) {
  return api_version == "v1" || api_version >= std::string_view("2024-08-01");
}

bool azure_has_responses_api(std::string_view api_version) {
  return api_version == "v1" || api_version >= std::string_view("2025-03-01");
}

Dialect azure_dialect(const ProviderConfig& config, std::string_view base_path) {
  Dialect d;
  if (config.api_version == "v1") {
    d.prefix = std::string(base_path) + "/openai/v1";
  } else {
    d.prefix = std::string(base_path) + "/openai/deployments/";
    d.model_in_path = true;
    d.query = "?api-version=" + encode_path_segment(config.api_version);
  }
  if (!config.api_key.empty()) {
    d.auth_header = "api-key";
    d.auth_value = config.api_key;
  }
  // The Responses API has no deployment route: the deployment goes in the
  // body's model, under /openai/v1/ or, with a dated preview version that
  // has it, /openai/responses.
  if (config.responses_api == ResponsesApi::native) {
    if (config.api_version == "v1") d.responses_target = d.prefix + "/responses";
    else if (azure_has_responses_api(config.api_version))
      d.responses_target = std::string(base_path) + "/openai/responses" + d.query;
  }
  d.drop_empty_choices = true;
  d.stream_usage = azure_accepts_stream_options(config.api_version);
  d.map_error = &map_azure_error;
  return d;
}

std::vector<std::string> azure_filtered_categories(std::string_view body) {
  std::vector<std::string> out;
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root)) return out;
  dom::object results;
  // content_filter_result in the documented body; content_filter_results in some versions.
  if (root["error"]["innererror"]["content_filter_result"].get_object().get(results) &&
      root["error"]["innererror"]["content_filter_results"].get_object().get(results))
    return out;
  for (auto [key, value] : results) {
    bool filtered = false;
    if (!value["filtered"].get_bool().get(filtered) && filtered) out.emplace_back(key);
  }
  return out;
}

Error map_azure_error(std::string_view provider, Endpoint endpoint, int status, std::string_view body,
                      const net::ResponseHead& head) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) || !root.is_object())
    return map_upstream_error(provider, status, body, head);
  dom::element error;
  if (!root["error"].get(error) && error.is_object()) {
    if (status == 400 && is_content_filter(error)) return content_filter_error(endpoint, body);
  } else {
    error = root;  // {"statusCode":401,"message":"..."}, as Azure's gateway answers
  }
  const std::string_view message = string_at(error, "message");
  if (message.empty()) return map_upstream_error(provider, status, body, head);
  const std::string_view type = string_at(error, "type");
  const std::string normalized = openai_error_json(message, type.empty() ? "invalid_request_error" : type,
                                                   string_at(error, "param"), string_at(error, "code"));
  return map_upstream_error(provider, status, normalized, head);
}

}  // namespace sluice::providers
