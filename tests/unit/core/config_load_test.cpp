// config_load: the shipped config files, defaults, every bound, unknown keys,
// env expansion, secrets kept out of messages, and the error list wording.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using namespace config_test;
fs::path source_dir() {
#ifdef SLUICE_SOURCE_DIR
  return SLUICE_SOURCE_DIR;
#else
  for (auto dir = fs::current_path();; dir = dir.parent_path()) {
    if (fs::exists(dir / "config" / "sluice.yaml")) return dir;
    if (dir == dir.parent_path()) return fs::current_path();
  }
#endif
}

// A valid file. providers[1] ("up") ends on line 6, so provider_with() puts its
// extra key on line 7; server_with() and logging_with() put theirs on line 2.
const std::string kProviders =
    "providers:\n"
    "  - name: mock\n"
    "    type: mock\n"
    "  - name: up\n"
    "    type: openai\n"
    "    base_url: http://127.0.0.1:9/v1\n";
const std::string kModels =
    "models:\n"
    "  - name: m\n"
    "    deployments:\n"
    "      - { provider: mock, model: m }\n";
const std::string kValid = kProviders + kModels;  // 10 lines

std::string models_using(const std::string& provider) {
  return "models: [{ name: m, deployments: [{ provider: \"" + provider + "\", model: m }] }]\n";
}

std::string server_with(const std::string& line) { return "server:\n  " + line + "\n" + kValid; }
std::string logging_with(const std::string& line) { return "logging:\n  " + line + "\n" + kValid; }
std::string provider_with(const std::string& line) { return kProviders + "    " + line + "\n" + kModels; }

// ---------------------------------------------------------------------------
// The shipped files

TEST(ConfigLoad, DefaultConfigLoadsWithoutAnyEnvironment) {
  const auto path = (source_dir() / "config" / "sluice.yaml").string();
  const auto result = load_config_file(path, fake_env({}));
  ASSERT_TRUE(result.problems.empty()) << format_problems(path, result.problems);
  ASSERT_TRUE(result.config.has_value());
  const GatewayConfig& config = *result.config;
  EXPECT_EQ(config.source, path);
  EXPECT_EQ(config.server.listen, "127.0.0.1:8080");
  EXPECT_TRUE(config.auth.keys.empty());
  EXPECT_FALSE(config.auth.allow_unauthenticated) << "loopback clients only, unless told otherwise";
  ASSERT_EQ(config.providers.size(), 1u);
  EXPECT_EQ(config.providers[0].type, ProviderType::mock);
  for (const char* name : {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}) {
    const ModelConfig* model = config.find_model(name);
    ASSERT_NE(model, nullptr) << name;
    ASSERT_EQ(model->deployments.size(), 1u);
    EXPECT_EQ(model->deployments[0].provider, "mock");
  }
}

