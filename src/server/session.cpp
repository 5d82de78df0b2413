// Sessions (see session.hpp): the session template, its two instantiations,
// and start_session, which picks one per accepted connection.
#include "session.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "disconnect_watch.hpp"
#include "http1.hpp"
#include "openai_wire.hpp"
#include "reply.hpp"
#include "request_id.hpp"
#include "tls_stream.hpp"
#include "sluice/core/log.hpp"
#include "sluice/core/request_summary.hpp"
#include "sluice/net/deadline.hpp"
#include "sluice/net/tls.hpp"

namespace sluice::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

using PlainStream = beast::tcp_stream;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// A stream cut at the end of shutdown_grace still gets its error event and
// chunked terminator, if the client takes them within this.
constexpr auto kCutWriteTimeout = std::chrono::seconds(1);
// What an idle connection reads its next request into; a larger buffer (a
// large head) is given back before the connection idles.
constexpr std::size_t kIdleBufferBytes = 4096;
// What a refused request may still send is read and dropped for this long.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
// Our TLS close_notify is one small record: it goes out at once, or the
// client has stopped reading.
constexpr auto kCloseNotifyTimeout = std::chrono::seconds(1);

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

Error stream_cut_error() {
  return make_error(errc::shutting_down, "the gateway is shutting down; the stream was cut at the end of its grace period");
}

// Counts a request in SessionEnv::in_flight from its handling to its end.
class InFlight {
 public:
  explicit InFlight(std::size_t& count) : count_(count) { ++count_; }
  ~InFlight() { --count_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::size_t& count_;
};

// A chunked body grew past what BodyBudget had left (see read_body).
const error_code kOverBudget = make_error_code(boost::system::errc::not_enough_memory);

Error body_budget_error() {
  return make_error(errc::overloaded, "the gateway is buffering too many request bodies; retry shortly");
}

// Reads what parse_buffered left of the request body. A body of known length
// is already counted in `hold` (its Content-Length, reserved before reading);
// a chunked one is counted as it grows, and reading stops with kOverBudget as
// soon as it no longer fits.
template <class Stream, class Parser>
asio::awaitable<error_code> read_body(Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                                      BodyBudget::Hold& hold) {
  if (!parser.chunked()) {
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUse);
    co_return ec;
  }
  // Not Beast's async_read_some: parse_buffered gives Beast a chunked body
  // as it can take it (kMinChunkedPut). End of stream as Beast reports it.
  while (!parser.is_done()) {
    if (!hold.grow_to(parser.get().body().size())) co_return kOverBudget;
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(beast::read_size(buffer, 65536)), kUse);
    buffer.commit(n);
    if (ec == asio::error::eof) co_return http::error::partial_message;
    if (ec) co_return ec;
    if (auto pec = parse_buffered(parser, buffer, Until::message); pec && pec != http::error::need_more) co_return pec;
  }
  co_return hold.grow_to(parser.get().body().size()) ? error_code{} : kOverBudget;
}

