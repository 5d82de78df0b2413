// The Anthropic Messages dialect at the front door (POST /v1/messages and
// /v1/messages/count_tokens): a client's JSON body validated into an
// LlmRequest, and the same request translated to chat completions for the
// deployments whose provider does not speak Messages (LlmRequest::as_chat).
// Pure functions; linear in the body's size, whatever its shape.
#pragma once

#include <string>

#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

// Validates `body` as a Messages request for `endpoint` (messages or
// count_tokens) and extracts what the gateway needs: model and its span,
// stream, max_tokens, and the prompt's texts (system, message text, tool
// inputs and results, tool definitions) for token estimates.
//
// A malformed body is a bad_request naming the field in Anthropic's dotted
// form (`messages.2.content.0.type`): invalid JSON or UTF-8, nesting past
// kMaxBodyDepth, a top-level key twice, a missing or mistyped model,
// messages (non-empty, roles user / assistant, content a string or blocks
// with a type), system, max_tokens (required for messages), stream,
// stop_sequences, temperature, top_p, top_k, tools, tool_choice, metadata.
//
// For messages the result also carries its chat-completions translation
// (as_chat), or, when the request uses what chat completions cannot honour,
// the 400 naming it (untranslatable): server and Anthropic-defined tools
// (`tools.N.type`), MCP servers, containers, max_tokens 0, image and
// document sources other than base64, URL and text, images in tool
// results, server-tool and other blocks chat has no form for. What the
// target cannot use is dropped: cache_control, thinking (and thinking
// blocks in history), top_k, service_tier, context_management, is_error.
// count_tokens requests carry no translation.
Result<LlmRequest> parse_messages_request(Endpoint endpoint, std::string body);

// The gateway's own count for POST /v1/messages/count_tokens when no
// deployment can count (about four characters a token, plus a few per
// message): {"input_tokens":N}.
std::string estimated_count_tokens_body(const LlmRequest& req);

}  // namespace sluice::server
