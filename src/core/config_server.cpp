// The `server` config section: listen address, request size limits and
// connection timeouts (ServerConfig).
#include "config_sections.hpp"
#include "config_syntax.hpp"

namespace sluice::config_reader {

void read_server(Reader& r, const Slot& at, ServerConfig& c) {
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
      {"max_header_bytes", [&](const Slot& s) { r.integer(s, 1024, 1 << 20, c.max_header_bytes); }},
      {"header_timeout", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.header_timeout); }},
      {"keepalive_timeout",
       [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.keepalive_timeout); }},
      {"shutdown_grace", [&](const Slot& s) { r.duration(s, Millis{0}, kHour, c.shutdown_grace); }},
      {"max_connections", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.max_connections); }},
  });
}

}  // namespace sluice::config_reader
