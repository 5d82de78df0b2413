// Pooled HTTP/1.1 client for one upstream origin. The only place that speaks
// Beast's client side; everything above it sees HttpRequest / ResponseHead.
#include "sluice/net/http_client.hpp"

#include <sys/socket.h>

#include <array>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "sluice/core/log.hpp"
#include "sluice/io/tls_client.hpp"
#include "sluice/net/beast_chunked.hpp"
#include "sluice/net/deadline.hpp"

namespace sluice::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
// Keep-alive connections idle longer than this are dropped rather than reused:
// common upstreams close idle connections after about a minute.
constexpr auto kMaxIdleAge = std::chrono::seconds(50);
// A connection back in the pool for less than this is reused without a
// liveness peek (one syscall saved on the busy path); if the upstream closed
// it meanwhile, the request fails before any byte and is retried once.
constexpr auto kPeekAfterIdle = std::chrono::seconds(1);
constexpr std::size_t kReadChunk = 16 * 1024;
// What a connection may hold read but unparsed: a response head (Beast's
// limit is 8 KiB), a read's worth of body the caller has not taken yet, or
// a chunk's size line with its extensions. Beast 1.81 bounds no chunk size
// line: an upstream sending an endless extension grew the buffer until the
// total timeout, parsed again from its start on every read. Past this the
// read fails with buffer_overflow, an invalid response.
constexpr std::size_t kMaxUnparsedBytes = 64 * 1024;

// One upstream connection, plain or TLS. Beast streams are templates; the
// helpers below are written once and dispatched on the connection kind.
struct Connection {
  // The read buffer starts at kReadChunk: a default flat_buffer grows from
  // 512 bytes, so a 1 KB answer took two recvmsg and a burst stream ten.
  explicit Connection(const asio::any_io_executor& ex)
      : buffer(kMaxUnparsedBytes), deadline(ex, [this] { tcp().close(); }) {
    buffer.reserve(kReadChunk);
  }

  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Deadline deadline;  // first byte / idle; expiry closes the socket
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;

  beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }

  template <class F>
  auto with_stream(F&& f) {
    return plain ? f(*plain) : f(*tls);
  }

  // False when the peer closed or sent something while the connection sat in
  // the pool (for TLS, typically a close_notify): such a connection is dropped.
  bool still_usable() {
    if (!tcp().socket().is_open()) return false;
    char byte;
    const ssize_t n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

// A body reader's 16 KiB chunk, recycled through a per-thread free list: one
// reader per upstream request allocated (and freed) 16 KiB each time.
class ChunkBuffer {
 public:
  ChunkBuffer() : block_(take()) {}
  ~ChunkBuffer() { give_back(std::move(block_)); }
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;

  char* data() noexcept { return block_.get(); }
  static constexpr std::size_t size() noexcept { return kReadChunk; }

 private:
  using Block = std::unique_ptr<char[]>;
  static constexpr std::size_t kMaxKept = 64;  // 1 MiB per event loop at most

  static std::vector<Block>& kept() {
    thread_local std::vector<Block> blocks;
    return blocks;
  }
  static Block take() {
    auto& blocks = kept();
    if (blocks.empty()) return Block(new char[kReadChunk]);
    Block b = std::move(blocks.back());
    blocks.pop_back();
    return b;
  }
  static void give_back(Block b) {
    if (b && kept().size() < kMaxKept) kept().push_back(std::move(b));
  }

  Block block_;
};

// A request ready for the wire. The head is formatted by hand: Beast's
// serializer costs more than the rest of the request path put together.
struct WireRequest {
  std::string head;
  std::string body;
};

template <class Stream>
asio::awaitable<error_code> write_request(Stream& s, const WireRequest& req) {
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(req.head), asio::buffer(req.body)};
  auto [ec, n] = co_await asio::async_write(s, buffers, kUseAwaitable);
  co_return ec;
}

template <class Stream, class Parser>
asio::awaitable<error_code> read_head(Stream& s, beast::flat_buffer& b, Parser& p) {
  auto [ec, n] = co_await http::async_read_header(s, b, p, kUseAwaitable);
  co_return ec;
}

