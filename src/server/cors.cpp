#include "cors.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace sluice::server {

namespace {

constexpr std::string_view kAllowMethods = "GET, POST, HEAD, OPTIONS";
// What the OpenAI and Anthropic SDKs read from an answer (request-id is
// the Anthropic SDKs' requestID); a browser hides every other header from
// the page unless it is listed here.
constexpr std::string_view kExposeHeaders =
    "x-request-id, request-id, x-should-retry, retry-after, retry-after-ms, x-ratelimit-limit-requests, "
    "x-ratelimit-remaining-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, "
    "x-sluice-provider, x-sluice-model, x-sluice-tier, x-sluice-route-reason, x-sluice-cache, x-sluice-cache-key, "
    "x-sluice-cache-similarity";

bool is_wildcard(const CorsConfig& cors) {
  return std::find(cors.allowed_origins.begin(), cors.allowed_origins.end(), "*") != cors.allowed_origins.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The value of Access-Control-Allow-Origin for this request's Origin: "*",
// the origin itself, or "" when it is not allowed (or there is none).
std::string allowed_origin(const CorsConfig& cors, std::string_view origin) {
  if (origin.empty()) return {};
  if (is_wildcard(cors)) return "*";
  for (const std::string& allowed : cors.allowed_origins)
    if (iequals(allowed, origin)) return std::string(origin);
  return {};
}

// Access-Control-Request-Headers as sent when it is a plain list of header
// names (tokens, commas, spaces), which is all a browser sends; "" otherwise.
std::string_view requested_headers(const HeaderLookup& header) {
  const std::string_view value = header("access-control-request-headers");
  constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
  const bool plain = std::all_of(value.begin(), value.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ',' || c == ' ' ||
           kTokenSymbols.find(c) != std::string_view::npos;
  });
  return plain ? value : std::string_view{};
}

}  // namespace

bool is_preflight(std::string_view method, const HeaderLookup& header) {
  return method == "OPTIONS" && !header("origin").empty() && !header("access-control-request-method").empty();
}

Reply preflight_reply(const CorsConfig& cors, const HeaderLookup& header) {
  Reply reply;
  reply.status = 204;
  reply.content_type = {};
  reply.headers.push_back({"vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"});
  std::string origin = allowed_origin(cors, header("origin"));
  if (origin.empty()) return reply;
  reply.headers.push_back({"access-control-allow-origin", std::move(origin)});
  reply.headers.push_back({"access-control-allow-methods", std::string(kAllowMethods)});
  if (const std::string_view asked = requested_headers(header); !asked.empty())
    reply.headers.push_back({"access-control-allow-headers", std::string(asked)});
  reply.headers.push_back({"access-control-max-age", std::to_string(cors.max_age.count() / 1000)});
  return reply;
}

void add_cors_headers(const CorsConfig& cors, const HeaderLookup& header, Reply& reply) {
  const bool wildcard = is_wildcard(cors);
  if (!wildcard) reply.headers.push_back({"vary", "Origin"});
  std::string origin = allowed_origin(cors, header("origin"));
  if (origin.empty()) return;
  reply.headers.push_back({"access-control-allow-origin", std::move(origin)});
  reply.headers.push_back({"access-control-expose-headers", std::string(kExposeHeaders)});
}

}  // namespace sluice::server
