// The `redis` config section (RedisConfig) and the Redis URL syntax,
// redis://[[user]:password@]host[:port][/db] and rediss://.
//
// The URL may carry a password: no message ever shows the URL or any part of
// it, not even as written in the file (the password may be written there).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "config_sections.hpp"
#include "config_syntax.hpp"

namespace sluice {

namespace {

constexpr int kMaxDb = 1'000'000;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding, as user info in a URL is written; nullopt for a '%' that is
// not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::optional<std::string> parse_user_info(std::string_view info, RedisConfig& out) {
  const auto colon = info.find(':');
  if (colon == std::string_view::npos)
    return "the URL names a user but no password: write user:password@ (or :password@ for the default user)";
  auto user = percent_decode(info.substr(0, colon));
  auto password = percent_decode(info.substr(colon + 1));
  if (!user || !password)
    return "invalid percent-encoding in the URL's user or password (write a '%' as %25)";
  if (password->empty()) return "the URL's password is empty (is its environment variable set to \"\"?)";
  out.username = std::move(*user);
  out.password = std::move(*password);
  return std::nullopt;
}

std::optional<std::string> parse_host_port(std::string_view text, RedisConfig& out) {
  std::string_view host = text, port;
  out.port = 6379;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "invalid host: invalid IPv6 address";
    host = text.substr(0, close + 1);
    const auto after = text.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return "invalid host: expected host[:port]";
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return "invalid port: port must be a number between 1 and 65535";
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos)
      return "invalid host: an IPv6 address must be in brackets, e.g. redis://[::1]:6379";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return "invalid port: port must be a number between 1 and 65535";
  }
  if (auto bad = config_syntax::check_host(host)) return "invalid host: " + *bad;
  if (!port.empty()) {
    if (auto bad = config_syntax::check_port(port, 1)) return "invalid port: " + *bad;
    int value = 0;
    std::from_chars(port.data(), port.data() + port.size(), value);
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host = host.starts_with('[') ? std::string(host.substr(1, host.size() - 2)) : std::string(host);
  return std::nullopt;
}

std::optional<std::string> parse_db(std::string_view path, RedisConfig& out) {
  if (path.empty() || path == "/") return std::nullopt;
  const std::string_view digits = path.substr(1);
  int db = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
  if (ec != std::errc{} || end != digits.data() + digits.size() || db < 0 || db > kMaxDb ||
      !std::isdigit(static_cast<unsigned char>(digits.front())))
    return "the URL's path must be a database number between 0 and " + std::to_string(kMaxDb) + ", e.g. /0";
  out.db = db;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_redis_url(std::string_view url, RedisConfig& out) {
  std::string_view rest;
  if (url.starts_with("redis://")) {
    out.tls = false;
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    out.tls = true;
    rest = url.substr(9);
  } else {
    return "a Redis URL must start with redis:// (or rediss:// for TLS)";
  }
  // The password is the part that may hold any character, '@' and '/'
  // included: the host and the path never hold an '@', so the last one ends it.
  out.username.clear();
  out.password.clear();
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (auto bad = parse_user_info(rest.substr(0, at), out)) return bad;
    rest = rest.substr(at + 1);
  }
  const bool clean = std::all_of(rest.begin(), rest.end(), [](char c) {
    return static_cast<unsigned char>(c) > ' ' && c != 0x7f;
  });
  if (!clean) return "the URL's host and path must not contain spaces or control characters";
  if (rest.find_first_of("?#") != std::string_view::npos)
    return "a Redis URL takes no query or fragment: redis://[[user]:password@]host[:port][/db]";
  const auto slash = rest.find('/');
  if (auto bad = parse_host_port(rest.substr(0, slash), out)) return bad;
  out.db = 0;
  if (slash != std::string_view::npos) return parse_db(rest.substr(slash), out);
  return std::nullopt;
}

std::string RedisConfig::address() const {
  const std::string shown = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return shown + ":" + std::to_string(port);
}

namespace config_reader {

void read_redis(Reader& r, const Slot& at, RedisConfig& c) {
  std::optional<Slot> ca_file;
  r.mapping(at, {
      {"url",
       [&](const Slot& s) {
         const auto value = r.scalar(s, "a string");
         if (!value) return;
         if (auto bad = parse_redis_url(value->text, c)) r.problem(s, "invalid Redis URL: " + *bad);
       },
       true},
      {"connect_timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kMinute, c.connect_timeout); }},
      {"command_timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.command_timeout); }},
      {"ca_file",
       [&](const Slot& s) {
         read_ca_file(r, s, c.ca_file);
         ca_file = s;
       }},
      {"max_reply_bytes", [&](const Slot& s) { r.integer(s, 1024, 1LL << 32, c.max_reply_bytes); }},
  });
  if (ca_file && !c.ca_file.empty() && !c.tls && !c.host.empty())
    r.problem(*ca_file, "ca_file applies to TLS only: use a rediss:// URL");
}

}  // namespace config_reader
}  // namespace sluice