// Beast's HTTP parse errors (as opposed to socket errors).
bool is_http_error(const error_code& ec) {
  return ec.category() == make_error_code(boost::beast::http::error::end_of_stream).category();
}

std::string describe(const error_code& ec) { return ec.message(); }

// What a client is told when the exchange with `provider` fails: which
// (configured, logical) provider and what kind of failure, never where it
// lives nor the system's words.
std::string client_message(errc code, const std::string& provider) {
  switch (code) {
    case errc::upstream_timeout: return "provider '" + provider + "' did not answer in time";
    case errc::upstream_protocol: return "provider '" + provider + "' sent an invalid response";
    case errc::upstream_unavailable: return "the connection to provider '" + provider + "' failed";
    default: return "provider '" + provider + "' could not be called";
  }
}

}  // namespace

std::string_view ResponseHead::header(std::string_view lower_name) const noexcept {
  for (const Header& h : headers)
    if (h.name == lower_name) return h.value;
  return {};
}

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  asio::any_io_executor executor;
  Url origin;
  ClientOptions options;
  std::string host_header;
  std::unique_ptr<asio::ssl::context> tls;
  std::vector<std::unique_ptr<Connection>> idle;

  Impl(asio::any_io_executor ex, Url url, ClientOptions opts)
      : executor(std::move(ex)), origin(std::move(url)), options(std::move(opts)), host_header(origin.host_header()) {
    if (origin.tls) tls = io::make_client_tls_context(options.ca_file);
  }

  // The client's message is generic; the address and `what` are the
  // operator's, logged with the request id (Error::detail).
  Error error(errc code, std::string what) const {
    Error e = make_error(code, client_message(code, options.name));
    e.detail = "provider '" + options.name + "' (" + host_header + "): " + std::move(what);
    return e;
  }

  // Maps a transport error to the error the caller reports.
  Error transport_error(const error_code& ec, const Cancellation& cancel, std::string_view phase,
                        std::chrono::milliseconds limit) const {
    if (cancel.cancelled()) return make_error(errc::cancelled, "request cancelled");
    if (ec == beast::error::timeout)
      return error(errc::upstream_timeout,
                   std::string(phase) + " timed out after " + std::to_string(limit.count()) + " ms");
    if (is_http_error(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message)
      return error(errc::upstream_protocol, "invalid HTTP response: " + describe(ec));
    return error(errc::upstream_unavailable, std::string(phase) + " failed: " + describe(ec));
  }

  std::unique_ptr<Connection> take_idle() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle.empty()) {
      std::unique_ptr<Connection> c = std::move(idle.back());
      idle.pop_back();
      const auto idle_for = now - c->idle_since;
      if (idle_for < kMaxIdleAge && (idle_for < kPeekAfterIdle || c->still_usable())) {
        c->reused = true;
        return c;
      }
    }
    return nullptr;
  }

  void release(std::unique_ptr<Connection> c) {
    if (idle.size() >= options.max_idle_connections) return;
    c->idle_since = std::chrono::steady_clock::now();
    c->deadline.disarm();
    idle.push_back(std::move(c));
  }

  // A new connection. Whatever fails here (the client's leaving included)
  // failed before a byte of the request went out: the error says so.
  asio::awaitable<Result<std::unique_ptr<Connection>>> connect(Cancellation& cancel) {
    auto c = co_await open(cancel);
    if (!c) {
      Error e = std::move(c).error();
      e.unsent = true;
      co_return e;
    }
    co_return c;
  }

  asio::awaitable<Result<std::unique_ptr<Connection>>> open(Cancellation& cancel) {
    auto c = std::make_unique<Connection>(executor);
    if (tls) c->tls.emplace(executor, *tls);
    else c->plain.emplace(executor);
    auto reg = cancel.on_cancel([conn = c.get()] { conn->tcp().close(); });

    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(origin.host, origin.port, kUseAwaitable);
    if (rec) co_return transport_error(rec, cancel, "resolving the host name", options.connect_timeout);

    c->tcp().expires_after(options.connect_timeout);
    auto [cec, ep] = co_await c->tcp().async_connect(endpoints, kUseAwaitable);
    if (cec) co_return transport_error(cec, cancel, "connect", options.connect_timeout);
    error_code option_ec;  // best effort; a dead socket shows up on the write
    c->tcp().socket().set_option(tcp::no_delay(true), option_ec);

    if (c->tls) {
      if (Status s = io::prepare_tls_session(c->tls->native_handle(), origin.host); !s)
        co_return error(errc::upstream_unavailable, s.error().message);
      auto [hec] = co_await c->tls->async_handshake(asio::ssl::stream_base::client, kUseAwaitable);
      if (hec) {
        if (cancel.cancelled()) co_return make_error(errc::cancelled, "request cancelled");
        co_return error(errc::upstream_unavailable,
                        "TLS handshake failed: " + io::describe_tls_failure(c->tls->native_handle(), hec.message()));
      }
    }
    c->tcp().expires_never();  // later steps run under the connection's Deadline
    co_return std::move(c);
  }

  asio::awaitable<Result<std::unique_ptr<Connection>>> acquire(Cancellation& cancel, bool allow_reuse) {
    if (allow_reuse)
      if (auto c = take_idle()) co_return std::move(c);
    co_return co_await connect(cancel);
  }

  // Method, target and header names come from code and validated config;
  // values are checked, since a CR/LF there would smuggle a header upstream.
  Result<WireRequest> make_request(HttpRequest& r) const {
    WireRequest out;
    std::string& h = out.head;
    h.reserve(256);
    h.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\nHost: ").append(host_header);
    h.append("\r\nUser-Agent: sluice/" SLUICE_VERSION "\r\n");
    for (const Header& field : r.headers) {
      if (!is_safe_header_value(field.value))
        return error(errc::internal, "header '" + field.name + "' has a line break in its value");
      h.append(field.name).append(": ").append(field.value).append("\r\n");
    }
    h.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
    out.body = std::move(r.body);
    return out;
  }
};

