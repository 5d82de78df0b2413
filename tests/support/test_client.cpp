// Blocking test clients: each call runs Asio operations on a private io_context
// until they finish or the deadline passes, then cancels them.
#include "support/test_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <cctype>
#include <deque>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "support/canary.hpp"

namespace sluice::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kBodyLimit = 64 * 1024 * 1024;

// A canary run scans everything a client reads from the gateway (canary.hpp).
// `request` names what was asked ("POST /v1/chat/completions").
void scan_response(const std::string& request, const std::map<std::string, std::string>& headers,
                   std::string_view body) {
  for (const auto& [name, value] : headers)
    scan_for_canary("the " + name + " header of the response to " + request, value);
  scan_for_canary("the body of the response to " + request, body);
}

// "METHOD target" of raw request bytes (their first line, bounded).
std::string request_line_of(std::string_view raw) {
  std::string_view line = raw.substr(0, std::min(raw.find_first_of("\r\n"), std::size_t{80}));
  if (const auto version = line.rfind(" HTTP/"); version != std::string_view::npos) line = line.substr(0, version);
  return line.empty() ? "raw bytes" : std::string(line);
}

struct Io {
  asio::io_context ioc{1};
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::optional<ssl::context> tls_context;
  std::optional<ssl::stream<tcp::socket&>> tls;  // set once a TLS session is started on `socket`
  std::string host;                               // for the Host header

  // f(stream) on what requests go over: the TLS stream, else the socket.
  template <class F>
  decltype(auto) with_stream(F&& f) {
    return tls ? f(*tls) : f(socket);
  }
};

struct OpResult {
  error_code ec;
  std::size_t bytes = 0;
  bool timed_out = false;
};

// Runs the one operation `start(handler)` begins, until it completes or the
// deadline passes. On timeout the socket's operations are cancelled (the socket
// stays open) and the aborted completion is awaited, so nothing outlives the call.
template <class Start>
OpResult run_op(Io& io, Clock::time_point deadline, Start start) {
  OpResult result;
  bool done = false;
  start([&result, &done](error_code ec, std::size_t n = 0) {
    result.ec = ec;
    result.bytes = n;
    done = true;
  });
  io.ioc.restart();
  while (!done && io.ioc.run_one_until(deadline) > 0) {
  }
  if (!done) {
    result.timed_out = true;
    error_code ignored;
    io.socket.cancel(ignored);
    io.ioc.restart();
    while (!done && io.ioc.run_one() > 0) {
    }
  }
  return result;
}

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
}

std::string describe(const OpResult& r, const char* step) {
  return std::string(step) + ": " + (r.timed_out ? "timed out" : r.ec.message());
}

HttpResponse failure(const OpResult& r, const char* step) {
  HttpResponse out;
  out.timed_out = r.timed_out;
  out.error = describe(r, step);
  return out;
}

OpResult connect(Io& io, uint16_t port, Clock::time_point deadline) {
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  return run_op(io, deadline, [&](auto handler) { io.socket.async_connect(endpoint, std::move(handler)); });
}

template <class Stream>
OpResult write_all(Io& io, Stream& stream, const std::string& bytes, Clock::time_point deadline) {
  return run_op(io, deadline, [&](auto handler) {
    asio::async_write(stream, asio::buffer(bytes), std::move(handler));
  });
}

template <class Fields>
std::map<std::string, std::string> lower_case_headers(const Fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    auto [it, fresh] = out.emplace(name, std::string(field.value()));
    if (!fresh) it->second += ", " + std::string(field.value());
  }
  return out;
}

std::string serialize_request(const std::string& method, const std::string& target,
                              const std::string& body, const Headers& headers, const std::string& host) {
  http::request<http::string_body> req;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) req.method_string(method);
  else req.method(verb);
  req.target(target);
  req.version(11);
  req.set(http::field::host, host);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  std::ostringstream os;
  os << req;
  return os.str();
}

// Reads one final response (interim 1xx answers are skipped).
template <class Stream>
HttpResponse read_one(Io& io, Stream& stream, Clock::time_point deadline, const std::string& request) {
  for (;;) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    const OpResult r = run_op(io, deadline, [&](auto handler) {
      http::async_read(stream, io.buffer, parser, std::move(handler));
    });
    if (r.ec) {
      HttpResponse out = failure(r, "read response");
      out.connection_closed = !r.timed_out;
      return out;
    }
    const bool need_eof = parser.get().need_eof();
    auto message = parser.release();
    if (message.result_int() / 100 == 1 && message.result_int() != 101) continue;
    HttpResponse out;
    out.status = static_cast<int>(message.result_int());
    out.headers = lower_case_headers(message);
    out.body = std::move(message.body());
    out.connection_closed = need_eof;
    scan_response(request, out.headers, out.body);
    return out;
  }
}

