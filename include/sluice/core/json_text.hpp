// Writing JSON text by hand on the hot path, where building a DOM would cost
// more than the request: string escaping and small number helpers.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `text` as a quoted JSON string. Control characters are escaped;
// bytes >= 0x80 are copied (callers hand in validated UTF-8).
void append_json_string(std::string& out, std::string_view text);

inline std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace sluice
