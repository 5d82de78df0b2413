// Pipeline: the fixed sequence of stages one API request goes through.
//   admission (parse, validate) -> model lookup -> pool (choose a deployment,
//   reserve capacity) -> provider -> answer or stream; on a 429 the next
//   candidate at once, on a retryable failure the next after a backoff.
// Stages do not call each other; this class owns the order. Beast-free: the
// front door turns HTTP into ApiRequest and writes the Reply.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "sluice/core/config.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/net/http_client.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::pipeline {

struct ApiRequest {
  std::string method;
  std::string path;  // without the query string
  std::string body;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<net::Header> headers;
  // When set, the answer is this SSE stream (status 200, body empty): the
  // writer pulls events from it until it ends or fails.
  std::unique_ptr<providers::ChunkStream> stream;
  std::optional<Error> error;  // what went wrong, for the access log
};

using ProviderMap = std::map<std::string, std::unique_ptr<providers::Provider>, std::less<>>;

class ModelCatalog;

class Pipeline {
 public:
  // `config` and `providers` must outlive the pipeline. Tests may fix the
  // pool's policy and random seed.
  Pipeline(const GatewayConfig& config, ProviderMap& providers, pool::PoolPolicy policy = {},
           std::uint64_t seed = std::random_device{}());
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Handles one request under /v1/. Never throws for a client's mistake or an
  // upstream failure: those become error replies.
  boost::asio::awaitable<Reply> handle(ApiRequest request, RequestContext& ctx);

  // The reply for an error: OpenAI error body, status, x-should-retry, and
  // Retry-After on 429/503.
  static Reply error_reply(Error error);

  // The SSE event that ends a stream that failed after its first byte.
  static std::string stream_error_event(const Error& error);

 private:
  boost::asio::awaitable<Reply> dispatch(Endpoint endpoint, std::string body, RequestContext& ctx);
  // One attempt on one deployment: the reply, or the error that decides what next.
  boost::asio::awaitable<Result<Reply>> attempt(const LlmRequest& req, pool::Lease& lease, RequestContext& ctx);
  boost::asio::awaitable<bool> back_off(int retry, RequestContext& ctx);
  void add_limit_headers(Reply& reply, std::string_view group);
  boost::asio::awaitable<Reply> list_models(RequestContext& ctx);
  boost::asio::awaitable<Reply> get_model(const std::string& id, RequestContext& ctx);

  const GatewayConfig& config_;
  ProviderMap& providers_;
  pool::ProviderPool pool_;
  std::unique_ptr<ModelCatalog> catalog_;
  std::minstd_rand jitter_;
};

}  // namespace sluice::pipeline
