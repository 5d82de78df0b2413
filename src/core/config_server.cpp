// The `server` config section: listen address, request size limits and the
// body budget, connection timeouts, CORS (ServerConfig).
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
      {"keepalive_timeout",
       [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.keepalive_timeout); }},
      {"shutdown_grace", [&](const Slot& s) { r.duration(s, Millis{0}, kHour, c.shutdown_grace); }},
      {"max_connections", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.max_connections); }},
      {"cors", [&](const Slot& s) { read_cors(r, s, c.cors); }},
  });
  // One body at the limit must fit in the budget, or it could never be served.
  if (!budget) {
    c.max_buffered_body_bytes = std::max(c.max_buffered_body_bytes, c.max_body_bytes);
  } else if (c.max_buffered_body_bytes < c.max_body_bytes) {
    r.problem(*budget, "must be at least server.max_body_bytes (" + std::to_string(c.max_body_bytes) + ")");
  }
}

}  // namespace sluice::config_reader
