// The `server` config section: listen address, request size limits and the
// body budget, connection timeouts, CORS, TLS (ServerConfig).
#include <algorithm>
#include <optional>

#include "config_sections.hpp"
#include "config_syntax.hpp"

namespace sluice::config_reader {

namespace {

void read_cors(Reader& r, const Slot& at, CorsConfig& c) {
  r.mapping(at, {
      {"allowed_origins",
       [&](const Slot& s) {
         for (const Slot& item : r.list(s)) {
           std::string origin;
           if (!r.non_empty_string(item, origin)) continue;
           if (auto bad = config_syntax::check_origin(origin)) {
             r.problem(item, "invalid origin " + quote(origin) + ": " + *bad);
             continue;
           }
           // Browsers send scheme and host in lower case.
           c.allowed_origins.push_back(config_syntax::lowercase(origin));
         }
       }},
      {"max_age", [&](const Slot& s) { r.duration(s, Millis{0}, 24 * kHour, c.max_age); }},
  });
}

// A file server.tls names: it must be readable now. Whether it holds what it
// should (PEM, a key matching the certificate) takes OpenSSL, which core does
// not link: net::load_server_tls checks that (sluice --check-config runs it).
void read_tls_file(Reader& r, const Slot& at, std::string_view what, std::string& out) {
  const auto value = r.scalar(at, "a string");
  if (!value) return;
  if (value->text.empty()) return r.problem(at, "must not be empty");
  if (auto bad = config_syntax::check_readable_file(value->text)) {
    return r.problem(at, "cannot read " + std::string(what) + " file " + value->shown() + ": " + *bad);
  }
  out = value->text;
}

void read_min_version(Reader& r, const Slot& at, TlsVersion& out) {
  static const Choices<TlsVersion> kVersions = {{"1.2", TlsVersion::v1_2}, {"1.3", TlsVersion::v1_3}};
  // RFC 8996 retired TLS 1.0 and 1.1; say so rather than just "invalid".
  if (at.node.IsScalar() && (at.node.Scalar() == "1.0" || at.node.Scalar() == "1.1" || at.node.Scalar() == "1")) {
    return r.problem(at, "TLS " + at.node.Scalar() + " is not accepted (RFC 8996); expected one of: 1.2, 1.3");
  }
  r.choice(at, kVersions, out);
}

void read_tls(Reader& r, const Slot& at, std::optional<ServerTlsConfig>& out) {
  ServerTlsConfig& c = out.emplace();
  r.mapping(at, {
      {"certificate", [&](const Slot& s) { read_tls_file(r, s, "certificate", c.certificate); }, true},
      {"key", [&](const Slot& s) { read_tls_file(r, s, "key", c.key); }, true},
      {"min_version", [&](const Slot& s) { read_min_version(r, s, c.min_version); }},
      {"client_ca", [&](const Slot& s) { read_tls_file(r, s, "CA", c.client_ca); }},
  });
}

}  // namespace

void read_server(Reader& r, const Slot& at, ServerConfig& c) {
  std::optional<Slot> budget;  // where max_buffered_body_bytes was set, if it was
  r.mapping(at, {
      {"listen",
       [&](const Slot& s) {
         const auto value = r.scalar(s, "a string");
         if (!value) return;
         if (auto bad = config_syntax::check_listen(value->text)) {
           return r.problem(s, "invalid address " + value->shown() + ": " + *bad);
         }
         c.listen = value->text;
       }},
      {"max_body_bytes", [&](const Slot& s) { r.integer(s, 1024, 1 << 30, c.max_body_bytes); }},
      {"max_buffered_body_bytes",
       [&](const Slot& s) {
         std::size_t value = 0;
         r.integer(s, 1024, 1LL << 36, value);
         if (value == 0) return;  // reported
         c.max_buffered_body_bytes = value;
         budget = s;
       }},
      {"max_header_bytes", [&](const Slot& s) { r.integer(s, 1024, 1 << 20, c.max_header_bytes); }},
      {"header_timeout", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.header_timeout); }},
      {"body_timeout", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.body_timeout); }},
      {"write_timeout", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.write_timeout); }},
      {"keepalive_timeout",
       [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.keepalive_timeout); }},
      {"shutdown_grace", [&](const Slot& s) { r.duration(s, Millis{0}, kHour, c.shutdown_grace); }},
      {"max_connections", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.max_connections); }},
      {"max_requests_per_connection",
       [&](const Slot& s) { r.integer(s, 0, 1'000'000'000, c.max_requests_per_connection); }},
      {"cors", [&](const Slot& s) { read_cors(r, s, c.cors); }},
      {"tls", [&](const Slot& s) { read_tls(r, s, c.tls); }},
      {"reload_watch", [&](const Slot& s) { r.boolean(s, c.reload_watch); }},
  });
  // One body at the limit must fit in the budget, or it could never be served.
  if (!budget) {
    c.max_buffered_body_bytes = std::max(c.max_buffered_body_bytes, c.max_body_bytes);
  } else if (c.max_buffered_body_bytes < c.max_body_bytes) {
    r.problem(*budget, "must be at least server.max_body_bytes (" + std::to_string(c.max_body_bytes) + ")");
  }
}

}  // namespace sluice::config_reader
