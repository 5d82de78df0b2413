// One HTTP header as the stages pass it around: upstream rate-limit headers
// an answer carries, headers the front door writes. Beast-free.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

struct Header {
  std::string name;
  std::string value;
};

// Header values copied from one side to the other must not smuggle a line
// break (Beast writes CR/LF in values without complaint): true when `value`
// has no CR, LF or NUL.
bool is_safe_header_value(std::string_view value) noexcept;

}  // namespace sluice
