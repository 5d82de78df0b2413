#include "session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "openai_wire.hpp"
#include "reply.hpp"
#include "request_id.hpp"
#include "routes.hpp"
#include "sluice/core/log.hpp"
#include "sluice/core/request_summary.hpp"
#include "sluice/net/deadline.hpp"

namespace sluice::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// A client that does not read what we write for this long is gone.
constexpr auto kWriteTimeout = std::chrono::seconds(60);
// A stream cut at the end of shutdown_grace still gets its error event and
// chunked terminator, if the client takes them within this.
constexpr auto kCutWriteTimeout = std::chrono::seconds(1);

// Watches the client socket while the gateway waits on an upstream: a client
// that closes its connection fires the request's cancellation, which closes
// the upstream socket, so no provider keeps generating for nobody. Bytes
// arriving instead (a pipelined request) end the watch without firing.
//
// The watch starts only once the wait has lasted kWatchAfter: most requests
// are answered sooner, and arming a socket wait (and cancelling it) costs more
// than the rest of the request's bookkeeping. Disconnects are still seen
// within a fraction of a second.
class DisconnectWatch {
 public:
  static constexpr auto kWatchAfter = std::chrono::milliseconds(50);

  DisconnectWatch(asio::ip::tcp::socket& socket, Cancellation& cancel)
      : socket_(socket), cancel_(cancel), start_(socket.get_executor(), [this] { arm(); }) {
    start_.expire_after(kWatchAfter);
  }
  ~DisconnectWatch() {
    if (!state_) return;
    state_->active = false;
    state_->signal.emit(asio::cancellation_type::all);
  }
  DisconnectWatch(const DisconnectWatch&) = delete;
  DisconnectWatch& operator=(const DisconnectWatch&) = delete;

 private:
  struct State {
    asio::cancellation_signal signal;  // lives as long as the pending wait
    Cancellation* cancel = nullptr;
    bool active = true;
  };

  void arm() {
    state_ = std::make_shared<State>();
    state_->cancel = &cancel_;
    const int fd = socket_.native_handle();
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       asio::bind_cancellation_slot(state_->signal.slot(), [st = state_, fd](error_code ec) {
                         if (ec || !st->active) return;
                         char byte;
                         const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                         if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) st->cancel->cancel();
                       }));
  }

  asio::ip::tcp::socket& socket_;
  Cancellation& cancel_;
  std::shared_ptr<State> state_;  // set once armed
  net::Deadline start_;           // last member: disarmed before the rest goes
};

// Beast's HTTP parse errors (as opposed to socket errors).
bool is_http_error(const error_code& ec) {
  return ec.category() == make_error_code(boost::beast::http::error::end_of_stream).category();
}

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

// The response head, formatted by hand: Beast's serializer was the largest
// user-space cost per request. Values copied from elsewhere are checked for
// line breaks; names come from our own code.
std::string response_head(int status, const Reply& reply, std::string_view request_id, bool keep_alive,
                          bool http10, std::string_view framing) {
  std::string h;
  h.reserve(256);
  h.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  h.append(http::obsolete_reason(static_cast<http::status>(status)));
  if (!reply.content_type.empty()) h.append("\r\nContent-Type: ").append(reply.content_type);
  h.append("\r\nx-request-id: ").append(request_id);
  if (reply.wire == Wire::anthropic) h.append("\r\nrequest-id: ").append(request_id);  // the Anthropic SDKs' name
  for (const Header& field : reply.headers)
    if (is_safe_header_value(field.value)) h.append("\r\n").append(field.name).append(": ").append(field.value);
  if (!framing.empty()) h.append("\r\n").append(framing);
  if (!keep_alive) h.append("\r\nConnection: close");
  else if (http10) h.append("\r\nConnection: keep-alive");
  h.append("\r\n\r\n");
  return h;
}

// A request body as a std::string with room for the JSON parser's padding
// behind it (kBodyPadding), so the body is validated where it was read
// instead of being copied into a larger buffer; string_body reserves exactly
// Content-Length.
struct PaddedStringBody : http::string_body {
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>& header, std::string& body) : inner_(header, body), body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      ec = {};
      if (!length || *length == 0) return;  // chunked: grows as it comes; none: nothing to hold
      if (*length > body_.max_size() - kBodyPadding) {
        ec = http::error::buffer_overflow;
        return;
      }
      body_.reserve(static_cast<std::size_t>(*length) + kBodyPadding);
    }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, error_code& ec) { return inner_.put(buffers, ec); }
    void finish(error_code& ec) { inner_.finish(ec); }

   private:
    http::string_body::reader inner_;
    std::string& body_;
  };
};

