#include "sluice/core/header.hpp"

namespace sluice {

bool is_safe_header_value(std::string_view value) noexcept {
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

}  // namespace sluice
