// Labelled prompt pairs for sluice-cache-eval: our JSON lines
//   {"a": "...", "b": "...", "same": true|false, "kind": "..."}
// and, as positives, the public paraphrase sets of ../shared/data (a JSON
// array of {"origin", "similar"} or {"prompt_A", "prompt_B"} objects).
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::tools {

struct PromptPair {
  std::string a, b;
  bool same = false;
  std::string kind;
};

// Appends the pairs of `path` to `out`; prints what is wrong and returns
// false on a malformed line or file. `sample` > 0 keeps about that many
// pairs of the file, evenly spread.
inline bool read_pairs(const std::string& path, std::size_t sample, std::vector<PromptPair>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", path.c_str());
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  std::vector<PromptPair> pairs;
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '[') {
    const auto array = nlohmann::json::parse(body, nullptr, false);
    if (!array.is_array()) {
      std::fprintf(stderr, "%s: not a JSON array\n", path.c_str());
      return false;
    }
    for (const auto& item : array) {
      const bool gptcache = item.contains("origin"), cai = item.contains("prompt_A");
      if (!gptcache && !cai) continue;
      pairs.push_back({item.value(gptcache ? "origin" : "prompt_A", ""), item.value(gptcache ? "similar" : "prompt_B", ""),
                       true, item.value("domain", "public")});
    }
  } else {
    std::istringstream lines(body);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const auto item = nlohmann::json::parse(line, nullptr, false);
      if (!item.is_object() || !item.contains("a") || !item.contains("b") || !item.contains("same") ||
          !item["a"].is_string() || !item["b"].is_string() || !item["same"].is_boolean()) {
        std::fprintf(stderr, "%s:%d: expected {\"a\": string, \"b\": string, \"same\": bool}\n", path.c_str(), number);
        return false;
      }
      pairs.push_back({item["a"], item["b"], item["same"], item.value("kind", "")});
    }
  }
  if (sample == 0 || sample >= pairs.size()) {
    out.insert(out.end(), pairs.begin(), pairs.end());
  } else {
    for (std::size_t i = 0; i < sample; ++i) out.push_back(pairs[i * pairs.size() / sample]);
  }
  return true;
}

}  // namespace sluice::tools
