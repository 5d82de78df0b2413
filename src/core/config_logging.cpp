// The observability sections: `logging` (level, output format and the access
// log switch: LoggingConfig) and `metrics` (MetricsConfig).
#include <string_view>

#include "config_sections.hpp"

namespace sluice::config_reader {

void read_logging(Reader& r, const Slot& at, LoggingConfig& c) {
  static const Choices<std::string_view> kLevels = {
      {"trace", "trace"}, {"debug", "debug"}, {"info", "info"},
      {"warn", "warn"},   {"error", "error"}, {"off", "off"}};
  static const Choices<LogFormat> kFormats = {{"json", LogFormat::json}, {"text", LogFormat::text}};
  r.mapping(at, {
      {"level",
       [&](const Slot& s) {
         std::string_view level;
         if (r.choice(s, kLevels, level)) c.level = level;
       }},
      {"format", [&](const Slot& s) { r.choice(s, kFormats, c.format); }},
      {"access_log", [&](const Slot& s) { r.boolean(s, c.access_log); }},
  });
}

void read_metrics(Reader& r, const Slot& at, MetricsConfig& c) {
  r.mapping(at, {
      {"enabled", [&](const Slot& s) { r.boolean(s, c.enabled); }},
      {"require_key", [&](const Slot& s) { r.boolean(s, c.require_key); }},
  });
}

}  // namespace sluice::config_reader