TEST(ConfigLoad, ExampleConfigLoadsWithItsKey) {
  const auto path = (source_dir() / "config" / "sluice.example.yaml").string();
  const auto result =
      load_config_file(path, fake_env({{"OPENAI_API_KEY", "sk-test"}, {"SLUICE_KEY_TEAM_A", "sk-gw-0123456789abcdef"}}));
  ASSERT_TRUE(result.problems.empty()) << format_problems(path, result.problems);
  const GatewayConfig& config = *result.config;
  ASSERT_EQ(config.auth.keys.size(), 2u);
  EXPECT_EQ(config.auth.keys[0].key, "sk-gw-0123456789abcdef");
  EXPECT_EQ(config.auth.keys[1].id, "ci-runner");
  const ProviderConfig* openai = config.find_provider("openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->api_key, "sk-test");
  EXPECT_EQ(openai->rpm, 500);
  const ProviderConfig* local = config.find_provider("local");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->type, ProviderType::openai);
  EXPECT_EQ(local->base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(local->first_byte_timeout, Millis{300'000});
  EXPECT_EQ(config.logging.level, "info");  // ${SLUICE_LOG_LEVEL:-info}
  const RouterConfig* router = config.find_router("auto");
  ASSERT_NE(router, nullptr);
  ASSERT_EQ(router->tiers.size(), 3u);
  EXPECT_EQ(router->tiers[0].model, "fast");
  EXPECT_EQ(router->rules.size(), 3u);
  EXPECT_EQ(router->rules[2].last_turn, "(?i)\\b(prove|proof)\\b");
  EXPECT_EQ(router->on_no_capacity, NoCapacityPolicy::next_tier_up);
}

TEST(ConfigLoad, ExampleConfigNamesTheMissingKey) {
  const auto path = (source_dir() / "config" / "sluice.example.yaml").string();
  const auto result = load_config_file(path, fake_env({{"SLUICE_KEY_TEAM_A", "sk-gw-0123456789abcdef"}}));
  const ConfigProblem problem = only_problem(result);
  EXPECT_EQ(problem.key_path, "providers[0].api_key");
  EXPECT_EQ(problem.message, "environment variable OPENAI_API_KEY is not set");
}

// ---------------------------------------------------------------------------
// Defaults and accepted values

TEST(ConfigLoad, DefaultsComeFromTheStructs) {
  const auto result = load(kValid);
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  const GatewayConfig& config = *result.config;
  const ServerConfig server;
  EXPECT_EQ(config.server.listen, server.listen);
  EXPECT_EQ(config.server.max_body_bytes, server.max_body_bytes);
  EXPECT_EQ(config.server.max_header_bytes, server.max_header_bytes);
  EXPECT_EQ(config.server.header_timeout, server.header_timeout);
  EXPECT_EQ(config.server.keepalive_timeout, server.keepalive_timeout);
  EXPECT_EQ(config.server.shutdown_grace, server.shutdown_grace);
  EXPECT_EQ(config.server.max_connections, server.max_connections);
  EXPECT_EQ(config.server.body_timeout, Millis{60'000});
  EXPECT_EQ(config.server.write_timeout, Millis{60'000});
  EXPECT_EQ(config.server.max_requests_per_connection, 10'000);
  EXPECT_EQ(config.server.max_buffered_body_bytes, 64u << 20);
  EXPECT_FALSE(config.server.cors.enabled());
  EXPECT_EQ(config.server.cors.max_age, Millis{600'000});
  EXPECT_FALSE(config.server.tls.has_value());

  const ProviderConfig provider;
  const ProviderConfig& up = config.providers[1];
  EXPECT_EQ(up.api_key, "");
  EXPECT_EQ(up.ca_file, "");
  EXPECT_TRUE(up.headers.empty());
  EXPECT_EQ(up.rpm, provider.rpm);
  EXPECT_EQ(up.tpm, provider.tpm);
  EXPECT_EQ(up.weight, provider.weight);
  EXPECT_EQ(up.connect_timeout, provider.connect_timeout);
  EXPECT_EQ(up.first_byte_timeout, provider.first_byte_timeout);
  EXPECT_EQ(up.idle_timeout, provider.idle_timeout);
  EXPECT_EQ(up.max_idle_connections, provider.max_idle_connections);
  EXPECT_EQ(up.timeout, provider.timeout);
  EXPECT_EQ(up.max_retries, provider.max_retries);
  EXPECT_EQ(up.cooldown, provider.cooldown);
  EXPECT_EQ(up.default_max_tokens, provider.default_max_tokens);
  EXPECT_EQ(up.api_version, provider.api_version);
  EXPECT_EQ(up.anthropic_version, provider.anthropic_version);
  const DeploymentConfig deployment;
  EXPECT_EQ(config.models[0].deployments[0].weight, deployment.weight);
  EXPECT_EQ(config.models[0].deployments[0].rpm, deployment.rpm);
  EXPECT_EQ(config.models[0].deployments[0].tpm, deployment.tpm);
  EXPECT_EQ(up.mock.stream_chunks, provider.mock.stream_chunks);
  EXPECT_EQ(up.mock.embedding_dims, provider.mock.embedding_dims);

  const LoggingConfig logging;
  EXPECT_EQ(config.logging.level, logging.level);
  EXPECT_EQ(config.logging.format, logging.format);
  EXPECT_EQ(config.logging.access_log, logging.access_log);
}

TEST(ConfigLoad, AcceptsEveryBoundAtItsEdge) {
  const auto result = load(
      "server:\n"
      "  listen: \"[::1]:0\"\n"
      "  max_body_bytes: 1073741824\n"
      "  max_header_bytes: 1024\n"
      "  header_timeout: 100ms\n"
      "  keepalive_timeout: 1h\n"
      "  shutdown_grace: 0\n"
      "  max_connections: 1000000\n"
      "  body_timeout: 1h\n"
      "  max_requests_per_connection: 0\n"
      "providers:\n"
      "  - name: a.b_c-D9\n"
      "    type: mock\n"
      "    base_url: https://[::1]:65535\n"
      "    rpm: 0\n"
      "    tpm: 2147483647\n"
      "    weight: 1000\n"
      "    connect_timeout: 10ms\n"
      "    first_byte_timeout: 1h\n"
      "    idle_timeout: 10ms\n"
      "    max_idle_connections: 0\n"
      "    timeout: 10ms\n"
      "    max_retries: 10\n"
      "    cooldown: 100ms\n"
      "    default_max_tokens: 1000000\n"
      "    mock: { latency: 10m, stream_chunks: 10000, chunk_interval: 1m,\n"
      "            completion_tokens: 1, embedding_dims: 65536 }\n"
      "models:\n"
      "  - name: m\n"
      "    deployments: [{ provider: a.b_c-D9, model: m, weight: 1000, rpm: 0, tpm: 2147483647 }]\n"
      "logging: { level: off, format: text, access_log: false }\n");
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  const GatewayConfig& config = *result.config;
  EXPECT_EQ(config.server.listen, "[::1]:0");
  EXPECT_EQ(config.server.max_body_bytes, 1073741824u);
  EXPECT_EQ(config.server.header_timeout, Millis{100});
  EXPECT_EQ(config.server.shutdown_grace, Millis{0});
  EXPECT_EQ(config.server.body_timeout, Millis{3'600'000});
  EXPECT_EQ(config.server.max_requests_per_connection, 0);
  EXPECT_EQ(config.providers[0].tpm, 2147483647);
  EXPECT_EQ(config.providers[0].mock.latency, Millis{600'000});
  EXPECT_EQ(config.providers[0].mock.embedding_dims, 65536);
  EXPECT_EQ(config.providers[0].timeout, Millis{10});
  EXPECT_EQ(config.providers[0].max_retries, 10);
  EXPECT_EQ(config.providers[0].cooldown, Millis{100});
  EXPECT_EQ(config.providers[0].default_max_tokens, 1'000'000);
  EXPECT_EQ(config.models[0].deployments[0].weight, 1000);
  EXPECT_EQ(config.models[0].deployments[0].tpm, 2147483647);
  EXPECT_EQ(config.logging.level, "off");
  EXPECT_EQ(config.logging.format, LogFormat::text);
  EXPECT_FALSE(config.logging.access_log);
}

TEST(ConfigLoad, BodyBudgetIsAtLeastOneBodyAtTheLimit) {
  const auto given = load(server_with("max_buffered_body_bytes: 16777216"));
  ASSERT_TRUE(given.config.has_value()) << listing(given);
  EXPECT_EQ(given.config->server.max_buffered_body_bytes, 16777216u);
  // Unset, it follows a max_body_bytes larger than its default.
  const auto big_bodies = load(server_with("max_body_bytes: 536870912"));
  ASSERT_TRUE(big_bodies.config.has_value()) << listing(big_bodies);
  EXPECT_EQ(big_bodies.config->server.max_buffered_body_bytes, 536870912u);
}

TEST(ConfigLoad, CorsOriginsAreKeptInLowerCase) {
  const auto result = load(server_with(
      "cors: { allowed_origins: [\"https://App.Example\", \"http://localhost:3000\", \"*\"], max_age: 0 }"));
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  const CorsConfig& cors = result.config->server.cors;
  EXPECT_TRUE(cors.enabled());
  EXPECT_EQ(cors.allowed_origins, (std::vector<std::string>{"https://app.example", "http://localhost:3000", "*"}));
  EXPECT_EQ(cors.max_age, Millis{0});
}

// server.tls names files the loader only checks are readable (their
// contents are net::load_server_tls's business): any readable file will do.
std::string readable_file() { return (source_dir() / "config" / "sluice.yaml").string(); }

std::string tls_with(const std::string& keys) { return server_with("tls: { " + keys + " }"); }

std::string tls_pair() { return "certificate: " + readable_file() + ", key: " + readable_file(); }

TEST(ConfigLoad, TlsNeedsACertificateAndAKeyAndDefaultsToTls12) {
  const auto result = load(tls_with(tls_pair()));
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  ASSERT_TRUE(result.config->server.tls.has_value());
  const ServerTlsConfig& tls = *result.config->server.tls;
  EXPECT_EQ(tls.certificate, readable_file());
  EXPECT_EQ(tls.key, readable_file());
  EXPECT_EQ(tls.min_version, TlsVersion::v1_2);
  EXPECT_EQ(tls.client_ca, "");
}

TEST(ConfigLoad, TlsTakesAMinimumVersionAndAClientCa) {
  for (const std::string version : {"1.3", "\"1.3\""}) {
    const auto result = load(tls_with(tls_pair() + ", min_version: " + version + ", client_ca: " + readable_file()));
    ASSERT_TRUE(result.config.has_value()) << listing(result);
    EXPECT_EQ(result.config->server.tls->min_version, TlsVersion::v1_3);
    EXPECT_EQ(result.config->server.tls->client_ca, readable_file());
  }
  const auto explicit_default = load(tls_with(tls_pair() + ", min_version: \"1.2\""));
  ASSERT_TRUE(explicit_default.config.has_value()) << listing(explicit_default);
  EXPECT_EQ(explicit_default.config->server.tls->min_version, TlsVersion::v1_2);
}

TEST(ConfigLoad, AnEmptyTlsSectionNamesBothMissingFiles) {
  EXPECT_EQ(listing(load(server_with("tls: {}"))),
            "test.yaml:2:8: server.tls: missing required key 'certificate'\n"
            "test.yaml:2:8: server.tls: missing required key 'key'\n");
  EXPECT_EQ(listing(load(server_with("tls:"))),
            "test.yaml:2:3: server.tls: missing required key 'certificate'\n"
            "test.yaml:2:3: server.tls: missing required key 'key'\n");
}

TEST(ConfigLoad, TlsPathsFromTheEnvironmentAreShownAsWritten) {
  const auto problem = only_problem(load(tls_with("certificate: \"${CERT}\", key: " + readable_file()),
                                         {{"CERT", "/secret/place/cert.pem"}}));
  EXPECT_EQ(problem.key_path, "server.tls.certificate");
  EXPECT_EQ(problem.message, "cannot read certificate file from '${CERT}': No such file or directory");
}

TEST(ConfigLoad, AnthropicAndOllamaHaveADefaultBaseUrl) {
  const auto result = load(
      "providers:\n"
      "  - { name: claude, type: anthropic, api_key: k }\n"
      "  - { name: local, type: ollama }\n"
      "  - { name: az, type: azure, base_url: \"https://r.openai.azure.com\", api_version: v1 }\n"
      "models:\n"
      "  - name: m\n"
      "    deployments: [{ provider: claude, model: c }, { provider: local, model: l }, { provider: az, model: a }]\n");
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->providers[0].type, ProviderType::anthropic);
  EXPECT_EQ(result.config->providers[0].base_url, "https://api.anthropic.com");
  EXPECT_EQ(result.config->providers[1].type, ProviderType::ollama);
  EXPECT_EQ(result.config->providers[1].base_url, "http://127.0.0.1:11434");
  EXPECT_EQ(result.config->providers[2].type, ProviderType::azure);
  EXPECT_EQ(result.config->providers[2].api_version, "v1");
}

TEST(ConfigLoad, ResponsesApiIsForOpenAiAndAzure) {
  const auto result = load(provider_with("responses_api: translated"));
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->providers[1].responses_api, ResponsesApi::translated);
  EXPECT_EQ(result.config->providers[0].responses_api, ResponsesApi::native) << "the default";
  const ConfigProblem p = only_problem(load(
      "providers:\n  - { name: local, type: ollama, responses_api: native }\n"
      "models: [{ name: m, deployments: [{ provider: local, model: m }] }]\n"));
  EXPECT_EQ(p.key_path, "providers[0].responses_api");
  EXPECT_EQ(p.message, "applies to types openai and azure only (the other types always translate)");
}

TEST(ConfigLoad, AcceptsHostNamesAndDurationsAsBareSeconds) {
  const auto result = load(server_with("listen: gateway.internal:443"));
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  const auto bare = load(server_with("header_timeout: 5"));
  ASSERT_TRUE(bare.config.has_value()) << listing(bare);
  EXPECT_EQ(bare.config->server.header_timeout, Millis{5'000});
}

// ---------------------------------------------------------------------------
// Every bound, wrong types and bad enums: key path, line and message

TEST_P(ConfigRejects, NamesKeyLineAndReason) {
  const Rejected& c = GetParam();
  const ConfigProblem problem = only_problem(load(c.yaml));
  EXPECT_EQ(problem.key_path, c.key_path);
  EXPECT_EQ(problem.line, c.line);
  EXPECT_EQ(problem.message, c.message);
}

const std::string kBetween1kAnd1G = "must be between 1024 and 1073741824";
const std::string kBetween1kAnd1M = "must be between 1024 and 1048576";
const std::string kServerTimeout = "must be between 100ms and 1h";
const std::string kDuration = "expected a duration like 250ms, 10s, 5m";

INSTANTIATE_TEST_SUITE_P(
    ServerBounds, ConfigRejects,
    ::testing::Values(
        Rejected{server_with("listen: 127.0.0.1:65536"), "server.listen", 2,
                 "invalid address '127.0.0.1:65536': port must be a number between 0 and 65535"},
        Rejected{server_with("listen: 127.0.0.1"), "server.listen", 2,
                 "invalid address '127.0.0.1': expected host:port, e.g. 127.0.0.1:8080"},
        Rejected{server_with("listen: \"::1:8080\""), "server.listen", 2,
                 "invalid address '::1:8080': an IPv6 address must be in brackets, e.g. [::1]:8080"},
        Rejected{server_with("listen: \"[::zz]:80\""), "server.listen", 2,
                 "invalid address '[::zz]:80': invalid IPv6 address"},
        Rejected{server_with("listen: 300.1.1.1:80"), "server.listen", 2,
                 "invalid address '300.1.1.1:80': invalid IPv4 address"},
        Rejected{server_with("listen: bad host:80"), "server.listen", 2,
                 "invalid address 'bad host:80': invalid host name"},
        Rejected{server_with("listen: \":8080\""), "server.listen", 2,
                 "invalid address ':8080': the host is empty"},
        Rejected{server_with("max_body_bytes: 1023"), "server.max_body_bytes", 2, kBetween1kAnd1G},
        Rejected{server_with("max_body_bytes: 1073741825"), "server.max_body_bytes", 2, kBetween1kAnd1G},
        Rejected{server_with("max_body_bytes: 8MiB"), "server.max_body_bytes", 2, "expected an integer"},
        Rejected{server_with("max_header_bytes: 1023"), "server.max_header_bytes", 2, kBetween1kAnd1M},
        Rejected{server_with("max_header_bytes: 1048577"), "server.max_header_bytes", 2, kBetween1kAnd1M},
        Rejected{server_with("header_timeout: 99ms"), "server.header_timeout", 2, kServerTimeout},
        Rejected{server_with("header_timeout: 61m"), "server.header_timeout", 2, kServerTimeout},
        Rejected{server_with("keepalive_timeout: 99ms"), "server.keepalive_timeout", 2, kServerTimeout},
        Rejected{server_with("keepalive_timeout: 2h"), "server.keepalive_timeout", 2, kServerTimeout},
        Rejected{server_with("shutdown_grace: 61m"), "server.shutdown_grace", 2, "must be between 0 and 1h"},
        Rejected{server_with("shutdown_grace: -5s"), "server.shutdown_grace", 2, kDuration},
        Rejected{server_with("max_connections: 0"), "server.max_connections", 2,
                 "must be between 1 and 1000000"},
        Rejected{server_with("max_connections: 1000001"), "server.max_connections", 2,
                 "must be between 1 and 1000000"},
        Rejected{server_with("body_timeout: 99ms"), "server.body_timeout", 2, kServerTimeout},
        Rejected{server_with("body_timeout: 61m"), "server.body_timeout", 2, kServerTimeout},
        Rejected{server_with("write_timeout: 99ms"), "server.write_timeout", 2, kServerTimeout},
        Rejected{server_with("max_requests_per_connection: -1"), "server.max_requests_per_connection", 2,
                 "must be between 0 and 1000000000"},
        Rejected{server_with("max_buffered_body_bytes: 1023"), "server.max_buffered_body_bytes", 2,
                 "must be between 1024 and 68719476736"},
        Rejected{server_with("max_buffered_body_bytes: 68719476737"), "server.max_buffered_body_bytes", 2,
                 "must be between 1024 and 68719476736"},
        Rejected{"server:\n  max_buffered_body_bytes: 4096\n  max_body_bytes: 8192\n" + kValid,
                 "server.max_buffered_body_bytes", 2, "must be at least server.max_body_bytes (8192)"},
        Rejected{server_with("cors: { allowed_origins: [\"https://app.example/\"] }"),
                 "server.cors.allowed_origins[0]", 2,
                 "invalid origin 'https://app.example/': an origin has no path, query, user or spaces: "
                 "http(s)://host[:port]"},
        Rejected{server_with("cors: { allowed_origins: [app.example] }"), "server.cors.allowed_origins[0]", 2,
                 "invalid origin 'app.example': expected http(s)://host[:port] as a browser sends it in Origin, "
                 "or *"},
        Rejected{server_with("cors: { allowed_origins: [\"http://a:0\"] }"), "server.cors.allowed_origins[0]", 2,
                 "invalid origin 'http://a:0': invalid host: port must be a number between 1 and 65535"},
        Rejected{server_with("cors: { allowed_origins: \"*\" }"), "server.cors.allowed_origins", 2,
                 "expected a list"},
        Rejected{server_with("cors: { max_age: 25h }"), "server.cors.max_age", 2, "must be between 0 and 24h"},
        Rejected{server_with("cors: { origins: [\"*\"] }"), "server.cors.origins", 2,
                 "unknown key 'origins'"},
        Rejected{"server: [listen]\n" + kValid, "server", 1, "expected a mapping"}));

INSTANTIATE_TEST_SUITE_P(
    TlsFiles, ConfigRejects,
    ::testing::Values(
        Rejected{tls_with("certificate: /nonexistent/cert.pem, key: " + readable_file()), "server.tls.certificate", 2,
                 "cannot read certificate file '/nonexistent/cert.pem': No such file or directory"},
        Rejected{tls_with("certificate: " + readable_file() + ", key: /nonexistent/key.pem"), "server.tls.key", 2,
                 "cannot read key file '/nonexistent/key.pem': No such file or directory"},
        Rejected{tls_with(tls_pair() + ", client_ca: /nonexistent/ca.pem"), "server.tls.client_ca", 2,
                 "cannot read CA file '/nonexistent/ca.pem': No such file or directory"},
        Rejected{tls_with("certificate: " + source_dir().string() + ", key: " + readable_file()),
                 "server.tls.certificate", 2,
                 "cannot read certificate file '" + source_dir().string() + "': not a regular file"},
        Rejected{tls_with("certificate: \"\", key: " + readable_file()), "server.tls.certificate", 2,
                 "must not be empty"},
        Rejected{tls_with("certificate: " + readable_file() + ", key: "), "server.tls.key", 2,
                 "expected a string, found no value"},
        Rejected{tls_with("certificate: [a], key: " + readable_file()), "server.tls.certificate", 2,
                 "expected a string"},
        Rejected{tls_with("key: " + readable_file()), "server.tls", 2, "missing required key 'certificate'"},
        Rejected{tls_with("certificate: " + readable_file()), "server.tls", 2, "missing required key 'key'"},
        Rejected{tls_with(tls_pair() + ", ciphers: HIGH"), "server.tls.ciphers", 2, "unknown key 'ciphers'"},
        Rejected{tls_with(tls_pair() + ", clientca: x"), "server.tls.clientca", 2,
                 "unknown key 'clientca'; did you mean 'client_ca'?"},
        Rejected{server_with("tls: true"), "server.tls", 2, "expected a mapping"}));

INSTANTIATE_TEST_SUITE_P(
    TlsVersions, ConfigRejects,
    ::testing::Values(
        Rejected{tls_with(tls_pair() + ", min_version: \"1.1\""), "server.tls.min_version", 2,
                 "TLS 1.1 is not accepted (RFC 8996); expected one of: 1.2, 1.3"},
        Rejected{tls_with(tls_pair() + ", min_version: 1.0"), "server.tls.min_version", 2,
                 "TLS 1.0 is not accepted (RFC 8996); expected one of: 1.2, 1.3"},
        Rejected{tls_with(tls_pair() + ", min_version: 1.4"), "server.tls.min_version", 2,
                 "invalid value '1.4'; expected one of: 1.2, 1.3"},
        Rejected{tls_with(tls_pair() + ", min_version: TLSv1.2"), "server.tls.min_version", 2,
                 "invalid value 'TLSv1.2'; expected one of: 1.2, 1.3"},
        Rejected{tls_with(tls_pair() + ", min_version: "), "server.tls.min_version", 2,
                 "expected a string, found no value"}));

INSTANTIATE_TEST_SUITE_P(
    ProviderBounds, ConfigRejects,
    ::testing::Values(
        Rejected{provider_with("rpm: -1"), "providers[1].rpm", 7, "must be at least 0"},
        Rejected{provider_with("tpm: -1"), "providers[1].tpm", 7, "must be at least 0"},
        Rejected{provider_with("tpm: 2147483648"), "providers[1].tpm", 7, "must be at most 2147483647"},
        Rejected{provider_with("tpm: -99999999999999999999"), "providers[1].tpm", 7, "must be at least 0"},
        Rejected{provider_with("rpm: 1.5"), "providers[1].rpm", 7, "expected an integer"},
        Rejected{provider_with("rpm: 1e3"), "providers[1].rpm", 7, "expected an integer"},
        Rejected{provider_with("rpm: [1]"), "providers[1].rpm", 7, "expected an integer"},
        Rejected{provider_with("rpm:"), "providers[1].rpm", 7, "expected an integer, found no value"},
        Rejected{provider_with("weight: 0"), "providers[1].weight", 7, "must be between 1 and 1000"},
        Rejected{provider_with("weight: 1001"), "providers[1].weight", 7, "must be between 1 and 1000"},
        Rejected{provider_with("weight: 99999999999999999999"), "providers[1].weight", 7,
                 "must be between 1 and 1000"},
        Rejected{provider_with("connect_timeout: 9ms"), "providers[1].connect_timeout", 7,
                 "must be between 10ms and 10m"},
        Rejected{provider_with("connect_timeout: 11m"), "providers[1].connect_timeout", 7,
                 "must be between 10ms and 10m"},
        Rejected{provider_with("connect_timeout: 5 seconds"), "providers[1].connect_timeout", 7, kDuration},
        Rejected{provider_with("first_byte_timeout: 9ms"), "providers[1].first_byte_timeout", 7,
                 "must be between 10ms and 1h"},
        Rejected{provider_with("first_byte_timeout: 61m"), "providers[1].first_byte_timeout", 7,
                 "must be between 10ms and 1h"},
        Rejected{provider_with("idle_timeout: 9ms"), "providers[1].idle_timeout", 7,
                 "must be between 10ms and 1h"},
        Rejected{provider_with("idle_timeout: 2h"), "providers[1].idle_timeout", 7,
                 "must be between 10ms and 1h"},
        Rejected{provider_with("max_idle_connections: -1"), "providers[1].max_idle_connections", 7,
                 "must be between 0 and 10000"},
        Rejected{provider_with("max_idle_connections: 10001"), "providers[1].max_idle_connections", 7,
                 "must be between 0 and 10000"},
        Rejected{provider_with("headers: [a]"), "providers[1].headers", 7, "expected a mapping"},
        Rejected{provider_with("mock: 3"), "providers[1].mock", 7, "expected a mapping"},
        Rejected{provider_with("max_retries: 11"), "providers[1].max_retries", 7, "must be between 0 and 10"},
        Rejected{provider_with("cooldown: 99ms"), "providers[1].cooldown", 7, "must be between 100ms and 1h"},
        Rejected{provider_with("timeout: 2h"), "providers[1].timeout", 7, "must be between 10ms and 1h"},
        Rejected{provider_with("default_max_tokens: 0"), "providers[1].default_max_tokens", 7,
                 "must be between 1 and 1000000"},
        Rejected{provider_with("api_version: \"\""), "providers[1].api_version", 7, "must not be empty"},
        Rejected{provider_with("responses_api: passthrough"), "providers[1].responses_api", 7,
                 "invalid value 'passthrough'; expected one of: native, translated"}));

INSTANTIATE_TEST_SUITE_P(
    DeploymentBounds, ConfigRejects,
    ::testing::Values(
        Rejected{"providers:\n  - { name: up, type: mock }\nmodels:\n  - name: m\n    deployments:\n"
                 "      - { provider: up, model: m, weight: 0 }\n",
                 "models[0].deployments[0].weight", 6, "must be between 1 and 1000"},
        Rejected{"providers:\n  - { name: up, type: mock }\nmodels:\n  - name: m\n    deployments:\n"
                 "      - { provider: up, model: m, rpm: -1 }\n",
                 "models[0].deployments[0].rpm", 6, "must be at least 0"},
        Rejected{"providers:\n  - { name: up, type: mock }\nmodels:\n  - name: m\n    deployments:\n"
                 "      - { provider: up, model: m, tpm: lots }\n",
                 "models[0].deployments[0].tpm", 6, "expected an integer"}));

INSTANTIATE_TEST_SUITE_P(
    MockBounds, ConfigRejects,
    ::testing::Values(
        Rejected{provider_with("mock: { latency: 11m }"), "providers[1].mock.latency", 7,
                 "must be between 0 and 10m"},
        Rejected{provider_with("mock: { stream_chunks: 0 }"), "providers[1].mock.stream_chunks", 7,
                 "must be between 1 and 10000"},
        Rejected{provider_with("mock: { stream_chunks: 10001 }"), "providers[1].mock.stream_chunks", 7,
                 "must be between 1 and 10000"},
        Rejected{provider_with("mock: { chunk_interval: 61s }"), "providers[1].mock.chunk_interval", 7,
                 "must be between 0 and 1m"},
        Rejected{provider_with("mock: { completion_tokens: 0 }"), "providers[1].mock.completion_tokens", 7,
                 "must be between 1 and 100000"},
        Rejected{provider_with("mock: { completion_tokens: 100001 }"),
                 "providers[1].mock.completion_tokens", 7, "must be between 1 and 100000"},
        Rejected{provider_with("mock: { embedding_dims: 0 }"), "providers[1].mock.embedding_dims", 7,
                 "must be between 1 and 65536"},
        Rejected{provider_with("mock: { embedding_dims: 65537 }"), "providers[1].mock.embedding_dims", 7,
                 "must be between 1 and 65536"}));

INSTANTIATE_TEST_SUITE_P(
    LoggingValues, ConfigRejects,
    ::testing::Values(
        Rejected{logging_with("level: verbose"), "logging.level", 2,
                 "invalid value 'verbose'; expected one of: trace, debug, info, warn, error, off"},
        Rejected{logging_with("format: xml"), "logging.format", 2,
                 "invalid value 'xml'; expected one of: json, text"},
        Rejected{logging_with("access_log: maybe"), "logging.access_log", 2, "expected true or false"}));

// base_url and type sit on lines 5 and 6 of the template, so these use their own files.
std::string up_provider(const std::string& type, const std::string& base_url_line) {
  return "providers:\n  - name: up\n    type: " + type + "\n" + base_url_line +
         "models:\n  - name: m\n    deployments: [{ provider: up, model: m }]\n";
}

INSTANTIATE_TEST_SUITE_P(
    ProviderShape, ConfigRejects,
    ::testing::Values(
        Rejected{up_provider("vertex", "    base_url: http://h/v1\n"), "providers[0].type", 3,
                 "invalid value 'vertex'; expected one of: openai, azure, anthropic, ollama, mock"},
        Rejected{up_provider("openai", ""), "providers[0]", 2,
                 "missing required key 'base_url' (required for type openai)"},
        Rejected{up_provider("azure", ""), "providers[0]", 2,
                 "missing required key 'base_url' (required for type azure)"},
        Rejected{up_provider("openai", "    base_url: ftp://h/v1\n"), "providers[0].base_url", 4,
                 "must start with http:// or https://"},
        Rejected{up_provider("openai", "    base_url: http:///v1\n"), "providers[0].base_url", 4,
                 "has no host"},
        Rejected{up_provider("openai", "    base_url: https://u:p@h/v1\n"), "providers[0].base_url", 4,
                 "must not contain user:password@"},
        // Accepted once, these made the daemon fail at start ("bad optional access").
        Rejected{up_provider("openai", "    base_url: \"http://h/v1?key=sk-0123456789\"\n"), "providers[0].base_url", 4,
                 "must not contain a query or fragment ('?', '#'): put keys in api_key or headers"},
        Rejected{up_provider("openai", "    base_url: \"http://h/v1#x\"\n"), "providers[0].base_url", 4,
                 "must not contain a query or fragment ('?', '#'): put keys in api_key or headers"},
        Rejected{up_provider("openai", "    base_url: http://h/v1/@x\n"), "providers[0].base_url", 4,
                 "must not contain '@'"},
        Rejected{up_provider("openai", "    base_url: http://h:0/v1\n"), "providers[0].base_url", 4,
                 "invalid host: port must be a number between 1 and 65535"},
        Rejected{up_provider("openai", "    base_url: \"http://h /v1\"\n"), "providers[0].base_url", 4,
                 "must not contain spaces or control characters"},
        // base_url is optional for mock, but checked when given
        Rejected{up_provider("mock", "    base_url: h:80\n"), "providers[0].base_url", 4,
                 "must start with http:// or https://"},
        // a deployment naming a provider whose name is unreadable is not reported too
        Rejected{"providers:\n  - rpm: 1\n    type: mock\n" + kModels, "providers[0]", 2,
                 "missing required key 'name'"},
        Rejected{"providers:\n  - name: mock\n" + kModels, "providers[0]", 2, "missing required key 'type'"},
        Rejected{"providers:\n  - name: \"\"\n    type: mock\n" + kModels, "providers[0].name", 2,
                 "must not be empty"},
        Rejected{"providers:\n  - name: my mock\n    type: mock\n" + models_using("my mock"),
                 "providers[0].name", 2, "invalid name 'my mock'; use letters, digits, '.', '_' and '-'"},
        Rejected{"providers: {}\n" + kModels, "providers", 1, "expected a list"},
        Rejected{"providers: []\n" + kModels, "providers", 1, "at least one provider is required"}));

INSTANTIATE_TEST_SUITE_P(
    ModelShape, ConfigRejects,
    ::testing::Values(
        Rejected{kProviders + "models:\n  - name: m\n", "models[0]", 8, "missing required key 'deployments'"},
        Rejected{kProviders + "models:\n  - name: m\n    deployments: []\n", "models[0].deployments", 9,
                 "must list at least one deployment"},
        Rejected{kProviders + "models:\n  - deployments: [{ provider: mock, model: m }]\n", "models[0]", 8,
                 "missing required key 'name'"},
        Rejected{kProviders + "models:\n  - name: m\n    deployments: [{ provider: mock }]\n",
                 "models[0].deployments[0]", 9, "missing required key 'model'"},
        Rejected{kProviders + "models:\n  - name: m\n    deployments: [{ provider: mock, model: \"\" }]\n",
                 "models[0].deployments[0].model", 9, "must not be empty"},
        Rejected{kProviders + "models:\n  - name: m\n    deployments:\n"
                              "      - { provider: nope, model: m }\n",
                 "models[0].deployments[0].provider", 10,
                 "unknown provider 'nope'; configured providers: mock, up"},
        Rejected{kProviders + "models: []\n", "models", 7, "at least one model is required"}));

TEST(ConfigLoad, ReportsColumnOfTheValue) {
  const ConfigProblem problem = only_problem(load(server_with("max_connections: 0")));
  EXPECT_EQ(problem.line, 2);
  EXPECT_EQ(problem.column, 20);  // "  max_connections: 0": the value starts in column 20
}

// ---------------------------------------------------------------------------
// Unknown keys and unsupported sections

INSTANTIATE_TEST_SUITE_P(
    UnknownKeys, ConfigRejects,
    ::testing::Values(
        Rejected{server_with("lsiten: 127.0.0.1:80"), "server.lsiten", 2,
                 "unknown key 'lsiten'; did you mean 'listen'?"},
        Rejected{provider_with("first_byte_timout: 1s"), "providers[1].first_byte_timout", 7,
                 "unknown key 'first_byte_timout'; did you mean 'first_byte_timeout'?"},
        Rejected{provider_with("mock: { latncy: 1s }"), "providers[1].mock.latncy", 7,
                 "unknown key 'latncy'; did you mean 'latency'?"},
        Rejected{kValid + "provider: []\n", "provider", 11,
                 "unknown key 'provider'; did you mean 'providers'?"},
        Rejected{kValid + "zzz: 1\n", "zzz", 11, "unknown key 'zzz'"},
        Rejected{kValid + "${X}: 1\n", "${X}", 11, "unknown key '${X}'"},  // keys are never expanded
        Rejected{kProviders + "models:\n  - name: m\n"
                              "    deployments: [{ provider: mock, model: m, modle: x }]\n",
                 "models[0].deployments[0].modle", 9, "unknown key 'modle'; did you mean 'model'?"},
        Rejected{server_with("listen: a:1\n  listen: b:2"), "server.listen", 3,
                 "duplicate key 'listen' (first at line 2)"}));

// ---------------------------------------------------------------------------
// Names: duplicates and references

TEST(ConfigLoad, DuplicateNamesPointAtTheFirstDefinition) {
  const auto result = load(
      "providers:\n"
      "  - { name: a, type: mock }\n"
      "  - { name: a, type: mock }\n"
      "models:\n"
      "  - { name: m, deployments: [{ provider: a, model: x }] }\n"
      "  - { name: m, deployments: [{ provider: a, model: y }] }\n");
  ASSERT_EQ(result.problems.size(), 2u) << listing(result);
  EXPECT_EQ(listing(result),
            "test.yaml:3:13: providers[1].name: duplicate provider name 'a' (first defined at line 2)\n"
            "test.yaml:6:13: models[1].name: duplicate model name 'm' (first defined at line 5)\n");
}

TEST(ConfigLoad, NamesFromTheEnvironmentAreShownAsWrittenNeverExpanded) {
  // A name is a value like any other: `${VAR}` may hold something secret.
  const Env env{{"P", "sk-secret-provider"}, {"M", "sk-secret-model"}, {"Q", "sk-secret-ref"}, {"BAD", "sk secret"}};
  const auto result = load(
      "providers:\n"
      "  - { name: \"${P}\", type: mock }\n"
      "  - { name: \"${P}\", type: mock }\n"
      "  - { name: \"${BAD}\", type: mock }\n"
      "models:\n"
      "  - { name: \"${M}\", deployments: [{ provider: \"${Q}\", model: x }] }\n"
      "  - { name: \"${M}\", deployments: [{ provider: \"${P}\", model: y }] }\n",
      env);
  const std::string text = listing(result);
  EXPECT_EQ(text.find("sk-secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("sk secret"), std::string::npos) << text;
  EXPECT_NE(text.find("duplicate provider name from '${P}'"), std::string::npos) << text;
  EXPECT_NE(text.find("invalid name from '${BAD}'"), std::string::npos) << text;
  EXPECT_NE(text.find("duplicate model name from '${M}'"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown provider from '${Q}'; configured providers: ${P}, ${BAD}"), std::string::npos) << text;
}

TEST(ConfigLoad, NoProvidersIsReportedOnceNotPerDeployment) {
  const auto result = load("models:\n  - { name: m, deployments: [{ provider: x, model: y }] }\n");
  EXPECT_EQ(listing(result), "test.yaml: providers: at least one provider is required\n");
}

TEST(ConfigLoad, FindProviderAndModel) {
  const auto result = load(kValid);
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->find_provider("up"), &result.config->providers[1]);
  EXPECT_EQ(result.config->find_provider("nope"), nullptr);
  EXPECT_EQ(result.config->find_model("m"), &result.config->models[0]);
  EXPECT_EQ(result.config->find_model("up"), nullptr);
}

// ---------------------------------------------------------------------------
// Many problems at once, and file-level problems

TEST(ConfigLoad, ReportsEveryProblemInFileOrder) {
  const auto result = load(
      "server:\n"
      "  listen: nope\n"
      "  max_connections: 0\n"
      "providers:\n"
      "  - name: bad name\n"
      "    type: vertex\n"
      "    weight: 0\n"
      "models:\n"
      "  - name: m\n"
      "    deployments:\n"
      "      - { provider: ghost, model: m }\n"
      "cache: { ttl: 0s }\n");
  EXPECT_FALSE(result.config.has_value());
  std::vector<int> lines;
  for (const auto& problem : result.problems) lines.push_back(problem.line);
  EXPECT_EQ(lines, (std::vector<int>{2, 3, 5, 6, 7, 11, 12})) << listing(result);
}

TEST(ConfigLoad, EmptyOrNonMappingDocuments) {
  for (const std::string yaml : {"", "# only a comment\n", "~\n"}) {
    const ConfigProblem problem = only_problem(load(yaml));
    EXPECT_EQ(problem.message, "the configuration is empty") << yaml;
    EXPECT_EQ(problem.line, 0);
  }
  ConfigProblem problem = only_problem(load("- a\n- b\n"));
  EXPECT_EQ(problem.message, "expected a mapping at the top level");
  EXPECT_EQ(problem.line, 1);
  problem = only_problem(load(kValid + "---\nserver: {}\n"));
  EXPECT_EQ(problem.message, "expected one YAML document");
  EXPECT_EQ(problem.line, 12);
}

// yaml-cpp 0.7's LoadAll never returns on a document that starts with a
// comma (its memory grows by gigabytes a second: jbeder/yaml-cpp#1040); the
// loader reads the documents itself and names the comma. Found by
// fuzz_config_yaml (its input is in the corpus).
TEST(ConfigLoad, AStrayCommaIsAProblemNotAHang) {
  for (const std::string& yaml : std::vector<std::string>{",\n", ", x\n  listen: a\nserver: {}\n", "# a comment\n,\n", "&anchor ,\n",
                                 "!tag ,\n", "\"first\"\n,\n", kValid + "---\n,\n"}) {
    SCOPED_TRACE(yaml);
    const ConfigLoadResult result = load(yaml);
    ASSERT_FALSE(result.config.has_value());
    ASSERT_FALSE(result.problems.empty());
    EXPECT_EQ(result.problems[0].message, "unexpected ',': a value cannot start with it") << listing(result);
  }
}

TEST(ConfigLoad, MissingSectionsHaveNoPosition) {
  EXPECT_EQ(listing(load("server: {}\n")),
            "test.yaml: providers: at least one provider is required\n"
            "test.yaml: models: at least one model is required\n");
}

TEST(ConfigLoad, YamlSyntaxErrorKeepsYamlCppPosition) {
  const ConfigProblem problem = only_problem(load("providers: [a, b\nmodels: 3\n"));
  EXPECT_EQ(problem.key_path, "");
  EXPECT_EQ(problem.line, 2);
  EXPECT_FALSE(problem.message.empty());
}

TEST(ConfigLoad, UnreadableFile) {
  ConfigProblem problem = only_problem(load_config_file("/nonexistent/sluice.yaml"));
  EXPECT_EQ(problem.key_path, "");
  EXPECT_EQ(problem.line, 0);
  EXPECT_EQ(problem.message, "cannot read file: No such file or directory");
  problem = only_problem(load_config_file(source_dir().string()));
  EXPECT_EQ(problem.message, "cannot read file: Is a directory");
}

TEST(ConfigLoad, LoadsAFileAndRemembersItsName) {
  // The pid in the name: two checkouts may run their tests on one host at once.
  const auto path =
      (fs::temp_directory_path() / ("sluice_config_load_test." + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << kValid;
  const auto result = load_config_file(path, fake_env({}));
  fs::remove(path);
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->source, path);
}

TEST(ConfigLoad, FormatProblems) {
  const std::vector<ConfigProblem> problems = {
      {"server.listen", 3, 11, "bad address"},
      {"", 0, 0, "cannot read file: Permission denied"},
      {"providers", 0, 0, "at least one provider is required"},
      {"", 2, 5, "end of map not found"},
  };
  EXPECT_EQ(format_problems("f.yaml", problems),
            "f.yaml:3:11: server.listen: bad address\n"
            "f.yaml: cannot read file: Permission denied\n"
            "f.yaml: providers: at least one provider is required\n"
            "f.yaml:2:5: end of map not found\n");
  EXPECT_EQ(format_problems("f.yaml", {}), "");
}

// ---------------------------------------------------------------------------
// Provider files and headers

TEST(ConfigLoad, CaFileMustBeReadable) {
  auto problem = only_problem(load(provider_with("ca_file: /nonexistent/ca.pem")));
  EXPECT_EQ(problem.key_path, "providers[1].ca_file");
  EXPECT_EQ(problem.message, "cannot read CA file '/nonexistent/ca.pem': No such file or directory");
  problem = only_problem(load(provider_with("ca_file: " + source_dir().string())));
  EXPECT_EQ(problem.message, "cannot read CA file '" + source_dir().string() + "': not a regular file");

  const auto readable = (source_dir() / "config" / "sluice.yaml").string();
  const auto result = load(provider_with("ca_file: " + readable));
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->providers[1].ca_file, readable);
}

TEST(ConfigLoad, HeadersAreCheckedAndKept) {
  const auto good = load(provider_with("headers: { OpenAI-Organization: org-1, X-Empty: \"\" }"));
  ASSERT_TRUE(good.config.has_value()) << listing(good);
  const auto& headers = good.config->providers[1].headers;
  EXPECT_EQ(headers.at("OpenAI-Organization"), "org-1");
  EXPECT_EQ(headers.at("X-Empty"), "");

  const auto bad = load(provider_with(
      "headers:\n"
      "      \"Bad Header\": x\n"
      "      Host: example.com\n"
      "      X-Crlf: \"a\\r\\nb\"\n"
      "      X-Dup: a\n"
      "      x-dup: b\n"
      "      X-List: [a]"));
  EXPECT_EQ(listing(bad),
            "test.yaml:8:7: providers[1].headers.Bad Header: invalid header name 'Bad Header'\n"
            "test.yaml:9:7: providers[1].headers.Host: header 'Host' is set by sluice\n"
            "test.yaml:10:15: providers[1].headers.X-Crlf: header value must not contain CR, LF or NUL\n"
            "test.yaml:12:7: providers[1].headers.x-dup: duplicate header 'x-dup'\n"
            "test.yaml:13:15: providers[1].headers.X-List: expected a string\n");
}

// ---------------------------------------------------------------------------
// ${VAR} expansion

struct Expansion {
  std::string base_url;
  Env env;
  std::string expected;
};

class EnvExpansion : public ::testing::TestWithParam<Expansion> {};

TEST_P(EnvExpansion, ExpandsBaseUrl) {
  const auto yaml = "providers:\n  - name: up\n    type: openai\n    base_url: \"" + GetParam().base_url +
                    "\"\n" + "models: [{ name: m, deployments: [{ provider: up, model: m }] }]\n";
  const auto result = load(yaml, GetParam().env);
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->providers[0].base_url, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, EnvExpansion,
    ::testing::Values(
        Expansion{"http://${HOST}/v1", {{"HOST", "h"}}, "http://h/v1"},
        Expansion{"http://${HOST}:${PORT:-8080}/v1", {{"HOST", "h"}}, "http://h:8080/v1"},
        Expansion{"http://${HOST}:${PORT:-8080}/v1", {{"HOST", "h"}, {"PORT", "9"}}, "http://h:9/v1"},
        Expansion{"http://${HOST}:${PORT:-8080}/v1", {{"HOST", "h"}, {"PORT", ""}}, "http://h:8080/v1"},
        Expansion{"${URL:-http://localhost:1/v1}", {}, "http://localhost:1/v1"},
        Expansion{"http://h/${P:-}v1", {}, "http://h/v1"},
        Expansion{"http://h/$${NOT_EXPANDED}", {}, "http://h/${NOT_EXPANDED}"},
        Expansion{"http://h/a$$b$c", {}, "http://h/a$b$c"},
        Expansion{"http://h/${V}", {{"V", "${W}"}, {"W", "no"}}, "http://h/${W}"}));  // not recursive

TEST(ConfigLoad, ExpandsBeforeTypeConversion) {
  const auto result = load(provider_with("rpm: ${RPM}"), {{"RPM", "600"}});
  ASSERT_TRUE(result.config.has_value()) << listing(result);
  EXPECT_EQ(result.config->providers[1].rpm, 600);
  EXPECT_EQ(only_problem(load(provider_with("rpm: ${RPM}"), {{"RPM", "6x"}})).message, "expected an integer");
}

TEST(ConfigLoad, EmptyApiKeyIsFine) {
  for (const std::string line : {"api_key: ${KEY}", "api_key:", "api_key: \"\"", "ca_file:"}) {
    const auto result = load(provider_with(line), {{"KEY", ""}});
    ASSERT_TRUE(result.config.has_value()) << line << "\n" << listing(result);
    EXPECT_EQ(result.config->providers[1].api_key, "");
    EXPECT_EQ(result.config->providers[1].ca_file, "");
  }
}

TEST(ConfigLoad, MissingVariablesAreReportedAtTheirKey) {
  EXPECT_EQ(listing(load(provider_with("api_key: ${OPENAI_API_KEY}"))),
            "test.yaml:7:14: providers[1].api_key: environment variable OPENAI_API_KEY is not set\n");
  EXPECT_EQ(listing(load(server_with("listen: ${HOST}:${PORT}"))),
            "test.yaml:2:11: server.listen: environment variable HOST is not set\n"
            "test.yaml:2:11: server.listen: environment variable PORT is not set\n");
  EXPECT_EQ(only_problem(load(server_with("listen: ${HOST:8080"))).message,
            "unterminated '${' (write '$$' for a literal '$')");
}

TEST(ConfigLoad, ProcessEnvironmentIsTheDefaultLookup) {
  ::setenv("SLUICE_CONFIG_LOAD_TEST_PORT", "9123", 1);
  const auto result = load_config_text(server_with("listen: 127.0.0.1:${SLUICE_CONFIG_LOAD_TEST_PORT}"), "t");
  ::unsetenv("SLUICE_CONFIG_LOAD_TEST_PORT");
  ASSERT_TRUE(result.config.has_value()) << format_problems("t", result.problems);
  EXPECT_EQ(result.config->server.listen, "127.0.0.1:9123");
}

// ---------------------------------------------------------------------------
// Secrets never reach a message

constexpr const char* kSecret = "sk-secret-123";

void expect_no_secret(const ConfigLoadResult& result) {
  EXPECT_FALSE(result.problems.empty());
  EXPECT_EQ(listing(result).find(kSecret), std::string::npos) << listing(result);
}

TEST(ConfigLoad, SecretFromEnvironmentNeverAppears) {
  const Env env = {{"KEY", kSecret}, {"LEVEL", kSecret}, {"TOKEN", std::string(kSecret) + "\r\n"}};
  const auto result = load(
      "providers:\n"
      "  - name: up\n"
      "    type: openai\n"
      "    base_url: ftp://h\n"
      "    api_key: \"${KEY}\"\n"
      "    weight: 0\n"
      "    headers: { Authorization: \"Bearer ${TOKEN}\" }\n"
      "    api_kye: x\n" +
          kModels + "logging: { level: \"${LEVEL}\" }\n",
      env);
  expect_no_secret(result);
  EXPECT_EQ(result.problems.size(), 6u) << listing(result);  // base_url, weight, header, key, ref, level
  EXPECT_NE(listing(result).find("invalid value from '${LEVEL}'"), std::string::npos) << listing(result);
}

TEST(ConfigLoad, ApiKeyOfTheWrongTypeIsNotPrinted) {
  for (const std::string value : {"{ value: sk-secret-123 }", "[sk-secret-123]", "\n      - sk-secret-123"}) {
    const auto result = load(provider_with("api_key: " + value));
    expect_no_secret(result);
    EXPECT_EQ(only_problem(result).message, "expected a string") << value;
  }
}

TEST(ConfigLoad, SecretInsideBracesOrUnknownKeyIsNotPrinted) {
  expect_no_secret(load(provider_with("api_key: ${sk-secret-123}")));
  expect_no_secret(load(provider_with("apikey: sk-secret-123")));
  expect_no_secret(load(provider_with("api_key: sk-secret-123\n    weight: 0")));
}

}  // namespace
}  // namespace sluice
