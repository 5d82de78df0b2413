// Checks on configuration values that need no YAML: ${VAR} expansion and the
// syntax of addresses, URLs, header names and names. Private to core; used by
// the config_*.cpp readers. Every message returned here is free of the checked
// value, so the caller decides what (if anything) may be echoed.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"

namespace sluice::config_syntax {

struct Expanded {
  std::string text;
  bool used_env = false;            // a ${...} was substituted: never echo `text`
  std::vector<std::string> errors;  // e.g. "environment variable X is not set"
};

// Expands ${NAME} and ${NAME:-default} (default when unset or empty); `$$` is
// a literal `$`, and a `$` followed by anything else is kept. Values and
// defaults are inserted literally, never expanded again.
Expanded expand_env(std::string_view raw, const EnvLookup& env);

// Each returns why the value is wrong, or nullopt when it is fine.
std::optional<std::string> check_listen(std::string_view host_port);  // port 0..65535 required
// A host name, an IPv4 address, or an IPv6 address in [brackets].
std::optional<std::string> check_host(std::string_view host);
std::optional<std::string> check_port(std::string_view port, int min_port);  // min_port..65535
std::optional<std::string> check_base_url(std::string_view url);      // http(s)://host[:port]/...
std::optional<std::string> check_readable_file(const std::string& path);
// An origin as browsers send it: http(s)://host[:port], no path; or "*".
std::optional<std::string> check_origin(std::string_view origin);

// "2027-01-31" (00:00 UTC that day) or "2027-01-31T18:00:00Z" (UTC).
std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view text);

bool is_http_token(std::string_view name);  // RFC 9110 token (header names)
bool is_name(std::string_view name);        // [A-Za-z0-9._-]*

std::size_t edit_distance(std::string_view a, std::string_view b);  // Levenshtein
std::string format_millis(Millis value);  // 100ms, 10s, 5m, 1h
std::string lowercase(std::string_view text);

}  // namespace sluice::config_syntax
