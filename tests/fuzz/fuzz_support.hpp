// What the fuzz targets share: an invariant check that stops the run with a
// message (libFuzzer then saves the input), a JSON validity check, and a way
// to cut an input in two. Each target is one
// tests/fuzz/<name>.cpp defining LLVMFuzzerTestOneInput; it is built twice:
// with clang and libFuzzer (scripts/fuzz.sh) and with the normal compiler
// and replay_main.cpp, which runs its seed corpus as a ctest test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// An invariant broken: print where and what, then abort (libFuzzer records
// the crashing input; the replay test fails).
#define FUZZ_CHECK(cond, what)                                                                  \
  do {                                                                                          \
    if (!(cond)) ::sluice::fuzz::broken(__FILE__, __LINE__, #cond, (what));                     \
  } while (0)

namespace sluice::fuzz {

[[noreturn]] inline void broken(const char* file, int line, const char* cond, std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s (%.*s)\n", file, line, cond, static_cast<int>(what.size()),
               what.data());
  std::abort();
}

// The input as text.
inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Strict JSON (UTF-8 checked), as a client or upstream SDK would parse it.
inline bool is_json(std::string_view text) { return nlohmann::json::accept(text); }

// The input cut in two: the first byte picks where (a fraction of the rest),
// so every split point is reachable and the same input always cuts the same.
struct Split {
  std::uint8_t selector = 0;
  std::string_view rest;
  std::size_t at = 0;
};
inline Split split_input(std::string_view input) {
  Split s;
  if (input.empty()) return s;
  s.selector = static_cast<std::uint8_t>(input[0]);
  s.rest = input.substr(1);
  s.at = s.rest.empty() ? 0 : (static_cast<std::size_t>(s.selector) * s.rest.size()) / 255;
  return s;
}

}  // namespace sluice::fuzz