// One connection over `Stream`: PlainStream or TlsStream. The TLS-only steps
// (handshake, close_notify) are `if constexpr (kTls)`; everything else is
// the same code for both.
template <class Stream>
class BasicSession final : public Session, public std::enable_shared_from_this<BasicSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `tls` is the context `stream` was made with (null for plain): held so it
  // lives as long as the connection, whatever the server's reloads do.
  BasicSession(Stream stream, std::shared_ptr<SessionEnv> env, std::shared_ptr<asio::ssl::context> tls);
  ~BasicSession() override;

  // Serves requests until the connection closes. Never throws.
  asio::awaitable<void> run();

  void drain() override;
  void force_close() override;

 private:
  struct Outcome {
    int status = 0;
    std::size_t bytes_out = 0;
    bool stream = false;
    std::optional<Error> error;
    std::optional<RequestContext::Clock::duration> first_token;  // a stream's first content written
  };

  asio::ip::tcp::socket& socket() { return stream_.socket(); }
  asio::awaitable<bool> handshake();
  asio::awaitable<bool> await_request();
  asio::awaitable<bool> serve_one();
  asio::awaitable<void> close();
  void cut_stream();
  net::Deadline::Clock::duration head_window(Millis header_timeout) const;
  asio::awaitable<void> write_reply(Reply& reply, RequestContext& ctx, bool keep_alive, Outcome& outcome);
  asio::awaitable<void> write_stream(Reply& reply, RequestContext& ctx, bool keep_alive, Outcome& outcome);
  // By reference: temporaries in the caller's co_await expression outlive it.
  asio::awaitable<void> refuse(const Error& error, std::string_view request_id);

  Stream stream_;
  std::shared_ptr<asio::ssl::context> tls_;
  beast::flat_buffer buffer_;
  asio::ip::address peer_;  // the client's address, for the authentication stage
  std::shared_ptr<SessionEnv> env_;  // shared: a session may outlive the Server object
  net::Deadline deadline_;   // the current read or write; expiry cancels it
  bool idle_ = true;         // waiting for the next request's first byte (or the handshake)
  bool closing_ = false;     // answer the current request, then close
  bool first_request_ = true;
  int requests_ = 0;         // requests read on this connection (server.max_requests_per_connection)
  net::Deadline::Clock::time_point connected_at_ = net::Deadline::Clock::now();
  bool http10_ = false;      // the current request is HTTP/1.0
  bool head_only_ = false;   // the current request is HEAD: no body goes out
  bool linger_ = false;      // a refused request may still be arriving: drain before close
  bool handshake_failed_ = false;  // TLS: the alert is out, nothing more goes to the client
  bool stream_started_ = false;  // a stream's head is written or being written
  bool cut_ = false;         // shutdown_grace ended mid-stream: end the stream with an error event
  Wire wire_ = Wire::openai;  // the conventions of the current request's path, for refusals
  RequestContext* current_ = nullptr;  // the request in progress, for force_close
};

template <class Stream>
BasicSession<Stream>::BasicSession(Stream stream, std::shared_ptr<SessionEnv> env,
                                   std::shared_ptr<asio::ssl::context> tls)
    : stream_(std::move(stream)),
      tls_(std::move(tls)),
      env_(std::move(env)),
      // Cancels (rather than closes) the pending operation, so a 408 can still be written.
      deadline_(stream_.get_executor(), [this] {
        error_code ignored;
        socket().cancel(ignored);
      }) {
  error_code ec;
  peer_ = socket().remote_endpoint(ec).address();  // unspecified if the client left already
  env_->sessions.insert(this);
}

template <class Stream>
BasicSession<Stream>::~BasicSession() {
  env_->sessions.erase(this);
  if (env_->on_session_closed) env_->on_session_closed();
}

template <class Stream>
void BasicSession<Stream>::drain() {
  closing_ = true;
  error_code ec;
  if (idle_) socket().cancel(ec);  // may be closed already (idle timeout)
}

template <class Stream>
void BasicSession<Stream>::force_close() {
  closing_ = true;
  if (current_) current_->cancellation.cancel();
  if (stream_started_) {
    cut_stream();
    return;
  }
  error_code ec;
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket().close(ec);
}

// header_timeout for the head and body of the request about to be read, and
// on a new connection for everything before it (the TLS handshake, the
// first byte): that window counts from the accept, so a client cannot
// stretch it by sending its first byte (or finishing its handshake) late.
template <class Stream>
net::Deadline::Clock::duration BasicSession<Stream>::head_window(Millis header_timeout) const {
  if (!first_request_) return header_timeout;
  const auto left = connected_at_ + header_timeout - net::Deadline::Clock::now();
  return std::max(left, net::Deadline::Clock::duration::zero());
}

// The upstream is cancelled already; write_stream ends the stream itself (an
// SSE error event, the chunked terminator) and the connection closes. A write
// in progress gets kCutWriteTimeout to finish, as do the last bytes.
template <class Stream>
void BasicSession<Stream>::cut_stream() {
  cut_ = true;
  if (deadline_.armed()) deadline_.expire_after(kCutWriteTimeout);
}