enum class Until { header, message };

// Parses what `buffer` already holds, without I/O: a typical request arrives
// whole in the first read, and Beast's async_read on bytes already there
// completes through a posted handler, a scheduler round trip each. Returns
// need_more when the socket must be read (the caller then awaits Beast's
// read, which continues from the parser's state); the parser's limits apply
// as they do there.
template <class Parser>
error_code parse_buffered(Parser& parser, beast::flat_buffer& buffer, Until until) {
  auto done = [&] { return until == Until::header ? parser.is_header_done() : parser.is_done(); };
  while (!done() && buffer.size() > 0) {
    error_code ec;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec) return ec;  // need_more included
    if (used == 0) break;
  }
  return done() ? error_code{} : error_code(http::error::need_more);
}

// "Content-Length: N", formatted without a heap allocation.
class ContentLength {
 public:
  explicit ContentLength(std::size_t n) {
    constexpr std::string_view kName = "Content-Length: ";
    std::memcpy(text_, kName.data(), kName.size());
    size_ = static_cast<std::size_t>(std::to_chars(text_ + kName.size(), text_ + sizeof text_, n).ptr - text_);
  }
  std::string_view view() const { return {text_, size_}; }

 private:
  char text_[40];
  std::size_t size_;
};

// "<size in hex>\r\n" opening one chunk of a chunked body.
std::string chunk_size_line(std::size_t size) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 2, size, 16);
  *end++ = '\r';
  *end++ = '\n';
  return std::string(buf, end);
}

// RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host header;
// a server must answer 400 otherwise.
std::optional<Error> host_problem(const http::request_header<>& head) {
  if (head.version() < 11 || head.count(http::field::host) == 1) return std::nullopt;
  return make_error(errc::bad_request, head.count(http::field::host) == 0
                                           ? "an HTTP/1.1 request must have a Host header"
                                           : "a request must not have more than one Host header");
}

Error stream_cut_error() {
  return make_error(errc::shutting_down, "the gateway is shutting down; the stream was cut at the end of its grace period");
}

// A chunked body grew past what BodyBudget had left (see read_body).
const error_code kOverBudget = make_error_code(boost::system::errc::not_enough_memory);

Error body_budget_error() {
  return make_error(errc::overloaded, "the gateway is buffering too many request bodies; retry shortly");
}

// Reads what parse_buffered left of the request body. A body of known length
// is already counted in `hold` (its Content-Length, reserved before reading);
// a chunked one is counted as it grows, and reading stops with kOverBudget as
// soon as it no longer fits.
template <class Parser>
asio::awaitable<error_code> read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer, Parser& parser,
                                      BodyBudget::Hold& hold) {
  if (!parser.chunked()) {
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUse);
    co_return ec;
  }
  while (!parser.is_done()) {
    if (!hold.grow_to(parser.get().body().size())) co_return kOverBudget;
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kUse);
    if (ec) co_return ec;
  }
  co_return hold.grow_to(parser.get().body().size()) ? error_code{} : kOverBudget;
}

}  // namespace

struct Session::Outcome {
  int status = 0;
  std::size_t bytes_out = 0;
  bool stream = false;
  std::optional<Error> error;
};

Session::Session(asio::ip::tcp::socket socket, std::shared_ptr<SessionEnv> env)
    : stream_(std::move(socket)),
      env_(std::move(env)),
      // Cancels (rather than closes) the pending operation, so a 408 can still be written.
      deadline_(stream_.get_executor(), [this] {
        error_code ignored;
        stream_.socket().cancel(ignored);
      }) {
  error_code ec;
  peer_ = stream_.socket().remote_endpoint(ec).address();  // unspecified if the client left already
  env_->sessions.insert(this);
}

Session::~Session() {
  env_->sessions.erase(this);
  if (env_->on_session_closed) env_->on_session_closed();
}

void Session::drain() {
  closing_ = true;
  error_code ec;
  if (idle_) stream_.socket().cancel(ec);  // may be closed already (idle timeout)
}

