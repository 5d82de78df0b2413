// HttpClient: HTTP/1.1 requests to one upstream origin over a pool of
// keep-alive connections, plain or TLS (OpenSSL: system CA store plus an
// optional CA file, SNI, certificate and host-name verification).
//
// Timeouts are per step, never total, so a long stream is never cut while it
// makes progress: connect (TCP + TLS), first byte (request written -> response
// head), idle (silence between body reads).
//
// All calls run on the executor given at construction and are not thread-safe;
// one client per provider per event loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "sluice/core/error.hpp"
#include "sluice/core/header.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/net/url.hpp"

namespace sluice::net {

struct HttpRequest {
  std::string method = "POST";
  std::string target;           // path and query, e.g. "/v1/chat/completions"
  std::vector<Header> headers;  // Host, Content-Length and Connection are set by the client
  std::string body;
};

struct ResponseHead {
  int status = 0;
  std::vector<Header> headers;  // names lower-cased
  std::string_view header(std::string_view lower_name) const noexcept;
};

struct FullResponse {
  ResponseHead head;
  std::string body;
};

// The body of a response being received. Destroying it before the end closes
// the connection (the upstream sees the request cancelled); reading to the end
// returns a keep-alive connection to the pool.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next piece of the body as it arrives (chunked framing removed); an
  // empty view at the end. The view is valid until the next call. Errors:
  // upstream_timeout (idle), upstream_unavailable (reset/closed early),
  // upstream_protocol, cancelled.
  virtual boost::asio::awaitable<Result<std::string_view>> read_some() = 0;
  // More of the body that has already arrived, parsed without waiting on the
  // network (empty when none is ready); valid until the next call. A stream
  // relay uses it to send a burst of events in one client write instead of
  // one write per upstream chunk. Errors are left for read_some() to report.
  virtual std::string_view take_buffered() { return {}; }
};

struct StreamingResponse {
  ResponseHead head;
  std::unique_ptr<BodyReader> body;
};

struct ClientOptions {
  std::string name;  // provider name, for error messages
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds first_byte_timeout{120'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds total_timeout{0};  // send(): the whole answer; 0 = no bound
  std::size_t max_idle_connections = 64;
  std::string ca_file;  // extra trusted CAs (PEM), besides the system store
  std::size_t max_response_bytes = 64u << 20;
};

class HttpClient {
 public:
  // Throws std::runtime_error when the TLS context cannot be set up (startup only).
  HttpClient(boost::asio::any_io_executor executor, Url origin, ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the whole response. Any HTTP status is a
  // success here; errors are transport-level: upstream_unavailable (connect,
  // TLS, reset), upstream_timeout, upstream_protocol, cancelled (`cancel` fired).
  // A request on a reused connection that the server had closed is retried
  // once on a fresh connection. With options.total_timeout, an answer not
  // complete in time is upstream_timeout.
  boost::asio::awaitable<Result<FullResponse>> send(HttpRequest request, Cancellation& cancel);

  // Sends the request and returns once the response head has arrived; the
  // body is read through the returned reader, which stays tied to `cancel`.
  boost::asio::awaitable<Result<StreamingResponse>> open(HttpRequest request, Cancellation& cancel);

  const Url& origin() const noexcept;
  std::size_t idle_connections() const noexcept;

  struct Impl;

 private:
  boost::asio::awaitable<Result<StreamingResponse>> exchange(
      HttpRequest request, Cancellation& cancel, std::optional<std::chrono::steady_clock::time_point> answer_by);

  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::net
