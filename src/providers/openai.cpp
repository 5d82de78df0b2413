#include "openai.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <simdjson.h>

#include "sluice/core/log.hpp"
#include "sluice/net/sse.hpp"
#include "sluice/providers/rate_limits.hpp"

namespace sluice::providers {

namespace asio = boost::asio;

namespace {

// Relays an OpenAI SSE stream event by event (never half an event), noting
// usage and insisting on the terminating `data: [DONE]`: a stream that just
// stops is an error, because SDKs would accept it silently as complete.
class OpenAiChunkStream final : public ChunkStream {
 public:
  OpenAiChunkStream(std::unique_ptr<net::BodyReader> body, std::string provider)
      : body_(std::move(body)), provider_(std::move(provider)) {}

  asio::awaitable<Result<std::string>> next() override {
    std::string out;
    while (out.empty() && !ended_) {
      auto piece = co_await body_->read_some();
      if (!piece) co_return std::move(piece).error();
      if (piece->empty()) {
        framer_.finish([&](std::string_view event) { on_event(event, out); });
        ended_ = true;
        if (!saw_done_)
          co_return make_error(errc::upstream_protocol,
                               "provider '" + provider_ + "': stream ended before data: [DONE]");
        break;
      }
      framer_.feed(*piece, [&](std::string_view event) { on_event(event, out); });
    }
    co_return out;
  }

  Usage usage() const override { return usage_; }

 private:
  void on_event(std::string_view event, std::string& out) {
    if (saw_done_) return;  // nothing may follow [DONE]
    if (net::is_done_event(event)) saw_done_ = true;
    else if (event.find("\"usage\"") != std::string_view::npos) {
      Usage u = parse_openai_usage(net::sse_data(event));
      if (u.known) usage_ = u;
    }
    out.append(event);
  }

