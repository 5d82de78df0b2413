#include "sluice/pipeline/pipeline.hpp"

#include "sluice/core/json_text.hpp"
#include "sluice/core/log.hpp"
#include "sluice/net/sse.hpp"
#include "sluice/pipeline/wire.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

namespace {

struct Route {
  std::string_view path;
  Endpoint endpoint;
};
constexpr Route kLlmRoutes[] = {
    {"/v1/chat/completions", Endpoint::chat_completions},
    {"/v1/completions", Endpoint::completions},
    {"/v1/embeddings", Endpoint::embeddings},
};

std::string model_object(std::string_view id) {
  std::string out = R"({"id":)";
  append_json_string(out, id);
  out += R"(,"object":"model","created":0,"owned_by":"sluice"})";
  return out;
}

}  // namespace

Pipeline::Pipeline(const GatewayConfig& config, ProviderMap& providers) : config_(config), providers_(providers) {}

asio::awaitable<Reply> Pipeline::handle(ApiRequest request, RequestContext& ctx) {
  for (const Route& r : kLlmRoutes) {
    if (request.path != r.path) continue;
    if (request.method != "POST")
      co_return error_reply(make_error(errc::method_not_allowed, "Use POST for " + std::string(r.path)));
    co_return co_await dispatch(r.endpoint, std::move(request.body), ctx);
  }
  if (request.path == "/v1/models" && request.method == "GET") co_return list_models();
  if (request.path.starts_with("/v1/models/") && request.method == "GET")
    co_return get_model(std::string_view(request.path).substr(11));
  co_return error_reply(make_error(errc::not_found, "Invalid URL (" + request.method + " " + request.path + ")"));
}

asio::awaitable<Reply> Pipeline::dispatch(Endpoint endpoint, std::string body, RequestContext& ctx) {
  auto parsed = parse_request(endpoint, std::move(body));
  if (!parsed) co_return error_reply(std::move(parsed).error());
  const LlmRequest& req = *parsed;
  ctx.model = req.model;

  const ModelConfig* model = config_.find_model(req.model);
  if (!model)
    co_return error_reply(make_error(
        errc::model_not_found, "The model `" + req.model + "` does not exist or you do not have access to it.", "model"));

  const bool stream = req.stream && endpoint != Endpoint::embeddings;
  std::optional<Error> last;
  // Deployments in configured order; a retryable failure moves on to the next.
  for (const DeploymentConfig& dep : model->deployments) {
    auto it = providers_.find(dep.provider);
    if (it == providers_.end()) continue;  // the loader guarantees this does not happen
    providers::Provider& provider = *it->second;
    ctx.provider = dep.provider;
    ctx.upstream_model = dep.model;
    ++ctx.attempts;
    const auto sent = RequestContext::Clock::now();

    Reply reply;
    if (stream) {
      auto started = co_await provider.stream(req, dep.model, ctx);
      ctx.upstream_time = RequestContext::Clock::now() - sent;
      if (started) {
        reply.content_type = "text/event-stream";
        reply.headers = std::move(started->headers);
        reply.stream = std::move(started->stream);
      } else {
        last = std::move(started).error();
      }
    } else {
      auto answer = co_await provider.complete(req, dep.model, ctx);
      ctx.upstream_time = RequestContext::Clock::now() - sent;
      if (answer) {
        ctx.usage = answer->usage;
        reply.status = answer->status;
        reply.headers = std::move(answer->headers);
        reply.body = std::move(answer->body);
        if (endpoint == Endpoint::embeddings)
          if (auto converted = convert_embeddings(reply.body, req.encoding_format)) reply.body = std::move(*converted);
      } else {
        last = std::move(answer).error();
      }
    }
    if (!last) {
      reply.headers.push_back({"x-sluice-provider", dep.provider});
      reply.headers.push_back({"x-sluice-model", dep.model});
      co_return reply;
    }
    if (last->code == errc::cancelled || !last->retryable()) break;
    log::warn("upstream_attempt_failed", {{"request_id", ctx.request_id},
                                          {"provider", dep.provider},
                                          {"error", to_string(last->code)},
                                          {"attempt", ctx.attempts}});
    if (&dep != &model->deployments.back()) last.reset();
  }
  if (!last) last = make_error(errc::upstream_unavailable, "no deployment could serve model '" + req.model + "'");
  co_return error_reply(std::move(*last));
}

Reply Pipeline::list_models() const {
  Reply reply;
  reply.body = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < config_.models.size(); ++i) {
    if (i) reply.body += ',';
    reply.body += model_object(config_.models[i].name);
  }
  reply.body += "]}";
  return reply;
}

Reply Pipeline::get_model(std::string_view id) const {
  if (!config_.find_model(id))
    return error_reply(make_error(errc::model_not_found,
                                  "The model `" + std::string(id) + "` does not exist or you do not have access to it.",
                                  "model"));
  Reply reply;
  reply.body = model_object(id);
  return reply;
}

Reply Pipeline::error_reply(Error error) {
  Reply reply;
  reply.status = error.status();
  reply.body = error_body(error);
  reply.headers.push_back({"x-should-retry", error.retryable() ? "true" : "false"});
  if (reply.status == 429 || reply.status == 503) {
    // Whole seconds for Retry-After (rounded up: never invite a retry too
    // early); the OpenAI SDKs prefer the exact retry-after-ms when present.
    const std::int64_t ms = error.retry_after_ms >= 0 ? error.retry_after_ms : 1000;
    reply.headers.push_back({"retry-after", std::to_string((ms + 999) / 1000)});
    reply.headers.push_back({"retry-after-ms", std::to_string(ms)});
  }
  reply.error = std::move(error);
  return reply;
}

std::string Pipeline::stream_error_event(const Error& error) { return net::sse_event(error_body(error)); }

}  // namespace sluice::pipeline
