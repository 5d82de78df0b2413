// Secrets in what sluice prints when it refuses a config or dies, and the
// canary scanner's own proof that it can fail.
//
// ConfigErrors and Crash run in every test run. The CanaryScan tests leak a
// canary on purpose, one per place the scanner reads; they are disabled in
// ordinary runs and run by the ctest entry canary_secrets_scanner_fails
// (tests/integration/canary_run.sh self-test), which passes only when each of
// them fails naming where the canary appeared.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "sluice/core/log.hpp"
#include "support/canary.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// A config file in the test's temporary directory; removed with the object.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& yaml) {
    std::string tmpl = ::testing::TempDir() + "sluice_canary.XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << yaml;
  }
  ~ConfigFile() { ::unlink(path_.c_str()); }
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string kProviderKey = test_secret("provider-config-error");
const std::string kGatewayKey = test_secret("gw-config-error");
const std::string kRedisPassword = test_secret("redis-config-error");

const std::string kModels = "models:\n  - { name: m, deployments: [{ provider: up, model: m }] }\n";

std::string provider(const std::string& keys) {
  return "providers:\n  - name: up\n    type: openai\n    base_url: \"http://127.0.0.1:9\"\n" + keys;
}

struct BadConfig {
  const char* name;
  std::string yaml;
  std::string problem;  // what the message must say (the key path, the reason)
};

// An operator's mistakes around secrets: each config is refused, the message
// says where, and no secret is echoed, whether written inline or from ${VAR}.
TEST(ConfigErrors, NoMessageEchoesASecret) {
  ::setenv("SLUICE_TEST_CONFIG_ERROR_KEY", kProviderKey.c_str(), 1);
  const std::vector<BadConfig> cases = {
      {"api_key as a mapping", provider("    api_key: { value: " + kProviderKey + " }\n") + kModels,
       "providers[0].api_key: expected a string"},
      {"api_key as a list", provider("    api_key: [" + kProviderKey + "]\n") + kModels,
       "providers[0].api_key: expected a string"},
      {"a misspelt api_key", provider("    apikey: " + kProviderKey + "\n") + kModels,
       "providers[0].apikey: unknown key 'apikey'; did you mean 'api_key'?"},
      {"an api_key beside a bad timeout", provider("    api_key: " + kProviderKey + "\n    timeout: soon\n") + kModels,
       "providers[0].timeout: expected a duration"},
      {"a header secret as a list", provider("    headers: { X-Token: [" + kProviderKey + "] }\n") + kModels,
       "providers[0].headers.X-Token: expected a string"},
      // The open quote takes the rest of the file into the key.
      {"an unterminated api_key", provider("    api_key: \"" + kProviderKey + "\n") + kModels,
       "models: at least one model is required"},
      {"an api_key with a bad escape", provider("    api_key: \"" + kProviderKey + "\\q\"\n") + kModels,
       "unknown escape character"},
      {"a key from ${VAR} where a type belongs",
       "providers:\n  - name: up\n    type: ${SLUICE_TEST_CONFIG_ERROR_KEY}\n    base_url: \"http://127.0.0.1:9\"\n" +
           kModels,
       "providers[0].type: invalid value from '${SLUICE_TEST_CONFIG_ERROR_KEY}'"},
      {"a gateway key given twice",
       provider("") + kModels + "auth:\n  keys:\n    - { key: " + kGatewayKey + ", tenant: a }\n    - { key: " +
           kGatewayKey + ", tenant: b }\n",
       "auth.keys[1].key: the same key as auth.keys[0]"},
      {"a gateway key beside a bad rpm",
       provider("") + kModels + "auth:\n  keys:\n    - { key: " + kGatewayKey + ", tenant: a, rpm: many }\n",
       "auth.keys[0].rpm: expected an integer"},
      {"a Redis password in a URL with a bad port",
       provider("") + kModels + "redis:\n  url: \"redis://:" + kRedisPassword + "@127.0.0.1:99999/0\"\n",
       "redis.url: invalid Redis URL: invalid port"},
      {"a Redis password in a URL with a bad database",
       provider("") + kModels + "redis:\n  url: \"redis://:" + kRedisPassword + "@127.0.0.1:6379/x\"\n",
       "redis.url: invalid Redis URL: the URL's path must be a database number"},
      {"a Redis user without a password",
       provider("") + kModels + "redis:\n  url: \"redis://" + kRedisPassword + "@127.0.0.1:6379/0\"\n",
       "redis.url: invalid Redis URL: the URL names a user but no password"},
  };
  for (const BadConfig& c : cases) {
    const ConfigFile file(c.yaml);
    for (const bool check_only : {true, false}) {
      std::vector<std::string> args = {"--config", file.path()};
      if (check_only) args.insert(args.begin(), "--check-config");
      const Finished run = run_sluice(args);
      EXPECT_EQ(run.exit_code, 1) << c.name << "\n" << run.output;
      EXPECT_NE(run.output.find(c.problem), std::string::npos) << c.name << "\n" << run.output;
      for (const std::string& secret : {kProviderKey, kGatewayKey, kRedisPassword})
        EXPECT_EQ(run.output.find(secret), std::string::npos) << c.name << " echoes a secret:\n" << run.output;
    }
  }
  ::unsetenv("SLUICE_TEST_CONFIG_ERROR_KEY");
}

