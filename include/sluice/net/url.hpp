// Splitting an http(s) base URL into what a connection needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::net {

struct Url {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::string port;  // always set: explicit, or 80 / 443
  std::string path;  // without trailing '/', may be empty ("" or "/v1")

  // Host header value: host[:port] (port omitted when default), IPv6 bracketed.
  std::string host_header() const;
};

// Accepts http:// and https:// URLs with a host; no user-info, query or fragment.
std::optional<Url> parse_url(std::string_view text);

}  // namespace sluice::net
