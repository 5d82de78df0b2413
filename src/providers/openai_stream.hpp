// Streams from OpenAI-compatible upstreams: asking the upstream for usage on
// the gateway's behalf, and relaying its SSE events with the chunks a client
// must not see taken out.
//
// The pool settles token budgets with a stream's real usage, but these
// upstreams report usage in a stream only when stream_options.include_usage
// is true. When the client did not ask for it, the gateway asks
// (body_requesting_usage) and drops the extra usage-only chunk again
// (StreamFilter::strip_usage), so the client sees the stream it asked for.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/request.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::providers {

// The client's body with "model" set to `upstream_model` and
// stream_options.include_usage set to true: added when stream_options is
// absent or null, inserted when it lacks include_usage, rewritten when it is
// false; every other byte stays as the client sent it. nullopt when
// stream_options is neither an object nor null (the upstream will refuse it;
// the gateway does not guess).
std::optional<std::string> body_requesting_usage(const LlmRequest& req, std::string_view upstream_model);

struct StreamFilter {
  // Drop events whose "choices" is empty and that carry no usage object
  // (Azure's prompt_filter_results chunk).
  bool drop_empty_choices = false;
  // The gateway asked for usage: drop the usage-only chunk (empty "choices"
  // plus a usage object) and the `,"usage":null` other chunks carry. usage()
  // still reports it.
  bool strip_usage = false;
  // A Responses API stream: no `data: [DONE]`; it ends with its terminal
  // event (response.completed, response.incomplete, response.failed or
  // error), and its usage is the one in response.usage.
  bool responses = false;
};

// Byte checks on one raw SSE event, deciding without a JSON parse. A key
// matches only where it is structural: a quote inside a JSON string is
// always escaped, so `"usage"` preceded by a backslash is text.
// The position just after `"key"`, its colon and whitespace; npos when absent.
std::size_t find_json_value(std::string_view event, std::string_view quoted_key);
bool has_empty_choices(std::string_view event);
bool has_usage_object(std::string_view event);

// Relays an OpenAI SSE stream event by event (never half an event), noting
// usage and insisting on the terminating `data: [DONE]` (a Responses stream:
// its terminal event): a stream that just stops is an error, because SDKs
// would accept it silently as complete. An
// event whose data is neither `[DONE]` nor a JSON object, or one over
// SseFramer's limit, ends the stream with upstream_protocol after the events
// before it (comments and events without data pass).
std::unique_ptr<ChunkStream> make_openai_chunk_stream(std::unique_ptr<net::BodyReader> body, std::string provider,
                                                      StreamFilter filter);

}  // namespace sluice::providers
