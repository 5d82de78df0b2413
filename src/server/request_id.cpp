#include "request_id.hpp"

#include <cstdint>
#include <random>

namespace sluice::server {

bool is_valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  // Uniqueness, not secrecy: a per-thread generator seeded once from the OS.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = kHex[v & 0xf];
  }
  return id;
}

}  // namespace sluice::server
