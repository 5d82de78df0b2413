// Azure OpenAI: OpenAI's wire format behind a different URL and key header.
// Dated API versions address a deployment in the path
//   {base}/openai/deployments/{deployment}/chat/completions?api-version=V
// and api_version "v1" selects the newer route with the model in the body
//   {base}/openai/v1/chat/completions
// The key goes in `api-key`. Streams open with a chunk whose "choices" is
// empty (prompt_filter_results), which the dialect drops; a prompt rejected
// by the content filter is a 400 whose body this file rewrites for clients.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dialect.hpp"

namespace sluice::providers {

Dialect azure_dialect(const ProviderConfig& config, std::string_view base_path);

// Whether `api_version` accepts stream_options (2024-08-01 and later, and v1);
// older versions refuse the unknown parameter with a 400.
bool azure_accepts_stream_options(std::string_view api_version);

// Whether `api_version` has the Responses API (v1, and the previews from
// 2025-03-01-preview on); with older versions /v1/responses is translated.
bool azure_has_responses_api(std::string_view api_version);

// The Error for a non-2xx Azure answer. A content-filter refusal (400,
// error.code "content_filter" or innererror.code ResponsibleAIPolicyViolation)
// becomes an OpenAI-shaped 400 with code "content_filter", a message naming
// the filtered categories, and param "messages" / "prompt" / "input" by
// endpoint; it is not retryable. Azure's other bodies ({"error":{"code":
// "DeploymentNotFound","message":..}} and the gateway-style {"statusCode":..,
// "message":..}) are completed to the OpenAI shape, keeping Azure's code, then
// mapped like OpenAI's (map_upstream_error): status, retry-after, credentials.
Error map_azure_error(std::string_view provider, Endpoint endpoint, int status, std::string_view body,
                      const net::ResponseHead& head);

// The categories Azure's filter flagged in a content-filter error body, in
// body order ("hate", "jailbreak", ...); empty when none is marked filtered.
std::vector<std::string> azure_filtered_categories(std::string_view body);

}  // namespace sluice::providers