template <class Stream>
asio::awaitable<void> BasicSession<Stream>::run() {
  auto self = this->shared_from_this();
  try {
    bool open = true;
    if constexpr (kTls) open = co_await handshake();
    // One co_await per statement: g++ 12 miscompiles two in one && chain
    // (the second ran even when the first gave false).
    while (open && !closing_) {
      const bool arrived = co_await await_request();
      if (!arrived) break;
      const bool again = co_await serve_one();
      if (!again) break;
    }
  } catch (const std::exception& e) {
    log::error("session_failed", {{"what", e.what()}});
  }
  co_await close();
}

// TLS only. A client that does not complete the handshake within
// header_timeout (from the accept) is cut off like one that never sends its
// request; a failed handshake (plain HTTP, an old protocol version, no or an
// untrusted client certificate) closes the connection. OpenSSL has sent the
// client its alert by then.
template <class Stream>
asio::awaitable<bool> BasicSession<Stream>::handshake() {
  deadline_.expire_after(head_window(env_->front->config.server.header_timeout));
  auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kUse);
  deadline_.disarm();
  if (closing_) co_return false;  // drained or cut while handshaking
  if (!ec) co_return true;
  const bool timed_out = deadline_.expired();
  // A peer that connects and leaves (a TCP health check, a port scan) is no news.
  const bool peer_left = !timed_out && (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
                                        ec == asio::error::connection_reset);
  const std::string reason = timed_out ? "not completed within the header timeout"
                                       : net::describe_tls_failure(stream_.native_handle(), ec.message());
  log::write(peer_left ? spdlog::level::debug : spdlog::level::info, "tls_handshake_failed",
             {{"peer", peer_.to_string()}, {"error", reason}});
  // OpenSSL reads a record at a time: what the client sent after the one that
  // failed (a TLS 1.3 client's Finished and first request; a plain HTTP
  // request's rest) is unread, and closing over unread bytes resets the
  // connection, which can destroy the alert just sent. close() drains it.
  if (!timed_out) handshake_failed_ = linger_ = true;
  co_return false;
}

// Ends the connection. Plain: FIN, then (after a refused request the client
// may still be sending) a bounded read of what arrives, so closing with
// unread bytes does not reset the connection and destroy our answer. TLS:
// the same read, then our close_notify; the client's is not awaited (RFC
// 8446 section 6.1 allows that), so a client that never answers cannot hold
// the connection slot. After a failed handshake: FIN behind OpenSSL's
// alert, then the read.
template <class Stream>
asio::awaitable<void> BasicSession<Stream>::close() {
  error_code ec;
  if (!kTls || handshake_failed_) socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (linger_) {
    std::array<char, 16384> scratch;
    std::size_t dropped = 0;
    deadline_.expire_after(kLingerTimeout);
    while (dropped < (4u << 20)) {
      // Over TLS too the bytes are dropped as they are, not decrypted.
      auto [rec, n] = co_await socket().async_read_some(asio::buffer(scratch), kUse);
      if (rec) break;
      dropped += n;
    }
    deadline_.disarm();
  }
  if constexpr (kTls) {
    SSL* ssl = stream_.native_handle();
    // Not before the handshake finished, nor after a fatal TLS error (then
    // OpenSSL counts the connection as in its handshake again).
    if (socket().is_open() && SSL_is_init_finished(ssl)) {
      SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);  // send ours; do not wait for theirs
      deadline_.expire_after(kCloseNotifyTimeout);
      co_await stream_.async_shutdown(kUse);
      deadline_.disarm();
    }
  }
  socket().close(ec);
}

