// Provider-neutral view of one API request, as admission parsed it. The
// client's JSON body is kept verbatim: upstreams that speak the request's
// API receive it with unknown fields untouched, only "model" replaced when
// the deployment names another model.
//
// How an inbound dialect travels: `endpoint` names the API the client called
// (OpenAI chat completions, Anthropic messages, OpenAI responses...) and
// `body` is its request as sent. A request in a dialect other than chat
// completions also carries `as_chat`, the same request translated to chat
// completions by the front door, for the deployments whose provider does
// not speak the dialect (Provider::speaks); the answer then comes back as
// chat completions (Answer::format) and the front door translates it back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/error.hpp"
#include "sluice/core/header.hpp"

namespace sluice {

// The APIs a client may call. messages and count_tokens are Anthropic's
// (/v1/messages, /v1/messages/count_tokens); responses is OpenAI's
// Responses API; the others are OpenAI's.
enum class Endpoint { chat_completions, completions, embeddings, messages, count_tokens, responses };

std::string_view to_string(Endpoint e) noexcept;
// The path of the API below a provider's API root, e.g. "/chat/completions"
// (OpenAI's root ends in /v1), "/messages" (Anthropic's root is the server's
// /v1).
std::string_view upstream_path(Endpoint e) noexcept;

enum class EncodingFormat { unspecified, float_array, base64 };

struct Message {
  std::string role;
  std::string text;  // string content, or the text parts of an array content joined by "\n"
};

struct LlmRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string body;                  // the client's JSON, validated, as received
  std::string model;
  std::size_t model_offset = 0;      // byte span of the "model" value (with quotes) in body
  std::size_t model_length = 0;
  bool stream = false;
  bool include_usage = false;        // stream_options.include_usage
  std::optional<std::int64_t> max_tokens;  // max_completion_tokens, else max_tokens
  std::vector<Message> messages;     // chat
  std::size_t tools = 0;             // chat: entries of "tools" (or the older "functions") offered
  std::vector<std::string> inputs;   // completions: prompt(s); embeddings: input(s)
  EncodingFormat encoding_format = EncodingFormat::unspecified;
  std::optional<int> dimensions;     // embeddings

  // Dialects other than chat completions: the request as chat completions,
  // for a deployment that does not speak `endpoint`; null when it cannot be
  // translated, and then `untranslatable` is the 400 such a deployment
  // answers (a parameter only the dialect's own API honours).
  std::shared_ptr<const LlmRequest> as_chat;
  std::optional<Error> untranslatable;
  // Client headers an upstream speaking `endpoint` natively should see
  // (Anthropic's anthropic-version and anthropic-beta), checked for line breaks.
  std::vector<Header> forward_headers;

  // The body with "model" replaced by `upstream_model` (the body itself when equal).
  std::string body_for_model(std::string_view upstream_model) const;
  // Characters of prompt text, for token estimates.
  std::size_t prompt_chars() const;
};

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool known = false;  // the upstream reported usage
  std::int64_t cached_tokens = 0;  // of prompt_tokens, served from the provider's prompt cache
};

// A rough token estimate (about four characters a token), used where a
// tokenizer would be overkill: mock usage, and capacity estimates later.
inline std::int64_t estimate_tokens(std::size_t chars) { return static_cast<std::int64_t>((chars + 3) / 4); }

}  // namespace sluice