void Session::force_close() {
  closing_ = true;
  if (current_) current_->cancellation.cancel();
  if (stream_started_) {
    cut_stream();
    return;
  }
  error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

// header_timeout for the head and body of the request about to be read. A
// connection's first request had the same bound for its first byte, so its
// window counts from the accept: a client cannot stretch it to twice by
// sending its first byte late.
net::Deadline::Clock::duration Session::head_window(Millis header_timeout) const {
  if (!first_request_) return header_timeout;
  const auto left = connected_at_ + header_timeout - net::Deadline::Clock::now();
  return std::max(left, net::Deadline::Clock::duration::zero());
}

// The upstream is cancelled already; write_stream ends the stream itself (an
// SSE error event, the chunked terminator) and the connection closes. A write
// in progress gets kCutWriteTimeout to finish, as do the last bytes.
void Session::cut_stream() {
  cut_ = true;
  if (deadline_.armed()) deadline_.expire_after(kCutWriteTimeout);
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  try {
    while (!closing_ && co_await serve_one()) {
    }
  } catch (const std::exception& e) {
    log::error("session_failed", {{"what", e.what()}});
  }
  error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (linger_) {
    // The client may still be sending the request we refused; closing with
    // unread bytes would reset the connection and destroy our answer in
    // flight. Read and drop a bounded amount first.
    std::array<char, 16384> scratch;
    std::size_t dropped = 0;
    stream_.expires_after(std::chrono::seconds(1));
    while (dropped < (4u << 20)) {
      auto [rec, n] = co_await stream_.async_read_some(asio::buffer(scratch), kUse);
      if (rec) break;
      dropped += n;
    }
  }
  stream_.socket().close(ec);
}

// Reads and answers one request. Returns false when the connection should close.
asio::awaitable<bool> Session::serve_one() {
  const ServerConfig& cfg = env_->config.server;
  // Wait for the first byte: the keep-alive idle time, except on a fresh
  // connection, which must send its request within header_timeout.
  if (buffer_.size() == 0) {
    idle_ = true;
    deadline_.expire_after(first_request_ ? cfg.header_timeout : cfg.keepalive_timeout);
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kUse);
    deadline_.disarm();
    idle_ = false;
    if (ec || closing_) co_return false;  // closed, idle timeout, or draining: close quietly
    buffer_.commit(n);
  }
  idle_ = false;

  wire_ = Wire::openai;
  // The whole request (head and body) must arrive within header_timeout:
  // slow senders get a 408 and are cut off.
  http::request_parser<PaddedStringBody> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(cfg.max_body_bytes);
  deadline_.expire_after(head_window(cfg.header_timeout));
  first_request_ = false;
  error_code hec = parse_buffered(parser, buffer_, Until::header);
  if (hec == http::error::need_more) std::tie(hec, std::ignore) = co_await http::async_read_header(stream_, buffer_, parser, kUse);
  if (hec && deadline_.expired()) hec = beast::error::timeout;
  if (hec) deadline_.disarm();
  if (hec) {
    if (hec == http::error::end_of_stream) co_return false;
    if (hec == http::error::header_limit)
      co_await refuse(make_error(errc::headers_too_large, "request header block is larger than " +
                                                              std::to_string(cfg.max_header_bytes) + " bytes"), {});
    else if (hec == beast::error::timeout)
      co_await refuse(make_error(errc::request_timeout, "request not received within the header timeout"), {});
    else if (hec == http::error::body_limit) {
      // Beast checks Content-Length against the limit once the whole head is
      // parsed, so the fields are there: echo the client's request id.
      const std::string_view id = parser.get()["x-request-id"];
      wire_ = wire_of_path(request_path({parser.get().target().data(), parser.get().target().size()}));
      co_await refuse(make_error(errc::payload_too_large, "request body is larger than " +
                                                              std::to_string(cfg.max_body_bytes) + " bytes"),
                      is_valid_request_id(id) ? id : std::string_view{});
    }
    else if (is_http_error(hec))
      co_await refuse(make_error(errc::bad_request, "malformed HTTP request: " + hec.message()), {});
    co_return false;
  }

  auto& head = parser.get();
  wire_ = wire_of_path(request_path({head.target().data(), head.target().size()}));
  RequestContext ctx;
  {
    auto id = head["x-request-id"];
    ctx.request_id = is_valid_request_id(id) ? std::string(id) : new_request_id();
  }
  // Beast reads a body with Transfer-Encoding other than "chunked" as empty
  // and the rest as the next request: a smuggling hole. Refuse anything else.
  if (auto te = head[http::field::transfer_encoding]; !te.empty() && !iequals(te, "chunked")) {
    deadline_.disarm();
    co_await refuse(make_error(errc::unsupported_encoding,
                               "Transfer-Encoding '" + std::string(te.substr(0, 64)) + "' is not supported; use chunked"),
                    ctx.request_id);
    co_return false;
  }
  if (auto bad = host_problem(head)) {
    deadline_.disarm();
    co_await refuse(*bad, ctx.request_id);
    co_return false;
  }
  // The declared body counts against the process-wide budget before any of
  // it is read (and before 100 Continue invites it).
  BodyBudget::Hold body_hold = env_->body_budget.hold();
  if (!body_hold.grow_to(parser.content_length().value_or(0))) {
    deadline_.disarm();
    co_await refuse(body_budget_error(), ctx.request_id);
    co_return false;
  }
  if (iequals(head[http::field::expect], "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [wec, wn] = co_await asio::async_write(stream_, asio::buffer(kContinue), kUse);
    if (wec) co_return false;
  }
  error_code bec = parse_buffered(parser, buffer_, Until::message);
  if (bec == http::error::need_more) bec = co_await read_body(stream_, buffer_, parser, body_hold);
  else if (!bec && !body_hold.grow_to(parser.get().body().size())) bec = kOverBudget;  // a chunked body read whole
  deadline_.disarm();
  if (bec && deadline_.expired()) bec = beast::error::timeout;
  if (bec) {
    if (bec == http::error::body_limit)
      co_await refuse(make_error(errc::payload_too_large, "request body is larger than " +
                                                              std::to_string(cfg.max_body_bytes) + " bytes"), ctx.request_id);
    else if (bec == beast::error::timeout)
      co_await refuse(make_error(errc::request_timeout, "request body not received within the header timeout"),
                      ctx.request_id);
    else if (bec == kOverBudget)
      co_await refuse(body_budget_error(), ctx.request_id);
    else if (is_http_error(bec))
      co_await refuse(make_error(errc::bad_request, "malformed HTTP request body: " + bec.message()), ctx.request_id);
    co_return false;
  }
  auto& req = parser.get();
  http10_ = req.version() < 11;
  const bool keep_alive = req.keep_alive() && !closing_;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view method(req.method_string().data(), req.method_string().size());
  head_only_ = method == "HEAD";
  const std::size_t bytes_in = req.body().size();
  Inbound inbound{method, request_path(target),
                  HeaderLookup(&req, [](const void* fields, std::string_view name) {
                    const auto value = (*static_cast<const http::request<PaddedStringBody>*>(fields))[name];
                    return std::string_view(value.data(), value.size());
                  }),
                  std::move(req.body()), peer_};

  Reply reply;
  current_ = &ctx;
  try {
    DisconnectWatch watch(stream_.socket(), ctx.cancellation);
    reply = co_await env_->routes.handle(inbound, ctx);
  } catch (const std::exception& e) {
    log::error("request_failed", {{"request_id", ctx.request_id}, {"what", e.what()}});
    reply = error_reply(make_error(errc::internal, "internal error"));
  }
  // The handler is done with the body: its bytes leave the budget.
  std::string().swap(inbound.body);
  body_hold.release();

  Outcome outcome;
  if (ctx.cancellation.cancelled()) {
    outcome.status = 499;
    outcome.error = make_error(errc::cancelled, "client disconnected");
    closing_ = true;
  } else if (reply.stream) {
    co_await write_stream(reply, ctx, keep_alive, outcome);
  } else {
    co_await write_reply(reply, ctx, keep_alive, outcome);
  }
  current_ = nullptr;

  if (env_->config.logging.access_log)
    log_request({.ctx = ctx,
                 .method = method,
                 .path = inbound.path,
                 .status = outcome.status,
                 .stream = outcome.stream,
                 .bytes_in = bytes_in,
                 .bytes_out = outcome.bytes_out,
                 .error = outcome.error ? &*outcome.error : (reply.error ? &*reply.error : nullptr),
                 .total = RequestContext::Clock::now() - ctx.started});
  co_return keep_alive && !closing_;
}

asio::awaitable<void> Session::write_reply(Reply& reply, RequestContext& ctx, bool keep_alive,
                                           Outcome& outcome) {
  // A 204 has no body and must not say Content-Length (RFC 9110 section 8.6).
  const std::string head = response_head(reply.status, reply, ctx.request_id, keep_alive && !closing_, http10_,
                                         reply.status == 204 ? std::string_view()
                                                             : ContentLength(reply.body.size()).view());
  outcome.status = reply.status;
  // HEAD: the head a GET would get, Content-Length included, and no body.
  const std::size_t body_bytes = head_only_ ? 0 : reply.body.size();
  outcome.bytes_out = body_bytes;
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(reply.body.data(), body_bytes)};
  deadline_.expire_after(kWriteTimeout);
  auto [ec, n] = co_await asio::async_write(stream_, buffers, kUse);
  deadline_.disarm();
  if (ec) closing_ = true;
}

