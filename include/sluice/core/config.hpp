// The gateway configuration as typed structs. Defaults live in the member
// initializers; bounds are enforced by core/config_load.cpp, which is the only
// place that knows YAML. Each component receives its own sub-struct by const&.
// docs/configuration.md documents every key and must stay in step with this file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/request.hpp"

namespace sluice {

using Millis = std::chrono::milliseconds;

// Cross-origin requests from browsers (server.cors). Off while
// allowed_origins is empty.
struct CorsConfig {
  std::vector<std::string> allowed_origins;  // "scheme://host[:port]" as browsers send Origin, or "*" for any
  Millis max_age{600'000};                   // how long a browser may reuse a preflight answer, 0 .. 24h

  bool enabled() const { return !allowed_origins.empty(); }
  // Sections compare equal field by field: a reload tells what changed.
  friend bool operator==(const CorsConfig&, const CorsConfig&) = default;
};

enum class TlsVersion { v1_2, v1_3 };

// TLS at the front door (server.tls). Paths are read at start and again on
// SIGHUP (net/server_tls.hpp builds the context from them).
struct ServerTlsConfig {
  std::string certificate;  // PEM chain, leaf first; required
  std::string key;          // PEM private key matching the leaf; required, unencrypted
  TlsVersion min_version = TlsVersion::v1_2;
  std::string client_ca;    // PEM CA bundle; set: clients must present a certificate it signed (mTLS)
  friend bool operator==(const ServerTlsConfig&, const ServerTlsConfig&) = default;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";    // host:port; port 0 picks a free port
  std::size_t max_body_bytes = 8u << 20;     // 1 KiB .. 1 GiB; larger bodies get 413
  // Request body bytes buffered at once over all connections; a body that
  // would pass it gets 503 + Retry-After. max_body_bytes .. 64 GiB; when not
  // set, 64 MiB or max_body_bytes if that is larger.
  std::size_t max_buffered_body_bytes = 64u << 20;
  std::size_t max_header_bytes = 16u << 10;  // 1 KiB .. 1 MiB; larger header blocks get 431
  Millis header_timeout{10'000};             // a request's head must arrive within this
  Millis body_timeout{60'000};               // its body within this, from the end of the head
  Millis keepalive_timeout{60'000};          // idle keep-alive connection closed after this
  Millis write_timeout{60'000};              // a client that takes no bytes for this long is cut off
  Millis shutdown_grace{30'000};             // SIGTERM: in-flight requests get this long to finish
  int max_connections = 10'000;              // further connections are answered 503 and closed
  int max_requests_per_connection = 10'000;  // then Connection: close; 0 = unlimited
  CorsConfig cors;
  std::optional<ServerTlsConfig> tls;        // absent: plain HTTP
  bool reload_watch = true;                  // reload when the config file changes (SIGHUP always does)
};

enum class ProviderType { openai, azure, anthropic, ollama, mock };
std::string_view to_string(ProviderType type) noexcept;  // as config spells it: "openai", "azure"...

// How a provider of type openai or azure serves POST /v1/responses: `native`
// forwards the client's Responses request (OpenAI and Azure speak it);
// `translated` sends it as chat completions, for OpenAI-compatible servers
// that lack the Responses API (vLLM, llama.cpp...). Other types always translate.
enum class ResponsesApi { native, translated };

// Knobs of the in-process mock provider (type: mock). Deterministic output.
struct MockConfig {
  Millis latency{0};            // delay before the answer (first byte for streams)
  int stream_chunks = 8;        // content chunks per streamed answer, 1 .. 10000
  Millis chunk_interval{0};     // delay between streamed chunks
  int completion_tokens = 32;   // words in the answer (capped by max_tokens), 1 .. 100000
  int embedding_dims = 256;     // length of mock embedding vectors, 1 .. 65536
  friend bool operator==(const MockConfig&, const MockConfig&) = default;
};

struct ProviderConfig {
  std::string name;
  ProviderType type = ProviderType::openai;
  std::string base_url;         // e.g. https://api.openai.com/v1; required for openai and azure
  std::string api_key;          // secret; from ${ENV}; Authorization: Bearer (azure: api-key, anthropic: x-api-key)
  std::string api_version = "2024-10-21";      // azure: ?api-version=; "v1" selects the /openai/v1/ route
  std::string anthropic_version = "2023-06-01";  // anthropic: the anthropic-version header
  ResponsesApi responses_api = ResponsesApi::native;  // openai, azure: POST /v1/responses forwarded or translated
  std::string ca_file;          // extra PEM CA bundle for TLS (default: system store only)
  std::map<std::string, std::string> headers;  // extra headers sent upstream (e.g. OpenAI-Organization)
  int rpm = 0;                  // requests per minute, account-wide; 0 = unlimited
  int tpm = 0;                  // tokens per minute, account-wide; 0 = unlimited
  int weight = 1;               // 1 .. 1000; the default weight of this provider's deployments
  int default_max_tokens = 4096;  // completion budget assumed (TPM) / sent (anthropic) when a request sets none
  int max_retries = 2;          // further attempts a request may make after failing here, 0 .. 10
  Millis cooldown{5'000};       // pause after a 429 that does not say how long (Retry-After)
  Millis connect_timeout{5'000};      // TCP connect + TLS handshake
  Millis first_byte_timeout{120'000}; // request sent -> response head received
  Millis idle_timeout{60'000};        // max silence between body reads (streams)
  Millis timeout{600'000};            // a whole non-streamed answer, per attempt
  int max_idle_connections = 64;      // keep-alive connections kept per provider, 0 .. 10000
  MockConfig mock;
  friend bool operator==(const ProviderConfig&, const ProviderConfig&) = default;
};

// What a deployment's tokens cost, in USD per million
// (models[].deployments[].price). Unset on a deployment: the built-in table's
// price for its upstream model (core/cost.hpp), if it knows the model.
struct Price {
  double input = 0;         // prompt tokens
  double output = 0;        // completion tokens
  double cached_input = 0;  // prompt tokens the provider served from its prompt cache
};

struct DeploymentConfig {
  std::string provider;  // a providers[].name
  std::string model;     // the model name the provider knows
  int weight = 0;        // 1 .. 1000; 0 = the provider's weight
  int priority = 0;      // 0 .. 1000; lower is tried first, weights choose within a priority
  int rpm = 0;           // this deployment's own limits; 0 = unlimited (the provider's still apply)
  int tpm = 0;
  std::optional<Price> price;
};

struct ModelConfig {
  std::string name;  // what clients send as "model"
  std::vector<DeploymentConfig> deployments;
};

// A request's priority class in the overflow queue (x-sluice-priority).
enum class Priority { low, normal, high };

// One gateway key (auth.keys[]): who presents it, and what it may spend.
struct GatewayKeyConfig {
  std::string key;       // the key itself (a secret, from ${VAR}); or, instead:
  std::string sha256;    // its SHA-256 in hex (lower case), so the file holds no secret
  std::string id;        // names the key in logs; default: "sha256:" and the digest's first 12 hex digits
  std::string tenant;    // whose requests these are: scopes cache entries and queued jobs
  int rpm = 0;           // this key's own limits; 0 = none (the providers' still apply)
  int tpm = 0;
  std::vector<std::string> models;            // the model names it may ask for; empty: all
  std::optional<double> monthly_budget_usd;   // spend per calendar month (UTC); over it: 403
  std::optional<std::chrono::system_clock::time_point> expires;  // refused (401) from then on
  Priority max_priority = Priority::normal;  // the highest x-sluice-priority its requests may claim
};

// Who may call (auth). Without keys only loopback clients are served, unless
// allow_unauthenticated says that anyone who reaches the port may.
struct AuthConfig {
  std::vector<GatewayKeyConfig> keys;
  bool allow_unauthenticated = false;
};

// The overflow queue (queue): where requests wait when no deployment of
// their model group has capacity.
enum class QueueBackend { memory, redis };

struct QueueConfig {
  QueueBackend backend = QueueBackend::memory;
  Millis max_wait{60'000};           // a held request waits at most this long; 0: never wait (429 at once)
  std::size_t max_length = 10'000;   // waiting requests plus async jobs not yet run, per gateway
  Millis result_ttl{3'600'000};      // how long GET /v1/jobs/{id} keeps a finished job
  Millis keepalive_interval{5'000};  // a waiting stream gets its head and a ": queued" comment this often
  Millis reclaim_after{60'000};      // redis: a job pending this long on a replica is run by another
  friend bool operator==(const QueueConfig&, const QueueConfig&) = default;
};

// How a router scores a request: the built-in heuristic, or a vote of the
// nearest labelled examples (router.mode: knn).
enum class RouterMode { heuristic, knn };

// What a routed request does when its tier's model group has no capacity:
// wait like any other request (the overflow queue),
// or try the next stronger tier. Never a weaker one.
enum class NoCapacityPolicy { queue, next_tier_up };

// One labelled prompt: a conversation and the tier it needs. The router's
// knn examples and the evaluation tools read files of them (JSON lines).
struct LabelledPrompt {
  std::vector<Message> messages;  // a bare `prompt` is one user message
  std::string tier;
  std::string kind;               // what the case tests (free text); may be empty
  int line = 0;                   // 1-based line in its file
};

// The default score thresholds of a router with three tiers (the second and
// the third tier's lowest score; with two tiers the second gets the higher
// one). Calibrated on tests/data/router (docs/benchmarks.md).
inline constexpr double kRouterMediumScore = 0.22;
inline constexpr double kRouterHighScore = 0.7;

// One tier of a router: its name and the model group it sends requests to.
struct RouterTier {
  std::string name;
  std::string model;     // a models[].name
  double min_score = 0;  // the lowest complexity score routed here; 0 for the first tier
};

// A rule forces a tier when every condition it gives holds (at least one is
// given). Patterns are RE2 syntax (linear time), checked at load; they see at
// most the first and last kRuleInputBytes / 2 of long texts.
struct RouterRule {
  static constexpr std::size_t kRuleInputBytes = 16384;
  std::string name;                  // in x-sluice-route-reason; default "rule-<index>"
  std::string system;                // pattern the system prompt must match (partially)
  std::string last_turn;             // pattern the last user turn must match
  std::optional<bool> tools;         // the request offers tools (true) or none (false)
  std::string header;                // a request header (lower case) that must be present...
  std::string header_matches;        // ...and whose value matches this pattern, when given
  std::vector<std::string> tenants;  // the caller's tenant is one of these
  std::string tier;                  // the tier forced
};

// A router alias (router: one mapping, or a list of them). Tiers go from the
// cheapest to the strongest model; a score at or above a tier's min_score
// goes to that tier or a higher one.
struct RouterConfig {
  std::string alias = "auto";
  std::vector<RouterTier> tiers;
  std::vector<RouterRule> rules;     // the first that matches wins, before any scoring
  RouterMode mode = RouterMode::heuristic;
  std::string examples;              // knn: a JSONL file of labelled prompts
  std::vector<LabelledPrompt> example_prompts;  // its content, read at load
  int k = 7;                         // knn: neighbours that vote, 1..101
  std::string embedder = "hashed";   // knn: the in-process embedder (only "hashed" today)
  NoCapacityPolicy on_no_capacity = NoCapacityPolicy::queue;
  bool shadow = false;               // decide and log, but serve the strongest tier

  const RouterTier* find_tier(std::string_view name) const;
};

// The answer cache (the `cache` section, cache/cache.hpp). The exact tier is
// on when the cache is; the semantic tier must be chosen knowingly.
struct SemanticCacheConfig {
  bool enabled = false;
  double threshold = 0.85;         // cosine a candidate needs before the verifier sees it, 0..1
  double max_temperature = 0.3;    // requests sampled hotter than this skip the semantic tier
  int candidates = 4;              // nearest neighbours verified per lookup, 1..64
  std::size_t max_prompt_chars = 2048;  // the last user turn is embedded truncated to this
  // builtin (use-lite, else hashed-ngram with a warning) | use-lite | hashed-ngram, or
  // { provider: NAME, model: MODEL }: an OpenAI-compatible /v1/embeddings deployment of
  // providers[]; `embedder_provider` set means the latter.
  std::string embedder = "builtin";
  std::string embedder_provider;
  std::string embedder_model;
  Millis embed_timeout{500};       // a remote embedder slower than this: the request goes on as a miss
  std::string weights_dir;         // use-lite's unpacked dist/; empty: the built-in search path
  int embed_threads = 2;           // the worker pool that embeds off the event loop, 1..64
  friend bool operator==(const SemanticCacheConfig&, const SemanticCacheConfig&) = default;
};

struct CacheConfig {
  bool enabled = false;
  Millis ttl{3'600'000};                  // an entry is served at most this long after it was stored
  std::size_t max_entries = 100'000;      // per gateway, both tiers; the least recently used go first
  std::size_t max_bytes = 256u << 20;     // memory budget of stored answers and vectors
  std::size_t max_entry_bytes = 1u << 20; // a larger answer is not stored
  bool tool_calls = false;                // store answers that end in tool calls
  SemanticCacheConfig semantic;
  friend bool operator==(const CacheConfig&, const CacheConfig&) = default;
};

// Redis (the `redis` section): shared by the overflow queue, and later by the
// cache and cluster-wide limits. The endpoint fields come from `url`,
// redis://[[user]:password@]host[:port][/db] or rediss:// for TLS, parsed at
// load (parse_redis_url). redis/client.hpp is the client built from it.
struct RedisConfig {
  bool tls = false;             // rediss://: TLS, the server's certificate verified and its name checked
  std::string host;             // a name, or an IP address (IPv6 without brackets)
  std::uint16_t port = 6379;
  std::string username;         // AUTH username password; empty: AUTH password (the default user)
  std::string password;         // a secret, from ${VAR}: never logged, never in a message; empty: no AUTH
  int db = 0;                   // SELECT on every (re)connect, 0 .. 1000000
  std::string ca_file;          // rediss: a PEM CA bundle trusted besides the system store
  Millis connect_timeout{1'000};   // TCP + TLS + AUTH + SELECT, 10ms .. 1m
  Millis command_timeout{1'000};   // a command's reply, unless the call says otherwise; 10ms .. 1h
  std::size_t max_reply_bytes = 512u << 20;  // one reply larger than this breaks the connection; 1 KiB .. 4 GiB

  std::string address() const;  // host:port ([v6]:port), for logs and messages
  friend bool operator==(const RedisConfig&, const RedisConfig&) = default;
};

enum class LogFormat { json, text };

struct LoggingConfig {
  std::string level = "info";  // trace | debug | info | warn | error | off
  LogFormat format = LogFormat::json;
  bool access_log = true;      // one info line per request
  friend bool operator==(const LoggingConfig&, const LoggingConfig&) = default;
};

// GET /metrics and the per-request recording behind it (core/metrics.hpp).
struct MetricsConfig {
  bool enabled = true;       // false: nothing is recorded and /metrics answers 404
  bool require_key = false;  // /metrics from beyond loopback needs a valid gateway key
  friend bool operator==(const MetricsConfig&, const MetricsConfig&) = default;
};

struct GatewayConfig {
  std::string source;  // file the config was loaded from, for messages
  ServerConfig server;
  AuthConfig auth;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  QueueConfig queue;
  CacheConfig cache;
  std::vector<RouterConfig> routers;  // `router`: each alias once, never a model's name
  LoggingConfig logging;
  MetricsConfig metrics;
  std::optional<RedisConfig> redis;  // set when the file has a redis section

  const ProviderConfig* find_provider(std::string_view name) const;
  const ModelConfig* find_model(std::string_view name) const;
  const RouterConfig* find_router(std::string_view alias) const;
};

// One problem found while loading: "file:line:col: key.path: message".
struct ConfigProblem {
  std::string key_path;  // e.g. providers[1].timeout
  int line = 0;          // 1-based; 0 when unknown
  int column = 0;
  std::string message;   // never contains a secret value
};

struct ConfigLoadResult {
  std::optional<GatewayConfig> config;  // set when problems is empty
  std::vector<ConfigProblem> problems;
  // std::hash of the text read, valid or not; none when the file could not
  // be read. What the reload watch compares the file with.
  std::optional<std::size_t> content_hash;
};

// Reads and validates a YAML file (or text). ${VAR} and ${VAR:-default} are
// expanded from `env` (default: the process environment) in every scalar.
// Every problem is collected; config is set only when there are none.
// Throws nothing. `env` empty means the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
ConfigLoadResult load_config_file(const std::string& path, EnvLookup env = {});
ConfigLoadResult load_config_text(const std::string& yaml, const std::string& source_name,
                                  EnvLookup env = {});

// "file:line:col: key: message", one per line.
std::string format_problems(const std::string& source, const std::vector<ConfigProblem>& problems);

// Parses "250ms", "10s", "5m", "1h", or a bare number of seconds.
std::optional<Millis> parse_duration(std::string_view text);

// Parses redis://[[user]:password@]host[:port][/db] or rediss://... into the
// endpoint fields of `out` (tls, host, port, username, password, db); user and
// password may be percent-encoded. Returns why the URL is wrong, or nullopt.
// The message never quotes the URL or any part of it (it may hold a password).
std::optional<std::string> parse_redis_url(std::string_view url, RedisConfig& out);

}  // namespace sluice
