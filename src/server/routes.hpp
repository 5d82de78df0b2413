// Routes: the front door's route table, every endpoint in one place, and the
// thin handlers behind it. A handler parses the request in its dialect into a
// Call, runs the pipeline and renders the answer; the session only reads and
// writes. Beast-free, so handlers and their tests build fast.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "reply.hpp"
#include "sluice/core/call.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/metrics.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace sluice::server {

// Reads a request header by name (case-insensitive), "" when absent. A view
// of the session's parsed request; valid while the request is handled.
class HeaderLookup {
 public:
  using Get = std::string_view (*)(const void* fields, std::string_view name);
  HeaderLookup(const void* fields, Get get) : fields_(fields), get_(get) {}
  std::string_view operator()(std::string_view name) const { return get_(fields_, name); }

 private:
  const void* fields_;
  Get get_;
};

// One request as the session read it.
struct Inbound {
  std::string_view method;
  std::string_view path;  // the target without its query string
  HeaderLookup header;
  std::string body;
  boost::asio::ip::address peer;  // the client's address
};

// The gateway key a request presents: `Authorization: Bearer <key>` (the
// OpenAI SDKs, and the Anthropic SDKs since 1.x), else `x-api-key` (the
// Anthropic SDKs, coding agents); "" when neither. A secret: never logged.
std::string_view presented_key(const HeaderLookup& header);

// What the stages need from a request's headers: Cache-Control's no-cache /
// no-store, Prefer's respond-async, the overflow queue's x-sluice-priority
// (high | normal | low) and x-sluice-max-wait (a duration), and the headers
// named in `wanted` (those router rules read) into call.headers. A malformed
// value is a 400 that names the header.
std::optional<Error> read_call_headers(const HeaderLookup& header, Call& call,
                                       const std::vector<std::string>& wanted = {});

// Whose conventions the answers on `path` follow: Anthropic's for
// /v1/messages and below, OpenAI's elsewhere. For refusals the session makes
// before the route table runs (413, 408...).
Wire wire_of_path(std::string_view path);

class Routes {
 public:
  // `draining` is the server's flag; the references must outlive the routes.
  // `metrics` (null: metrics are off, /metrics is a 404) is what GET
  // /metrics renders; with `metrics_require_key` a peer beyond loopback must
  // pass the API's authentication to read it.
  Routes(pipeline::Pipeline& pipeline, const bool& draining, const CorsConfig& cors,
         const Metrics* metrics = nullptr, bool metrics_require_key = false);

  // Answers one request: a route's handler, 404 for an unknown path, 405
  // (with Allow) for a known path and another method. HEAD is answered as
  // GET; the session leaves the body out. With CORS on, a preflight is
  // answered before the route table and every answer gets the CORS headers
  // (cors.hpp). Never throws for a client's mistake or an upstream failure.
  boost::asio::awaitable<Reply> handle(Inbound& request, RequestContext& ctx);

 private:
  boost::asio::awaitable<Reply> route(Inbound& request, RequestContext& ctx);

  using Handler = boost::asio::awaitable<Reply> (Routes::*)(Inbound&, RequestContext&);
  struct Route {
    std::string_view method;
    std::string_view path;  // ends in '/' for a prefix whose rest is the route's parameter
    Handler handler;
  };
  static const Route kTable[];

  boost::asio::awaitable<Reply> health(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> ready(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> metrics(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> chat_completions(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> completions(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> embeddings(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> list_models(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> get_model(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> get_job(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> submit_job(const auth::Caller& caller, Call call, RequestContext& ctx);
  boost::asio::awaitable<Reply> messages(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> count_tokens(Inbound&, RequestContext&);
  boost::asio::awaitable<Reply> responses(Inbound&, RequestContext&);

  // The OpenAI dialect's LLM endpoints: authenticate, parse, serve, render.
  boost::asio::awaitable<Reply> openai_call(Endpoint endpoint, Inbound& request, RequestContext& ctx);
  // Who is calling, before anything else about the request is looked at.
  Result<auth::Caller> authenticate(const Inbound& request, RequestContext& ctx);
  // A Messages request (messages or count_tokens): who calls, then the body
  // parsed into a Call with what it needs of the headers.
  Result<std::pair<auth::Caller, Call>> messages_call(Endpoint endpoint, Inbound& request, RequestContext& ctx);
  // An error answer after the pipeline ran: the group's limits come along.
  Reply failed(Error error, const RequestContext& ctx, Wire wire);

  pipeline::Pipeline& pipeline_;
  const bool& draining_;
  const CorsConfig& cors_;
  const Metrics* metrics_;
  bool metrics_require_key_;
};

// The path a request target names, without its query string. An
// absolute-form target (`http://host/v1/models`, RFC 9112 section 3.2.2,
// which servers must accept) gives its path; an empty path is "/". The view
// points into `target` (or at a static "/").
std::string_view request_path(std::string_view target);

// "%2F" -> "/", "+" kept as is (a path, not a form); nullopt for a broken
// escape or an escape that decodes to a NUL or a control character.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace sluice::server
