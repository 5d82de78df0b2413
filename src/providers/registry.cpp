// config `type:` -> provider implementation.
#include "anthropic.hpp"
#include "mock.hpp"
#include "openai.hpp"

namespace sluice::providers {

boost::asio::awaitable<Result<std::vector<std::string>>> Provider::list_models(RequestContext&) {
  co_return std::vector<std::string>{};
}

bool Provider::speaks(Endpoint endpoint) const noexcept {
  return endpoint == Endpoint::chat_completions || endpoint == Endpoint::completions || endpoint == Endpoint::embeddings;
}

std::unique_ptr<Provider> make_provider(const ProviderConfig& config, boost::asio::any_io_executor executor) {
  switch (config.type) {
    case ProviderType::openai:
    case ProviderType::azure:
    case ProviderType::ollama:  // one provider, three dialects (dialect.hpp)
      return std::make_unique<OpenAiProvider>(config, std::move(executor));
    case ProviderType::anthropic: return std::make_unique<AnthropicProvider>(config, std::move(executor));
    case ProviderType::mock: return std::make_unique<MockProvider>(config, std::move(executor));
  }
  throw std::runtime_error("provider '" + config.name + "': unknown type");
}

}  // namespace sluice::providers
