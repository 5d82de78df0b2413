// The OpenAI inbound dialect (Chat Completions, Completions, Embeddings):
// validating a client's JSON body into an LlmRequest, and the small rewrites
// answers may need on the way back. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

// Bytes of spare capacity the body parsers want behind a body (the JSON
// parser reads past the end): a body read with this much room is validated
// in place, without a copy. (Here rather than in json_body.hpp, so that the
// session, which reads bodies, does not compile simdjson.)
inline constexpr std::size_t kBodyPadding = 64;

// Validates `body` for `endpoint` and extracts what the gateway needs. Every
// problem is a bad_request naming the offending field in `param`: invalid
// UTF-8, malformed JSON, a body that is not an object, duplicate top-level
// keys, a missing or mistyped model / messages / prompt / input, a bad
// stream, max_tokens, encoding_format or dimensions. Linear in the body's
// size, whatever its shape (a body is client input: no quadratic corner).
Result<LlmRequest> parse_request(Endpoint endpoint, std::string body);

// Embeddings: when the upstream answered floats but the client asked for
// base64 (or the other way round), the body rewritten to what the client
// asked for; nullopt when it already matches (the common case) or cannot be
// read. The OpenAI SDKs ask for base64 by default and silently misread a
// float array.
std::optional<std::string> convert_embeddings(std::string_view body, EncodingFormat wanted);

}  // namespace sluice::server
