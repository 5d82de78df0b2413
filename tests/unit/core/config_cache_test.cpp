// The `cache` section: defaults, every key, the embedder's two forms, and
// what is refused (with key paths).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {
namespace {

using namespace config_test;

const std::string kValid =
    "providers: [{ name: mock, type: mock }, { name: local, type: ollama, base_url: http://127.0.0.1:11434/v1 }]\n"
    "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n";

TEST(ConfigCache, DefaultsWithoutTheSection) {
  const auto r = load(kValid);
  ASSERT_TRUE(r.config) << listing(r);
  const CacheConfig& c = r.config->cache;
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.ttl, Millis{3'600'000});
  EXPECT_EQ(c.max_entries, 100'000u);
  EXPECT_EQ(c.max_bytes, 256u << 20);
  EXPECT_EQ(c.max_entry_bytes, 1u << 20);
  EXPECT_FALSE(c.tool_calls);
  EXPECT_FALSE(c.semantic.enabled);
  EXPECT_DOUBLE_EQ(c.semantic.threshold, 0.85);
  EXPECT_EQ(c.semantic.embedder, "builtin");
  EXPECT_EQ(c.semantic.embed_threads, 2);
}

TEST(ConfigCache, EveryKey) {
  const auto r = load(kValid +
                      "cache:\n"
                      "  enabled: true\n  ttl: 10m\n  max_entries: 500\n  max_bytes: 2097152\n"
                      "  max_entry_bytes: 4096\n  tool_calls: true\n"
                      "  semantic:\n    enabled: true\n    threshold: 0.9\n    max_temperature: 0.5\n"
                      "    candidates: 8\n    max_prompt_chars: 1000\n    embedder: hashed-ngram\n"
                      "    embed_timeout: 50ms\n    weights_dir: /opt/use\n    embed_threads: 3\n");
  ASSERT_TRUE(r.config) << listing(r);
  const CacheConfig& c = r.config->cache;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.ttl, Millis{600'000});
  EXPECT_EQ(c.max_entries, 500u);
  EXPECT_EQ(c.max_bytes, 2097152u);
  EXPECT_EQ(c.max_entry_bytes, 4096u);
  EXPECT_TRUE(c.tool_calls);
  EXPECT_TRUE(c.semantic.enabled);
  EXPECT_DOUBLE_EQ(c.semantic.threshold, 0.9);
  EXPECT_DOUBLE_EQ(c.semantic.max_temperature, 0.5);
  EXPECT_EQ(c.semantic.candidates, 8);
  EXPECT_EQ(c.semantic.max_prompt_chars, 1000u);
  EXPECT_EQ(c.semantic.embedder, "hashed-ngram");
  EXPECT_EQ(c.semantic.embed_timeout, Millis{50});
  EXPECT_EQ(c.semantic.weights_dir, "/opt/use");
  EXPECT_EQ(c.semantic.embed_threads, 3);
}

TEST(ConfigCache, AProviderEmbedder) {
  const auto r = load(kValid + "cache: { enabled: true, semantic: { enabled: true, "
                               "embedder: { provider: local, model: nomic-embed-text } } }\n");
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_EQ(r.config->cache.semantic.embedder, "provider");
  EXPECT_EQ(r.config->cache.semantic.embedder_provider, "local");
  EXPECT_EQ(r.config->cache.semantic.embedder_model, "nomic-embed-text");
}

// The example file's cache block, uncommented, loads with the documented defaults.
TEST(ConfigCache, TheExampleBlockUncommented) {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/config/sluice.example.yaml");
  std::stringstream text;
  text << file.rdbuf();
  std::string yaml = text.str();
  const auto start = yaml.find("# cache:\n");
  ASSERT_NE(start, std::string::npos);
  std::string block, line;
  std::istringstream lines(yaml.substr(start));
  while (std::getline(lines, line) && line.starts_with("# ")) block += line.substr(2) + "\n";
  const auto r = load(kValid + block);
  ASSERT_TRUE(r.config) << listing(r) << block;
  EXPECT_TRUE(r.config->cache.enabled);
  EXPECT_FALSE(r.config->cache.semantic.enabled);
  EXPECT_EQ(r.config->cache.max_bytes, CacheConfig{}.max_bytes);
  EXPECT_EQ(r.config->cache.semantic.embed_timeout, SemanticCacheConfig{}.embed_timeout);
}

TEST(ConfigCache, Refusals) {
  const auto problem = [](const std::string& section) { return only_problem(load(kValid + section)); };
  auto p = problem("cache: { semantic: { enabled: true } }\n");
  EXPECT_EQ(p.key_path, "cache.semantic.enabled");
  EXPECT_EQ(p.message, "the semantic tier needs the cache: set cache.enabled: true");
  p = problem("cache: { enabled: true, semantic: { enabled: true, embedder: { provider: nope, model: x } } }\n");
  EXPECT_EQ(p.key_path, "cache.semantic.embedder.provider");
  EXPECT_EQ(p.message, "unknown provider 'nope'; configured providers: mock, local");
  p = problem("cache: { semantic: { embedder: { provider: local } } }\n");
  EXPECT_EQ(p.key_path, "cache.semantic.embedder");
  p = problem("cache: { semantic: { embedder: bert } }\n");
  EXPECT_EQ(p.key_path, "cache.semantic.embedder");
  EXPECT_EQ(p.message, "invalid value 'bert'; expected one of: builtin, use-lite, hashed-ngram");
  p = problem("cache: { semantic: { threshold: 1.5 } }\n");
  EXPECT_EQ(p.key_path, "cache.semantic.threshold");
  EXPECT_EQ(p.message, "must be between 0 and 1");
  EXPECT_EQ(problem("cache: { semantic: { candidates: 0 } }\n").message, "must be between 1 and 64");
  EXPECT_EQ(problem("cache: { semantic: { max_temperature: 3 } }\n").message, "must be between 0 and 2");
  EXPECT_EQ(problem("cache: { semantic: { embed_threads: 65 } }\n").message, "must be between 1 and 64");
  EXPECT_EQ(problem("cache: { semantic: { embed_timeout: 2m } }\n").message, "must be between 1ms and 1m");
  EXPECT_EQ(problem("cache: { semantic: { max_prompt_chars: 8 } }\n").key_path, "cache.semantic.max_prompt_chars");
  EXPECT_EQ(problem("cache: { ttl: 500ms }\n").key_path, "cache.ttl");
  EXPECT_EQ(problem("cache: { max_entries: 0 }\n").key_path, "cache.max_entries");
  EXPECT_EQ(problem("cache: { max_bytes: 1000 }\n").key_path, "cache.max_bytes");
  p = problem("cache: { max_bytes: 2097152, max_entry_bytes: 4194304 }\n");
  EXPECT_EQ(p.key_path, "cache.max_entry_bytes");
  EXPECT_EQ(p.message, "must be at most cache.max_bytes (2097152)");
  p = problem("cache: { enabled: true, size: 3 }\n");
  EXPECT_EQ(p.key_path, "cache.size");
  EXPECT_EQ(p.line, 3);
}

}  // namespace
}  // namespace sluice
