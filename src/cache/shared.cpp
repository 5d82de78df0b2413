// Sharing (shared.hpp): the cache's entries written to Redis and learnt from
// the other replicas.
#include "shared.hpp"

#include <charconv>
#include <cstring>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/core/log.hpp"
#include "sluice/redis/client.hpp"

namespace sluice::cache {

namespace asio = boost::asio;
using redis::Reply;

namespace {

const std::string kEntryPrefix = "sluice:cache:e:";
const std::string kFeed = "sluice:cache:feed";
constexpr Millis kBlock{1'000};                 // one XREAD waits this long for new entries
constexpr auto kPause = std::chrono::milliseconds(500);  // after Redis trouble, before trying again
constexpr std::size_t kScanBatch = 200;
// Adopting an entry is an index insert on the event loop (up to a
// millisecond or two in a large partition): the loop gets a turn between
// groups of this many, so a load at start never holds it for a whole batch.
constexpr std::size_t kAdoptsPerTurn = 16;
constexpr std::size_t kMaxDimensions = 8'192;

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

template <class T>
bool parse_number(const std::string& text, T& out, int base = 10) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

std::vector<std::string> encode(const Record& r) {
  const Entry& e = *r.entry;
  std::string vector(r.vector.size() * sizeof(float), '\0');
  if (!r.vector.empty()) std::memcpy(vector.data(), r.vector.data(), vector.size());
  return {"HSET", kEntryPrefix + e.id,
          "tenant", r.tenant,
          "endpoint", std::to_string(static_cast<int>(r.endpoint)),
          "partition", hex_id(r.partition),
          "format", std::to_string(static_cast<int>(e.format)),
          "body", e.body,
          "prompt", e.prompt,
          "prompt_tokens", std::to_string(e.usage.prompt_tokens),
          "completion_tokens", std::to_string(e.usage.completion_tokens),
          "cached_tokens", std::to_string(e.usage.cached_tokens),
          "usage_known", e.usage.known ? "1" : "0",
          "embedder", e.embedder,
          "stored", std::to_string(to_ms(e.stored_at)),
          "expires", std::to_string(to_ms(e.expires_at)),
          "vector", std::move(vector)};
}

// An entry as HGETALL returned it; nullopt when anything is missing or off
// (another version's entry, a damaged one): it is skipped, never guessed at.
std::optional<Record> decode(const std::string& key, const Reply& reply, const CacheConfig& config) {
  if (!reply.is_array() || reply.size() % 2 != 0 || !key.starts_with(kEntryPrefix)) return std::nullopt;
  std::unordered_map<std::string_view, const std::string*> f;
  for (std::size_t i = 0; i + 1 < reply.size(); i += 2) {
    if (!reply[i].is_string() || !reply[i + 1].is_string()) return std::nullopt;
    f[reply[i].as_string()] = &reply[i + 1].as_string();
  }
  const auto get = [&](std::string_view name) -> const std::string* {
    const auto it = f.find(name);
    return it == f.end() ? nullptr : it->second;
  };
  for (const char* name : {"tenant", "endpoint", "partition", "format", "body", "prompt", "prompt_tokens",
                           "completion_tokens", "cached_tokens", "usage_known", "embedder", "stored", "expires", "vector"})
    if (!get(name)) return std::nullopt;
  Record r;
  Entry e;
  int endpoint = 0, format = 0;
  std::int64_t stored = 0, expires = 0;
  const std::string id = key.substr(kEntryPrefix.size());
  if (!parse_number(id, r.exact, 16) || !parse_number(*get("partition"), r.partition, 16) ||
      !parse_number(*get("endpoint"), endpoint) || !parse_number(*get("format"), format) ||
      !parse_number(*get("prompt_tokens"), e.usage.prompt_tokens) ||
      !parse_number(*get("completion_tokens"), e.usage.completion_tokens) ||
      !parse_number(*get("cached_tokens"), e.usage.cached_tokens) || !parse_number(*get("stored"), stored) ||
      !parse_number(*get("expires"), expires))
    return std::nullopt;
  constexpr int kLastEndpoint = static_cast<int>(Endpoint::responses);
  if (endpoint < 0 || endpoint > kLastEndpoint || format < 0 || format > kLastEndpoint) return std::nullopt;
  const std::string& vector = *get("vector");
  if (vector.size() % sizeof(float) != 0 || vector.size() / sizeof(float) > kMaxDimensions) return std::nullopt;
  if (get("body")->size() + get("prompt")->size() > config.max_entry_bytes) return std::nullopt;
  r.tenant = *get("tenant");
  r.endpoint = static_cast<Endpoint>(endpoint);
  e.format = static_cast<Endpoint>(format);
  e.body = *get("body");
  e.prompt = *get("prompt");
  e.usage.known = *get("usage_known") == "1";
  e.embedder = *get("embedder");
  e.id = hex_id(r.exact);
  e.stored_at = from_ms(stored);
  e.expires_at = from_ms(expires);
  r.vector.resize(vector.size() / sizeof(float));
  if (!vector.empty()) std::memcpy(r.vector.data(), vector.data(), vector.size());
  r.entry = std::make_shared<const Entry>(std::move(e));
  return r;
}

}  // namespace

struct Sharing::State {
  redis::Client* redis;
  redis::Client feed;  // XREAD BLOCK holds its connection: not the shared client's
  asio::any_io_executor executor;
  CacheConfig config;
  Adopt adopt;
  Known known;
  bool stopped = false;
  bool degraded = false;

