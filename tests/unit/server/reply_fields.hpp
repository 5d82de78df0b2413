// Test helpers for the server's pure parts: request headers from a map, and
// a reply's header by name.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "reply.hpp"
#include "routes.hpp"

namespace sluice::server::test_fields {

using Headers = std::map<std::string, std::string>;

// A HeaderLookup over `headers` (names in lower case); `headers` must outlive it.
inline HeaderLookup lookup(const Headers& headers) {
  return HeaderLookup(&headers, [](const void* fields, std::string_view name) -> std::string_view {
    const auto& map = *static_cast<const Headers*>(fields);
    const auto it = map.find(std::string(name));
    return it == map.end() ? std::string_view{} : std::string_view(it->second);
  });
}

// The value of the reply's first header called `name`, "" when none.
inline std::string header(const Reply& r, std::string_view name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return {};
}

}  // namespace sluice::server::test_fields
