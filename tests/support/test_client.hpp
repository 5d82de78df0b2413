// Blocking HTTP/1.1 client helpers for tests that talk to a server on 127.0.0.1.
//
// Every call takes a timeout (default 10 s) and returns instead of blocking past
// it: a transport failure or timeout gives status 0 with `error` set (and
// `timed_out` for timeouts); nothing throws and nothing calls GoogleTest, so a
// test decides what a failure means. Each object owns its own io_context: use
// them from the test thread while the server runs on its own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace sluice::test {

inline constexpr std::chrono::milliseconds kDefaultTimeout{10'000};

struct HttpResponse {
  int status = 0;  // 0: no complete response (see error)
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined by ", "
  std::string body;
  // The server announced Connection: close (or delimited the body by closing),
  // or closed the socket before a complete response.
  bool connection_closed = false;
  bool timed_out = false;
  std::string error;  // transport error, empty on success
};

using Headers = std::map<std::string, std::string>;

// One request on a fresh connection. Sets Host, and Content-Type:
// application/json when a body is given unless `headers` names one.
HttpResponse http_request(uint16_t port, std::string method, std::string target,
                          std::string body = {}, Headers headers = {},
                          std::chrono::milliseconds timeout = kDefaultTimeout);

// Writes `raw_bytes` unchanged (malformed requests, smuggling attempts,
// hand-made chunked bodies) and reads one response. If the server closes
// without answering, status is 0 and connection_closed is true.
HttpResponse raw_request(uint16_t port, std::string raw_bytes,
                         std::chrono::milliseconds timeout = kDefaultTimeout);

// TLS for a client: whom the server must prove to be, and what the client
// offers and shows.
struct TlsClientOptions {
  std::string host = "localhost";  // SNI, Host, and the name (or IP literal) the certificate must match
  std::string ca_file;             // the only CA trusted (PEM)
  std::string certificate, key;    // a client certificate (mTLS), PEM files; empty: none
  bool tls12_only = false;         // offer TLS 1.2 and nothing newer
  bool verify = true;              // false: any certificate will do (the canary run's /metrics scrape)
};

// What the server's certificate says (the leaf it presented).
struct PeerCertificate {
  std::string subject;  // "CN=localhost"
  std::string serial;   // upper-case hex
};

// Like http_request over TLS. Connects to 127.0.0.1:port but sends SNI and
// verifies the certificate against `host` ("localhost" or an IP literal), trusting
// only the PEM certificates in ca_file. A failed verification gives status 0 and
// an error naming it.
HttpResponse https_request(std::string host, uint16_t port, std::string ca_file,
                           std::string method, std::string target, std::string body = {},
                           Headers headers = {}, std::chrono::milliseconds timeout = kDefaultTimeout);

// A keep-alive connection for several requests. After a timeout or transport
// error the connection is closed and later calls fail at once.
class Connection {
 public:
  explicit Connection(uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Over TLS: connects and completes the handshake (a failure leaves the
  // connection closed, error() saying why, with the verification result).
  Connection(uint16_t port, TlsClientOptions tls, std::chrono::milliseconds timeout = kDefaultTimeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool is_open() const;
  // Why the connection is unusable (connect, handshake, ...); empty while it is fine.
  const std::string& error() const;
  // TLS: the certificate the server presented; empty without TLS.
  PeerCertificate peer_certificate() const;
  HttpResponse request(std::string method, std::string target, std::string body = {},
                       Headers headers = {}, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Writes bytes as they are (slow senders: call it several times).
  bool send_raw(std::string bytes, std::chrono::milliseconds timeout = kDefaultTimeout);
  HttpResponse read_response(std::chrono::milliseconds timeout = kDefaultTimeout);
  // True when the server closes the socket within the timeout. Bytes that arrive
  // instead are kept for read_response and give false.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::milliseconds(1'000));
  // TLS: sends close_notify and keeps the socket open, as a client that is
  // done sending but still reads. False without TLS.
  bool close_notify();
  // Closes the socket (over TLS after sending close_notify).
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends one streaming request and reads the SSE answer event by event, as the
// bytes arrive.
class SseReader {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects, sends `method target` with `body`, and reads the response head.
  // On failure status() is 0 and next_event() returns nullopt.
  SseReader(uint16_t port, std::string target, std::string body, Headers headers = {},
            std::chrono::milliseconds timeout = kDefaultTimeout, std::string method = "POST");
  // The same over TLS.
  SseReader(uint16_t port, TlsClientOptions tls, std::string target, std::string body, Headers headers = {},
            std::chrono::milliseconds timeout = kDefaultTimeout);
  ~SseReader();
  SseReader(const SseReader&) = delete;
  SseReader& operator=(const SseReader&) = delete;

  int status() const;
  const Headers& headers() const;  // lower-case names
  // The data of the next event (its data: lines joined by "\n"), or nullopt at
  // the end of the stream, on a transport error, or on timeout (timed_out()).
  std::optional<std::string> next_event(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Reads the remaining events until the end of the stream.
  std::vector<std::string> remaining_events(std::chrono::milliseconds timeout = kDefaultTimeout);
  // When each event returned so far arrived (its bytes were read).
  const std::vector<Clock::time_point>& arrival_times() const;
  // The terminating zero-length chunk (or the end of a sized body) was read.
  bool ended_cleanly() const;
  bool timed_out() const;
  // All body bytes read so far (e.g. the JSON of an error answer, after
  // remaining_events()).
  const std::string& body() const;
  // Closes the socket mid-stream, as a client that goes away (over TLS after
  // sending its close_notify).
  void disconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocking TLS connections made with OpenSSL directly, without the record
// buffers asio's TLS stream keeps: for tests that hold many TLS connections
// at once, or read at their own pace. Trusts only `ca_file`, sends SNI
// "localhost" and checks nothing else of the certificate.
class RawTlsClient {
 public:
  explicit RawTlsClient(const std::string& ca_file);
  ~RawTlsClient();
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  class Connection {
   public:
    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&&) = delete;
    ~Connection();
    // Why the connect or the handshake failed; empty when it is open.
    const std::string& error() const { return error_; }
    bool write(std::string_view bytes);
    // SSL_read: the bytes read, or <= 0 at the end or on an error.
    int read(char* into, int size);

   private:
    friend class RawTlsClient;
    Connection() = default;
    int fd_ = -1;
    ::ssl_st* ssl_ = nullptr;
    std::string error_;
  };

  // A connection to 127.0.0.1:port, its handshake completed unless error()
  // says otherwise. `receive_buffer` > 0: SO_RCVBUF, set before the connect.
  Connection connect(uint16_t port, int receive_buffer = 0) const;

 private:
  ::ssl_ctx_st* context_;
};

}  // namespace sluice::test
