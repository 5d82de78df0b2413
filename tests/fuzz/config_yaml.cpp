// Fuzz target: the YAML config loader (core/config_load.cpp and the section
// readers), on text as an operator might write it, ${VAR} expansion
// included. Invariants: it never throws; it gives a config exactly when it
// found no problem; every problem has a message and a line within the text;
// the formatted report names the source on every line; loading is
// deterministic.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sluice/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string yaml(fuzz::text_of(data, size));
  const EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name.starts_with("UNSET")) return std::nullopt;
    return "value-of-" + name;
  };
  const ConfigLoadResult result = load_config_text(yaml, "fuzz.yaml", env);
  FUZZ_CHECK(result.config.has_value() == result.problems.empty(), "a config with problems, or none without");
  const auto lines = static_cast<int>(std::count(yaml.begin(), yaml.end(), '\n')) + 1;
  for (const ConfigProblem& p : result.problems) {
    FUZZ_CHECK(!p.message.empty(), "a problem without a message at " + p.key_path);
    FUZZ_CHECK(p.line >= 0 && p.line <= lines + 1, "a problem's line is outside the text: " + p.message);
  }
  if (!result.problems.empty()) {
    const std::string report = format_problems("fuzz.yaml", result.problems);
    FUZZ_CHECK(report.starts_with("fuzz.yaml"), report);
  }
  const ConfigLoadResult again = load_config_text(yaml, "fuzz.yaml", env);
  FUZZ_CHECK(again.problems.size() == result.problems.size(), "loading the same text twice differs");
  return 0;
}