namespace {

// Reads a response body piece by piece off a connection whose head has been
// read. Returns the connection to the pool when the body ends cleanly.
class ConnectionBodyReader final : public BodyReader {
 public:
  using Parser = http::response_parser<http::buffer_body>;

  using Clock = std::chrono::steady_clock;

  // `answer_by`: the whole answer must be in by then (send()'s total_timeout);
  // none for streams.
  ConnectionBodyReader(std::shared_ptr<HttpClient::Impl> client, Cancellation& cancel,
                       std::optional<Clock::time_point> answer_by)
      : client_(std::move(client)), cancel_(cancel), answer_by_(answer_by) {
    parser_.body_limit(boost::none);  // streams are unbounded; send() enforces its own cap
  }

  // Sends `req` on `conn` and reads the response head. On failure, says
  // whether nothing at all came back (so a stale pooled connection may be retried).
  asio::awaitable<Result<ResponseHead>> start(std::unique_ptr<Connection> conn,
                                              const WireRequest& req, bool& nothing_received) {
    conn_ = std::move(conn);
    reg_ = cancel_.on_cancel([c = conn_.get()] { c->tcp().close(); });
    const auto& opt = client_->options;
    const bool total_bound = arm(opt.first_byte_timeout);
    error_code ec = co_await conn_->with_stream([&](auto& s) { return write_request(s, req); });
    if (!ec) ec = co_await conn_->with_stream([&](auto& s) { return read_head(s, conn_->buffer, parser_); });
    conn_->deadline.disarm();
    if (ec && conn_->deadline.expired()) ec = beast::error::timeout;
    if (ec) {
      nothing_received = !parser_.got_some() && ec != beast::error::timeout;
      co_return failure(ec, total_bound, "waiting for the response", opt.first_byte_timeout);
    }
    ResponseHead head;
    head.status = static_cast<int>(parser_.get().result_int());
    head.headers.reserve(16);
    for (const auto& field : parser_.get()) {
      std::string name(field.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      head.headers.push_back({std::move(name), std::string(field.value())});
    }
    co_return head;
  }

  std::string_view take_buffered() override {
    if (done_ || deferred_ || !conn_) return {};
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    while (!parser_.is_done() && parser_.get().body().size > 0) {
      const error_code ec = put_buffered();
      if (ec == http::error::need_more) break;
      if (ec) {
        deferred_ = ec;
        break;
      }
    }
    const std::size_t got = chunk_.size() - parser_.get().body().size;
    if (parser_.is_done()) finish();
    return {chunk_.data(), got};
  }

  asio::awaitable<Result<std::string_view>> read_some() override {
    const auto& opt = client_->options;
    if (deferred_) {
      done_ = true;
      conn_.reset();
      co_return failure(deferred_, false, "reading the response body", opt.idle_timeout);
    }
    while (!done_) {
      if (parser_.is_done()) {
        finish();
        break;
      }
      parser_.get().body().data = chunk_.data();
      parser_.get().body().size = chunk_.size();
      // Bytes that came with the head or an earlier read are parsed here:
      // Beast's async_read_some would complete through a posted handler, a
      // scheduler round trip, without any I/O. The socket is awaited only
      // when they are not enough for a piece.
      error_code ec = put_buffered();
      bool total_bound = false;
      if (ec == http::error::need_more) {
        total_bound = arm(opt.idle_timeout);
        ec = co_await conn_->with_stream([&](auto& s) { return read_and_put(s); });
        conn_->deadline.disarm();
        if (ec == http::error::need_buffer) ec = {};
        if (ec && conn_->deadline.expired()) ec = beast::error::timeout;
      }
      if (ec) {
        done_ = true;
        conn_.reset();
        co_return failure(ec, total_bound, "reading the response body", opt.idle_timeout);
      }
      const std::size_t got = chunk_.size() - parser_.get().body().size;
      if (parser_.is_done()) finish();
      if (got > 0) co_return std::string_view(chunk_.data(), got);
    }
    co_return std::string_view{};
  }

 private:
  // One parser.put() of the bytes already in the connection's buffer: as
  // much as one Beast async_read_some would give (one chunk of a chunked
  // body). need_more when there is nothing it can use, or when a chunked
  // body's parser wants more and fewer than kMinChunkedPut bytes are here
  // (Beast 1.81's false assertion on a body's end in pieces).
  error_code put_buffered() {
    const std::size_t buffered = conn_->buffer.size();
    if (buffered == 0 || (wants_more_ && parser_.chunked() && buffered < kMinChunkedPut))
      return http::error::need_more;
    error_code ec;
    const std::size_t used = parser_.put(conn_->buffer.data(), ec);
    conn_->buffer.consume(used);
    wants_more_ = ec == http::error::need_more;
    if (ec == http::error::need_buffer) return {};
    if (!ec && used == 0) return http::error::need_more;
    return ec;
  }

  // Reads from the upstream until put_buffered() has something: Beast's
  // async_read_some, but through put_buffered(), and the buffer's limit
  // (kMaxUnparsedBytes) kept the same way (buffer_overflow).
  template <class Stream>
  asio::awaitable<error_code> read_and_put(Stream& s) {
    beast::flat_buffer& buffer = conn_->buffer;
    for (;;) {
      const std::size_t room = std::min(kReadChunk, buffer.max_size() - buffer.size());
      if (room == 0) co_return http::error::buffer_overflow;
      auto [ec, n] = co_await s.async_read_some(buffer.prepare(room), kUseAwaitable);
      if (ec == asio::error::eof) {
        // As Beast: the end of a body that lasts until the connection closes,
        // or a message cut short (partial_message).
        if (!parser_.got_some()) co_return http::error::end_of_stream;
        error_code end;
        parser_.put_eof(end);
        co_return end;
      }
      if (ec) co_return ec;
      buffer.commit(n);
      if (const error_code put = put_buffered(); put != http::error::need_more) co_return put;
    }
  }

  // Arms the connection's deadline for one step bounded by `step`, or by the
  // time left for the whole answer when that is shorter (then: true).
  bool arm(std::chrono::milliseconds step) {
    Clock::duration wait = step;
    bool total_bound = false;
    if (answer_by_) {
      const auto left = std::max(Clock::duration::zero(), *answer_by_ - Clock::now());
      if (left < wait) {
        wait = left;
        total_bound = true;
      }
    }
    conn_->deadline.expire_after(wait);
    return total_bound;
  }

  Error failure(const error_code& ec, bool total_bound, std::string_view phase, std::chrono::milliseconds step) const {
    if (ec == beast::error::timeout && total_bound && !cancel_.cancelled())
      return client_->error(errc::upstream_timeout, "no complete answer within " +
                                                        std::to_string(client_->options.total_timeout.count()) + " ms");
    return client_->transport_error(ec, cancel_, phase, step);
  }

  void finish() {
    done_ = true;
    reg_.reset();
    if (parser_.get().keep_alive() && conn_) client_->release(std::move(conn_));
    conn_.reset();
  }

  std::shared_ptr<HttpClient::Impl> client_;
  Cancellation& cancel_;
  std::optional<Clock::time_point> answer_by_;
  Parser parser_;
  bool wants_more_ = false;  // the last put() needed more bytes
  std::unique_ptr<Connection> conn_;
  Cancellation::Registration reg_;  // after conn_: unregistered before the connection dies
  ChunkBuffer chunk_;
  error_code deferred_;  // a parse error take_buffered() met, for read_some() to report
  bool done_ = false;
};

}  // namespace

HttpClient::HttpClient(asio::any_io_executor executor, Url origin, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(origin), std::move(options))) {}

