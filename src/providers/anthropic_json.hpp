// Reading nlohmann::json values of unknown shape without exceptions: the
// Anthropic translation reads client requests and upstream answers whose
// fields may be missing or of the wrong type, and the data path throws nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice::providers::json_access {

using json = nlohmann::json;

// The member `key` of an object; nullptr when `j` is no object or lacks it.
inline const json* member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// The member as a string; "" when absent or not a string.
inline std::string_view string_member(const json& j, std::string_view key) {
  const json* m = member(j, key);
  return m && m->is_string() ? std::string_view(m->get_ref<const std::string&>()) : std::string_view{};
}

// The member as an integer; nullopt when absent or not an integer.
inline std::optional<std::int64_t> int_member(const json& j, std::string_view key) {
  const json* m = member(j, key);
  if (!m || !m->is_number_integer()) return std::nullopt;
  return m->get<std::int64_t>();
}

// Serializes without throwing: invalid UTF-8 (which validated input cannot
// hold) would be replaced rather than raise.
inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace sluice::providers::json_access