  State(redis::Client& r, const RedisConfig& feed_config, asio::any_io_executor ex, const CacheConfig& c, Adopt a,
        Known k)
      : redis(&r), feed(ex, feed_config), executor(std::move(ex)), config(c), adopt(std::move(a)), known(std::move(k)) {}

  void trouble(std::string_view what, const std::string& why) {
    if (degraded || stopped) return;
    degraded = true;
    log::warn("cache_redis_degraded", {{"during", what}, {"error", why}, {"mode", "local-only"}});
  }
  void working() {
    if (!degraded) return;
    degraded = false;
    log::info("cache_redis_recovered", {});
  }

  // HGETALL of each key, adopted; false on Redis trouble.
  asio::awaitable<bool> fetch(const std::vector<std::string>& keys) {
    if (keys.empty()) co_return true;
    redis::Batch batch;
    for (const auto& key : keys) batch.add("HGETALL", key);
    auto replies = co_await redis->pipeline(std::move(batch));
    if (!replies) {
      trouble("fetch", replies.error().message);
      co_return false;
    }
    for (std::size_t i = 0; i < keys.size() && i < replies->size(); ++i) {
      if (i > 0 && i % kAdoptsPerTurn == 0) co_await asio::post(executor, asio::use_awaitable);
      if (stopped) co_return true;
      if (auto record = decode(keys[i], (*replies)[i], config)) adopt(std::move(*record));
    }
    co_return true;
  }

  // Every live entry, up to max_entries of them.
  asio::awaitable<bool> load() {
    std::string cursor = "0";
    std::size_t loaded = 0;
    do {
      auto r = co_await redis->command("SCAN", cursor, "MATCH", kEntryPrefix + "*", "COUNT", std::to_string(kScanBatch));
      if (!r || !r->is_array() || r->size() != 2) {
        trouble("load", r ? "unexpected SCAN reply" : r.error().message);
        co_return false;
      }
      cursor = (*r)[0].as_string();
      std::vector<std::string> keys;
      for (const auto& k : (*r)[1].elements()) keys.push_back(k.as_string());
      if (!co_await fetch(keys)) co_return false;
      loaded += keys.size();
    } while (cursor != "0" && loaded < config.max_entries && !stopped);
    co_return true;
  }

  asio::awaitable<void> pause() {
    asio::steady_timer timer(executor, kPause);
    co_await timer.async_wait(asio::use_awaitable);
  }

