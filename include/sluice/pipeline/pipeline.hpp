// Pipeline: the fixed order of stages one call goes through, written once in
// serve(). It takes a Call (a parsed, provider-neutral request, whatever the
// inbound dialect) and returns data: a complete answer or a stream, never
// HTTP. The front door renders the answer; a drain loop can run the same
// stages for a queued call.
//
// Stages do not call each other; the pipeline owns the order. It owns none of
// them either: the composition root builds the gatekeeper, the pool, the
// model catalog, the providers and the clock and hands them in, so tests
// inject fakes.
//
// Authentication comes first and apart: authenticate() answers who is
// calling before the request body is even parsed, and serve() and models()
// take its Caller, so nothing is served to a caller that was not checked.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "sluice/auth/gatekeeper.hpp"

#include "sluice/core/answer.hpp"
#include "sluice/core/call.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/pipeline/model_catalog.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::pipeline {

class Pipeline {
 public:
  // The references must outlive the pipeline; streams it returned may
  // outlive it (they share the clock and their pool deployment). `seed`
  // drives the backoff jitter.
  Pipeline(auth::Gatekeeper& gatekeeper, pool::ProviderPool& pool, ModelCatalog& catalog, ProviderMap& providers,
           std::shared_ptr<const Clock> clock, std::uint64_t seed = std::random_device{}());
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The authentication stage: who presents `credential` (the gateway key
  // from the request's headers, "" when none) from `peer`. Sets ctx.tenant
  // and ctx.key_id. Errors: unauthorized, peer_not_allowed.
  Result<auth::Caller> authenticate(std::string_view credential, const boost::asio::ip::address& peer,
                                    RequestContext& ctx) const;

  // Serves one call for `caller`. Fills ctx with what was decided on the way
  // (group, provider, attempts, usage, price, the group's limits). Errors:
  // model_not_allowed, budget_exceeded, rate_limited (the key's own limits,
  // before any provider is asked); model_not_found;
  // rate_limited when no deployment has capacity (retry_after_ms says when
  // one will); the last upstream error when failover gave up (retries_spent
  // when the gateway retried); cancelled when the client left. Never throws
  // for a client's mistake or an upstream failure.
  boost::asio::awaitable<Result<Answer>> serve(const auth::Caller& caller, Call call, RequestContext& ctx);

  // POST /v1/messages/count_tokens for `caller`: the input tokens of `call`
  // (an Anthropic Messages request, endpoint count_tokens) as the group's
  // first eligible deployment able to count them says (one whose provider
  // speaks count_tokens: Anthropic's), in that provider's answer. No pool
  // lease is taken (Anthropic limits token counting apart from messages)
  // and no failover is tried; the caller's key counts one request. nullopt
  // when no deployment of the group can count: the front door answers its
  // own estimate. Errors: model_not_allowed, budget_exceeded, rate_limited
  // (the key's), model_not_found, and the provider's.
  boost::asio::awaitable<Result<std::optional<Answer>>> count_tokens(const auth::Caller& caller, Call call,
                                                                     RequestContext& ctx);

  // The models `caller` may ask for (GET /v1/models): the catalog, less what
  // the caller's key does not allow.
  boost::asio::awaitable<std::vector<ModelEntry>> models(const auth::Caller& caller, RequestContext& ctx);

 private:
  // Walks the group's deployments: the pool's weighted order, the next one at
  // once after a 429, after a backoff after a failure, while retries last.
  boost::asio::awaitable<Result<Answer>> failover(const LlmRequest& req, std::string_view group,
                                                  RequestContext& ctx);
  // One attempt on one deployment: the answer, or the error that decides what next.
  boost::asio::awaitable<Result<Answer>> attempt(const LlmRequest& req, pool::Lease& lease, RequestContext& ctx);
  boost::asio::awaitable<bool> back_off(int retry, RequestContext& ctx);

  auth::Gatekeeper& gatekeeper_;
  pool::ProviderPool& pool_;
  ModelCatalog& catalog_;
  ProviderMap& providers_;
  std::shared_ptr<const Clock> clock_;
  std::minstd_rand jitter_;
};

}  // namespace sluice::pipeline
