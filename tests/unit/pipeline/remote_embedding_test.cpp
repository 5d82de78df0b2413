// The semantic cache's remote embedder: one /v1/embeddings request per
// prompt through the provider, the answer as a unit vector, a provider that
// answers too slowly cancelled at the timeout.
#include <gtest/gtest.h>

#include <cmath>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include "pipeline_fixture.hpp"

namespace sluice::pipeline {
namespace {

using namespace test_support;

// Answers only when its request is cancelled (as a provider's socket closes).
class SlowProvider final : public providers::Provider {
 public:
  const std::string& name() const noexcept override { return name_; }
  asio::awaitable<Result<providers::ProviderResponse>> complete(const LlmRequest&, std::string,
                                                                RequestContext& ctx) override {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(30));
    auto registration = ctx.cancellation.on_cancel([&timer] { timer.cancel(); });
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return make_error(errc::cancelled, "cancelled");
  }
  asio::awaitable<Result<providers::StreamStart>> stream(const LlmRequest&, std::string, RequestContext&) override {
    co_return make_error(errc::internal, "no streams");
  }

 private:
  std::string name_ = "slow";
};

class RemoteEmbedding : public ::testing::Test {
 protected:
  RemoteEmbedding() {
    auto p = std::make_unique<ScriptedProvider>("emb");
    provider_ = p.get();
    providers_.emplace("emb", std::move(p));
    providers_.emplace("slow", std::make_unique<SlowProvider>());
  }
  asio::io_context io_;
  ProviderMap providers_;
  ScriptedProvider* provider_ = nullptr;
};

TEST_F(RemoteEmbedding, AsksTheProviderAndNormalisesItsVector) {
  provider_->response.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[3,0,4]}]})";
  auto embedding = remote_embedding(providers_, "emb", "nomic-embed-text", std::chrono::milliseconds(500));
  EXPECT_EQ(embedding->name(), "remote:emb/nomic-embed-text");
  EXPECT_EQ(embedding->dimensions(), 0u) << "known from the first answer";
  auto v = run_coro(io_, embedding->embed("How do I reverse a list?"));
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 3u);
  EXPECT_FLOAT_EQ((*v)[0], 0.6f);
  EXPECT_FLOAT_EQ((*v)[2], 0.8f);
  EXPECT_EQ(embedding->dimensions(), 3u);
  ASSERT_EQ(provider_->calls.size(), 1u);
  const json sent = json::parse(provider_->calls[0].body);
  EXPECT_EQ(sent["model"], "nomic-embed-text");
  EXPECT_EQ(sent["input"], "How do I reverse a list?");
  EXPECT_EQ(sent["encoding_format"], "float");
}

TEST_F(RemoteEmbedding, RefusesAnswersThatAreNotAVectorOfItsSize) {
  auto embedding = remote_embedding(providers_, "emb", "e", std::chrono::milliseconds(500));
  provider_->response.body = R"({"data":[]})";
  EXPECT_EQ(run_coro(io_, embedding->embed("x")).error().code, errc::upstream_protocol);
  provider_->response.body = R"({"data":[{"embedding":[1,2]}]})";
  ASSERT_TRUE(run_coro(io_, embedding->embed("x")));
  provider_->response.body = R"({"data":[{"embedding":[1,2,3]}]})";
  EXPECT_EQ(run_coro(io_, embedding->embed("x")).error().code, errc::upstream_protocol);
  provider_->errors.push_back(make_error(errc::upstream_unavailable, "down"));
  EXPECT_EQ(run_coro(io_, embedding->embed("x")).error().code, errc::upstream_unavailable);
}

TEST_F(RemoteEmbedding, ASlowEmbedderIsCancelledAtTheTimeout) {
  auto embedding = remote_embedding(providers_, "slow", "e", std::chrono::milliseconds(20));
  const auto started = std::chrono::steady_clock::now();
  auto v = run_coro(io_, embedding->embed("x"));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, errc::upstream_timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(RemoteEmbedding, AnUnknownProviderIsAStartupError) {
  EXPECT_THROW(remote_embedding(providers_, "nope", "e", std::chrono::milliseconds(20)), std::runtime_error);
}

}  // namespace
}  // namespace sluice::pipeline
