// The semantic cache's embedder as an OpenAI-compatible /v1/embeddings
// deployment (OpenAI, Ollama's nomic-embed-text, a TEI server): one request
// per prompt through the provider, as the gateway serves Endpoint::embeddings,
// cancelled at the embed timeout so that a slow embedder costs a request at
// most that long (the cache then takes a miss).
#include <cmath>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <simdjson.h>

#include "sluice/core/json_text.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

namespace {

class RemoteEmbedding final : public cache::Embedding {
 public:
  RemoteEmbedding(providers::Provider& provider, std::string model, std::chrono::milliseconds timeout)
      : provider_(provider), model_(std::move(model)), timeout_(timeout),
        name_("remote:" + provider.name() + "/" + model_) {}

  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return dimensions_; }

  asio::awaitable<Result<std::vector<float>>> embed(std::string text) override {
    LlmRequest req;
    req.endpoint = Endpoint::embeddings;
    req.model = model_;
    req.body = R"({"model":)";
    req.model_offset = req.body.size();
    append_json_string(req.body, model_);
    req.model_length = req.body.size() - req.model_offset;
    req.body += R"(,"input":)";
    append_json_string(req.body, text);
    req.body += R"(,"encoding_format":"float"})";
    req.inputs = {std::move(text)};
    req.encoding_format = EncodingFormat::float_array;

    // The deadline fires the request's cancellation, which closes its socket.
    auto ctx = std::make_shared<RequestContext>();
    ctx->request_id = "cache-embed";
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout_);
    timer.async_wait([ctx](boost::system::error_code ec) {
      if (!ec) ctx->cancellation.cancel();
    });
    auto response = co_await provider_.complete(req, model_, *ctx);
    timer.cancel();
    if (!response) {
      if (ctx->cancellation.cancelled())
        co_return make_error(errc::upstream_timeout, "the cache's embedder did not answer within " +
                                                         std::to_string(timeout_.count()) + " ms");
      co_return std::move(response).error();
    }
    auto vector = parse(response->body);
    if (vector && dimensions_ == 0) dimensions_ = vector->size();
    if (vector && vector->size() != dimensions_)
      co_return make_error(errc::upstream_protocol, "the cache's embedder changed its dimensions from " +
                                                        std::to_string(dimensions_) + " to " +
                                                        std::to_string(vector->size()));
    co_return vector;
  }

 private:
  // data[0].embedding as a unit vector.
  static Result<std::vector<float>> parse(const std::string& body) {
    namespace dom = simdjson::dom;
    dom::parser parser;
    dom::array values;
    if (parser.parse(body).at_pointer("/data/0/embedding").get_array().get(values))
      return make_error(errc::upstream_protocol, "the cache's embedder answered without data[0].embedding");
    std::vector<float> out;
    out.reserve(values.size());
    double norm = 0;
    for (dom::element v : values) {
      double x = 0;
      if (v.get_double().get(x)) return make_error(errc::upstream_protocol, "the cache's embedder sent a non-number");
      out.push_back(static_cast<float>(x));
      norm += x * x;
    }
    if (out.empty() || norm <= 0) return make_error(errc::upstream_protocol, "the cache's embedder sent an empty vector");
    const float scale = static_cast<float>(1 / std::sqrt(norm));
    for (float& x : out) x *= scale;
    return out;
  }

  providers::Provider& provider_;
  std::string model_;
  std::chrono::milliseconds timeout_;
  std::string name_;
  std::size_t dimensions_ = 0;
};

}  // namespace

std::unique_ptr<cache::Embedding> remote_embedding(ProviderMap& providers, const std::string& provider,
                                                   std::string model, std::chrono::milliseconds timeout) {
  auto it = providers.find(provider);
  if (it == providers.end()) throw std::runtime_error("cache.semantic.embedder: no provider named '" + provider + "'");
  return std::make_unique<RemoteEmbedding>(*it->second, std::move(model), timeout);
}

}  // namespace sluice::pipeline
