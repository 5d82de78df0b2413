// parse_duration: the duration syntax of the configuration file.
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "sluice/core/config.hpp"

namespace sluice {

namespace {

// Milliseconds per unit suffix; an empty suffix means seconds.
std::optional<std::int64_t> unit_millis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit.empty() || unit == "s") return 1'000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  return std::nullopt;
}

}  // namespace

// One run of decimal digits and an optional unit, nothing else: no sign, no
// fraction, no whitespace, no compound forms such as "1h30m". Keeping the
// syntax this small means every accepted spelling reads the same to a human.
std::optional<Millis> parse_duration(std::string_view text) {
  constexpr std::int64_t kMax = std::numeric_limits<Millis::rep>::max();
  std::size_t digits = 0;
  std::int64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    const int digit = text[digits] - '0';
    if (value > (kMax - digit) / 10) return std::nullopt;  // overflow
    value = value * 10 + digit;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const auto per_unit = unit_millis(text.substr(digits));
  if (!per_unit || value > kMax / *per_unit) return std::nullopt;
  return Millis{value * *per_unit};
}

}  // namespace sluice
