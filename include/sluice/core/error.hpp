// Error codes every stage returns, the one table that maps them to an HTTP
// status and an OpenAI error type, and Result<T>, the value-or-error type the
// data path uses instead of exceptions.
#pragma once

#include <cassert>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

enum class errc {
  bad_request,           // malformed or invalid request (400)
  unsupported_encoding,  // request Transfer-Encoding other than chunked (400, connection closed)
  unauthorized,          // missing, unknown or expired gateway key (401)
  peer_not_allowed,      // no keys configured and the client is not on loopback (403)
  model_not_allowed,     // the key's allow-list does not name the model (403)
  budget_exceeded,       // the key spent its monthly budget (403)
  not_found,             // unknown route (404)
  model_not_found,       // model the configuration does not serve (404)
  method_not_allowed,    // known route, wrong method (405)
  request_timeout,       // client too slow to send its request (408)
  payload_too_large,     // body over server.max_body_bytes (413)
  headers_too_large,     // header block over server.max_header_bytes (431)
  rate_limited,          // no capacity anywhere; a later attempt may succeed (429)
  upstream_rejected,     // provider refused the request with a 4xx (status passed through)
  upstream_rate_limited, // provider answered 429
  upstream_unavailable,  // connect failure, reset, or provider 5xx (502)
  upstream_timeout,      // connect / first byte / idle deadline passed (504)
  upstream_protocol,     // provider sent something that is not valid HTTP / JSON / SSE (502)
  upstream_auth,         // provider refused the gateway's own credentials, 401/403 (502; never retried there)
  cancelled,             // the client went away; nobody will read the answer
  overloaded,            // the gateway is at a limit of its own, e.g. buffered request bodies (503)
  shutting_down,         // the gateway is draining (503)
  redis_unavailable,     // Redis cannot be used now: not connected, no answer in time, connection lost (503)
  internal,              // a bug (500)
};

// What an error code means on the wire, and the two retry notions, which
// differ: `client_retry` says whether the client sending the same request
// again may succeed (it becomes `x-should-retry`); `fails_over` whether the
// gateway should try the request on another deployment (a provider's outage
// may not be the next one's; a bug in the gateway or a refused request would
// fail the same way everywhere).
struct ErrorTraits {
  int http_status;
  std::string_view type;  // OpenAI error.type
  std::string_view code;  // OpenAI error.code; empty means null
  bool client_retry;
  bool fails_over;
};

const ErrorTraits& traits(errc code) noexcept;
std::string_view to_string(errc code) noexcept;

// An error with a message for the client. `param` names the offending request
// field (OpenAI error.param), empty when none. `http_status` overrides the
// table for errors passed through from an upstream (0 = use the table).
// `detail` is for the operator only: what the client must not learn (the
// upstream's address, the system's words); logged under the request id,
// never sent.
struct Error {
  errc code = errc::internal;
  std::string message;
  std::string detail;
  std::string param;
  int http_status = 0;
  std::int64_t retry_after_ms = -1;  // how long a retry should wait (Retry-After); -1 = not said
  std::string upstream_body;  // an upstream's own OpenAI-shaped error body, relayed as is (secrets redacted)
  int upstream_status = 0;    // the upstream's HTTP status when the error is its answer; for logs
  // The gateway has already retried this request: a client retrying too
  // would multiply the attempts (3 gateway x 3 SDK attempts = 9 upstream
  // calls), so the answer says x-should-retry: false.
  bool retries_spent = false;
  // The request never reached the upstream (the failure, or the client's
  // leaving, came while connecting): nothing can be billed for it, so the
  // capacity it reserved goes back, cancelled or not.
  bool unsent = false;

  int status() const noexcept { return http_status ? http_status : traits(code).http_status; }
  bool client_may_retry() const noexcept { return traits(code).client_retry && !retries_spent; }
  bool fails_over() const noexcept { return traits(code).fails_over; }
  // What a log line says about the error: the detail, else the message.
  const std::string& logged() const noexcept { return detail.empty() ? message : detail; }
};

inline Error make_error(errc code, std::string message, std::string param = {}) {
  Error e{code, std::move(message)};
  e.param = std::move(param);
  return e;
}

// How long a retry should wait, as Error::retry_after_ms: whole milliseconds
// rounded up, at least 1 (0 would invite an immediate retry).
inline std::int64_t retry_after_ms(std::chrono::nanoseconds wait) {
  const std::int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms < 1 ? 1 : ms;
}

// The same wait in whole seconds, for Retry-After and for messages: rounded
// up, at least 1, so a client never retries before capacity is back.
inline std::int64_t retry_after_seconds(std::int64_t ms) { return ms <= 1000 ? 1 : (ms + 999) / 1000; }
inline std::int64_t retry_after_seconds(std::chrono::nanoseconds wait) {
  return retry_after_seconds(retry_after_ms(wait));
}

// Renders the OpenAI error body {"error":{"message","type","param","code"}}
// (or the upstream's own body when it sent a well-formed one).
std::string error_body(const Error& e);

// A value or an Error. Deliberately small: construct from either, test with
// ok() / operator bool, read with value() / error().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace sluice
