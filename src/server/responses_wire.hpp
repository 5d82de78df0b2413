// The OpenAI Responses API at the front door (POST /v1/responses), stateless:
// a client's JSON body validated into an LlmRequest, with the same request
// as chat completions for deployments that do not speak the Responses API
// (LlmRequest::as_chat). Pure; linear in the body's size.
#pragma once

#include <string>

#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::server {

struct ResponsesRequest {
  LlmRequest request;
  // The request's parameters a Response object repeats (instructions,
  // max_output_tokens, metadata, parallel_tool_calls, reasoning,
  // temperature, text, tool_choice, tools, top_p, user...), as members
  // ",\"key\":value..." with the API's defaults for those not given; for
  // answers translated from chat completions.
  std::string echo;
};

// Validates `body` as a Responses request: a malformed one is a
// bad_request naming the field (`input[2].content[0].type`): invalid JSON or
// UTF-8, nesting past kMaxBodyDepth, a top-level key twice, a missing or
// mistyped model, input (a string or items), instructions, tools (objects
// with a type; function tools with a name), tool_choice, max_output_tokens,
// temperature, top_p, text.format, stream, store, background.
//
// The chat-completions translation: instructions as a system message;
// message items (input_text, input_image by URL; developer as system),
// function_call items as the assistant's tool_calls, function_call_output
// items as tool messages; function tools, tool_choice, max_output_tokens
// (as max_tokens), temperature, top_p, parallel_tool_calls, text.format (as
// response_format), reasoning.effort (as reasoning_effort), user. Reasoning
// items, include, truncation, metadata and service_tier are dropped.
// Refused (untranslatable, a 400 naming the parameter) because only the
// Responses API itself can honour them: store: true, previous_response_id,
// conversation, prompt, background: true, top_logprobs, built-in tools
// (web search, file search, computer use, code interpreter, MCP...) and
// tool_choice naming one, input items only the API keeps (item_reference,
// built-in tool calls), input_file and file_id images.
Result<ResponsesRequest> parse_responses_request(std::string body);

}  // namespace sluice::server
