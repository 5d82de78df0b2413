// Structured logging: one line per event, a stable snake_case event name and
// key=value fields, rendered as JSON lines (production) or logfmt (text).
// Never pass prompts, completions or keys as field values: log sizes and ids.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include <spdlog/common.h>

#include "sluice/core/config.hpp"

namespace sluice::log {

// A field value: text, integer, floating point or boolean.
struct Field {
  enum class Kind { text, integer, unsigned_integer, real, boolean };

  Field(std::string_view k, std::string_view v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, const char* v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, const std::string& v) : key(k), kind(Kind::text), text(v) {}
  Field(std::string_view k, bool v) : key(k), kind(Kind::boolean), boolean(v) {}
  Field(std::string_view k, double v) : key(k), kind(Kind::real), real(v) {}
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Field(std::string_view k, I v) : key(k) {
    if constexpr (std::is_signed_v<I>) { kind = Kind::integer; integer = v; }
    else { kind = Kind::unsigned_integer; unsigned_integer = v; }
  }

  std::string_view key;
  Kind kind;
  std::string_view text;
  union {
    std::int64_t integer;
    std::uint64_t unsigned_integer;
    double real;
    bool boolean;
  };
};

// Configures the process-wide logger (stdout). Safe to call again on reload.
void init(const LoggingConfig& config);

// Formats and writes one event if `level` is enabled.
void write(spdlog::level::level_enum level, std::string_view event, std::initializer_list<Field> fields);

bool enabled(spdlog::level::level_enum level);

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(spdlog::level::err, e, f); }

// Renders the event and fields without the timestamp/level prefix; exposed for tests.
std::string render(LogFormat format, std::string_view event, std::initializer_list<Field> fields);

}  // namespace sluice::log
