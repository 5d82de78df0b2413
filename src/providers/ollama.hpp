// Ollama: its OpenAI-compatible API lives under /v1 below the configured
// base_url (which names the server, e.g. http://127.0.0.1:11434), no key
// unless one is configured (a proxy in front may want one). Models are listed
// by the native GET /api/tags. Native endpoints answer errors as
// {"error":"model 'x' not found"}, a string rather than OpenAI's object.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialect.hpp"

namespace sluice::providers {

Dialect ollama_dialect(const ProviderConfig& config, std::string_view base_path);

// The model names in a GET /api/tags answer ({"models":[{"name":"llama3.1:8b",..}]}),
// in order; nullopt when the body is not that shape.
std::optional<std::vector<std::string>> parse_ollama_tags(std::string_view body);

// The Error for a non-2xx Ollama answer, in either of its shapes: the
// message is kept, a 404 is an unknown model (code model_not_found, param
// model), and status, retry-after and credentials are then handled as for
// OpenAI (map_upstream_error).
Error map_ollama_error(std::string_view provider, Endpoint endpoint, int status, std::string_view body,
                       const net::ResponseHead& head);

}  // namespace sluice::providers
