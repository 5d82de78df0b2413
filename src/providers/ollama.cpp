#include "ollama.hpp"

#include <simdjson.h>

#include "openai.hpp"

namespace sluice::providers {

namespace dom = simdjson::dom;

Dialect ollama_dialect(const ProviderConfig& config, std::string_view base_path) {
  Dialect d = openai_dialect(config, base_path);
  d.prefix = std::string(base_path) + "/v1";
  d.responses_target.clear();  // Ollama's OpenAI API has no /v1/responses: sent as chat completions
  d.map_error = &map_ollama_error;
  d.models_path = std::string(base_path) + "/api/tags";
  d.parse_models = &parse_ollama_tags;
  return d;
}

std::optional<std::vector<std::string>> parse_ollama_tags(std::string_view body) {
  dom::parser parser;
  dom::array models;
  if (parser.parse(body.data(), body.size())["models"].get_array().get(models)) return std::nullopt;
  std::vector<std::string> names;
  names.reserve(models.size());
  for (dom::element m : models) {
    std::string_view name;
    if (m["name"].get_string().get(name) && m["model"].get_string().get(name)) continue;
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

Error map_ollama_error(std::string_view provider, Endpoint, int status, std::string_view body,
                       const net::ResponseHead& head) {
  dom::parser parser;
  dom::element error;
  if (parser.parse(body.data(), body.size())["error"].get(error))
    return map_upstream_error(provider, status, body, head);
  std::string_view message, type, code;
  if (error.get_string().get(message)) {             // not the native string
    if (error["message"].get_string().get(message))  // nor OpenAI's object
      return map_upstream_error(provider, status, body, head);
    if (error["type"].get_string().get(type)) type = {};
    if (error["code"].get_string().get(code)) code = {};
  }
  if (status == 404)
    return map_upstream_error(provider, status,
                              openai_error_json(message, "invalid_request_error", "model", "model_not_found"), head);
  return map_upstream_error(provider, status,
                            openai_error_json(message, type.empty() ? "invalid_request_error" : type, {}, code), head);
}

}  // namespace sluice::providers
