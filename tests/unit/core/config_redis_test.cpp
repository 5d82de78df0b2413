// The `redis` section and the Redis URL: what loads, the defaults, what is
// refused with which message, and that no password (nor the URL that holds
// it) ever appears in a message.
#include <gtest/gtest.h>

#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {

// What a failure shows of a RedisConfig (a test's own, so its password too).
void PrintTo(const RedisConfig& c, std::ostream* os) {
  *os << (c.tls ? "rediss://" : "redis://") << c.username << ":" << c.password << "@" << c.address() << "/" << c.db
      << " ca_file=" << c.ca_file << " connect_timeout=" << c.connect_timeout.count()
      << "ms command_timeout=" << c.command_timeout.count() << "ms max_reply_bytes=" << c.max_reply_bytes;
}

namespace {

using namespace config_test;

const std::string kBase =
    "providers: [{ name: mock, type: mock }]\n"
    "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n";  // 2 lines

std::string with_redis(const std::string& redis) { return kBase + "redis:\n" + redis; }  // redis: on line 3

constexpr const char* kPassword = "s3cret-Pa55word";

TEST(ConfigRedis, NoSectionMeansNoRedis) {
  const auto r = load(kBase);
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_FALSE(r.config->redis);
}

TEST(ConfigRedis, AUrlAloneGivesTheDefaults) {
  const auto r = load(with_redis("  url: redis://127.0.0.1\n"));
  ASSERT_TRUE(r.config) << listing(r);
  ASSERT_TRUE(r.config->redis);
  RedisConfig expected;  // the defaults: port 6379, db 0, 1 s timeouts, 512 MiB replies, no TLS, no AUTH
  expected.host = "127.0.0.1";
  EXPECT_EQ(*r.config->redis, expected);
  EXPECT_EQ(expected.port, 6379);
  EXPECT_EQ(expected.connect_timeout, Millis(1000));
  EXPECT_EQ(expected.command_timeout, Millis(1000));
  EXPECT_EQ(expected.max_reply_bytes, 512u << 20);
  EXPECT_EQ(r.config->redis->address(), "127.0.0.1:6379");
}

TEST(ConfigRedis, EveryKeyLoads) {
  const auto r = load(with_redis("  url: rediss://app:${REDIS_PASSWORD}@redis.internal:6380/3\n"
                                 "  connect_timeout: 250ms\n"
                                 "  command_timeout: 2s\n"
                                 "  ca_file: /etc/hosts\n"
                                 "  max_reply_bytes: 1048576\n"),
                      {{"REDIS_PASSWORD", kPassword}});
  ASSERT_TRUE(r.config) << listing(r);
  const RedisConfig expected{.tls = true,
                             .host = "redis.internal",
                             .port = 6380,
                             .username = "app",
                             .password = kPassword,
                             .db = 3,
                             .ca_file = "/etc/hosts",
                             .connect_timeout = Millis(250),
                             .command_timeout = Millis(2000),
                             .max_reply_bytes = 1u << 20};
  EXPECT_EQ(*r.config->redis, expected);
}

TEST(ConfigRedis, ThePasswordMayHoldAnyCharacterFromTheEnvironment) {
  // The last '@' ends the password: the host and path never hold one.
  const auto r = load(with_redis("  url: redis://:${PW}@cache:7000/1\n"), {{"PW", "a@b/c:d?e#f"}});
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_EQ(r.config->redis->username, "");
  EXPECT_EQ(r.config->redis->password, "a@b/c:d?e#f");
  EXPECT_EQ(r.config->redis->host, "cache");
  EXPECT_EQ(r.config->redis->port, 7000);
  EXPECT_EQ(r.config->redis->db, 1);
}

TEST(ParseRedisUrl, UserAndPasswordArePercentDecoded) {
  RedisConfig c;
  ASSERT_FALSE(parse_redis_url("redis://us%65r:p%40ss%2Fw%3Ard%25@h", c));
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(c.password, "p@ss/w:rd%");
}

TEST(ParseRedisUrl, IPv6InBrackets) {
  RedisConfig c;
  ASSERT_FALSE(parse_redis_url("redis://[::1]:7001/2", c));
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 7001);
  EXPECT_EQ(c.db, 2);
  EXPECT_EQ(c.address(), "[::1]:7001");
  ASSERT_FALSE(parse_redis_url("rediss://[::1]", c));
  EXPECT_EQ(c.port, 6379);
  EXPECT_TRUE(c.tls);
}

TEST(ParseRedisUrl, ATrailingSlashIsDatabaseZero) {
  RedisConfig c;
  c.db = 5;
  ASSERT_FALSE(parse_redis_url("redis://localhost:6379/", c));
  EXPECT_EQ(c.db, 0);
}

TEST(ConfigRedis, APasswordWrittenInTheFileIsNotShownEither) {
  const auto r = load(with_redis(std::string("  url: redis://:") + kPassword + "@example:99999\n"));
  EXPECT_EQ(only_problem(r).message, "invalid Redis URL: invalid port: port must be a number between 1 and 65535");
  EXPECT_EQ(listing(r).find(kPassword), std::string::npos) << listing(r);
}

