// The pipeline's unit-test fixture: scripted providers "a" and "b" behind a
// real pool, gatekeeper and catalog, a manual clock, and calls built as the
// front door builds them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sluice/pipeline/pipeline.hpp"
#include "support/manual_clock.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_provider.hpp"

namespace sluice::pipeline::test_support {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::run_coro;
using test::ScriptedProvider;

inline std::string header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers)
    if (h.name == name) return h.value;
  return {};
}

// A call as the front door would build it from an OpenAI chat body.
inline Call chat_call(std::string model, bool stream = false, Endpoint endpoint = Endpoint::chat_completions) {
  json body = {{"model", model}};
  if (endpoint == Endpoint::chat_completions) body["messages"] = {{{"role", "user"}, {"content", "hi"}}};
  else body["input"] = "hi";
  if (stream) body["stream"] = true;
  Call call;
  LlmRequest& req = call.request;
  req.endpoint = endpoint;
  req.body = body.dump();
  req.model = model;
  const std::string token = json(model).dump();
  req.model_offset = req.body.find(token);
  req.model_length = token.size();
  req.stream = stream;
  if (endpoint == Endpoint::chat_completions) req.messages = {{"user", "hi"}};
  else req.inputs = {"hi"};
  return call;
}

class PipelineServe : public ::testing::Test {
 protected:
  PipelineServe() {
    // "a" is the primary of "chat", "b" its fallback: a fixed failover order.
    for (const char* name : {"a", "b"}) {
      ProviderConfig p;
      p.name = name;
      p.type = ProviderType::mock;
      config_.providers.push_back(p);
    }
    DeploymentConfig fallback{"b", "model-b"};
    fallback.priority = 1;
    config_.models = {
        {"chat", {{"a", "model-a"}, fallback}},
        {"solo", {{"b", "model-solo"}}},
        {"embed", {{"a", "emb-a"}}},
    };
    policy_.backoff_base = std::chrono::milliseconds(1);
    auto a = std::make_unique<ScriptedProvider>("a");
    auto b = std::make_unique<ScriptedProvider>("b");
    a_ = a.get();
    b_ = b.get();
    providers_.emplace("a", std::move(a));
    providers_.emplace("b", std::move(b));
  }

  // Builds the stages from config_ as it is now (tests change it first).
  void build() {
    if (pipeline_) return;
    gatekeeper_ = std::make_unique<auth::Gatekeeper>(config_.auth, clock_);
    pool_ = std::make_unique<pool::ProviderPool>(config_, clock_->now(), policy_, 1);
    catalog_ = std::make_unique<ModelCatalog>(config_, providers_, *pool_, *clock_);
    router_ = std::make_unique<router::ComplexityRouter>(config_.routers, nullptr);
    pipeline_ = std::make_unique<Pipeline>(*gatekeeper_, *router_, *pool_, *catalog_, providers_, clock_, std::nullopt, 1);
  }

  // Kept after the call: a streamed answer settles with the pool when it ends.
  // `key` is the gateway key presented, from a loopback client.
  Result<Answer> serve(Call call, std::string_view key = "") {
    build();
    ctx_ = std::make_unique<RequestContext>();
    ctx_->request_id = "req-1";
    auto caller = pipeline_->authenticate(key, asio::ip::make_address("127.0.0.1"), *ctx_);
    if (!caller) return std::move(caller).error();
    return run_coro(io_, pipeline_->serve(*caller, std::move(call), *ctx_));
  }

  std::vector<ModelEntry> models(std::string_view key = "") {
    build();
    RequestContext ctx;
    auto caller = pipeline_->authenticate(key, asio::ip::make_address("127.0.0.1"), ctx);
    if (!caller) return {};
    return run_coro(io_, pipeline_->models(*caller, ctx));
  }

  asio::io_context io_;
  GatewayConfig config_;
  pool::PoolPolicy policy_;
  std::shared_ptr<test::ManualClock> clock_ = std::make_shared<test::ManualClock>();
  ProviderMap providers_;
  ScriptedProvider* a_ = nullptr;
  ScriptedProvider* b_ = nullptr;
  std::unique_ptr<auth::Gatekeeper> gatekeeper_;
  std::unique_ptr<router::ComplexityRouter> router_;
  std::unique_ptr<pool::ProviderPool> pool_;
  std::unique_ptr<ModelCatalog> catalog_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<RequestContext> ctx_;
};

}  // namespace sluice::pipeline::test_support