  std::unique_ptr<net::BodyReader> body_;
  std::string provider_;
  net::SseFramer framer_;
  Usage usage_;
  bool saw_done_ = false;
  bool ended_ = false;
};

// The upstream's error.message when the body is OpenAI-shaped, else "".
std::string upstream_message(std::string_view body, bool& openai_shaped) {
  openai_shaped = false;
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(body);
  auto doc = parser.iterate(padded);
  std::string_view message;
  if (doc.error() || doc["error"]["message"].get_string().get(message)) return {};
  openai_shaped = true;
  return std::string(message);
}

}  // namespace

Usage parse_openai_usage(std::string_view json) {
  static thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  Usage usage;
  auto doc = parser.iterate(padded);
  if (doc.error()) return usage;
  simdjson::ondemand::object u;
  if (doc["usage"].get_object().get(u)) return usage;
  int64_t prompt = 0, completion = 0;
  if (!u["prompt_tokens"].get_int64().get(prompt)) usage.prompt_tokens = prompt;
  if (!u["completion_tokens"].get_int64().get(completion)) usage.completion_tokens = completion;
  usage.known = true;
  return usage;
}

std::vector<net::Header> surfaced_headers(const net::ResponseHead& head) {
  std::vector<net::Header> out;
  for (const net::Header& h : head.headers)
    if ((h.name.starts_with("x-ratelimit-") || h.name == "retry-after" || h.name == "retry-after-ms") &&
        net::is_safe_header_value(h.value))
      out.push_back(h);
  return out;
}

Error upstream_status_error(std::string_view provider, int status, std::string detail, const net::ResponseHead& head) {
  std::string prefix = "provider '" + std::string(provider) + "' answered " + std::to_string(status);
  std::string message = detail.empty() ? prefix : prefix + ": " + detail;
  if (status == 429) {
    Error e = make_error(errc::upstream_rate_limited, std::move(message));
    e.retry_after_ms = parse_rate_limits(head).retry_after.count();
    return e;
  }
  // The upstream's words about the gateway's own credentials can quote part of
  // the key ("Incorrect API key provided: sk-...abcd"): never relay them.
  if (status == 401 || status == 403)
    return make_error(errc::upstream_unavailable, prefix + ": the provider rejected the gateway's credentials");
  if (status >= 500) return make_error(errc::upstream_unavailable, std::move(message));
  if (status == 408) return make_error(errc::upstream_timeout, std::move(message));
  Error e = make_error(errc::upstream_rejected, detail.empty() ? std::move(message) : std::move(detail));
  e.http_status = (status >= 400 && status < 500) ? status : 502;
  return e;
}

Error map_upstream_error(std::string_view provider, int status, std::string_view body, const net::ResponseHead& head) {
  bool openai_shaped = false;
  std::string detail = upstream_message(body, openai_shaped);
  Error e = upstream_status_error(provider, status, std::move(detail), head);
  if (openai_shaped && e.code == errc::upstream_rejected) e.upstream_body = std::string(body);
  return e;
}

net::ClientOptions client_options(const ProviderConfig& config) {
  return net::ClientOptions{.name = config.name,
                            .connect_timeout = config.connect_timeout,
                            .first_byte_timeout = config.first_byte_timeout,
                            .idle_timeout = config.idle_timeout,
                            .total_timeout = config.timeout,
                            .max_idle_connections = static_cast<std::size_t>(config.max_idle_connections),
                            .ca_file = config.ca_file};
}

asio::awaitable<std::string> read_error_body(net::BodyReader& body) {
  std::string out;
  for (;;) {  // error bodies are small; a bounded read is enough for the message
    auto piece = co_await body.read_some();
    if (!piece || piece->empty() || out.size() > 65536) break;
    out.append(*piece);
  }
  co_return out;
}

OpenAiProvider::OpenAiProvider(const ProviderConfig& config, asio::any_io_executor executor)
    : config_(config),
      base_(net::parse_url(config.base_url).value()),
      client_(std::move(executor), base_, client_options(config)) {}

net::HttpRequest OpenAiProvider::make_request(const LlmRequest& req, std::string_view upstream_model) const {
  net::HttpRequest r;
  r.target = base_.path + std::string(upstream_path(req.endpoint));
  r.headers.reserve(3 + config_.headers.size());
  r.headers.push_back({"Content-Type", "application/json"});
  r.headers.push_back({"Accept", req.stream ? "text/event-stream" : "application/json"});
  if (!config_.api_key.empty()) r.headers.push_back({"Authorization", "Bearer " + config_.api_key});
  for (const auto& [name, value] : config_.headers) r.headers.push_back({name, value});
  r.body = req.body_for_model(upstream_model);
  return r;
}

asio::awaitable<Result<ProviderResponse>> OpenAiProvider::complete(const LlmRequest& req, std::string upstream_model,
                                                                   RequestContext& ctx) {
  net::HttpRequest request = make_request(req, upstream_model);  // named: see session.cpp on g++ 12
  auto response = co_await client_.send(std::move(request), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299) co_return map_upstream_error(config_.name, status, response->body, response->head);
  ProviderResponse out{status, std::move(response->body), surfaced_headers(response->head), {},
                       parse_rate_limits(response->head)};
  out.usage = parse_openai_usage(out.body);
  co_return out;
}

asio::awaitable<Result<StreamStart>> OpenAiProvider::stream(const LlmRequest& req, std::string upstream_model,
                                                            RequestContext& ctx) {
  net::HttpRequest request = make_request(req, upstream_model);
  auto response = co_await client_.open(std::move(request), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299) {
    const std::string body = co_await read_error_body(*response->body);
    co_return map_upstream_error(config_.name, status, body, response->head);
  }
  co_return StreamStart{surfaced_headers(response->head),
                        std::make_unique<OpenAiChunkStream>(std::move(response->body), config_.name),
                        parse_rate_limits(response->head)};
}

}  // namespace sluice::providers