// sluice installs no crash handler: a fatal signal prints nothing of its
// own, so no config (and no key) can be dumped on a crash. Were a handler
// added (a backtrace printer), this says what it must not print.
TEST(Crash, AFatalSignalPrintsNoSecret) {
  FakeUpstream fake;
  ::setenv("SLUICE_TEST_CRASH_KEY", kGatewayKey.c_str(), 1);
  const ConfigFile file(ConfigBuilder()
                            .openai_provider("up", fake.base_url(),
                                             {{"api_key", kProviderKey}, {"headers", "{ X-Token: " + kRedisPassword + " }"}})
                            .model("m", {{"up", "m"}})
                            .logging_level("debug")
                            .yaml() +
                        "auth:\n  keys:\n    - { key: \"${SLUICE_TEST_CRASH_KEY}\", tenant: a }\n");
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer installs handlers for SIGSEGV, SIGBUS and SIGFPE: the
  // daemon would print ASan's report and abort, or, when the report itself
  // faults (seen on a loaded machine: "nested bug"), exit with code 1. The
  // daemons here get the signals' default action, as a release build has.
  const char* given = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = given ? given : "";
  ::setenv("ASAN_OPTIONS", (asan_options + ":handle_segv=0:handle_sigbus=0:handle_sigfpe=0").c_str(), 1);
#endif
  for (const int signo : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE}) {
    DaemonProcess daemon({"--config", file.path()});
    const std::uint16_t port = daemon.wait_for_port();
    ASSERT_NE(port, 0) << daemon.output();
    const HttpResponse r = http_request(port, "POST", "/v1/chat/completions", chat_body("m"),
                                        {{"Authorization", "Bearer " + kGatewayKey}});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::size_t before = daemon.output().size();
    daemon.signal(signo);
    const std::optional<int> code = daemon.wait_exit(5s);
    const std::string& output = daemon.output();
    const std::string after = output.substr(before);
    EXPECT_FALSE(code.has_value()) << "a fatal signal ends it, not an exit (signal " << signo << ", exit code "
                                   << code.value_or(-1) << "):\n" << after;
    EXPECT_EQ(after.find("api_key"), std::string::npos) << "no config dump on signal " << signo << ":\n" << after;
    for (const std::string& secret : {kProviderKey, kGatewayKey, kRedisPassword})
      EXPECT_EQ(output.find(secret), std::string::npos) << output;
  }
#if defined(__SANITIZE_ADDRESS__)
  if (given) ::setenv("ASAN_OPTIONS", asan_options.c_str(), 1);
  else ::unsetenv("ASAN_OPTIONS");
#endif
  ::unsetenv("SLUICE_TEST_CRASH_KEY");
}

// ---------------------------------------------------------------------------
// Deliberate leaks: each must fail (canary_run.sh self-test checks that it does).

// The gateway's log, as every in-process gateway writes it (stdout).
TEST(CanaryScan, DISABLED_ALogLineWithTheCanaryFails) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  log::warn("deliberate_leak", {{"key", test_secret("provider-up")}});
}

// A capture a test took of the log.
TEST(CanaryScan, DISABLED_ACapturedLogLineWithTheCanaryFails) {
  StdoutCapture capture;
  log::init(LoggingConfig{.level = "info", .format = LogFormat::text});
  log::warn("deliberate_leak", {{"key", test_secret("captured")}});
}

// Anything else the process writes to stderr.
TEST(CanaryScan, DISABLED_StderrWithTheCanaryFails) { std::cerr << test_secret("stderr") << std::endl; }

// A response: an upstream's answer holding a secret the gateway does not
// know (so it cannot redact it) is relayed as is.
TEST(CanaryScan, DISABLED_AResponseWithTheCanaryFails) {
  FakeUpstream fake;
  Behaviour b;
  b.success_body = R"({"note":")" + test_secret("unknown-to-the-gateway") + R"("})";
  fake.set_behaviour(b);
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test")).status, 200);
}

// /metrics, scraped when the gateway ends: a model named like a secret.
TEST(CanaryScan, DISABLED_MetricsWithTheCanaryFail) {
  FakeUpstream fake;
  const std::string model = test_secret("model-name");
  Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model(model, {{"up", "m"}}).yaml());
  ASSERT_TRUE(gw.started());
  EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(model)).status, 200);
}

// A daemon's output: sluice --check-config quotes a bad value written inline
// in a field that holds no secret.
TEST(CanaryScan, DISABLED_ADaemonPrintingTheCanaryFails) {
  const ConfigFile file("logging: { level: " + test_secret("log-level") + " }\n");
  EXPECT_EQ(run_sluice({"--check-config", "--config", file.path()}).exit_code, 1);
}

}  // namespace
}  // namespace sluice::test