HttpClient::~HttpClient() = default;

const Url& HttpClient::origin() const noexcept { return impl_->origin; }
std::size_t HttpClient::idle_connections() const noexcept { return impl_->idle.size(); }

asio::awaitable<Result<StreamingResponse>> HttpClient::open(HttpRequest request, Cancellation& cancel) {
  co_return co_await exchange(std::move(request), cancel, std::nullopt);
}

asio::awaitable<Result<StreamingResponse>> HttpClient::exchange(HttpRequest request, Cancellation& cancel,
                                                                std::optional<std::chrono::steady_clock::time_point> answer_by) {
  auto self = impl_;
  auto wire = self->make_request(request);
  if (!wire) co_return std::move(wire).error();
  const WireRequest& req = *wire;
  // A pooled connection the server closed in the meantime fails before any
  // byte comes back; the request never reached the upstream, so one retry on
  // a fresh connection is safe.
  for (int attempt = 0;; ++attempt) {
    auto conn = co_await self->acquire(cancel, attempt == 0);
    if (!conn) co_return std::move(conn).error();
    const bool reused = (*conn)->reused;
    auto reader = std::make_unique<ConnectionBodyReader>(self, cancel, answer_by);
    bool nothing_received = false;
    auto head = co_await reader->start(std::move(*conn), req, nothing_received);
    if (head) co_return StreamingResponse{std::move(head).value(), std::move(reader)};
    if (!(reused && nothing_received && !cancel.cancelled())) co_return std::move(head).error();
    log::debug("upstream_stale_connection", {{"provider", self->options.name}});
  }
}

asio::awaitable<Result<FullResponse>> HttpClient::send(HttpRequest request, Cancellation& cancel) {
  // The total bound is folded into each step's deadline (connect excepted:
  // it has its own), so it costs nothing more than the step deadlines do.
  const auto total = impl_->options.total_timeout;
  std::optional<std::chrono::steady_clock::time_point> answer_by;
  if (total.count() > 0) answer_by = std::chrono::steady_clock::now() + total;
  auto response = co_await exchange(std::move(request), cancel, answer_by);
  if (!response) co_return std::move(response).error();
  FullResponse full{std::move(response->head), {}};
  for (;;) {
    auto piece = co_await response->body->read_some();
    if (!piece) co_return std::move(piece).error();
    if (piece->empty()) break;
    if (full.body.size() + piece->size() > impl_->options.max_response_bytes)
      co_return impl_->error(errc::upstream_protocol, "response larger than " +
                                                          std::to_string(impl_->options.max_response_bytes) + " bytes");
    full.body.append(*piece);
  }
  co_return full;
}

}  // namespace sluice::net
