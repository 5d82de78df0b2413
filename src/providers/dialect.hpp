// How an OpenAI-compatible upstream differs from OpenAI itself: where a
// request goes, how the key is sent, which stream chunks must not reach a
// client, how its error bodies read and how it lists its models. One
// OpenAiProvider serves every dialect; the per-vendor parts are the small
// pure functions in azure.cpp and ollama.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"
#include "sluice/net/http_client.hpp"

namespace sluice::providers {

// Maps a non-2xx upstream answer to the Error the client sees.
using ErrorMapper = Error (*)(std::string_view provider, Endpoint endpoint, int status, std::string_view body,
                              const net::ResponseHead& head);
// Model names from a model-list body; nullopt when the body is not the expected shape.
using ModelsParser = std::optional<std::vector<std::string>> (*)(std::string_view body);

struct Dialect {
  // Request target: prefix [+ percent-encoded upstream model] + "/chat/completions" etc. + query.
  std::string prefix;
  bool model_in_path = false;  // Azure's deployment route names the deployment in the path
  std::string query;           // e.g. "?api-version=2024-10-21"; empty for none
  // The whole target of POST /responses (path and query); empty when the
  // dialect does not speak the Responses API (its requests are then sent
  // as chat completions).
  std::string responses_target;
  // The credential header; empty name: none is sent.
  std::string auth_header;
  std::string auth_value;
  // Streams: drop chunks whose "choices" is empty and that carry no usage
  // (Azure's prompt_filter_results chunk), which crash clients reading choices[0].
  bool drop_empty_choices = false;
  // The upstream honours stream_options.include_usage, so a stream the client
  // did not ask usage for may ask for it on the gateway's behalf.
  bool stream_usage = true;
  ErrorMapper map_error = nullptr;
  // GET this path (below the origin) to list the upstream's models; empty: cannot list.
  std::string models_path;
  ModelsParser parse_models = nullptr;
};

// The dialect a provider entry describes (type openai, azure or ollama).
// `base_path` is the path of the configured base_url, without a trailing '/'.
Dialect make_dialect(const ProviderConfig& config, std::string_view base_path);
Dialect openai_dialect(const ProviderConfig& config, std::string_view base_path);

// path + query of the upstream request (for responses: Dialect::responses_target).
std::string request_target(const Dialect& dialect, Endpoint endpoint, std::string_view upstream_model);

// `text` as one URL path segment: every byte but A-Z a-z 0-9 - _ ~ . is
// percent-encoded, and a segment of only dots is encoded whole, so a
// configured name can never step out of its place in the path.
std::string encode_path_segment(std::string_view text);

// {"error":{"message","type","param","code"}}; empty param/code render as null.
std::string openai_error_json(std::string_view message, std::string_view type, std::string_view param,
                              std::string_view code);

}  // namespace sluice::providers