// Waits for the next request's first byte: the keep-alive idle time, except
// on a fresh connection, which must send its request within header_timeout.
// Returns false when the connection should close quietly (closed by the
// client, idle timeout, draining).
//
// An idle connection holds this small coroutine frame, not serve_one's (the
// parser, the request context, the reply), and on a fresh connection no
// read buffer either: it waits for the socket to become readable and only
// then reads. That keeps an idle connection within a few KiB (measured in
// tests/integration/idle_connections_test.cpp). A keep-alive connection keeps
// a buffer of up to 4 KiB between requests; a larger one (a large head) is
// given back. The same over TLS: OpenSSL releases its record buffers while
// nothing is pending (tls_stream.hpp).
template <class Stream>
asio::awaitable<bool> BasicSession<Stream>::await_request() {
  if (buffer_.size() > 0) co_return true;  // pipelined: the next request is here
  const ServerConfig& cfg = env_->front->config.server;
  if (buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
  idle_ = true;
  deadline_.expire_after(first_request_ ? head_window(cfg.header_timeout) : cfg.keepalive_timeout);
  bool readable = true;
  bool wait = first_request_;
  // Over TLS, OpenSSL may hold the request's first record already (read
  // together with the handshake's last): the socket would not wake us.
  if constexpr (kTls) wait = wait && SSL_has_pending(stream_.native_handle()) == 0;
  if (wait) {
    auto [ec] = co_await socket().async_wait(asio::socket_base::wait_read, kUse);
    readable = !ec && !closing_;
  }
  if (readable) {
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kIdleBufferBytes), kUse);
    buffer_.commit(n);
    readable = !ec && !closing_;
  }
  deadline_.disarm();
  idle_ = false;
  co_return readable;  // false: closed, idle timeout, or draining: close quietly
}

// Reads and answers one request. Returns false when the connection should close.
template <class Stream>
asio::awaitable<bool> BasicSession<Stream>::serve_one() {
  idle_ = false;
  ++requests_;
  // The configuration this request is served under, to its end: a reload
  // from now on does not change it.
  const std::shared_ptr<Front> front = env_->front;
  const ServerConfig& cfg = front->config.server;

  wire_ = Wire::openai;
  // The head must arrive within header_timeout, the body within
  // body_timeout from the end of the head: slow senders get a 408 and are
  // cut off.
  http::request_parser<PaddedStringBody> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(cfg.max_body_bytes);
  deadline_.expire_after(head_window(cfg.header_timeout));
  first_request_ = false;
  error_code hec = parse_buffered(parser, buffer_, Until::header, cfg.max_header_bytes);
  // Not Beast's async_read_header: parse_buffered must see every byte of the
  // head (it refuses obs-folds). End of stream as Beast reports it.
  while (hec == http::error::need_more) {
    auto [rec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kUse);
    buffer_.commit(n);
    if (rec == asio::error::eof) hec = parser.got_some() ? http::error::partial_message : http::error::end_of_stream;
    else hec = rec ? rec : parse_buffered(parser, buffer_, Until::header, cfg.max_header_bytes);
  }
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
  if (!parser.is_done()) deadline_.expire_after(cfg.body_timeout);
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
      co_await refuse(make_error(errc::request_timeout, "request body not received within the body timeout"),
                      ctx.request_id);
    else if (bec == kOverBudget)
      co_await refuse(body_budget_error(), ctx.request_id);
    else if (is_http_error(bec))
      co_await refuse(make_error(errc::bad_request, "malformed HTTP request body: " + bec.message()), ctx.request_id);
    co_return false;
  }
  auto& req = parser.get();
  http10_ = req.version() < 11;
  // The connection's last request (server.max_requests_per_connection) is
  // answered with Connection: close; whatever the client pipelined behind it
  // is read and dropped before the close (linger), so it cannot reset the
  // connection under the answer. The client resends it on a new connection.
  const bool last = cfg.max_requests_per_connection > 0 && requests_ >= cfg.max_requests_per_connection;
  if (last && req.keep_alive()) linger_ = true;
  const bool keep_alive = req.keep_alive() && !closing_ && !last;
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
  const InFlight in_flight(env_->in_flight);
  try {
    DisconnectWatch watch(socket(), ctx.cancellation);
    reply = co_await front->routes.handle(inbound, ctx);
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

  const bool access_log = front->config.logging.access_log;
  if (access_log || env_->metrics) {
    const ProviderConfig* provider = ctx.provider.empty() ? nullptr : front->config.find_provider(ctx.provider);
    const RequestSummary summary{.ctx = ctx,
                                 .method = method,
                                 .path = inbound.path,
                                 .status = outcome.status,
                                 .stream = outcome.stream,
                                 .bytes_in = bytes_in,
                                 .bytes_out = outcome.bytes_out,
                                 .error = outcome.error ? &*outcome.error : (reply.error ? &*reply.error : nullptr),
                                 .total = RequestContext::Clock::now() - ctx.started,
                                 .first_token = outcome.first_token,
                                 .provider_type = provider ? to_string(provider->type) : std::string_view{}};
    if (access_log) log_request(summary);
    if (env_->metrics) env_->metrics->record(summary);
  }
  co_return keep_alive && !closing_;
}

