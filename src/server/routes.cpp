#include "routes.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <utility>

#include "anthropic_answer.hpp"
#include "anthropic_wire.hpp"
#include "cors.hpp"
#include "dialect_streams.hpp"
#include "openai_wire.hpp"
#include "responses_answer.hpp"
#include "responses_wire.hpp"
#include "sluice/core/json_text.hpp"

namespace sluice::server {

namespace asio = boost::asio;
using pipeline::Job;
using pipeline::JobStatus;
using pipeline::ModelEntry;

// Every endpoint the gateway serves. A path may appear with several methods;
// a known path asked with another method is a 405 that lists them.
const Routes::Route Routes::kTable[] = {
    {"GET", "/healthz", &Routes::health},
    {"GET", "/readyz", &Routes::ready},
    {"GET", "/metrics", &Routes::metrics},
    {"POST", "/v1/chat/completions", &Routes::chat_completions},
    {"POST", "/v1/completions", &Routes::completions},
    {"POST", "/v1/embeddings", &Routes::embeddings},
    {"GET", "/v1/models", &Routes::list_models},
    {"GET", "/v1/models/", &Routes::get_model},
    {"GET", "/v1/jobs/", &Routes::get_job},
    {"POST", "/v1/messages", &Routes::messages},
    {"POST", "/v1/messages/count_tokens", &Routes::count_tokens},
    {"POST", "/v1/responses", &Routes::responses},
};

namespace {

bool path_matches(std::string_view pattern, std::string_view path) {
  if (pattern.ends_with('/')) return path.size() > pattern.size() && path.starts_with(pattern);
  return path == pattern;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether the comma-separated header value lists `token` (case-insensitive;
// a token may carry parameters, `no-store; x=1` or `respond-async, wait=5`).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    item = item.substr(0, item.find(';'));
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
  }
  return false;
}

// Anthropic's clients send anthropic-version on every request (the SDK's
// models.list() too): it asks for Anthropic's shapes.
Wire wire_of(const Inbound& request) {
  return request.header("anthropic-version").empty() ? Wire::openai : Wire::anthropic;
}

// What an upstream speaking Messages natively should see of the client's
// headers: the API version and the beta features its body may use.
void read_anthropic_headers(const HeaderLookup& header, LlmRequest& req) {
  for (const char* name : {"anthropic-version", "anthropic-beta"}) {
    const std::string_view value = header(name);
    if (!value.empty() && value.size() <= 1024 && is_safe_header_value(value))
      req.forward_headers.push_back({name, std::string(value)});
  }
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string model_object(const ModelEntry& model) {
  std::string out = R"({"id":)";
  append_json_string(out, model.id);
  out += R"(,"object":"model","created":0,"owned_by":)";
  append_json_string(out, model.owned_by);
  out += '}';
  return out;
}

Error model_not_found(std::string_view model) {
  return make_error(errc::model_not_found,
                    "The model `" + std::string(model) + "` does not exist or you do not have access to it.", "model");
}

// A job as GET /v1/jobs/{id} shows it; once finished, with the answer in
// the shape of an OpenAI batch output line ("response": status and body).
std::string job_object(const Job& job) {
  std::string out = R"({"id":)";
  append_json_string(out, job.id);
  out += R"(,"object":"sluice.job","status":)";
  append_json_string(out, to_string(job.status));
  out += R"(,"model":)";
  append_json_string(out, job.model);
  out += R"(,"created_at":)" + std::to_string(job.created_at);
  if (job.status == JobStatus::completed || job.status == JobStatus::failed) {
    out += R"(,"response":{"status_code":)" + std::to_string(job.http_status) + R"(,"body":)";
    out += job.body.empty() ? "null" : job.body;
    out += '}';
  }
  out += '}';
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view request_path(std::string_view target) {
  if (!target.starts_with('/')) {
    // absolute-form: scheme "://" authority [path] ["?" query]
    const std::size_t scheme_end = target.find("://");
    const bool is_scheme = scheme_end != std::string_view::npos && scheme_end > 0 &&
                           std::all_of(target.begin(), target.begin() + scheme_end, [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                           });
    if (is_scheme) {
      const std::string_view rest = target.substr(scheme_end + 3);
      const std::size_t path_at = rest.find_first_of("/?");
      target = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
      if (!target.starts_with('/')) return "/";
    }
  }
  return target.substr(0, target.find('?'));
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto c = static_cast<unsigned char>(hi * 16 + lo);
    if (c < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(static_cast<char>(c));
    i += 2;
  }
  return out;
}

std::string_view presented_key(const HeaderLookup& header) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view authorization = header("authorization");
  if (authorization.size() > kBearer.size() && iequals(authorization.substr(0, kBearer.size()), kBearer))
    return authorization.substr(kBearer.size());
  return header("x-api-key");
}

Wire wire_of_path(std::string_view path) {
  return path == "/v1/messages" || path.starts_with("/v1/messages/") ? Wire::anthropic : Wire::openai;
}

std::optional<Error> read_call_headers(const HeaderLookup& header, Call& call,
                                       const std::vector<std::string>& wanted) {
  if (const std::string_view priority = header("x-sluice-priority"); !priority.empty()) {
    if (iequals(priority, "high")) call.priority = Priority::high;
    else if (iequals(priority, "normal")) call.priority = Priority::normal;
    else if (iequals(priority, "low")) call.priority = Priority::low;
    else return make_error(errc::bad_request, "x-sluice-priority must be high, normal or low");
  }
  if (const std::string_view wait = header("x-sluice-max-wait"); !wait.empty()) {
    const auto parsed = parse_duration(wait);
    if (!parsed) return make_error(errc::bad_request, "x-sluice-max-wait must be a duration like 500ms, 10s or 2m");
    call.max_wait = *parsed;
  }
  if (const std::string_view cache = header("cache-control"); !cache.empty()) {
    if (lists_token(cache, "no-store")) call.cache = CacheDirective::no_store;
    else if (lists_token(cache, "no-cache")) call.cache = CacheDirective::no_cache;
  }
  call.respond_async = lists_token(header("prefer"), "respond-async");
  for (const std::string& name : wanted)
    if (const std::string_view value = header(name); !value.empty()) call.headers.push_back({name, std::string(value)});
  return std::nullopt;
}

Routes::Routes(pipeline::Pipeline& pipeline, const bool& draining, const CorsConfig& cors, const Metrics* metrics,
               bool metrics_require_key)
    : pipeline_(pipeline), draining_(draining), cors_(cors), metrics_(metrics),
      metrics_require_key_(metrics_require_key) {}

asio::awaitable<Reply> Routes::handle(Inbound& request, RequestContext& ctx) {
  if (!cors_.enabled()) co_return co_await route(request, ctx);
  if (is_preflight(request.method, request.header)) co_return preflight_reply(cors_, request.header);
  Reply reply = co_await route(request, ctx);
  add_cors_headers(cors_, request.header, reply);
  co_return reply;
}

asio::awaitable<Reply> Routes::route(Inbound& request, RequestContext& ctx) {
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : request.method;
  std::string allowed;  // methods of the routes whose path matched
  for (const Route& route : kTable) {
    if (!path_matches(route.path, request.path)) continue;
    if (route.method == method) co_return co_await (this->*route.handler)(request, ctx);
    if (!allowed.empty()) allowed += ", ";
    allowed += route.method;
    if (route.method == "GET") allowed += ", HEAD";
  }
  if (allowed.empty())
    co_return error_reply(make_error(errc::not_found, "Invalid URL (" + std::string(request.method) + " " +
                                                          std::string(request.path) + ")"),
                          wire_of_path(request.path));
  Reply reply = error_reply(make_error(errc::method_not_allowed, "Use " + allowed + " for " + std::string(request.path)),
                            wire_of_path(request.path));
  reply.headers.push_back({"allow", std::move(allowed)});
  co_return reply;
}

asio::awaitable<Reply> Routes::health(Inbound&, RequestContext&) { co_return json_reply(R"({"status":"ok"})"); }

asio::awaitable<Reply> Routes::ready(Inbound&, RequestContext&) {
  if (draining_) co_return error_reply(make_error(errc::shutting_down, "draining"));
  co_return json_reply(R"({"status":"ready"})");
}

// Loopback (a sidecar's own Prometheus agent, an operator on the host) never
// needs a key; beyond it, metrics.require_key makes /metrics as guarded as
// /v1/models. Metrics carry no secrets, prompts or ids, only configured
// names and figures.
asio::awaitable<Reply> Routes::metrics(Inbound& request, RequestContext& ctx) {
  if (!metrics_) co_return error_reply(make_error(errc::not_found, "Invalid URL (GET /metrics): metrics are off"));
  if (metrics_require_key_ && !request.peer.is_loopback()) {
    auto caller = authenticate(request, ctx);
    if (!caller) co_return error_reply(std::move(caller).error());
  }
  Reply reply;
  reply.body = metrics_->scrape();
  reply.content_type = kExpositionContentType;
  co_return reply;
}

asio::awaitable<Reply> Routes::chat_completions(Inbound& request, RequestContext& ctx) {
  co_return co_await openai_call(Endpoint::chat_completions, request, ctx);
}

asio::awaitable<Reply> Routes::completions(Inbound& request, RequestContext& ctx) {
  co_return co_await openai_call(Endpoint::completions, request, ctx);
}

asio::awaitable<Reply> Routes::embeddings(Inbound& request, RequestContext& ctx) {
  co_return co_await openai_call(Endpoint::embeddings, request, ctx);
}

Result<auth::Caller> Routes::authenticate(const Inbound& request, RequestContext& ctx) {
  return pipeline_.authenticate(presented_key(request.header), request.peer, ctx);
}

Reply Routes::failed(Error error, const RequestContext& ctx, Wire wire) {
  Reply reply = error_reply(std::move(error), wire);
  add_limit_headers(reply, ctx);
  add_route_headers(reply, ctx);
  add_cache_headers(reply, ctx);
  return reply;
}

asio::awaitable<Reply> Routes::openai_call(Endpoint endpoint, Inbound& request, RequestContext& ctx) {
  auto caller = authenticate(request, ctx);
  if (!caller) co_return error_reply(std::move(caller).error());
  auto parsed = parse_request(endpoint, std::move(request.body));
  if (!parsed) co_return error_reply(std::move(parsed).error());
  const EncodingFormat encoding = parsed->encoding_format;
  Call call{std::move(parsed).value()};
  if (auto bad = read_call_headers(request.header, call, pipeline_.header_names())) co_return error_reply(std::move(*bad));
  if (call.respond_async) co_return co_await submit_job(*caller, std::move(call), ctx);
  auto answer = co_await pipeline_.serve(*caller, std::move(call), ctx);
  if (!answer) co_return failed(std::move(answer).error(), ctx, Wire::openai);
  // The OpenAI SDKs ask embeddings for base64 by default and silently misread
  // a float array: answer in the encoding that was asked for.
  if (endpoint == Endpoint::embeddings)
    if (auto converted = convert_embeddings(answer->body, encoding)) answer->body = std::move(*converted);
  co_return answer_reply(std::move(answer).value(), ctx);
}

// Prefer: respond-async: 202 with the job to poll, whatever the queue holds.
asio::awaitable<Reply> Routes::submit_job(const auth::Caller& caller, Call call, RequestContext& ctx) {
  if (call.request.stream)
    co_return error_reply(make_error(errc::bad_request, "Prefer: respond-async cannot be combined with stream: true; "
                                                        "the job's answer is kept whole", "stream"));
  const std::string model = call.request.model;
  auto id = co_await pipeline_.submit(caller, std::move(call), ctx);
  if (!id) co_return error_reply(std::move(id).error());
  Job job;
  job.id = *id;
  job.model = model;
  Reply reply = json_reply(job_object(job));
  reply.status = 202;
  reply.headers.push_back({"location", "/v1/jobs/" + *id});
  reply.headers.push_back({"preference-applied", "respond-async"});
  co_return reply;
}

asio::awaitable<Reply> Routes::get_job(Inbound& request, RequestContext& ctx) {
  auto caller = authenticate(request, ctx);
  if (!caller) co_return error_reply(std::move(caller).error());
  const std::string id(request.path.substr(std::string_view("/v1/jobs/").size()));
  auto found = co_await pipeline_.job(*caller, id);
  if (!found) co_return error_reply(std::move(found).error());
  const std::optional<Job>& job = *found;
  // Another tenant's job is as unknown as a job that never was.
  if (!job) co_return error_reply(make_error(errc::not_found, "No job `" + id + "` (it may have expired)."));
  Reply reply = json_reply(job_object(*job));
  if (job->status == JobStatus::queued || job->status == JobStatus::running)
    reply.headers.push_back({"retry-after", "1"});
  co_return reply;
}

asio::awaitable<Reply> Routes::list_models(Inbound& request, RequestContext& ctx) {
  const Wire wire = wire_of(request);
  auto caller = authenticate(request, ctx);
  if (!caller) co_return error_reply(std::move(caller).error(), wire);
  const std::vector<ModelEntry> models = co_await pipeline_.models(*caller, ctx);
  std::string body = wire == Wire::anthropic ? R"({"data":[)" : R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (i) body += ',';
    body += wire == Wire::anthropic ? anthropic_model_object(models[i].id) : model_object(models[i]);
  }
  body += "]";
  if (wire == Wire::anthropic) {  // one page holds them all
    body += R"(,"has_more":false,"first_id":)";
    if (models.empty()) body += "null"; else append_json_string(body, models.front().id);
    body += R"(,"last_id":)";
    if (models.empty()) body += "null"; else append_json_string(body, models.back().id);
  }
  body += "}";
  Reply reply = json_reply(std::move(body));
  reply.wire = wire;
  co_return reply;
}

asio::awaitable<Reply> Routes::get_model(Inbound& request, RequestContext& ctx) {
  // The SDKs percent-encode the id: `meta-llama/Llama-3.1-8B` arrives as
  // `meta-llama%2FLlama-3.1-8B`.
  const Wire wire = wire_of(request);
  auto caller = authenticate(request, ctx);
  if (!caller) co_return error_reply(std::move(caller).error(), wire);
  const auto id = percent_decode(request.path.substr(std::string_view("/v1/models/").size()));
  if (!id)
    co_return error_reply(make_error(errc::bad_request, "the model id in the path is not validly percent-encoded"), wire);
  const std::vector<ModelEntry> models = co_await pipeline_.models(*caller, ctx);
  auto it = std::find_if(models.begin(), models.end(), [&](const ModelEntry& m) { return m.id == *id; });
  if (it == models.end()) co_return error_reply(model_not_found(*id), wire);
  Reply reply = json_reply(wire == Wire::anthropic ? anthropic_model_object(it->id) : model_object(*it));
  reply.wire = wire;
  co_return reply;
}

Result<std::pair<auth::Caller, Call>> Routes::messages_call(Endpoint endpoint, Inbound& request, RequestContext& ctx) {
  auto caller = authenticate(request, ctx);
  if (!caller) return std::move(caller).error();
  auto parsed = parse_messages_request(endpoint, std::move(request.body));
  if (!parsed) return std::move(parsed).error();
  Call call{std::move(parsed).value()};
  if (auto bad = read_call_headers(request.header, call, pipeline_.header_names())) return std::move(*bad);
  read_anthropic_headers(request.header, call.request);
  return std::pair(std::move(caller).value(), std::move(call));
}

asio::awaitable<Reply> Routes::messages(Inbound& request, RequestContext& ctx) {
  auto in = messages_call(Endpoint::messages, request, ctx);
  if (!in) co_return error_reply(std::move(in).error(), Wire::anthropic);
  auto answer = co_await pipeline_.serve(in->first, std::move(in->second), ctx);
  if (!answer) co_return failed(std::move(answer).error(), ctx, Wire::anthropic);
  // Served through chat completions: translated back. Served natively: as it came.
  const std::string id = "msg_" + ctx.request_id;
  if (answer->format != Endpoint::messages) {
    if (answer->stream) {
      answer->stream = translated_stream(std::move(answer->stream), std::make_unique<ChatToMessagesStream>(id));
    } else {
      auto message = chat_to_message(answer->body, id);
      if (!message) co_return failed(std::move(message).error(), ctx, Wire::anthropic);
      answer->body = std::move(message).value();
    }
  } else if (answer->stream) {
    answer->stream = native_messages_stream(std::move(answer->stream));
  }
  Reply reply = answer_reply(std::move(answer).value(), ctx);
  reply.wire = Wire::anthropic;
  co_return reply;
}

asio::awaitable<Reply> Routes::count_tokens(Inbound& request, RequestContext& ctx) {
  auto in = messages_call(Endpoint::count_tokens, request, ctx);
  if (!in) co_return error_reply(std::move(in).error(), Wire::anthropic);
  std::string estimate = estimated_count_tokens_body(in->second.request);
  auto counted = co_await pipeline_.count_tokens(in->first, std::move(in->second), ctx);
  if (!counted) co_return failed(std::move(counted).error(), ctx, Wire::anthropic);
  Reply reply;
  if (counted->has_value()) {
    reply = answer_reply(std::move(**counted), ctx);
  } else {  // no deployment can count: the gateway's estimate, and it says so
    reply = json_reply(std::move(estimate));
    reply.headers.push_back({"x-sluice-token-count", "estimated"});
  }
  reply.wire = Wire::anthropic;
  co_return reply;
}

asio::awaitable<Reply> Routes::responses(Inbound& request, RequestContext& ctx) {
  auto caller = authenticate(request, ctx);
  if (!caller) co_return error_reply(std::move(caller).error());
  auto parsed = parse_responses_request(std::move(request.body));
  if (!parsed) co_return error_reply(std::move(parsed).error());
  ResponseDraft draft{"resp_" + ctx.request_id, unix_now(), parsed->request.model, std::move(parsed->echo)};
  Call call{std::move(parsed->request)};
  if (auto bad = read_call_headers(request.header, call, pipeline_.header_names())) co_return error_reply(std::move(*bad));
  auto answer = co_await pipeline_.serve(*caller, std::move(call), ctx);
  if (!answer) co_return failed(std::move(answer).error(), ctx, Wire::openai);
  if (answer->format != Endpoint::responses) {
    if (answer->stream) {
      answer->stream = translated_stream(std::move(answer->stream), std::make_unique<ChatToResponsesStream>(std::move(draft)));
    } else {
      auto response = chat_to_response(answer->body, std::move(draft));
      if (!response) co_return failed(std::move(response).error(), ctx, Wire::openai);
      answer->body = std::move(response).value();
    }
  } else if (answer->stream) {
    answer->stream = native_responses_stream(std::move(answer->stream));
  }
  co_return answer_reply(std::move(answer).value(), ctx);
}

}  // namespace sluice::server
