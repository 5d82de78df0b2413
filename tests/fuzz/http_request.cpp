// Fuzz target: the front door's request path without sockets. The input is
// what a client sends on one connection; it arrives in pieces (the first
// byte picks their size) and is read as server/session.cpp reads it: Beast's
// request parser with the server's default limits (header and body size),
// parse_buffered, the Transfer-Encoding and Host checks, then, for the
// routes that take a body, the dialect's parser, and the call headers every
// route reads. Up to four pipelined requests per input.
//
// Invariants: whether a request is accepted, and what it is, do not depend
// on how the bytes were cut; an
// accepted request never has two different Content-Lengths, nor both
// Content-Length and chunked (the smuggling set), nor a CR or LF in a header value; a body
// is never larger than the limit; every refusal has a message and a JSON
// body in the route's dialect; the dialect checks of request_checks.hpp.
#include <charconv>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "anthropic_wire.hpp"
#include "http1.hpp"
#include "request_checks.hpp"
#include "responses_wire.hpp"
#include "routes.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/header.hpp"

namespace {

namespace http = boost::beast::http;
using sluice::server::PaddedStringBody;
using Request = http::request<PaddedStringBody>;

// What reading one request gave, for comparing two ways of cutting the input.
struct Outcome {
  boost::system::error_code ec;
  std::string method, target, body;
  bool keep_alive = false;
  std::size_t used = 0;  // input bytes taken by this request
  bool operator==(const Outcome&) const = default;
};

const sluice::ServerConfig& limits() {
  static const sluice::ServerConfig config;
  return config;
}

// Reads one request from `input` as it arrives `piece` bytes at a time
// (0: all at once), as the session does: the head, then the body.
Outcome read_one(std::string_view input, std::size_t piece, std::optional<Request>* out) {
  http::request_parser<PaddedStringBody> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
  parser.body_limit(limits().max_body_bytes);
  boost::beast::flat_buffer buffer;
  std::size_t fed = 0;
  auto arrive = [&] {
    const std::size_t n = piece == 0 ? input.size() - fed : std::min(piece, input.size() - fed);
    auto dst = buffer.prepare(n);
    std::memcpy(dst.data(), input.data() + fed, n);
    buffer.commit(n);
    fed += n;
    return n > 0;
  };
  Outcome o;
  for (auto until : {sluice::server::Until::header, sluice::server::Until::message}) {
    if (until == sluice::server::Until::message && o.ec) break;
    for (;;) {
      o.ec = sluice::server::parse_buffered(parser, buffer, until, limits().max_header_bytes);
      if (o.ec != http::error::need_more || !arrive()) break;
    }
    if (o.ec == http::error::need_more && fed == input.size()) o.ec = http::error::partial_message;
  }
  o.used = fed - buffer.size();
  if (o.ec) return o;
  Request& req = parser.get();
  o.method = std::string(req.method_string());
  o.target = std::string(req.target());
  o.body = req.body();
  o.keep_alive = req.keep_alive();
  if (out) out->emplace(parser.release());
  return o;
}

std::string_view header_of(const void* fields, std::string_view name) {
  const auto value = (*static_cast<const Request*>(fields))[name];
  return {value.data(), value.size()};
}

void check_head(const Request& req) {
  // Repeated Content-Length fields are accepted only when they agree (RFC
  // 9110 section 8.6), and then with the body they announce. The value is
  // 1*DIGIT, read as a decimal number: "007" is 7.
  for (auto [it, end] = req.equal_range(http::field::content_length); it != end; ++it)
    for (auto item : http::token_list(it->value())) {  // "2, 2" is one value given twice
      std::uint64_t value = 0;
      const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      FUZZ_CHECK(ec == std::errc() && ptr == item.data() + item.size() && value == req.body().size(),
                 "a Content-Length that is not the body's: " + std::string(item));
    }
  if (req.chunked()) FUZZ_CHECK(req.count(http::field::content_length) == 0, "Content-Length with chunked accepted");
  for (const auto& field : req) {
    const std::string_view value(field.value().data(), field.value().size());
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string_view::npos, value);
  }
  FUZZ_CHECK(req.body().size() <= limits().max_body_bytes, "a body over the limit was accepted");
}

// What the routes that take a body do with it before the pipeline.
void handle(Request& req) {
  using namespace sluice;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = server::request_path(target);
  const server::Wire wire = server::wire_of_path(path);
  if (auto te = req[http::field::transfer_encoding]; !te.empty() && !boost::beast::iequals(te, "chunked")) return;  // refused
  if (auto bad = server::host_problem(req)) {
    fuzz::check_refusal(*bad, wire);
    return;
  }
  server::HeaderLookup header(&req, header_of);
  (void)server::presented_key(header);
  Call call;
  if (auto bad = server::read_call_headers(header, call, {"x-tenant", "user-agent"})) {
    fuzz::check_refusal(*bad, wire);
    FUZZ_CHECK(bad->param.empty() || is_safe_header_value(bad->message), bad->message);
  }
  if (req.method() != http::verb::post) return;
  const std::string body = req.body();
  auto parse = [&]() -> std::optional<Result<LlmRequest>> {
    if (path == "/v1/chat/completions") return server::parse_request(Endpoint::chat_completions, std::move(req.body()));
    if (path == "/v1/completions") return server::parse_request(Endpoint::completions, std::move(req.body()));
    if (path == "/v1/embeddings") return server::parse_request(Endpoint::embeddings, std::move(req.body()));
    if (path == "/v1/messages") return server::parse_messages_request(Endpoint::messages, std::move(req.body()));
    if (path == "/v1/messages/count_tokens")
      return server::parse_messages_request(Endpoint::count_tokens, std::move(req.body()));
    if (path == "/v1/responses") {
      auto r = server::parse_responses_request(std::move(req.body()));
      if (!r) return Result<LlmRequest>(std::move(r).error());
      return Result<LlmRequest>(std::move(r->request));
    }
    return std::nullopt;
  };
  auto parsed = parse();
  if (!parsed) return;
  if (!*parsed) fuzz::check_refusal(parsed->error(), wire);
  else fuzz::check_accepted(parsed->value(), body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto split = sluice::fuzz::split_input(sluice::fuzz::text_of(data, size));
  std::string_view rest = split.rest;
  const std::size_t piece = split.selector % 64;  // 0: all at once
  for (int n = 0; n < 4 && !rest.empty(); ++n) {
    std::optional<Request> req;
    const Outcome whole = read_one(rest, 0, &req);
    const Outcome cut = read_one(rest, piece == 0 ? 1 : piece, nullptr);
    // Refusals may differ in kind (a head that never completes is an error
    // when it came whole, a wait for more when it trickles), never in
    // whether the request is accepted, nor in what an accepted one is.
    FUZZ_CHECK(!whole.ec == !cut.ec, "how the bytes arrive changes whether the request is accepted: " +
                                         whole.ec.message() + " / " + cut.ec.message());
    if (!whole.ec) FUZZ_CHECK(whole == cut, "how the bytes arrive changes the request read");
    if (whole.ec) {
      FUZZ_CHECK(sluice::server::is_http_error(whole.ec), whole.ec.message());
      return 0;  // the session answers 4xx and closes
    }
    check_head(*req);
    handle(*req);
    if (!whole.keep_alive) return 0;
    FUZZ_CHECK(whole.used > 0, "a request that took no bytes");
    rest = rest.substr(whole.used);
  }
  return 0;
}
