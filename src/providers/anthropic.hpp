// Anthropic (Messages API). Chat completions are translated to POST
// {base_url}/v1/messages, answers, stream events and errors back to OpenAI's
// shapes. A request that is itself in the Messages dialect (a client of
// /v1/messages or /v1/messages/count_tokens) goes through natively: its body
// as the client sent it but for the model, its answer and events relayed as
// they come (checked, usage noted). The translation functions are pure and
// public so tests call them on recorded samples; AnthropicProvider adds the
// HTTP exchange. /v1/completions and /v1/embeddings are refused with a 400.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sluice/core/anthropic_api.hpp"
#include "sluice/core/redact.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::providers {

class AnthropicProvider final : public Provider {
 public:
  // Throws std::runtime_error when base_url is not an http(s) URL (the loader
  // checks it) or the TLS context cannot be set up.
  AnthropicProvider(const ProviderConfig& config, boost::asio::any_io_executor executor);

  const std::string& name() const noexcept override { return config_.name; }
  boost::asio::awaitable<Result<ProviderResponse>> complete(const LlmRequest& req, std::string upstream_model,
                                                            RequestContext& ctx) override;
  boost::asio::awaitable<Result<StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                     RequestContext& ctx) override;
  // Chat completions (translated), messages and count_tokens (native).
  bool speaks(Endpoint endpoint) const noexcept override;

 private:
  // The upstream request, or a 400 for what cannot be translated.
  Result<net::HttpRequest> make_request(const LlmRequest& req, std::string_view upstream_model) const;
  // anthropic-version: the client's (a native request) or the configured
  // one; anthropic-beta: the configured and the client's, joined; the other
  // configured headers.
  void append_headers(const LlmRequest& req, std::vector<Header>& headers) const;

  ProviderConfig config_;
  net::Url base_;
  net::HttpClient client_;
  std::shared_ptr<const Redactor> redactor_;  // see make_redactor (openai.hpp)
};

// --- mapping functions (pure; tested on fixtures) ---

// The client's validated OpenAI chat request as an Anthropic Messages request
// body for `upstream_model`. Fields with no Anthropic meaning are dropped;
// what would change the answer's contract and cannot be honoured (n > 1,
// logprobs, response_format json, audio, unsupported content parts) is an
// errc::bad_request naming the offending `param`. See docs/configuration.md
// for the full list of rules.
Result<std::string> to_anthropic_request(const LlmRequest& req, std::string_view upstream_model,
                                         int default_max_tokens);

struct TranslatedResponse {
  std::string body;  // an OpenAI chat.completion object
  Usage usage;
};

// An Anthropic Message (2xx body) as an OpenAI chat.completion stamped with
// `created` (Unix seconds). Errors: upstream_protocol when the body is not a
// Message.
Result<TranslatedResponse> to_openai_response(std::string_view anthropic_body, std::int64_t created);

// The Error for a non-2xx Anthropic answer ({"type":"error","error":{"type",
// "message"}}), in OpenAI's shape: the status decides (upstream_status_error,
// 529 overloaded counts as a 5xx), Anthropic's message is carried over except
// for 401/403, and Anthropic's own body is never relayed.
Error map_anthropic_error(std::string_view provider, int status, std::string_view body,
                          const net::ResponseHead& head);

// Upstream headers a client should see: retry-after as is, and Anthropic's
// anthropic-ratelimit-{requests,tokens}-{limit,remaining} renamed to OpenAI's
// x-ratelimit-{limit,remaining}-{requests,tokens}.
std::vector<Header> anthropic_surfaced_headers(const net::ResponseHead& head);

// Turns Anthropic stream events into OpenAI chat.completion.chunk events, one
// event at a time: message_start -> the role chunk; text and tool_use blocks
// -> content and tool_calls deltas (thinking skipped); message_stop -> the
// finish_reason chunk, the usage chunk when the client asked for it
// (stream_options.include_usage), then `data: [DONE]`. Usage is tracked
// whether or not the client asked for the chunk.
//
// In relay mode (a client of /v1/messages) nothing is translated: every
// event is checked and passed on as it came, `event:` line and pings
// included, while usage, order and the end are tracked the same way.
class AnthropicStreamTranslator {
 public:
  enum class Mode { translate, relay };

  AnthropicStreamTranslator(std::string provider, bool include_usage, std::int64_t created,
                            Mode mode = Mode::translate);

  // Feeds one raw SSE event as SseFramer cut it; appends the OpenAI events it
  // yields to `out`. Errors: upstream_protocol for unparsable or out-of-order
  // events; an Anthropic `error` event becomes upstream_unavailable
  // (overloaded_error, api_error, unknown types), upstream_rate_limited,
  // upstream_rejected or upstream_auth (authentication_error,
  // permission_error). Events after message_stop are ignored.
  Status feed(std::string_view raw_event, std::string& out);
  // The upstream body ended: upstream_protocol unless message_stop was seen.
  Status finish() const;

  bool done() const noexcept { return stopped_; }
  Usage usage() const noexcept { return tokens_.to_usage(); }

 private:
  struct Block {
    int tool = -1;               // tool_calls index; -1: a block the client does not see (thinking)
    bool text = false;
    bool has_arguments = false;  // a non-empty input_json_delta went out
  };

  Status relay(std::string_view type, const nlohmann::json& event, std::string_view raw_event, std::string& out);
  Status on_message_start(const nlohmann::json& event, std::string& out);
  Status on_block_start(const nlohmann::json& event, std::string& out);
  Status on_block_delta(const nlohmann::json& event, std::string& out);
  Status on_block_stop(const nlohmann::json& event, std::string& out);
  void on_message_delta(const nlohmann::json& event);
  void on_message_stop(std::string& out);
  Error on_error(const nlohmann::json& event) const;
  // Appends one chunk event: the common fields, then `rest` ("choices":...}).
  void emit(std::string& out, std::string_view rest) const;
  void emit_delta(std::string& out, const std::string& delta_json) const;
  Error fail(errc code, std::string_view what) const;

  std::string provider_;
  bool include_usage_;
  std::int64_t created_;
  Mode mode_;
  std::string chunk_prefix_;  // {"id":..,"object":"chat.completion.chunk","created":..,"model":..,
  std::map<std::int64_t, Block> blocks_;  // by Anthropic content block index
  int tools_ = 0;
  std::string stop_reason_;
  anthropic::Tokens tokens_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::providers