template <class Stream>
asio::awaitable<void> BasicSession<Stream>::write_reply(Reply& reply, RequestContext& ctx, bool keep_alive,
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
  deadline_.expire_after(env_->front->config.server.write_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, buffers, kUse);
  deadline_.disarm();
  if (ec) closing_ = true;
}

// Relays the SSE stream chunk by chunk as the provider yields it. After the
// first byte a failure can no longer change the status: it becomes an SSE
// error event, then the stream ends and the connection closes.
template <class Stream>
asio::awaitable<void> BasicSession<Stream>::write_stream(Reply& reply, RequestContext& ctx, bool keep_alive,
                                            Outcome& outcome) {
  outcome.stream = true;
  DisconnectWatch watch(socket(), ctx.cancellation);
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
    // One batch at a time (the next is pulled from the upstream only once
    // this one is written): a client that reads slowly slows the upstream
    // read instead of growing a buffer here; one that reads nothing for
    // write_timeout is gone.
    deadline_.expire_after(cut_ ? Millis(kCutWriteTimeout) : env_->front->config.server.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, kUse);
    deadline_.disarm();
    head.clear();
    if (ec) {
      if (!cut_) {  // the client left, or stopped reading for write_timeout
        outcome.status = 499;
        outcome.error = make_error(errc::cancelled, "client disconnected");
      }
      closing_ = true;
      break;
    }
    outcome.bytes_out += bytes.size();
    // Time to first token: the first batch that is more than comments (a
    // queued stream's ": queued" keep-alives) reached the client.
    if (!outcome.first_token && failure.empty() && !bytes.empty() && bytes.front() != ':')
      outcome.first_token = RequestContext::Clock::now() - ctx.started;
    if (ended) break;
    batch = co_await reply.stream->next();
  }
  stream_started_ = false;
  ctx.usage = reply.stream->usage();
  reply.stream.reset();  // closes the upstream if it did not finish
}

// Answers a request that never reached the pipeline, then the connection closes.
template <class Stream>
asio::awaitable<void> BasicSession<Stream>::refuse(const Error& error, std::string_view given_id) {
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

}  // namespace

void start_session(asio::ip::tcp::socket socket, std::shared_ptr<SessionEnv> env,
                   std::shared_ptr<asio::ssl::context> tls) {
  const auto executor = socket.get_executor();
  if (tls) {
    std::optional<TlsStream> stream;
    try {
      stream.emplace(std::move(socket), *tls);
    } catch (const std::exception& e) {  // out of memory in OpenSSL: this connection only
      log::error("tls_connection_failed", {{"error", e.what()}});
      return;
    }
    auto session = std::make_shared<BasicSession<TlsStream>>(std::move(*stream), std::move(env), std::move(tls));
    asio::co_spawn(executor, session->run(), asio::detached);
  } else {
    auto session = std::make_shared<BasicSession<PlainStream>>(PlainStream(std::move(socket)), std::move(env), nullptr);
    asio::co_spawn(executor, session->run(), asio::detached);
  }
}

}  // namespace sluice::server
