// Configuration value syntax without YAML: ${VAR} expansion, host:port,
// base URLs, header names. See config_syntax.hpp for the contracts.
#include "config_syntax.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace sluice::config_syntax {

namespace {

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// host:port where host is an IPv4 address, a [bracketed] IPv6 address or a name.
std::optional<std::string> check_host_port(std::string_view text, bool port_required, int min_port) {
  const auto bracket = text.rfind(']');
  const auto colon = text.rfind(':');
  const bool has_port = colon != std::string_view::npos &&
                        (bracket == std::string_view::npos || colon > bracket);
  if (!has_port && port_required) return "expected host:port, e.g. 127.0.0.1:8080";
  if (has_port && text.find(':') != colon && text.front() != '[') {
    return "an IPv6 address must be in brackets, e.g. [::1]:8080";
  }
  if (auto bad = check_host(has_port ? text.substr(0, colon) : text)) return bad;
  if (has_port) return check_port(text.substr(colon + 1), min_port);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_port(std::string_view port, int min_port) {
  int value = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value < min_port ||
      value > 65535) {
    return "port must be a number between " + std::to_string(min_port) + " and 65535";
  }
  return std::nullopt;
}

std::optional<std::string> check_host(std::string_view host) {
  if (host.empty()) return "the host is empty";
  std::string text(host);
  unsigned char address[16];
  if (host.front() == '[') {
    text = text.substr(1, text.size() - 2);
    if (host.back() != ']' || inet_pton(AF_INET6, text.c_str(), address) != 1) {
      return "invalid IPv6 address";
    }
    return std::nullopt;
  }
  if (host.find(':') != std::string_view::npos) return "an IPv6 address must be in brackets";
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    if (inet_pton(AF_INET, text.c_str(), address) != 1) return "invalid IPv4 address";
    return std::nullopt;
  }
  const bool name_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
  if (!name_ok) return "invalid host name";
  return std::nullopt;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The largest unit that divides the value exactly: 100ms, 10s, 5m, 1h.
std::string format_millis(Millis value) {
  const auto ms = value.count();
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

Expanded expand_env(std::string_view raw, const EnvLookup& env) {
  Expanded out;
  std::size_t i = 0;
  while (i < raw.size()) {
    const char next = i + 1 < raw.size() ? raw[i + 1] : '\0';
    if (raw[i] != '$' || (next != '$' && next != '{')) {
      out.text += raw[i++];
      continue;
    }
    if (next == '$') {
      out.text += '$';
      i += 2;
      continue;
    }
    const auto close = raw.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.errors.push_back("unterminated '${' (write '$$' for a literal '$')");
      break;
    }
    std::string_view name = raw.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (const auto sep = name.find(":-"); sep != std::string_view::npos) {
      fallback = name.substr(sep + 2);
      name = name.substr(0, sep);
    }
    i = close + 1;
    out.used_env = true;
    // The name is not echoed: a key pasted between the braces must not leak.
    if (!is_env_name(name)) {
      out.errors.push_back("invalid environment variable name in '${...}' (letters, digits and '_')");
      continue;
    }
    const auto value = env(std::string(name));
    if (value && !(fallback && value->empty())) {
      out.text += *value;
    } else if (fallback) {
      out.text += *fallback;
    } else {
      out.errors.push_back("environment variable " + std::string(name) + " is not set");
    }
  }
  return out;
}

std::optional<std::string> check_listen(std::string_view host_port) {
  return check_host_port(host_port, true, 0);
}

std::optional<std::string> check_base_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) rest = url.substr(7);
  else if (url.starts_with("https://")) rest = url.substr(8);
  else return "must start with http:// or https://";
  const bool clean = std::all_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) > ' ' && c != 0x7f;
  });
  if (!clean) return "must not contain spaces or control characters";
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return "has no host";
  // Credentials belong in api_key or headers, where messages never show them.
  if (authority.find('@') != std::string_view::npos) return "must not contain user:password@";
  // Nor in a query (?key=...): the request target is built from the path.
  if (rest.find_first_of("?#") != std::string_view::npos)
    return "must not contain a query or fragment ('?', '#'): put keys in api_key or headers";
  if (rest.find('@') != std::string_view::npos) return "must not contain '@'";
  if (auto bad = check_host_port(authority, false, 1)) return "invalid host: " + *bad;
  return std::nullopt;
}

std::optional<std::string> check_origin(std::string_view origin) {
  if (origin == "*") return std::nullopt;
  std::string_view rest;
  if (origin.starts_with("http://")) rest = origin.substr(7);
  else if (origin.starts_with("https://")) rest = origin.substr(8);
  else return "expected http(s)://host[:port] as a browser sends it in Origin, or *";
  if (rest.find_first_of("/?#@ ") != std::string_view::npos)
    return "an origin has no path, query, user or spaces: http(s)://host[:port]";
  if (auto bad = check_host_port(rest, false, 1)) return "invalid host: " + *bad;
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view text) {
  using namespace std::chrono;
  const auto field = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > text.size()) return false;
    const auto [stop, ec] = std::from_chars(text.data() + at, text.data() + at + n, out);
    return ec == std::errc{} && stop == text.data() + at + n && std::isdigit(static_cast<unsigned char>(text[at]));
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!field(0, 4, y) || text.size() < 10 || text[4] != '-' || !field(5, 2, mo) || text[7] != '-' || !field(8, 2, d))
    return std::nullopt;
  if (text.size() != 10) {
    if (text.size() != 20 || text[10] != 'T' || !field(11, 2, h) || text[13] != ':' || !field(14, 2, mi) ||
        text[16] != ':' || !field(17, 2, s) || text[19] != 'Z')
      return std::nullopt;
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  // The clock counts nanoseconds in 64 bits: from 1677 to 2262. A date past
  // that ("9999-12-31" for never) is the clock's last instant, one before it
  // its first; converting it as it is overflowed (found by fuzz_config_yaml).
  using Clock = system_clock;
  const sys_seconds when = sys_days{date} + hours{h} + minutes{mi} + seconds{s};
  if (when > floor<seconds>(Clock::time_point::max())) return Clock::time_point::max();
  if (when < ceil<seconds>(Clock::time_point::min())) return Clock::time_point::min();
  return time_point_cast<Clock::duration>(when);
}

bool is_http_token(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSymbols.find(c) != std::string_view::npos;
  });
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::optional<std::string> check_readable_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::strerror(ec ? ec.value() : ENOENT);
  if (!std::filesystem::is_regular_file(path, ec)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return std::nullopt;
}

}  // namespace sluice::config_syntax
