// The `logging` config section: level, output format and the access log
// switch (LoggingConfig).
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

}  // namespace sluice::config_reader
