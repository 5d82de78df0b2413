#include "openai.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <simdjson.h>

#include "openai_stream.hpp"
#include "sluice/providers/rate_limits.hpp"

namespace sluice::providers {

namespace asio = boost::asio;

namespace {

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

// A 2xx whose body is not JSON: upstream_protocol, which fails over (the next
// deployment may be healthy). The message says what came instead; the body
// itself is not quoted (it may be a cut-off answer).
Error not_json_error(std::string_view provider, int status, const net::FullResponse& response) {
  std::string message = "provider '" + std::string(provider) + "': the upstream answered " + std::to_string(status) +
                        " with a body that is not JSON (";
  const std::string_view type = response.head.header("content-type");
  if (!type.empty() && type.size() <= 100 && is_safe_header_value(type)) message.append(type).append(", ");
  message += std::to_string(response.body.size()) + " bytes)";
  return make_error(errc::upstream_protocol, std::move(message));
}

}  // namespace

namespace {

// Validates `text` as JSON and calls `use(root)` on its root when it is an
// object; false otherwise. Validation is the DOM parser's whole stage 1 and
// 2; ondemand would check only the values it is asked for. The parser copies
// the text into its own padded buffer, so any string_view will do.
template <class Use>
bool with_json_object(std::string_view text, Use&& use) {
  static constexpr std::size_t kKeptCapacity = 1u << 20;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  const bool ok = !parser.parse(text.data(), text.size()).get(root) && root.is_object();
  if (ok) use(root);
  // Its buffers are about 15 times the text; a rare large one (embeddings of
  // a big batch) does not get to keep them.
  if (parser.capacity() > kKeptCapacity) parser = simdjson::dom::parser{};
  return ok;
}

}  // namespace

bool is_json_object(std::string_view text) {
  return with_json_object(text, [](const simdjson::dom::element&) {});
}

namespace {

// A usage object in any of the shapes upstreams write: chat completions'
// prompt_tokens / completion_tokens (cached in prompt_tokens_details), the
// Responses API's input_tokens / output_tokens (cached in
// input_tokens_details, and counted in input_tokens), or Anthropic's, whose
// input_tokens leaves out the cache reads and writes it reports beside them.
Usage read_usage(const simdjson::dom::object& u) {
  Usage usage;
  usage.known = true;
  std::int64_t n = 0;
  if (!u["prompt_tokens"].get_int64().get(n)) usage.prompt_tokens = n;
  else if (!u["input_tokens"].get_int64().get(n)) usage.prompt_tokens = n;
  if (!u["completion_tokens"].get_int64().get(n)) usage.completion_tokens = n;
  else if (!u["output_tokens"].get_int64().get(n)) usage.completion_tokens = n;
  if (!u.at_pointer("/prompt_tokens_details/cached_tokens").get_int64().get(n)) usage.cached_tokens = n;
  else if (!u.at_pointer("/input_tokens_details/cached_tokens").get_int64().get(n)) usage.cached_tokens = n;
  std::int64_t cache_read = 0, cache_creation = 0;
  const bool has_read = !u["cache_read_input_tokens"].get_int64().get(cache_read);
  const bool has_creation = !u["cache_creation_input_tokens"].get_int64().get(cache_creation);
  if (has_read || has_creation) {
    usage.prompt_tokens += cache_read + cache_creation;
    usage.cached_tokens = cache_read;
  }
  return usage;
}

}  // namespace

std::optional<Usage> json_object_usage(std::string_view text) {
  Usage usage;
  const bool ok = with_json_object(text, [&](const simdjson::dom::element& root) {
    simdjson::dom::object u;
    if (!root["usage"].get_object().get(u)) usage = read_usage(u);
  });
  if (!ok) return std::nullopt;
  return usage;
}

std::optional<ResponsesEvent> responses_event(std::string_view data) {
  ResponsesEvent event;
  const bool ok = with_json_object(data, [&](const simdjson::dom::element& root) {
    std::string_view type;
    if (!root["type"].get_string().get(type))
      event.terminal = type == "response.completed" || type == "response.incomplete" || type == "response.failed" ||
                       type == "error";
    simdjson::dom::object u;
    if (!root.at_pointer("/response/usage").get_object().get(u)) event.usage = read_usage(u);
  });
  if (!ok) return std::nullopt;
  return event;
}

Usage parse_openai_usage(std::string_view json) {
  static thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  Usage usage;
  auto doc = parser.iterate(padded);
  if (doc.error()) return usage;
  simdjson::ondemand::object u;
  if (doc["usage"].get_object().get(u)) return usage;
  int64_t prompt = 0, completion = 0, cached = 0;
  if (!u["prompt_tokens"].get_int64().get(prompt)) usage.prompt_tokens = prompt;
  if (!u["completion_tokens"].get_int64().get(completion)) usage.completion_tokens = completion;
  simdjson::ondemand::object details;
  if (!u["prompt_tokens_details"].get_object().get(details) && !details["cached_tokens"].get_int64().get(cached))
    usage.cached_tokens = cached;
  usage.known = true;
  return usage;
}

std::vector<Header> surfaced_headers(const net::ResponseHead& head) {
  std::vector<Header> out;
  for (const Header& h : head.headers)
    if ((h.name.starts_with("x-ratelimit-") || h.name == "retry-after" || h.name == "retry-after-ms") &&
        is_safe_header_value(h.value))
      out.push_back(h);
  return out;
}

Error credentials_refused(std::string_view provider, int status) {
  Error e = make_error(errc::upstream_auth, "provider '" + std::string(provider) + "' answered " +
                                                std::to_string(status) +
                                                ": it refused the gateway's credentials (an operator must fix the "
                                                "gateway's configuration; retrying will not help)");
  e.upstream_status = status;
  return e;
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
  if (status == 401 || status == 403) return credentials_refused(provider, status);
  // 409 is a conflict on the provider's side (OpenAI: a lock timeout), not
  // the request's fault: as a 5xx, another attempt may succeed.
  if (status >= 500 || status == 409) return make_error(errc::upstream_unavailable, std::move(message));
  if (status == 408) return make_error(errc::upstream_timeout, std::move(message));
  Error e = make_error(errc::upstream_rejected, detail.empty() ? std::move(message) : std::move(detail));
  e.http_status = (status >= 400 && status < 500) ? status : 502;
  return e;
}

Error map_upstream_error(std::string_view provider, int status, std::string_view body, const net::ResponseHead& head) {
  bool openai_shaped = false;
  std::string detail = upstream_message(body, openai_shaped);
  Error e = upstream_status_error(provider, status, std::move(detail), head);
  e.upstream_status = status;
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

std::shared_ptr<const Redactor> make_redactor(const ProviderConfig& config) {
  std::vector<std::string> secrets{config.api_key};
  for (const auto& [name, value] : config.headers) secrets.push_back(value);
  return std::make_shared<const Redactor>(std::move(secrets));
}

namespace {

class RedactingStream final : public ChunkStream {
 public:
  RedactingStream(std::unique_ptr<ChunkStream> inner, std::shared_ptr<const Redactor> redactor)
      : inner_(std::move(inner)), redactor_(std::move(redactor)) {}

  // Batches are whole events (the streams never split one), so a secret
  // inside an event is never cut in two.
  asio::awaitable<Result<std::string>> next() override {
    auto batch = co_await inner_->next();
    if (!batch) co_return redacted(std::move(batch).error(), *redactor_);
    redactor_->redact_json(*batch);
    co_return batch;
  }

  Usage usage() const override { return inner_->usage(); }

 private:
  std::unique_ptr<ChunkStream> inner_;
  std::shared_ptr<const Redactor> redactor_;
};

}  // namespace

std::unique_ptr<ChunkStream> redacting(std::unique_ptr<ChunkStream> stream, std::shared_ptr<const Redactor> redactor) {
  if (redactor->empty()) return stream;
  return std::make_unique<RedactingStream>(std::move(stream), std::move(redactor));
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
      dialect_(make_dialect(config, base_.path)),
      client_(std::move(executor), base_, client_options(config)),
      redactor_(make_redactor(config)) {}

net::HttpRequest OpenAiProvider::make_request(const LlmRequest& req, std::string_view upstream_model,
                                              std::string body) const {
  net::HttpRequest r;
  r.target = request_target(dialect_, req.endpoint, upstream_model);
  r.headers.reserve(3 + config_.headers.size());
  r.headers.push_back({"Content-Type", "application/json"});
  r.headers.push_back({"Accept", req.stream ? "text/event-stream" : "application/json"});
  append_upstream_headers(r.headers);
  r.body = std::move(body);
  return r;
}

void OpenAiProvider::append_upstream_headers(std::vector<Header>& headers) const {
  if (!dialect_.auth_header.empty()) headers.push_back({dialect_.auth_header, dialect_.auth_value});
  for (const auto& [name, value] : config_.headers) headers.push_back({name, value});
}

asio::awaitable<Result<ProviderResponse>> OpenAiProvider::complete(const LlmRequest& req, std::string upstream_model,
                                                                   RequestContext& ctx) {
  // named: see session.cpp on g++ 12
  net::HttpRequest request = make_request(req, upstream_model, req.body_for_model(upstream_model));
  auto response = co_await client_.send(std::move(request), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299)
    co_return redacted(dialect_.map_error(config_.name, req.endpoint, status, response->body, response->head),
                       *redactor_);
  // Every endpoint answers a JSON object. What counts is the body, not its
  // Content-Type: servers label JSON text/plain or leave it out, while a CDN's
  // error page or a proxy's text would reach the client as a 200 answer.
  // One parse validates the body and reads its usage.
  const std::optional<Usage> usage = json_object_usage(response->body);
  if (!usage) co_return not_json_error(config_.name, status, *response);
  redactor_->redact_json(response->body);
  co_return ProviderResponse{status, std::move(response->body), surfaced_headers(response->head), *usage,
                             parse_rate_limits(response->head)};
}

bool OpenAiProvider::speaks(Endpoint endpoint) const noexcept {
  if (endpoint == Endpoint::responses) return !dialect_.responses_target.empty();
  return Provider::speaks(endpoint);
}

asio::awaitable<Result<StreamStart>> OpenAiProvider::stream(const LlmRequest& req, std::string upstream_model,
                                                            RequestContext& ctx) {
  // The pool settles budgets with real usage: ask for it when the client did
  // not. (A Responses stream always ends with its usage.)
  const bool responses = req.endpoint == Endpoint::responses;
  std::optional<std::string> with_usage;
  if (dialect_.stream_usage && !req.include_usage && req.endpoint != Endpoint::embeddings && !responses)
    with_usage = body_requesting_usage(req, upstream_model);
  const StreamFilter filter{.drop_empty_choices = dialect_.drop_empty_choices && !responses,
                            .strip_usage = with_usage.has_value(),
                            .responses = responses};
  std::string body = with_usage ? std::move(*with_usage) : req.body_for_model(upstream_model);
  net::HttpRequest request = make_request(req, upstream_model, std::move(body));
  auto response = co_await client_.open(std::move(request), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299) {
    const std::string error_body = co_await read_error_body(*response->body);
    co_return redacted(dialect_.map_error(config_.name, req.endpoint, status, error_body, response->head), *redactor_);
  }
  co_return StreamStart{surfaced_headers(response->head),
                        redacting(make_openai_chunk_stream(std::move(response->body), config_.name, filter), redactor_),
                        parse_rate_limits(response->head)};
}

asio::awaitable<Result<std::vector<std::string>>> OpenAiProvider::list_models(RequestContext& ctx) {
  if (dialect_.models_path.empty() || !dialect_.parse_models) co_return std::vector<std::string>{};
  net::HttpRequest request;
  request.method = "GET";
  request.target = dialect_.models_path;
  request.headers.push_back({"Accept", "application/json"});
  append_upstream_headers(request.headers);
  auto response = co_await client_.send(std::move(request), ctx.cancellation);
  if (!response) co_return std::move(response).error();
  const int status = response->head.status;
  if (status < 200 || status > 299)
    co_return redacted(
        dialect_.map_error(config_.name, Endpoint::chat_completions, status, response->body, response->head),
        *redactor_);
  auto names = dialect_.parse_models(response->body);
  if (!names) co_return make_error(errc::upstream_protocol, "provider '" + config_.name + "': unreadable model list");
  co_return std::move(*names);
}

}  // namespace sluice::providers
