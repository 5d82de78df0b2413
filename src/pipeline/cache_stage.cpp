// The cache stage: a stored answer served before routing (a hit takes no
// rate-limit tokens and no provider capacity), and a complete 2xx answer
// stored after it was made: a complete body at once, a stream once its
// terminal event went by cleanly. Precision first: whatever is unusual (a
// stream that broke or was abandoned, a body too large, an answer that ends
// in tool calls without cache.tool_calls) is simply not stored.
#include "cache_stage.hpp"

#include <charconv>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "cached_answer.hpp"
#include "sluice/core/log.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

namespace {

// The answer formats a stored answer can be replayed in.
bool cacheable(Endpoint endpoint) {
  return endpoint == Endpoint::chat_completions || endpoint == Endpoint::messages || endpoint == Endpoint::responses;
}

std::string hex(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = kDigits[value & 15];
  return out;
}

// Runs detached: the client has its answer; storing is the cache's business
// (and never fails a request).
asio::awaitable<void> store_entry(cache::Cache* cache, cache::Key key, cache::Entry entry, std::vector<float> vector,
                                  std::string request_id) {
  try {
    co_await cache->store(key, std::move(entry), std::move(vector));
  } catch (const std::exception& e) {
    log::warn("cache_store_failed", {{"request_id", request_id}, {"what", e.what()}});
  }
}

// An entry is worth storing: within the size bound, and not ending in tool
// calls unless the configuration allows them.
struct StorePolicy {
  std::size_t max_entry_bytes = 0;
  bool tool_calls = false;

  bool allows(Endpoint format, std::string_view body) const {
    return body.size() <= max_entry_bytes && (tool_calls || !ends_in_tool_calls(format, body));
  }
};

cache::Entry entry_of(const cache::Key& key, Endpoint format, std::string body, const Usage& usage) {
  cache::Entry entry;
  entry.format = format;
  entry.body = std::move(body);
  entry.usage = usage;
  entry.prompt = key.prompt;
  entry.id = hex(key.exact);
  entry.stored_at = std::chrono::system_clock::now();
  return entry;
}

// Relays a stream and adds its events up; on the clean end, the complete
// answer goes to the cache. A stream that breaks, or is dropped before its
// end (the client left), stores nothing.
class CachingStream final : public ChunkStream {
 public:
  CachingStream(std::unique_ptr<ChunkStream> inner, Endpoint format, cache::Cache* cache, StorePolicy policy,
                cache::Key key, std::vector<float> vector, std::string request_id)
      : inner_(std::move(inner)), format_(format), accumulator_(format, policy.max_entry_bytes), cache_(cache),
        policy_(policy), key_(std::move(key)), vector_(std::move(vector)), request_id_(std::move(request_id)) {}

  asio::awaitable<Result<std::string>> next() override {
    auto events = co_await inner_->next();
    if (done_) co_return events;
    if (!events) {
      done_ = true;
    } else if (events->empty()) {
      done_ = true;
      co_await stored();
    } else {
      accumulator_.feed(*events);
    }
    co_return events;
  }

  Usage usage() const override { return inner_->usage(); }
  std::string failure_event(const Error& error) override { return inner_->failure_event(error); }

 private:
  asio::awaitable<void> stored() {
    std::optional<std::string> body = accumulator_.finish(inner_->usage());
    if (!body || !policy_.allows(format_, *body)) {
      log::debug("cache_not_stored", {{"request_id", request_id_}, {"reason", body ? "policy" : "incomplete"}});
      co_return;
    }
    cache::Entry entry = entry_of(key_, format_, std::move(*body), inner_->usage());
    asio::co_spawn(co_await asio::this_coro::executor,
                   store_entry(cache_, std::move(key_), std::move(entry), std::move(vector_), request_id_),
                   asio::detached);
  }

  std::unique_ptr<ChunkStream> inner_;
  Endpoint format_;
  AnswerAccumulator accumulator_;
  cache::Cache* cache_;
  StorePolicy policy_;
  cache::Key key_;
  std::vector<float> vector_;
  std::string request_id_;
  bool done_ = false;
};

}  // namespace