// Relays the SSE stream chunk by chunk as the provider yields it. After the
// first byte a failure can no longer change the status: it becomes an SSE
// error event, then the stream ends and the connection closes.
asio::awaitable<void> Session::write_stream(Reply& reply, RequestContext& ctx, bool keep_alive,
                                            Outcome& outcome) {
  outcome.stream = true;
  DisconnectWatch watch(stream_.socket(), ctx.cancellation);
  // The head goes out together with the first events, in one write: a
  // syscall and a wake-up less before the first byte. A stream that fails
  // before its first event still gets a real error status.
  Result<std::string> batch = co_await reply.stream->next();
  if (!batch) {
    Error error = std::move(batch).error();
    reply.stream.reset();
    if (error.code == errc::cancelled) {  // the client left: nothing to write to
      outcome.status = 499;
      outcome.error = std::move(error);
      closing_ = true;
      co_return;
    }
    log::warn("stream_failed", {{"request_id", ctx.request_id}, {"provider", ctx.provider},
                                {"error", to_string(error.code)}, {"before_first_byte", true}});
    Reply failed = error_reply(std::move(error), reply.wire);
    outcome.error = failed.error;
    co_await write_reply(failed, ctx, keep_alive, outcome);
    co_return;
  }

  outcome.status = 200;
  // HTTP/1.0 has no chunked encoding: such clients get the raw body, ended by close.
  const bool chunked = !http10_;
  if (!chunked) closing_ = true;
  std::string head = response_head(200, reply, ctx.request_id, keep_alive && !closing_, http10_,
                                   chunked ? "Cache-Control: no-cache\r\nTransfer-Encoding: chunked"
                                           : "Cache-Control: no-cache");
  stream_started_ = true;
  for (;;) {
    // After the first byte a failure can no longer change the status: it
    // becomes an SSE error event, then the stream ends and the connection closes.
    std::string failure;
    if (cut_ && !batch) batch = stream_cut_error();
    if (!batch) {
      if (batch.error().code == errc::cancelled) {  // the client left mid-stream
        outcome.status = 499;
        outcome.error = std::move(batch).error();
        closing_ = true;
        break;
      }
      log::warn("stream_failed", {{"request_id", ctx.request_id}, {"provider", ctx.provider},
                                  {"error", to_string(batch.error().code)}});
      failure = reply.stream->failure_event(batch.error());  // in the client's dialect
      outcome.error = std::move(batch).error();
      closing_ = true;
    }
    const std::string& bytes = failure.empty() ? *batch : failure;
    const bool ended = !failure.empty() || bytes.empty();
    const std::string size_line = chunked && !bytes.empty() ? chunk_size_line(bytes.size()) : std::string();
    const std::array<asio::const_buffer, 5> buffers{
        asio::buffer(head), asio::buffer(size_line), asio::buffer(bytes),
        asio::buffer("\r\n", chunked && !bytes.empty() ? 2 : 0), asio::buffer("0\r\n\r\n", chunked && ended ? 5 : 0)};
    deadline_.expire_after(cut_ ? kCutWriteTimeout : kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, kUse);
    deadline_.disarm();
    head.clear();
    if (ec) {
      if (!cut_) {  // the client left, or stopped reading for kWriteTimeout
        outcome.status = 499;
        outcome.error = make_error(errc::cancelled, "client disconnected");
      }
      closing_ = true;
      break;
    }
    outcome.bytes_out += bytes.size();
    if (ended) break;
    batch = co_await reply.stream->next();
  }
  stream_started_ = false;
  ctx.usage = reply.stream->usage();
  reply.stream.reset();  // closes the upstream if it did not finish
}

// Answers a request that never reached the pipeline, then the connection closes.
asio::awaitable<void> Session::refuse(const Error& error, std::string_view given_id) {
  Reply reply = error_reply(error, wire_);
  const std::string request_id = given_id.empty() ? new_request_id() : std::string(given_id);
  const std::string head = response_head(reply.status, reply, request_id, false, http10_,
                                         ContentLength(reply.body.size()).view());
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(reply.body)};
  deadline_.expire_after(std::chrono::seconds(5));
  co_await asio::async_write(stream_, buffers, kUse);
  deadline_.disarm();
  log::info("request_refused", {{"request_id", request_id},
                                {"status", reply.status},
                                {"error", to_string(reply.error->code)}});
  closing_ = true;
  linger_ = true;
}

}  // namespace sluice::server
