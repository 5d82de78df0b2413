// Opening a connection, through redis::Client: SELECT, what an unreachable
// or silent server gives, AUTH with a password or a user (a wrong password
// is a clear error that never shows it), and TLS (a certificate made in the
// test: trusted, untrusted, the wrong name). Against private redis-server
// processes and fake servers; every wait is bounded.
#include "connection.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "redis_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_pki.hpp"
#include "support/redis_server.hpp"
#include "support/stdout_capture.hpp"

namespace sluice::redis {
namespace {

// --- SELECT and connect failures ----------------------------------------------

TEST_F(RedisClient, SelectsTheDatabaseOfTheUrl) {
  RedisConfig db5 = config_for(test::shared_redis_url()), db0 = db5;
  db5.db = 5;
  db0.db = 0;
  Client in5(ex(), db5), in0(ex(), db0);
  const std::string k = key("k");
  ASSERT_TRUE(run(in5.command("SET", k, "five")));
  auto from0 = run(in0.command("GET", k));
  ASSERT_TRUE(from0);
  EXPECT_TRUE(from0->is_nil());
  auto from5 = run(in5.command("GET", k));
  ASSERT_TRUE(from5);
  EXPECT_EQ(from5->as_string(), "five");
  EXPECT_TRUE(run(in5.command("DEL", k)));
}

TEST_F(RedisClient, ADatabaseRedisDoesNotHaveIsAClearError) {
  RedisConfig c = config_for(test::shared_redis_url());
  c.db = 1000;  // redis-server has 16 by default
  Client redis(ex(), c);
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "could not connect to Redis: Redis refused SELECT 1000: ERR DB index is out of range");
}

TEST_F(RedisClient, UnreachableRedisFailsFastWithAClearErrorAndOneLogLine) {
  RedisConfig c = config_for("redis://127.0.0.1:" + std::to_string(test::free_loopback_port()));
  std::string lines;
  Result<Reply> first = Reply(), later = Reply();
  Millis first_took{}, later_took{};
  {
    test::StdoutCapture capture;
    Client redis(ex(), c, Backoff{20ms, 40ms});
    auto start = Clock::now();
    first = run(redis.command("PING"));  // waits for the first attempt, which fails
    first_took = since(start);
    for (int i = 0; i < 20; ++i) {
      start = Clock::now();
      later = run(redis.command("PING"));
      later_took = std::max(later_took, since(start));
      test::run_until(io_, [] { return false; }, 10ms);  // let attempts come and go
    }
    EXPECT_FALSE(redis.connected());
    EXPECT_EQ(redis.last_error(), "connect: Connection refused");
    lines = capture.contents();
  }
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, errc::redis_unavailable);
  EXPECT_EQ(first.error().message, "could not connect to Redis: connect: Connection refused");
  EXPECT_LT(first_took, 1s);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, errc::redis_unavailable);
  // Between attempts a command fails at once; one issued while a reconnect
  // is under way waits for it (it may succeed), here a refusal a moment later.
  EXPECT_TRUE(later.error().message == "Redis is not connected: connect: Connection refused" ||
              later.error().message == "could not connect to Redis: connect: Connection refused")
      << later.error().message;
  EXPECT_NE(later.error().detail.find("redis 127.0.0.1:"), std::string::npos) << later.error().detail;
  // Far below the 2 s command_timeout (loose for a loaded machine).
  EXPECT_LT(later_took, 500ms) << "fails at once while disconnected";
  EXPECT_EQ(count(lines, "redis_disconnected"), 1u) << lines;
  EXPECT_EQ(count(lines, "redis_connected"), 0u) << lines;
}

