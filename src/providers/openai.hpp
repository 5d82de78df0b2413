// OpenAI-compatible upstreams (OpenAI, Azure OpenAI, Ollama's /v1, vLLM,
// Groq, Together...): the client's JSON goes upstream as is, with only "model"
// replaced (and, for a stream the client did not ask usage for,
// stream_options.include_usage set: see openai_stream.hpp); answers come back
// as they are. Where the upstreams differ is the Dialect (dialect.hpp). Also
// the error mapping every HTTP provider shares.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "dialect.hpp"
#include "sluice/core/redact.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::providers {

// For config types openai, azure and ollama.
class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(const ProviderConfig& config, boost::asio::any_io_executor executor);

  const std::string& name() const noexcept override { return config_.name; }
  boost::asio::awaitable<Result<ProviderResponse>> complete(const LlmRequest& req, std::string upstream_model,
                                                            RequestContext& ctx) override;
  boost::asio::awaitable<Result<StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                     RequestContext& ctx) override;
  // Chat completions, completions, embeddings; the Responses API unless the
  // dialect lacks it (Ollama, responses_api: translated, old Azure versions).
  bool speaks(Endpoint endpoint) const noexcept override;
  // The dialect's model list (Ollama: GET /api/tags); empty when it has none.
  boost::asio::awaitable<Result<std::vector<std::string>>> list_models(RequestContext& ctx) override;

 private:
  // `body` is what goes upstream; the target and headers come from the dialect.
  net::HttpRequest make_request(const LlmRequest& req, std::string_view upstream_model, std::string body) const;
  // The dialect's credential header, then the configured extra headers.
  void append_upstream_headers(std::vector<Header>& headers) const;

  ProviderConfig config_;
  net::Url base_;
  Dialect dialect_;
  net::HttpClient client_;
  std::shared_ptr<const Redactor> redactor_;  // shared with the streams, which may outlive the provider
};

// --- shared by the HTTP providers ---

// The HttpClient options a provider's config asks for.
net::ClientOptions client_options(const ProviderConfig& config);

// What the provider's upstream says is redacted of the secrets the gateway
// sends it (api_key and every configured header value) before it reaches a
// client or a log: error messages, relayed error bodies, answers and stream
// events. The upstream may quote the request it got.
std::shared_ptr<const Redactor> make_redactor(const ProviderConfig& config);
inline Error redacted(Error error, const Redactor& redactor) {
  redactor.redact(error);
  return error;
}
// `stream` with each batch of events redacted as JSON lines and each error
// as an Error; `stream` itself when the redactor has no secrets.
std::unique_ptr<ChunkStream> redacting(std::unique_ptr<ChunkStream> stream, std::shared_ptr<const Redactor> redactor);

// The body of a non-2xx streamed answer, for its error message: read to the
// end or to about 64 KiB, whichever comes first; a read error ends it early.
boost::asio::awaitable<std::string> read_error_body(net::BodyReader& body);

// True when `text` is one whole, valid JSON object (UTF-8, grammar, escapes,
// numbers: simdjson's DOM parser checks all of it), nothing before or after
// it but whitespace. Cheap enough for every answer and every stream event
// (bench/validate_bench.cpp: under 0.5 µs for a 1 KiB chat answer, ~160 ns
// for a stream chunk's data), with one parser per thread reused: it keeps its
// buffers for texts up to 1 MiB; a larger text's are released after it.
bool is_json_object(std::string_view text);
// The usage of a JSON object answer (unknown when it has none); nullopt when
// `text` is not a JSON object. One parse for both questions. Reads chat
// completions', the Responses API's and Anthropic's usage objects.
std::optional<Usage> json_object_usage(std::string_view text);

// What the gateway needs from one Responses API stream event: whether it
// ends the stream (response.completed, response.incomplete,
// response.failed, error) and the usage it carries (response.usage).
// nullopt when `data` is not a JSON object.
struct ResponsesEvent {
  bool terminal = false;
  Usage usage;
};
std::optional<ResponsesEvent> responses_event(std::string_view data);

// --- mapping functions (pure; tested on fixtures) ---

// The "usage" object of an OpenAI response or chunk; known=false when absent/null.
Usage parse_openai_usage(std::string_view json);

// Upstream headers a client should see: x-ratelimit-*, retry-after, retry-after-ms.
std::vector<Header> surfaced_headers(const net::ResponseHead& head);

// The Error a non-2xx upstream status means, whatever the vendor's wire
// format; `detail` is the upstream's own error message ("" when it sent none).
// 429 -> upstream_rate_limited with the upstream's Retry-After; 5xx ->
// upstream_unavailable (502); 401/403 -> upstream_auth (credentials_refused;
// `detail` is dropped: it may quote the key); 408 -> upstream_timeout; other
// 4xx -> upstream_rejected with the upstream status and `detail` as message.
Error upstream_status_error(std::string_view provider, int status, std::string detail, const net::ResponseHead& head);

// upstream_auth: `provider` refused the gateway's own credentials with
// `status` (401/403). The message says so without the upstream's words.
Error credentials_refused(std::string_view provider, int status);

// The Error for a non-2xx upstream answer. 429 -> upstream_rate_limited with
// the upstream's Retry-After; 5xx -> upstream_unavailable (502); 401/403 ->
// upstream_auth (502: the gateway's provider credentials are wrong, not the
// client's); other 4xx -> upstream_rejected with the upstream status and,
// when it is OpenAI-shaped, the upstream's own error body. Error::upstream_status
// is `status`.
Error map_upstream_error(std::string_view provider, int status, std::string_view body, const net::ResponseHead& head);

}  // namespace sluice::providers
