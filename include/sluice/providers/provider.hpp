// Provider: one configured upstream account that can answer LLM requests.
// Implementations translate the provider-neutral LlmRequest into the vendor's
// wire format and the answer back into the shape of the API the request
// names (req.endpoint): OpenAI's for chat completions, completions and
// embeddings; the Anthropic or Responses API's own for a request in that
// dialect, which the pipeline sends only to a provider that speaks() it. All
// calls run on the event loop's executor; `req` and `ctx` must outlive the
// returned awaitable (the caller co_awaits it at once).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "sluice/core/answer.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/providers/rate_limits.hpp"

namespace sluice::providers {

// A complete, successful (2xx) answer in OpenAI's JSON shape.
struct ProviderResponse {
  int status = 200;
  std::string body;
  std::vector<Header> headers;  // upstream rate-limit headers worth surfacing
  Usage usage;
  RateLimitInfo limits;              // for the pool's buckets
};

struct StreamStart {
  std::vector<Header> headers;
  std::unique_ptr<ChunkStream> stream;
  RateLimitInfo limits;
};

// Failures: errc::upstream_* (see core/error.hpp), errc::cancelled when
// ctx.cancellation fires. A non-2xx upstream answer is an Error whose status
// and body say what the client should see.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual const std::string& name() const noexcept = 0;
  virtual boost::asio::awaitable<Result<ProviderResponse>> complete(const LlmRequest& req,
                                                                    std::string upstream_model,
                                                                    RequestContext& ctx) = 0;
  virtual boost::asio::awaitable<Result<StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                             RequestContext& ctx) = 0;
  // Whether the provider takes requests of `endpoint` in that API's own
  // shape and answers in it. For one it does not speak, the pipeline sends
  // the request's chat-completions translation (LlmRequest::as_chat).
  // Default: chat completions, completions and embeddings.
  virtual bool speaks(Endpoint endpoint) const noexcept;
  // The model names the provider itself serves (Ollama: GET /api/tags), for
  // GET /v1/models. Providers that cannot list answer an empty list.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> list_models(RequestContext& ctx);
};

// Builds the provider a config entry describes. Throws std::runtime_error for
// configuration the loader could not check (e.g. an unreadable CA file).
std::unique_ptr<Provider> make_provider(const ProviderConfig& config, boost::asio::any_io_executor executor);

}  // namespace sluice::providers
