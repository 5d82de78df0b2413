// AnthropicProvider: the HTTP exchange around the Anthropic translation.
#include "anthropic.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "openai.hpp"
#include "sluice/net/sse.hpp"

namespace sluice::providers {

namespace asio = boost::asio;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Pulls Anthropic events off the body and hands out their OpenAI
// translation, whole events only. A failure (error event, garbage, a stream
// that ends before message_stop) comes after the events translated before
// it, and sticks: every later next() repeats it.
class AnthropicChunkStream final : public ChunkStream {
 public:
  AnthropicChunkStream(std::unique_ptr<net::BodyReader> body, std::string provider, bool include_usage,
                       AnthropicStreamTranslator::Mode mode)
      : body_(std::move(body)), provider_(provider),
        translator_(std::move(provider), include_usage, unix_now(), mode) {}

  asio::awaitable<Result<std::string>> next() override {
    std::string out;
    while (out.empty() && !error_ && !ended_) {
      auto piece = co_await body_->read_some();
      if (!piece) {
        // After message_stop the client has its whole answer and [DONE]; a
        // connection lost while draining the body changes nothing for it.
        if (translator_.done()) ended_ = true;
        else error_ = std::move(piece).error();
        break;
      }
      if (piece->empty()) {
        framer_.finish([&](std::string_view event) { translate(event, out); });
        ended_ = true;
        if (Status end = translator_.finish(); !end && !error_) error_ = std::move(end).error();
        break;
      }
      feed(*piece, out);
    }
    // After the first events (time to first byte), a burst that has already
    // arrived goes out in one write.
    if (!ended_ && !error_ && started_)
      for (std::string_view more = body_->take_buffered(); !more.empty() && !error_; more = body_->take_buffered())
        feed(more, out);
    started_ = true;
    if (out.empty() && error_) co_return *error_;
    co_return out;
  }

  Usage usage() const override { return translator_.usage(); }

 private:
  // An oversize event, like an error event, ends the stream after the events before it.
  void feed(std::string_view bytes, std::string& out) {
    if (!framer_.feed(bytes, [&](std::string_view event) { translate(event, out); }) && !error_)
      error_ = framer_.overflow_error(provider_);
  }

  void translate(std::string_view event, std::string& out) {
    if (error_) return;
    if (Status s = translator_.feed(event, out); !s) error_ = std::move(s).error();
  }

  std::unique_ptr<net::BodyReader> body_;
  net::SseFramer framer_;
  std::string provider_;
  AnthropicStreamTranslator translator_;
  std::optional<Error> error_;
  bool ended_ = false;
  bool started_ = false;  // the first events went out
};

}  // namespace

AnthropicProvider::AnthropicProvider(const ProviderConfig& config, asio::any_io_executor executor)
    : config_(config),
      base_(net::parse_url(config.base_url).value()),
      client_(std::move(executor), base_, client_options(config)),
      redactor_(make_redactor(config)) {}

bool AnthropicProvider::speaks(Endpoint endpoint) const noexcept {
  return endpoint == Endpoint::chat_completions || endpoint == Endpoint::messages ||
         endpoint == Endpoint::count_tokens;
}

Result<net::HttpRequest> AnthropicProvider::make_request(const LlmRequest& req, std::string_view upstream_model) const {
  const bool native = req.endpoint == Endpoint::messages || req.endpoint == Endpoint::count_tokens;
  if (req.endpoint != Endpoint::chat_completions && !native)
    return make_error(errc::bad_request,
                      "provider '" + config_.name + "' is an Anthropic provider and serves only /v1/chat/completions, not /v1" +
                          std::string(upstream_path(req.endpoint)),
                      "model");
  net::HttpRequest r;
  if (native) {
    r.body = req.body_for_model(upstream_model);  // as the client sent it
  } else {
    auto body = to_anthropic_request(req, upstream_model, config_.default_max_tokens);
    if (!body) return std::move(body).error();
    r.body = std::move(body).value();
  }
  r.target = base_.path + "/v1" + std::string(upstream_path(native ? req.endpoint : Endpoint::messages));
  r.headers.reserve(5 + config_.headers.size());
  r.headers.push_back({"Content-Type", "application/json"});
  r.headers.push_back({"Accept", req.stream ? "text/event-stream" : "application/json"});
  if (!config_.api_key.empty()) r.headers.push_back({"x-api-key", config_.api_key});
  append_headers(req, r.headers);
  return r;
}

void AnthropicProvider::append_headers(const LlmRequest& req, std::vector<Header>& headers) const {
  auto is = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  std::string version = config_.anthropic_version;
  std::string beta;
  for (const Header& h : req.forward_headers) {  // only native requests carry them
    if (is(h.name, "anthropic-version")) version = h.value;
    else if (is(h.name, "anthropic-beta")) beta = h.value;
  }
  headers.push_back({"anthropic-version", std::move(version)});
  for (const auto& [name, value] : config_.headers) {
    if (is(name, "anthropic-beta") && !beta.empty()) beta = value + "," + beta;
    else headers.push_back({name, value});
  }
  if (!beta.empty()) headers.push_back({"anthropic-beta", std::move(beta)});
}

asio::awaitable<Result<ProviderResponse>> AnthropicProvider::complete(const LlmRequest& req, std::string upstream_model,
                                                                      RequestContext& ctx) {
  auto request = make_request(req, upstream_model);
  if (!request) co_return std::move(request).error();
  net::HttpRequest http = std::move(request).value();  // named: see session.cpp on g++ 12
  auto response = co_await client_.send(std::move(http), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299)
    co_return redacted(map_anthropic_error(config_.name, status, response->body, response->head), *redactor_);
  if (req.endpoint != Endpoint::chat_completions) {  // native: relayed as it came, once it is checked
    const std::optional<Usage> usage = json_object_usage(response->body);
    if (!usage)
      co_return make_error(errc::upstream_protocol,
                           "provider '" + config_.name + "': the answer is not a JSON object");
    ProviderResponse out{status, std::move(response->body), anthropic_surfaced_headers(response->head), *usage,
                         parse_rate_limits(response->head)};
    redactor_->redact_json(out.body);
    co_return out;
  }
  auto translated = to_openai_response(response->body, unix_now());
  if (!translated) {
    Error e = std::move(translated).error();
    e.message = "provider '" + config_.name + "': " + e.message;
    co_return redacted(std::move(e), *redactor_);
  }
  ProviderResponse out{status, std::move(translated->body), anthropic_surfaced_headers(response->head),
                       translated->usage, parse_rate_limits(response->head)};
  redactor_->redact_json(out.body);
  co_return out;
}

asio::awaitable<Result<StreamStart>> AnthropicProvider::stream(const LlmRequest& req, std::string upstream_model,
                                                               RequestContext& ctx) {
  auto request = make_request(req, upstream_model);
  if (!request) co_return std::move(request).error();
  net::HttpRequest http = std::move(request).value();
  auto response = co_await client_.open(std::move(http), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299) {
    const std::string body = co_await read_error_body(*response->body);
    co_return redacted(map_anthropic_error(config_.name, status, body, response->head), *redactor_);
  }
  const auto mode = req.endpoint == Endpoint::messages ? AnthropicStreamTranslator::Mode::relay
                                                       : AnthropicStreamTranslator::Mode::translate;
  co_return StreamStart{anthropic_surfaced_headers(response->head),
                        redacting(std::make_unique<AnthropicChunkStream>(std::move(response->body), config_.name,
                                                                         req.include_usage, mode),
                                  redactor_),
                        parse_rate_limits(response->head)};
}

}  // namespace sluice::providers