TEST_F(RedisClient, ConnectTimeoutBoundsAServerThatNeverAnswers) {
  FakeRedis fake(io_, FakeRedis::Then::silence, /*answer_ping=*/false);
  RedisConfig c = config_for(fake.url());
  c.connect_timeout = 200ms;
  Client redis(ex(), c);
  const auto start = Clock::now();
  auto r = run(redis.timed_command(5s, "PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "could not connect to Redis: no connection within 200 ms (redis.connect_timeout)");
  EXPECT_GE(since(start), 150ms);
  EXPECT_LT(since(start), 1s);
}

// --- AUTH ---------------------------------------------------------------------

constexpr const char* kPassword = "pw-Right-4711";

TEST_F(RedisClient, AuthenticatesWithThePasswordOfTheUrl) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  Client redis(ex(), config_for("redis://:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(server.port())));
  auto r = run(redis.command("PING"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->as_string(), "PONG");
}

TEST_F(RedisClient, AuthenticatesAsANamedUser) {
  test::RedisServer server({.args = {"--user", "alice", "on", ">alice-Secret-99", "~*", "&*", "+@all"}});
  Client redis(ex(), config_for("redis://alice:alice-Secret-99@127.0.0.1:" + std::to_string(server.port())));
  auto r = run(redis.command("ACL", "WHOAMI"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->as_string(), "alice");
}

TEST_F(RedisClient, AWrongPasswordIsAClearErrorThatNeverShowsIt) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  const std::string wrong = "pw-Wrong-0815";
  std::string lines, last_error;
  Result<Reply> r = Reply();
  {
    test::StdoutCapture capture;
    Client redis(ex(), config_for("redis://:" + wrong + "@127.0.0.1:" + std::to_string(server.port())));
    r = run(redis.command("PING"));
    last_error = redis.last_error();
    lines = capture.contents();
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::redis_unavailable);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: Redis refused the credentials: WRONGPASS invalid username-password pair or "
            "user is disabled.");
  for (const std::string& text : {r.error().message, r.error().detail, last_error, lines}) {
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
    EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  }
  EXPECT_EQ(count(lines, "redis_disconnected"), 1u) << lines;
}

TEST_F(RedisClient, NoPasswordForARedisThatWantsOneSaysSo) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  Client redis(ex(), config_for(server.url()));
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "could not connect to Redis: Redis refused PING: NOAUTH Authentication required.");
}

// --- TLS ----------------------------------------------------------------------

// A private Redis serving TLS only, with a certificate for DNS:localhost made
// for the test (its own CA).
class RedisTls : public RedisClient {
 protected:
  RedisTls() : dir_(::testing::TempDir() + "sluice-redis-tls-" + std::to_string(::getpid())) {
    std::filesystem::create_directories(dir_);
    const test::Pem pem = test::make_certificate({.common_name = "localhost", .ca = true, .server = true});
    std::ofstream(cert_file()) << pem.certificate;
    std::ofstream(dir_ + "/key.pem") << pem.key;
    server_ = std::make_unique<test::RedisServer>(test::RedisServer::Options{
        .args = {"--tls-cert-file", cert_file(), "--tls-key-file", dir_ + "/key.pem", "--tls-ca-cert-file",
                 cert_file(), "--tls-auth-clients", "no"},
        .tls = true});
  }
  ~RedisTls() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string cert_file() const { return dir_ + "/cert.pem"; }
  RedisConfig config(const std::string& host) {
    RedisConfig c = config_for("rediss://" + host + ":" + std::to_string(server_->port()));
    c.ca_file = cert_file();
    return c;
  }

  std::string dir_;
  std::unique_ptr<test::RedisServer> server_;
};

TEST_F(RedisTls, ServesCommandsOverTls) {
  Client redis(ex(), config("localhost"));
  auto set = run(redis.command("SET", "k", "over tls"));
  ASSERT_TRUE(set) << set.error().detail;
  auto get = run(redis.command("GET", "k"));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->as_string(), "over tls");
}

TEST_F(RedisTls, AnUntrustedCertificateIsRefused) {
  RedisConfig c = config("localhost");
  c.ca_file.clear();  // the system store does not know the test's CA
  Client redis(ex(), c);
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: TLS handshake failed: certificate verification failed: self-signed "
            "certificate");
}

TEST_F(RedisTls, TheHostNameIsChecked) {
  Client redis(ex(), config("127.0.0.1"));  // the certificate names DNS:localhost only
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: TLS handshake failed: certificate verification failed: IP address mismatch");
}

TEST(Describe, ThePeersCloseInWords) {
  EXPECT_EQ(describe(boost::asio::error::eof), "Redis closed the connection");
  EXPECT_EQ(describe(boost::asio::error::connection_refused), "Connection refused");
}

}  // namespace
}  // namespace sluice::redis
