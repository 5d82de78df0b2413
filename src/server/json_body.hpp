// Client JSON bodies as every inbound dialect reads them (openai_wire,
// anthropic_wire, responses_wire), and the small readers the dialects share
// for bodies and answers: validated once with simdjson's DOM parser
// (UTF-8, grammar, nesting depth), a JSON object at the top with no key
// twice among its members, and the byte span of its "model" value, so the
// body can go upstream as the client sent it with only that token replaced.
// Linear in the body's size, whatever its shape.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "openai_wire.hpp"  // kBodyPadding
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

static_assert(kBodyPadding >= simdjson::SIMDJSON_PADDING);

// Nesting deeper than this is refused: no API's request needs a tenth of it.
inline constexpr std::size_t kMaxBodyDepth = 256;

// A bad_request naming `param` (empty: none).
inline Error invalid(std::string message, std::string param = {}) {
  return make_error(errc::bad_request, std::move(message), std::move(param));
}

// `body` parsed with this thread's parser: the top-level object, valid until
// the next parse_body_object on this thread. Errors (bad_request): invalid
// UTF-8, malformed JSON, nesting deeper than kMaxBodyDepth, not an object, a
// top-level key given twice (the gateway would route on one value while the
// upstream obeys the other).
Result<simdjson::dom::object> parse_body_object(std::string& body);

// A request begun from `body`: parsed (parse_body_object), `req`'s endpoint
// and model (read_model) set; the top-level object, as parse_body_object's.
Result<simdjson::dom::object> begin_request(std::string& body, Endpoint endpoint, LlmRequest& req);
// The request ended: `body` kept in it, its model located (locate_model).
void end_request(std::string body, LlmRequest& req);

// The top-level "model": a non-empty string, else a bad_request naming it.
Result<std::string_view> read_model(const simdjson::dom::object& root);

// Sets req.model_offset / model_length to the byte span of the top-level
// "model" value (quotes included) in `body`, so body_for_model() can replace
// it. Keys are compared unescaped, as the DOM parse reads them.
void locate_model(const std::string& body, LlmRequest& req);

// A key that appears twice among the object's keys, if any; O(n log n) at
// worst, pairwise for a handful of keys.
std::optional<std::string_view> first_duplicate_key(const simdjson::dom::object& object);

inline bool is_integer(const simdjson::dom::element& e) { return e.is_int64() || e.is_uint64(); }

// A member as a string; "" when absent or not a string.
template <class Json>
std::string_view string_at(const Json& e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return {};
  return s;
}

// The member, when present and not null.
template <class Json>
std::optional<simdjson::dom::element> member(const Json& e, std::string_view key) {
  simdjson::dom::element v;
  if (e[key].get(v) || v.is_null()) return std::nullopt;
  return v;
}

// The "usage" object of a chat completion or chunk (prompt_tokens,
// completion_tokens, prompt_tokens_details.cached_tokens); unknown when
// absent or null.
Usage chat_usage(const simdjson::dom::element& answer);

// The element as an array, by value (empty when it is none): ranging over
// `e.get_array().value_unsafe()` would range over a temporary's member.
inline simdjson::dom::array array_of(const simdjson::dom::element& e) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) return {};
  return a;
}

}  // namespace sluice::server
