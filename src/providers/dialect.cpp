#include "dialect.hpp"

#include <stdexcept>

#include "azure.hpp"
#include "ollama.hpp"
#include "openai.hpp"
#include "sluice/core/json_text.hpp"

namespace sluice::providers {

namespace {

Error map_openai_error(std::string_view provider, Endpoint, int status, std::string_view body,
                       const net::ResponseHead& head) {
  return map_upstream_error(provider, status, body, head);
}

}  // namespace

Dialect openai_dialect(const ProviderConfig& config, std::string_view base_path) {
  Dialect d;
  d.prefix = std::string(base_path);
  if (!config.api_key.empty()) {
    d.auth_header = "Authorization";
    d.auth_value = "Bearer " + config.api_key;
  }
  d.map_error = &map_openai_error;
  if (config.responses_api == ResponsesApi::native) d.responses_target = d.prefix + "/responses";
  return d;
}

Dialect make_dialect(const ProviderConfig& config, std::string_view base_path) {
  switch (config.type) {
    case ProviderType::openai: return openai_dialect(config, base_path);
    case ProviderType::azure: return azure_dialect(config, base_path);
    case ProviderType::ollama: return ollama_dialect(config, base_path);
    case ProviderType::anthropic:
    case ProviderType::mock: break;
  }
  throw std::logic_error("provider '" + config.name + "': not an OpenAI-compatible type");
}

std::string request_target(const Dialect& dialect, Endpoint endpoint, std::string_view upstream_model) {
  if (endpoint == Endpoint::responses) return dialect.responses_target;
  const std::string_view path = upstream_path(endpoint);
  std::string target;
  target.reserve(dialect.prefix.size() + upstream_model.size() + path.size() + dialect.query.size() + 8);
  target += dialect.prefix;
  if (dialect.model_in_path) target += encode_path_segment(upstream_model);
  target += path;
  target += dialect.query;
  return target;
}

std::string encode_path_segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool only_dots = text.find_first_not_of('.') == std::string_view::npos;
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '~' || (c == '.' && !only_dots);
    if (plain) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string openai_error_json(std::string_view message, std::string_view type, std::string_view param,
                              std::string_view code) {
  auto string_or_null = [](std::string& out, std::string_view s) {
    if (s.empty()) out += "null";
    else append_json_string(out, s);
  };
  std::string out = R"({"error":{"message":)";
  append_json_string(out, message);
  out += R"(,"type":)";
  append_json_string(out, type);
  out += R"(,"param":)";
  string_or_null(out, param);
  out += R"(,"code":)";
  string_or_null(out, code);
  out += "}}";
  return out;
}

}  // namespace sluice::providers
