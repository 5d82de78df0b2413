// The one table from error code to HTTP status, OpenAI error type and
// retryability, and the OpenAI error body.
#include "sluice/core/error.hpp"

#include "sluice/core/json_text.hpp"

namespace sluice {
namespace {

struct Row {
  errc code;
  std::string_view name;
  ErrorTraits traits;
};

// Statuses are those an OpenAI SDK maps to the right exception class. The
// last two columns: may the client retry (`x-should-retry`), does the gateway
// try another deployment.
constexpr Row kTable[] = {
    {errc::bad_request, "bad_request", {400, "invalid_request_error", "", false, false}},
    {errc::unsupported_encoding, "unsupported_encoding", {400, "invalid_request_error", "unsupported_transfer_encoding", false, false}},
    {errc::unauthorized, "unauthorized", {401, "authentication_error", "invalid_api_key", false, false}},
    {errc::peer_not_allowed, "peer_not_allowed", {403, "permission_error", "peer_not_allowed", false, false}},
    {errc::model_not_allowed, "model_not_allowed", {403, "permission_error", "model_not_allowed", false, false}},
    {errc::budget_exceeded, "budget_exceeded", {403, "insufficient_quota", "budget_exceeded", false, false}},
    {errc::not_found, "not_found", {404, "invalid_request_error", "unknown_url", false, false}},
    {errc::model_not_found, "model_not_found", {404, "invalid_request_error", "model_not_found", false, false}},
    {errc::method_not_allowed, "method_not_allowed", {405, "invalid_request_error", "method_not_allowed", false, false}},
    {errc::request_timeout, "request_timeout", {408, "invalid_request_error", "request_timeout", true, false}},
    {errc::payload_too_large, "payload_too_large", {413, "invalid_request_error", "request_too_large", false, false}},
    {errc::headers_too_large, "headers_too_large", {431, "invalid_request_error", "headers_too_large", false, false}},
    {errc::rate_limited, "rate_limited", {429, "rate_limit_exceeded", "rate_limit_exceeded", true, false}},
    {errc::upstream_rejected, "upstream_rejected", {400, "invalid_request_error", "", false, false}},
    {errc::upstream_rate_limited, "upstream_rate_limited", {429, "rate_limit_exceeded", "rate_limit_exceeded", true, true}},
    {errc::upstream_unavailable, "upstream_unavailable", {502, "upstream_error", "upstream_unavailable", true, true}},
    {errc::upstream_timeout, "upstream_timeout", {504, "upstream_error", "upstream_timeout", true, true}},
    {errc::upstream_protocol, "upstream_protocol", {502, "upstream_error", "upstream_protocol_error", true, true}},
    // Another deployment (another account, another key) may serve; this one
    // is not asked again, and a client retry would meet the same refusal.
    {errc::upstream_auth, "upstream_auth", {502, "upstream_error", "upstream_credentials_refused", false, true}},
    {errc::cancelled, "cancelled", {499, "request_cancelled", "", false, false}},
    {errc::overloaded, "overloaded", {503, "server_error", "overloaded", true, false}},
    {errc::shutting_down, "shutting_down", {503, "server_error", "shutting_down", true, false}},
    // Redis trouble is the gateway's, not a deployment's: another one would
    // meet the same Redis. It reconnects by itself, so a retry may help.
    {errc::redis_unavailable, "redis_unavailable", {503, "server_error", "redis_unavailable", true, false}},
    {errc::internal, "internal", {500, "server_error", "internal_error", true, false}},
};

const Row& row(errc code) noexcept {
  for (const Row& r : kTable)
    if (r.code == code) return r;
  return kTable[std::size(kTable) - 1];
}

}  // namespace

const ErrorTraits& traits(errc code) noexcept { return row(code).traits; }
std::string_view to_string(errc code) noexcept { return row(code).name; }

std::string error_body(const Error& e) {
  if (!e.upstream_body.empty()) return e.upstream_body;
  const ErrorTraits& t = traits(e.code);
  std::string out = R"({"error":{"message":)";
  append_json_string(out, e.message);
  out += R"(,"type":)";
  append_json_string(out, t.type);
  out += R"(,"param":)";
  if (e.param.empty()) out += "null"; else append_json_string(out, e.param);
  out += R"(,"code":)";
  if (t.code.empty()) out += "null"; else append_json_string(out, t.code);
  out += "}}";
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace sluice