TEST(ConfigRedis, AnUnsetVariableIsNamedButNothingElse) {
  const auto r = load(with_redis("  url: redis://:${REDIS_PASSWORD}@example:6379/0\n"));
  EXPECT_EQ(only_problem(r).message, "environment variable REDIS_PASSWORD is not set");
}

class ConfigRedisRefuses : public ::testing::TestWithParam<Refused> {};

// No case shows any part of the URL: not the password (from ${PW}, or
// written), not the variable's name, not the host.
TEST_P(ConfigRedisRefuses, WithAClearMessage) {
  const Refused& c = GetParam();
  const auto r = load(with_redis(c.section), {{"PW", kPassword}, {"EMPTY", ""}});
  expect_refused(r, c);
  const std::string all = listing(r);
  for (const char* secret : {kPassword, "PW", "example"}) EXPECT_EQ(all.find(secret), std::string::npos) << all;
}

// A bad redis.url: the URL carries the password where it can.
Refused bad_url(const char* name, const std::string& url, const std::string& why) {
  return {name, "  url: \"" + url + "\"\n", 4, "redis.url", "invalid Redis URL: " + why};
}

INSTANTIATE_TEST_SUITE_P(
    BadUrls, ConfigRedisRefuses,
    ::testing::Values(
        bad_url("Scheme", "http://:${PW}@example:6379", "a Redis URL must start with redis:// (or rediss:// for TLS)"),
        bad_url("NoHost", "redis://:${PW}@", "invalid host: the host is empty"),
        bad_url("NoHostButPort", "redis://:${PW}@:6379", "invalid host: the host is empty"),
        bad_url("BadHost", "redis://:${PW}@exa$mple:6379", "invalid host: invalid host name"),
        bad_url("PortZero", "redis://:${PW}@example:0", "invalid port: port must be a number between 1 and 65535"),
        bad_url("PortTooLarge", "redis://:${PW}@example:65536",
                "invalid port: port must be a number between 1 and 65535"),
        bad_url("EmptyPort", "redis://:${PW}@example:", "invalid port: port must be a number between 1 and 65535"),
        bad_url("UnbracketedV6", "redis://:${PW}@::1:6379",
                "invalid host: an IPv6 address must be in brackets, e.g. redis://[::1]:6379"),
        bad_url("BadV6", "redis://:${PW}@[::zz]:6379", "invalid host: invalid IPv6 address"),
        bad_url("DbNotANumber", "redis://:${PW}@example/zero",
                "the URL's path must be a database number between 0 and 1000000, e.g. /0"),
        bad_url("DbNegative", "redis://:${PW}@example/-1",
                "the URL's path must be a database number between 0 and 1000000, e.g. /0"),
        bad_url("DbTooLarge", "redis://:${PW}@example/1000001",
                "the URL's path must be a database number between 0 and 1000000, e.g. /0"),
        bad_url("Query", "redis://:${PW}@example/0?timeout=1",
                "a Redis URL takes no query or fragment: redis://[[user]:password@]host[:port][/db]"),
        bad_url("Space", "redis://:${PW}@exam ple/0",
                "the URL's host and path must not contain spaces or control characters"),
        bad_url("UserWithoutPassword", "redis://${PW}@example",
                "the URL names a user but no password: write user:password@ (or :password@ for the default user)"),
        bad_url("EmptyPassword", "redis://:${EMPTY}@example",
                "the URL's password is empty (is its environment variable set to \"\"?)"),
        bad_url("BadPercent", "redis://:${PW}%zz@example",
                "invalid percent-encoding in the URL's user or password (write a '%' as %25)")),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Sections, ConfigRedisRefuses,
    ::testing::Values(
        Refused{"NoUrl", "  command_timeout: 1s\n", 4, "redis", "missing required key 'url'"},
        Refused{"EmptySection", "", 3, "redis", "missing required key 'url'"},
        Refused{"UrlNotAString", "  url: [a]\n", 4, "redis.url", "expected a string"},
        Refused{"ConnectTimeoutTooShort", "  url: redis://h\n  connect_timeout: 5ms\n", 5, "redis.connect_timeout",
                "must be between 10ms and 1m"},
        Refused{"CommandTimeoutTooLong", "  url: redis://h\n  command_timeout: 2h\n", 5, "redis.command_timeout",
                "must be between 10ms and 1h"},
        Refused{"ReplyLimitTooSmall", "  url: redis://h\n  max_reply_bytes: 100\n", 5, "redis.max_reply_bytes",
                "must be between 1024 and 4294967296"},
        Refused{"CaFileMissing", "  url: rediss://h\n  ca_file: /nonexistent/ca.pem\n", 5, "redis.ca_file",
                "cannot read CA file '/nonexistent/ca.pem': No such file or directory"},
        Refused{"CaFileWithoutTls", "  url: redis://h\n  ca_file: /etc/hosts\n", 5, "redis.ca_file",
                "ca_file applies to TLS only: use a rediss:// URL"},
        Refused{"UnknownKey", "  url: redis://h\n  pasword: x\n", 5, "redis.pasword",
                "unknown key 'pasword'"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice
