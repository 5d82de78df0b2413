// What a reload compares: the settings that need a restart, and the
// changes its log line counts.
#include "generation.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice {
namespace {

GatewayConfig base() {
  GatewayConfig c;
  ProviderConfig p;
  p.name = "p";
  p.type = ProviderType::mock;
  c.providers.push_back(p);
  c.models.push_back(ModelConfig{"m", {DeploymentConfig{"p", "m"}}});
  GatewayKeyConfig k;
  k.id = "k1";
  k.key = "sk-a";
  k.tenant = "t";
  c.auth.keys.push_back(k);
  return c;
}

std::vector<std::string> keys_of(const std::vector<ConfigProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.key_path);
  return out;
}

TEST(RestartNeeded, NothingForTheSameConfigurationOrLiveSettings) {
  const GatewayConfig before = base();
  GatewayConfig after = base();
  EXPECT_TRUE(restart_needed(before, after).empty());
  after.server.header_timeout = Millis{1234};
  after.server.cors.allowed_origins = {"https://a.example"};
  after.providers[0].rpm = 5;
  after.logging.access_log = false;
  after.queue.max_wait = Millis{1};  // memory backend: live
  after.cache.enabled = true;
  after.server.reload_watch = false;
  EXPECT_TRUE(restart_needed(before, after).empty());
}

TEST(RestartNeeded, TheListenerTlsLoggingMetricsAndTheSharedQueue) {
  const GatewayConfig before = base();
  GatewayConfig after = base();
  after.server.listen = "127.0.0.1:9";
  after.server.max_connections = 7;
  after.server.tls = ServerTlsConfig{"c.pem", "k.pem"};
  after.logging.level = "debug";
  after.metrics.enabled = false;
  after.queue.backend = QueueBackend::redis;
  const auto keys = keys_of(restart_needed(before, after));
  for (const char* k : {"server.listen", "server.max_connections", "server.tls", "logging.level", "metrics.enabled",
                        "queue.backend"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  EXPECT_NE(restart_needed(before, after)[0].message.find("needs a restart"), std::string::npos);
}

TEST(RestartNeeded, RedisAndQueueSettingsOnlyWithTheSharedQueue) {
  GatewayConfig before = base();
  before.redis = RedisConfig{};
  before.redis->host = "a";
  GatewayConfig after = before;
  after.redis->host = "b";
  after.queue.max_length = 5;
  EXPECT_TRUE(restart_needed(before, after).empty()) << "the memory queue: a new cache connection, no restart";
  before.queue.backend = after.queue.backend = QueueBackend::redis;
  const auto keys = keys_of(restart_needed(before, after));
  EXPECT_EQ(keys, (std::vector<std::string>{"queue", "redis"}));
}

TEST(ConfigChanges, CountsWhatWasAddedRemovedAndChangedByName) {
  const GatewayConfig before = base();
  GatewayConfig after = base();
  ProviderConfig q;
  q.name = "q";
  after.providers.push_back(q);
  after.providers[0].timeout = Millis{5};
  after.models[0].deployments[0].rpm = 3;
  after.models.push_back(ModelConfig{"n", {DeploymentConfig{"q", "n"}}});
  after.auth.keys[0].key = "sk-rotated";  // the same id: changed, not added
  const ConfigChanges c = config_changes(before, after);
  EXPECT_EQ(c.providers.added, 1u);
  EXPECT_EQ(c.providers.changed, 1u);
  EXPECT_EQ(c.providers.removed, 0u);
  EXPECT_EQ(c.models.added, 1u);
  EXPECT_EQ(c.models.changed, 1u);
  EXPECT_EQ(c.keys.added, 0u);
  EXPECT_EQ(c.keys.changed, 1u);

  const ConfigChanges back = config_changes(after, before);
  EXPECT_EQ(back.providers.removed, 1u);
  EXPECT_EQ(back.models.removed, 1u);
}

}  // namespace
}  // namespace sluice
