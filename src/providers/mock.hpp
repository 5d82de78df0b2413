// The in-process mock provider: deterministic answers derived from the prompt,
// correct usage, configurable latency and stream pacing. It is the default
// configuration's provider (no network, no secrets) and a load-test target.
#pragma once

#include "sluice/providers/provider.hpp"

namespace sluice::providers {

class MockProvider final : public Provider {
 public:
  MockProvider(const ProviderConfig& config, boost::asio::any_io_executor executor);

  const std::string& name() const noexcept override { return config_.name; }
  boost::asio::awaitable<Result<ProviderResponse>> complete(const LlmRequest& req, std::string upstream_model,
                                                            RequestContext& ctx) override;
  boost::asio::awaitable<Result<StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                     RequestContext& ctx) override;

 private:
  ProviderConfig config_;
  boost::asio::any_io_executor executor_;
  std::uint64_t next_id_ = 1;
};

// --- pure pieces, exposed for tests ---

// The answer's words for a prompt: the same prompt always gives the same words.
std::vector<std::string> mock_words(std::string_view prompt, int count);
// A unit-length vector derived from the text.
std::vector<float> mock_embedding(std::string_view text, int dims);

}  // namespace sluice::providers
