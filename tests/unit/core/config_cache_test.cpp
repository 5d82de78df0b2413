// The `cache` section: defaults, every key, the embedder's forms, and what is refused.
#include <gtest/gtest.h>

#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {
namespace {

using namespace config_test;

const std::string kValid =
    "providers: [{ name: mock, type: mock }]\n"
    "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n";

TEST(ConfigCache, OffWithoutTheSection) {
  const auto r = load(kValid);
  ASSERT_TRUE(r.config) << listing(r);
  const CacheConfig& c = r.config->cache;
  EXPECT_FALSE(c.enabled);
  EXPECT_FALSE(c.semantic.enabled);
  EXPECT_EQ(c.semantic.embedder, "builtin");
  EXPECT_EQ(c.ttl, Millis{3'600'000});
}

TEST(ConfigCache, EveryKey) {
  const auto r = load(kValid +
                      "cache:\n"
                      "  enabled: true\n  ttl: 10m\n  max_entries: 500\n  max_bytes: 2097152\n"
                      "  max_entry_bytes: 4096\n  tool_calls: true\n"
                      "  semantic:\n    enabled: true\n    threshold: 0.9\n    max_temperature: 0.5\n"
                      "    candidates: 8\n    max_prompt_chars: 1000\n    embedder: hashed-ngram\n"
                      "    embed_timeout: 200ms\n    weights_dir: /opt/use\n    embed_threads: 3\n");
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
  EXPECT_EQ(c.semantic.embed_timeout, Millis{200});
  EXPECT_EQ(c.semantic.weights_dir, "/opt/use");
  EXPECT_EQ(c.semantic.embed_threads, 3);
}

TEST(ConfigCache, ARemoteEmbedderNamesAProvider) {
  const auto r = load(kValid + "cache: { enabled: true, semantic: { enabled: true, "
                               "embedder: { provider: mock, model: nomic-embed-text } } }\n");
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_EQ(r.config->cache.semantic.embedder_provider, "mock");
  EXPECT_EQ(r.config->cache.semantic.embedder_model, "nomic-embed-text");
  EXPECT_EQ(only_problem(load(kValid + "cache: { semantic: { embedder: { provider: nope, model: e } } }\n")).message,
            "no provider named 'nope' is configured");
}

TEST(ConfigCache, Refusals) {
  EXPECT_EQ(only_problem(load(kValid + "cache: { semantic: { threshold: 1.5 } }\n")).message,
            "must be between 0 and 1");
  EXPECT_EQ(only_problem(load(kValid + "cache: { semantic: { embedder: bert } }\n")).message,
            "invalid value 'bert'; expected one of: builtin, use-lite, hashed-ngram");
  EXPECT_EQ(only_problem(load(kValid + "cache: { semantic: { embedder: { provider: mock } } }\n")).key_path,
            "cache.semantic.embedder");
  EXPECT_EQ(only_problem(load(kValid + "cache: { max_bytes: 1048576, max_entry_bytes: 2097152 }\n")).message,
            "max_entry_bytes (2097152) is larger than max_bytes (1048576)");
  EXPECT_EQ(only_problem(load(kValid + "cache: { size: 3 }\n")).key_path, "cache.size");
}

}  // namespace
}  // namespace sluice