// Connects to 127.0.0.1:port and, with `options`, completes a TLS handshake
// as a careful client does: IP literals checked against IP SANs, host names
// against DNS SANs (with SNI). Returns the error, empty on success.
std::string open_connection(Io& io, uint16_t port, const TlsClientOptions* options, Clock::time_point deadline) {
  io.host = "127.0.0.1:" + std::to_string(port);
  if (OpResult r = connect(io, port, deadline); r.ec || r.timed_out) return describe(r, "connect");
  if (!options) return {};
  io.host = options->host + ":" + std::to_string(port);
  ssl::context& context = io.tls_context.emplace(ssl::context::tls_client);
  error_code ec;
  if (options->verify) {
    context.load_verify_file(options->ca_file, ec);
    if (ec) return "load ca_file: " + ec.message();
    context.set_verify_mode(ssl::verify_peer);
  }
  if (options->tls12_only) SSL_CTX_set_max_proto_version(context.native_handle(), TLS1_2_VERSION);
  if (!options->certificate.empty()) {
    context.use_certificate_chain_file(options->certificate, ec);
    if (!ec) context.use_private_key_file(options->key, ssl::context::pem, ec);
    if (ec) return "load client certificate: " + ec.message();
  }
  auto& tls = io.tls.emplace(io.socket, context);
  SSL* native = tls.native_handle();
  asio::ip::make_address(options->host, ec);
  if (ec) {
    SSL_set_tlsext_host_name(native, options->host.c_str());
    SSL_set1_host(native, options->host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), options->host.c_str());
  }
  const OpResult handshake = run_op(io, deadline, [&](auto handler) {
    tls.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (!handshake.ec && !handshake.timed_out) return {};
  std::string error = describe(handshake, "TLS handshake");
  const long verify = SSL_get_verify_result(native);
  if (verify != X509_V_OK) error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return error;
}

PeerCertificate peer_certificate_of(Io& io) {
  PeerCertificate out;
  if (!io.tls) return out;
  X509* cert = SSL_get0_peer_certificate(io.tls->native_handle());
  if (!cert) return out;
  if (char* line = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0)) {
    out.subject = line;  // "/CN=localhost"
    OPENSSL_free(line);
    if (!out.subject.empty() && out.subject.front() == '/') out.subject.erase(0, 1);
  }
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      out.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return out;
}

// TLS: sends close_notify (once) without waiting for the server's, as a
// client that is done sending does. False when it could not be sent.
bool send_close_notify(Io& io) {
  if (!io.tls || !io.socket.is_open()) return false;
  SSL* ssl = io.tls->native_handle();
  if (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) return true;
  SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);  // so the shutdown ends once ours is written
  const OpResult r = run_op(io, Clock::now() + std::chrono::seconds(1), [&](auto handler) {
    io.tls->async_shutdown([handler = std::move(handler)](error_code ec) mutable { handler(ec); });
  });
  return !r.ec && !r.timed_out;
}

}  // namespace

HttpResponse http_request(uint16_t port, std::string method, std::string target, std::string body,
                          Headers headers, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Connection connection(port, timeout);
  return connection.request(std::move(method), std::move(target), std::move(body),
                            std::move(headers), remaining(deadline));
}

HttpResponse raw_request(uint16_t port, std::string raw_bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Io io;
  if (OpResult r = connect(io, port, deadline); r.ec) return failure(r, "connect");
  // A server may answer and close before taking every byte: read even then.
  const OpResult written = write_all(io, io.socket, raw_bytes, deadline);
  if (written.timed_out) return failure(written, "write");
  return read_one(io, io.socket, deadline, request_line_of(raw_bytes));
}

HttpResponse https_request(std::string host, uint16_t port, std::string ca_file, std::string method,
                           std::string target, std::string body, Headers headers,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Connection connection(port, TlsClientOptions{.host = std::move(host), .ca_file = std::move(ca_file)}, timeout);
  return connection.request(std::move(method), std::move(target), std::move(body), std::move(headers),
                            remaining(deadline));
}

// ---------------------------------------------------------------------------

struct Connection::Impl {
  Io io;
  bool peer_closed = false;
  bool timed_out = false;  // the failure was a timeout
  std::string error;       // why the connection is unusable
  std::string last_request = "a request";  // "METHOD target" of the last one sent, for the canary scan

  void fail(const OpResult& r, const char* step) {
    timed_out = r.timed_out;
    error = describe(r, step);
    error_code ignored;
    io.socket.close(ignored);
  }
};

Connection::Connection(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  if (std::string error = open_connection(impl_->io, port, nullptr, Clock::now() + timeout); !error.empty()) {
    impl_->error = std::move(error);
    error_code ignored;
    impl_->io.socket.close(ignored);
  }
}

