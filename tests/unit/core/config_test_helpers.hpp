// Helpers of the config loader's tests: a fake environment, loading YAML
// text, and the one problem a case must produce.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "sluice/core/config.hpp"

namespace sluice::config_test {

using Env = std::map<std::string, std::string>;

inline EnvLookup fake_env(Env vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline ConfigLoadResult load(const std::string& yaml, Env env = {}) {
  return load_config_text(yaml, "test.yaml", fake_env(std::move(env)));
}

inline std::string listing(const ConfigLoadResult& result) {
  return format_problems("test.yaml", result.problems);
}

// The single problem a case must produce; a default problem (and a failure) otherwise.
inline ConfigProblem only_problem(const ConfigLoadResult& result) {
  if (result.problems.size() != 1) {
    ADD_FAILURE() << "expected exactly one problem, got:\n" << listing(result);
    return {};
  }
  EXPECT_FALSE(result.config.has_value());
  return result.problems.front();
}

// A file that must be refused with exactly one problem: its key path, line
// and message. ConfigRejects's test (config_load_test.cpp) checks each; other
// files instantiate it with their own cases.
struct Rejected {
  std::string yaml;
  std::string key_path;
  int line;
  std::string message;
};

inline void PrintTo(const Rejected& c, std::ostream* os) { *os << c.key_path << " <- " << c.yaml; }

class ConfigRejects : public ::testing::TestWithParam<Rejected> {};

// One case of a table of refused sections: the text of the section, and the
// one problem it must give.
struct Refused {
  const char* name;     // the test's name
  std::string section;  // the section's lines
  int line;
  std::string key_path;
  std::string message;
};

inline void PrintTo(const Refused& c, std::ostream* os) { *os << c.name; }

// Checks that `result` has exactly the problem `c` names.
inline void expect_refused(const ConfigLoadResult& result, const Refused& c) {
  const ConfigProblem p = only_problem(result);
  EXPECT_EQ(p.line, c.line) << listing(result);
  EXPECT_EQ(p.key_path, c.key_path) << listing(result);
  EXPECT_EQ(p.message, c.message) << listing(result);
}

}  // namespace sluice::config_test
