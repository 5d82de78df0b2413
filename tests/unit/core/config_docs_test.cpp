// docs/configuration.md documents every key the loader accepts. The keys
// come from the loader itself (config_key_paths: the field lists that also
// reject unknown keys), so a key added to a config_*.cpp without its line
// in the reference fails here.
#include "sluice/core/config_keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sluice/core/config.hpp"

namespace sluice {
namespace {

// The reference's tables: for each top-level section (a "## `name`"
// heading), the keys its table rows name in their first cell.
std::map<std::string, std::vector<std::string>> documented_keys(const std::string& markdown) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream lines(markdown);
  std::string line, section;
  while (std::getline(lines, line)) {
    if (line.starts_with("## ")) {
      section.clear();
      const std::size_t open = line.find('`'), close = line.find('`', open + 1);
      if (open == 3 && close != std::string::npos) section = line.substr(open + 1, close - open - 1);
      continue;
    }
    if (section.empty() || !line.starts_with("| `")) continue;
    const std::size_t close = line.find('`', 3);
    if (close != std::string::npos) out[section].push_back(line.substr(3, close - 3));
  }
  return out;
}

// The key paths of `keys` that the tables do not document. "a.b[].c.d" is
// documented when section `a` has a row whose key is "b[].c.d", "c.d" or
// "d": the rest of the path, or a tail of it after a dot. A mapping's own
// key ("a.m") is also documented by rows of its keys ("m.x").
std::vector<std::string> undocumented(const std::vector<std::string>& keys, const std::string& markdown) {
  const auto documented = documented_keys(markdown);
  std::vector<std::string> missing;
  for (const std::string& path : keys) {
    const std::size_t end = path.find_first_of(".[");
    const std::string section = path.substr(0, end);
    if (end == std::string::npos) {  // a section itself: it needs its heading
      if (!documented.count(section)) missing.push_back(path);
      continue;
    }
    std::string rest = path.substr(end);
    if (rest.starts_with("[]")) rest.erase(0, 2);
    if (rest.starts_with(".")) rest.erase(0, 1);
    const auto rows = documented.find(section);
    const bool found =
        rows != documented.end() && std::any_of(rows->second.begin(), rows->second.end(), [&](const std::string& k) {
          return rest == k || (rest.size() > k.size() && rest.ends_with(k) && rest[rest.size() - k.size() - 1] == '.') ||
                 k.starts_with(rest + ".");
        });
    if (!found) missing.push_back(path);
  }
  return missing;
}

std::string read_reference() {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(ConfigDocs, TheLoaderListsTheKeysItAccepts) {
  const std::vector<std::string> keys = config_key_paths();
  for (const char* key : {"server", "server.listen", "server.tls.certificate", "auth.keys[].tenant",
                          "providers[].api_key", "providers[].mock.latency", "models[].deployments[].price",
                          "queue.max_wait", "logging.access_log", "metrics.enabled", "metrics.require_key",
                          "redis.url"})
    EXPECT_TRUE(std::binary_search(keys.begin(), keys.end(), std::string(key))) << key;
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  // Each listed key is accepted: a file made of one of them is never told it is unknown.
  const ConfigLoadResult loaded = load_config_text("metrics:\n  no_such_key: 1\n", "t.yaml");
  ASSERT_FALSE(loaded.problems.empty());
  EXPECT_EQ(loaded.problems[0].key_path, "metrics.no_such_key");
}

TEST(ConfigDocs, EveryAcceptedKeyIsInTheReference) {
  const std::string reference = read_reference();
  ASSERT_FALSE(reference.empty()) << "docs/configuration.md not found";
  const std::vector<std::string> missing = undocumented(config_key_paths(), reference);
  EXPECT_TRUE(missing.empty()) << "keys the loader accepts but docs/configuration.md does not document: "
                               << testing::PrintToString(missing);
}

TEST(ConfigDocs, TheCheckFindsAMissingKey) {
  const std::string doc = "## `server`\n\n| key | type |\n|---|---|\n| `listen` | string |\n| `tls.key` | x |\n"
                          "## `providers` (required)\n| `name` | string |\n| `latency` | duration |\n";
  EXPECT_EQ(undocumented({"server", "server.listen", "server.tls", "server.tls.key", "providers[].name",
                          "providers[].mock.latency"},
                         doc),
            std::vector<std::string>{});
  EXPECT_EQ(undocumented({"server.listen_backlog", "server.key", "queue", "providers[].weight"}, doc),
            (std::vector<std::string>{"server.listen_backlog", "server.key", "queue", "providers[].weight"}));
}

}  // namespace
}  // namespace sluice
