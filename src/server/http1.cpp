// HTTP/1.1 framing helpers (contracts in http1.hpp).
#include "http1.hpp"

#include "sluice/core/header.hpp"

namespace sluice::server {

namespace http = boost::beast::http;

bool is_http_error(const boost::system::error_code& ec) {
  return ec.category() == make_error_code(http::error::end_of_stream).category();
}

std::optional<Error> host_problem(const http::request_header<>& head) {
  if (head.version() < 11 || head.count(http::field::host) == 1) return std::nullopt;
  return make_error(errc::bad_request, head.count(http::field::host) == 0
                                           ? "an HTTP/1.1 request must have a Host header"
                                           : "a request must not have more than one Host header");
}

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

std::string chunk_size_line(std::size_t size) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 2, size, 16);
  *end++ = '\r';
  *end++ = '\n';
  return std::string(buf, end);
}

}  // namespace sluice::server