  // Loads, then follows the feed; after trouble, pauses and starts over.
  static asio::awaitable<void> follow(std::shared_ptr<State> self) {
    while (!self->stopped) {
      try {
        // The feed's newest id before loading: what is added during the
        // load is then read from the feed (adopting twice is harmless).
        auto head = co_await self->redis->command("XREVRANGE", kFeed, "+", "-", "COUNT", "1");
        if (!head || !head->is_array()) {
          self->trouble("load", head ? "unexpected XREVRANGE reply" : head.error().message);
          co_await self->pause();
          continue;
        }
        std::string last = head->size() > 0 ? (*head)[0][0].as_string() : "0-0";
        if (!co_await self->load()) {
          co_await self->pause();
          continue;
        }
        self->working();
        while (!self->stopped) {
          auto r = co_await self->feed.timed_command(kBlock + self->feed_timeout(), "XREAD", "COUNT", "100", "BLOCK",
                                                     std::to_string(kBlock.count()), "STREAMS", kFeed, last);
          if (!r) {
            self->trouble("follow", r.error().message);
            break;
          }
          self->working();
          if (!r->is_array() || r->size() == 0) continue;  // nil: nothing new within kBlock
          std::vector<std::string> keys;
          for (const auto& item : (*r)[0][1].elements()) {
            last = item[0].as_string();
            const auto& fields = item[1];
            std::string id;
            std::int64_t stored = -1;
            for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
              if (fields[i].as_string() == "id") id = fields[i + 1].as_string();
              if (fields[i].as_string() == "stored" && !parse_number(fields[i + 1].as_string(), stored)) stored = -1;
            }
            std::uint64_t exact = 0;
            if (id.empty() || !parse_number(id, exact, 16)) continue;
            if (stored >= 0 && self->known(exact, stored)) continue;
            keys.push_back(kEntryPrefix + id);
          }
          if (!co_await self->fetch(keys)) break;
        }
      } catch (const std::exception& e) {  // a reply of an unexpected shape
        self->trouble("follow", e.what());
      }
      if (!self->stopped) co_await self->pause();
    }
  }

  Millis feed_timeout() const { return Millis{2'000}; }

  static asio::awaitable<void> write(std::shared_ptr<State> self, redis::Batch batch) {
    auto replies = co_await self->redis->pipeline(std::move(batch));
    if (!replies) co_return self->trouble("store", replies.error().message);
    for (const auto& reply : *replies)
      if (reply.is_error()) co_return self->trouble("store", reply.as_string());
  }
};

Sharing::Sharing(redis::Client& redis, const RedisConfig& feed_config, asio::any_io_executor executor,
                 const CacheConfig& config, Adopt adopt, Known known)
    : state_(std::make_shared<State>(redis, feed_config, executor, config, std::move(adopt), std::move(known))) {
  asio::co_spawn(executor, State::follow(state_), asio::detached);
}

Sharing::~Sharing() {
  state_->stopped = true;
  state_->adopt = [](Record) {};
  state_->known = [](std::uint64_t, std::int64_t) { return true; };
  state_->feed.close();
}

void Sharing::publish(const Record& record) {
  if (state_->stopped) return;
  const std::string key = kEntryPrefix + record.entry->id;
  redis::Batch batch;
  batch.add(encode(record));
  batch.add("PEXPIREAT", key, std::to_string(to_ms(record.entry->expires_at)));
  // The feed is capped near max_entries: a replica further behind than that
  // misses the trimmed ids (their entries are loaded at its next start or
  // recovery).
  batch.add("XADD", kFeed, "MAXLEN", "~", std::to_string(std::max<std::size_t>(1'000, state_->config.max_entries)),
            "*", "id", record.entry->id, "stored", std::to_string(to_ms(record.entry->stored_at)));
  asio::co_spawn(state_->executor, State::write(state_, std::move(batch)), asio::detached);
}

}  // namespace sluice::cache