Result<std::optional<float>> parse_cache_threshold(std::string_view value) {
  if (value.empty()) return std::optional<float>();
  float threshold = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), threshold);
  if (ec != std::errc() || end != value.data() + value.size() || !(threshold >= 0 && threshold <= 1))
    return make_error(errc::bad_request,
                      std::string(kCacheThresholdHeader) + " must be a similarity between 0 and 1, e.g. 0.95");
  return std::optional<float>(threshold);
}

void Pipeline::set_cache(cache::Cache* cache, CacheConfig config) {
  cache_ = cache;
  cache_config_ = std::move(config);
}

asio::awaitable<Result<std::optional<Answer>>> Pipeline::cache_lookup(const auth::Caller& caller, const Call& call,
                                                                      RequestContext& ctx, CachePlan& plan) {
  const LlmRequest& req = call.request;
  std::optional<float> threshold;
  for (const Header& h : call.headers)
    if (h.name == kCacheThresholdHeader) {
      auto parsed = parse_cache_threshold(h.value);
      if (!parsed) co_return std::move(parsed).error();
      threshold = *parsed;
    }
  if (cacheable(req.endpoint)) plan.key = cache::make_key(req, caller.tenant(), cache_config_);
  if (!plan.key || call.cache != CacheDirective::normal) {
    // Embeddings, n > 1 and the like are never cached; no-cache asks for a fresh
    // answer (which is stored), no-store for one the cache never sees.
    ctx.cache = CacheDecision::bypass;
    if (call.cache == CacheDirective::no_store) plan.key.reset();
    co_return std::optional<Answer>();
  }

  cache::Found found = co_await cache_->lookup(*plan.key, threshold);
  plan.vector = std::move(found.vector);
  ctx.cache = CacheDecision::miss;
  if (!found.entry || (found.outcome != cache::Outcome::hit_exact && found.outcome != cache::Outcome::hit_semantic)) {
    if (!found.rejected_by.empty())
      log::debug("cache_candidate_rejected", {{"request_id", ctx.request_id}, {"rule", found.rejected_by}});
    co_return std::optional<Answer>();
  }

  // A hit: the stored answer, made fresh, as a body or replayed as a stream.
  const cache::Entry& entry = *found.entry;
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(clock_->wall().time_since_epoch()).count();
  auto body = refreshed_body(entry.body, fresh_answer_id(entry.format, random()), created, req.model);
  Answer answer;
  answer.format = entry.format;
  answer.usage = entry.usage;
  if (body && req.stream) {
    auto events = replay_events(entry.format, *body, entry.usage, req.include_usage);
    if (events) answer.stream = replay_stream(std::move(*events), entry.usage);
    else body.reset();
  } else if (body) {
    answer.body = std::move(*body);
  }
  if (!body) {  // an entry this request's endpoint cannot be served (the key should have kept it apart)
    log::warn("cache_entry_unusable", {{"request_id", ctx.request_id}, {"key", entry.id}});
    co_return std::optional<Answer>();
  }
  plan.key.reset();  // served from the cache: nothing new to store
  ctx.cache = found.outcome == cache::Outcome::hit_exact ? CacheDecision::hit_exact : CacheDecision::hit_semantic;
  if (ctx.cache == CacheDecision::hit_semantic) ctx.cache_similarity = found.similarity;
  ctx.cache_key = entry.id;
  ctx.cache_saved = entry.usage;
  ctx.group = req.model;
  co_return std::optional<Answer>(std::move(answer));
}

asio::awaitable<void> Pipeline::cache_store(CachePlan plan, Answer& answer, RequestContext& ctx) {
  if (answer.status < 200 || answer.status > 299 || !cacheable(answer.format)) co_return;
  const StorePolicy policy{cache_config_.max_entry_bytes, cache_config_.tool_calls};
  if (answer.stream) {
    answer.stream = std::make_unique<CachingStream>(std::move(answer.stream), answer.format, cache_, policy,
                                                    std::move(*plan.key), std::move(plan.vector), ctx.request_id);
    co_return;
  }
  if (!policy.allows(answer.format, answer.body)) co_return;
  cache::Entry entry = entry_of(*plan.key, answer.format, answer.body, answer.usage);
  asio::co_spawn(co_await asio::this_coro::executor,
                 store_entry(cache_, std::move(*plan.key), std::move(entry), std::move(plan.vector), ctx.request_id),
                 asio::detached);
}

}  // namespace sluice::pipeline