Connection::Connection(uint16_t port, TlsClientOptions tls, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  if (std::string error = open_connection(impl_->io, port, &tls, Clock::now() + timeout); !error.empty()) {
    impl_->error = std::move(error);
    error_code ignored;
    impl_->io.socket.close(ignored);
  }
}

Connection::~Connection() = default;

bool Connection::is_open() const { return impl_->io.socket.is_open(); }

const std::string& Connection::error() const { return impl_->error; }

PeerCertificate Connection::peer_certificate() const { return peer_certificate_of(impl_->io); }

HttpResponse Connection::request(std::string method, std::string target, std::string body,
                                 Headers headers, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!send_raw(serialize_request(method, target, body, headers, impl_->io.host), timeout)) {
    HttpResponse out;
    out.error = impl_->error;
    out.timed_out = impl_->timed_out;
    out.connection_closed = true;
    return out;
  }
  return read_response(remaining(deadline));
}

bool Connection::send_raw(std::string bytes, std::chrono::milliseconds timeout) {
  if (!is_open()) {
    if (impl_->error.empty()) impl_->error = "connection closed";
    return false;
  }
  Io& io = impl_->io;
  // A slow sender's later pieces continue the request the first one began.
  for (std::string_view method : {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH "})
    if (bytes.starts_with(method)) impl_->last_request = request_line_of(bytes);
  const OpResult r = io.with_stream([&](auto& stream) { return write_all(io, stream, bytes, Clock::now() + timeout); });
  if (r.ec) impl_->fail(r, "write");
  return !r.ec;
}

HttpResponse Connection::read_response(std::chrono::milliseconds timeout) {
  if (!is_open()) {
    HttpResponse out;
    out.error = impl_->error.empty() ? "connection closed" : impl_->error;
    out.connection_closed = true;
    return out;
  }
  Io& io = impl_->io;
  HttpResponse out = io.with_stream(
      [&](auto& stream) { return read_one(io, stream, Clock::now() + timeout, impl_->last_request); });
  if (out.status == 0) {
    // The byte stream is out of step: no later request may use it.
    impl_->peer_closed = !out.timed_out;
    impl_->timed_out = out.timed_out;
    impl_->error = out.error;
    error_code ignored;
    impl_->io.socket.close(ignored);
  }
  return out;
}

bool Connection::closed_by_peer(std::chrono::milliseconds timeout) {
  if (impl_->peer_closed) return true;
  if (!is_open()) return false;
  Io& io = impl_->io;
  // Over TLS through the TLS stream: the server's close_notify is bytes on the socket.
  const OpResult r = io.with_stream([&](auto& stream) {
    return run_op(io, Clock::now() + timeout, [&](auto handler) {
      stream.async_read_some(io.buffer.prepare(4096), std::move(handler));
    });
  });
  io.buffer.commit(r.bytes);
  if (r.timed_out || (!r.ec && r.bytes > 0)) return false;
  impl_->peer_closed = true;  // end of stream, reset, or any other read failure
  impl_->fail(r, "read");
  return true;
}

bool Connection::close_notify() { return send_close_notify(impl_->io); }

void Connection::close() {
  send_close_notify(impl_->io);
  error_code ignored;
  impl_->io.socket.close(ignored);
}

// ---------------------------------------------------------------------------

struct SseReader::Impl {
  Io io;
  http::response_parser<http::buffer_body> parser;
  std::array<char, 16 * 1024> chunk;
  int status = 0;
  std::string request;  // "METHOD target", for the canary scan
  Headers headers;
  std::string body;
  std::string line;    // bytes of a line not yet terminated
  std::string data;    // data: lines of the event being assembled
  bool has_data = false;
  std::deque<std::pair<std::string, Clock::time_point>> ready;
  std::vector<Clock::time_point> times;
  bool finished = false;
  bool clean = false;
  bool timed_out = false;

  // SSE framing: events end at a blank line; only data: fields matter here.
  void feed(const char* bytes, std::size_t n, Clock::time_point now) {
    body.append(bytes, n);
    for (std::size_t i = 0; i < n; ++i) {
      if (bytes[i] != '\n') {
        line += bytes[i];
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (has_data) ready.emplace_back(std::move(data), now);
        data.clear();
        has_data = false;
      } else if (line.rfind("data:", 0) == 0) {
        std::string_view value(line);
        value.remove_prefix(5);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (has_data) data += '\n';
        data += value;
        has_data = true;
      }
      line.clear();
    }
  }

  void read_some(Clock::time_point deadline) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    const OpResult r = io.with_stream([&](auto& stream) {
      return run_op(io, deadline, [&](auto handler) {
        http::async_read_some(stream, io.buffer, parser, std::move(handler));
      });
    });
    feed(chunk.data(), chunk.size() - parser.get().body().size, Clock::now());
    if (r.timed_out) {
      timed_out = true;  // the parser is intact: a later call may go on reading
      return;
    }
    if (r.ec && r.ec != http::error::need_buffer) {
      finished = true;
    } else if (parser.is_done()) {
      finished = clean = true;
    }
  }

  // Connects (TLS with `tls`), sends the request and reads the response head.
  void start(uint16_t port, const TlsClientOptions* tls, const std::string& method, const std::string& target,
             const std::string& body, Headers request_headers, Clock::time_point deadline) {
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    request = method + " " + target;
    finished = true;  // until the head is read
    if (!open_connection(io, port, tls, deadline).empty()) return;
    request_headers.try_emplace("Accept", "text/event-stream");
    const std::string request = serialize_request(method, target, body, request_headers, io.host);
    if (OpResult r = io.with_stream([&](auto& s) { return write_all(io, s, request, deadline); }); r.ec) return;
    const OpResult head = io.with_stream([&](auto& stream) {
      return run_op(io, deadline, [&](auto handler) {
        http::async_read_header(stream, io.buffer, parser, std::move(handler));
      });
    });
    if (head.ec) {
      timed_out = head.timed_out;
      return;
    }
    status = static_cast<int>(parser.get().result_int());
    headers = lower_case_headers(parser.get());
    finished = clean = parser.is_done();
  }
};

SseReader::SseReader(uint16_t port, std::string target, std::string body, Headers headers,
                     std::chrono::milliseconds timeout, std::string method)
    : impl_(std::make_unique<Impl>()) {
  impl_->start(port, nullptr, method, target, body, std::move(headers), Clock::now() + timeout);
}

SseReader::SseReader(uint16_t port, TlsClientOptions tls, std::string target, std::string body, Headers headers,
                     std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->start(port, &tls, "POST", target, body, std::move(headers), Clock::now() + timeout);
}

SseReader::~SseReader() { scan_response(impl_->request, impl_->headers, impl_->body); }

int SseReader::status() const { return impl_->status; }
const Headers& SseReader::headers() const { return impl_->headers; }

std::optional<std::string> SseReader::next_event(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  const auto deadline = Clock::now() + timeout;
  s.timed_out = false;
  while (s.ready.empty() && !s.finished) {
    s.read_some(deadline);
    if (s.timed_out) return std::nullopt;
  }
  if (s.ready.empty()) return std::nullopt;
  auto [data, arrived] = std::move(s.ready.front());
  s.ready.pop_front();
  s.times.push_back(arrived);
  return std::move(data);
}

std::vector<std::string> SseReader::remaining_events(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> events;
  while (auto event = next_event(remaining(deadline))) {
    events.push_back(std::move(*event));
  }
  return events;
}

const std::vector<SseReader::Clock::time_point>& SseReader::arrival_times() const {
  return impl_->times;
}

bool SseReader::ended_cleanly() const { return impl_->clean; }
bool SseReader::timed_out() const { return impl_->timed_out; }
const std::string& SseReader::body() const { return impl_->body; }

void SseReader::disconnect() {
  send_close_notify(impl_->io);
  error_code ignored;
  impl_->io.socket.close(ignored);
  impl_->finished = true;
}

RawTlsClient::RawTlsClient(const std::string& ca_file) : context_(SSL_CTX_new(TLS_client_method())) {
  if (!context_) throw std::runtime_error("SSL_CTX_new failed");
  if (SSL_CTX_load_verify_locations(context_, ca_file.c_str(), nullptr) != 1) {
    SSL_CTX_free(context_);
    throw std::runtime_error("cannot load the CA file " + ca_file);
  }
  SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
}

RawTlsClient::~RawTlsClient() { SSL_CTX_free(context_); }

RawTlsClient::Connection RawTlsClient::connect(uint16_t port, int receive_buffer) const {
  Connection c;
  c.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) {
    c.error_ = std::string("socket: ") + std::strerror(errno);
    return c;
  }
  if (receive_buffer > 0) ::setsockopt(c.fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    c.error_ = std::string("connect: ") + std::strerror(errno);
    return c;
  }
  c.ssl_ = SSL_new(context_);
  SSL_set_fd(c.ssl_, c.fd_);
  SSL_set_tlsext_host_name(c.ssl_, "localhost");
  if (SSL_connect(c.ssl_) != 1) c.error_ = "TLS handshake failed";
  return c;
}

RawTlsClient::Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), ssl_(std::exchange(other.ssl_, nullptr)), error_(std::move(other.error_)) {}

RawTlsClient::Connection::~Connection() {
  SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool RawTlsClient::Connection::write(std::string_view bytes) {
  return ssl_ && SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
}

int RawTlsClient::Connection::read(char* into, int size) { return ssl_ ? SSL_read(ssl_, into, size) : -1; }

}  // namespace sluice::test
