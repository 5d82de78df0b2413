// Per-request state every stage may read or annotate: ids, the decisions made
// (for response headers and the access log), timings, and the cancellation
// signal that fires when the client goes away.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "sluice/core/config.hpp"
#include "sluice/core/cost.hpp"
#include "sluice/core/request.hpp"

namespace sluice {

// A one-shot signal. The session fires it when the client disconnects or the
// gateway gives up on the request; whoever holds an upstream socket for the
// request registers a handler that closes it, so blocked I/O ends at once.
// Single-threaded: used on the request's executor only.
class Cancellation {
 public:
  // Unregisters its handler on destruction, unless a newer one replaced it.
  class Registration {
   public:
    Registration() = default;
    Registration(Cancellation* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    Registration(Registration&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), id_(o.id_) {}
    Registration& operator=(Registration&& o) noexcept {
      reset();
      owner_ = std::exchange(o.owner_, nullptr);
      id_ = o.id_;
      return *this;
    }
    ~Registration() { reset(); }
    void reset() {
      if (owner_ && owner_->handler_id_ == id_) owner_->handler_ = nullptr;
      owner_ = nullptr;
    }

   private:
    Cancellation* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  bool cancelled() const noexcept { return cancelled_; }

  // Fires the signal: runs the registered handler (once) and marks cancelled.
  void cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    if (auto h = std::exchange(handler_, nullptr)) h();
  }

  // Registers the handler to run on cancel(); only one at a time (the current
  // I/O step). If already cancelled the handler runs immediately.
  [[nodiscard]] Registration on_cancel(std::function<void()> handler) {
    if (cancelled_) {
      handler();
      return Registration{};
    }
    handler_ = std::move(handler);
    return Registration{this, ++handler_id_};
  }

 private:
  bool cancelled_ = false;
  std::function<void()> handler_;
  std::uint64_t handler_id_ = 0;
};

// The limits of a model group as a client sees them: the sum over its
// deployments, each bounded by its provider's account limit. Unset when some
// deployment has no such limit (the group as a whole is then unlimited).
struct GroupLimits {
  std::optional<std::int64_t> limit_requests, remaining_requests;
  std::optional<std::int64_t> limit_tokens, remaining_tokens;
};

// What the cache stage decided, for x-sluice-cache and the access log.
enum class CacheDecision { none, bypass, miss, hit_exact, hit_semantic };

struct RequestContext {
  using Clock = std::chrono::steady_clock;

  std::string request_id;
  Clock::time_point started = Clock::now();
  Cancellation cancellation;

  // Decisions, each filled by the stage that makes it, for the x-sluice-*
  // headers, the access log and (later) metrics.
  std::string tenant;           // who is calling (authentication)
  std::string key_id;           // the gateway key's id (never the key); empty without one
  std::string model;            // what the client asked for
  std::string group;            // the model group that serves it (the router's choice for an alias)
  std::string tier;             // the router's tier that served it; empty when not routed
  std::string route_decision;   // the tier the router chose (tier differs in shadow mode or one tier up)
  std::string route_reason;     // why, short and header-safe: "code+multi-step", "rule:vip", "knn"
  std::optional<double> route_score;  // 0..1: the complexity score, or the knn vote; none for a rule
  CacheDecision cache = CacheDecision::none;
  std::optional<float> cache_similarity;  // hit_semantic: the served entry's cosine
  std::string cache_key;        // a hit: the entry served (its exact hash, hex)
  Usage cache_saved;            // a hit: the usage the cached answer cost when it was made
  std::string provider;         // provider that answered
  std::string upstream_model;   // model name sent to that provider
  int attempts = 0;             // upstream attempts made
  int retries = 0;              // attempts after a failure (5xx, timeout, connect error)
  int cooldowns = 0;            // deployments put into cooldown by a 429 on the way
  GroupLimits limits;           // the group's capacity after this request, for x-ratelimit-*
  Usage usage;
  std::optional<Price> price;   // the answering deployment's, when known: cost = price x usage
  Clock::duration queued{};         // time spent waiting in the overflow queue
  Clock::duration upstream_time{};  // request sent -> response head (first byte for streams)

  // What the request cost in USD; unknown without a price for its deployment.
  std::optional<double> cost_usd() const {
    return price ? std::optional<double>(sluice::cost_usd(*price, usage)) : std::nullopt;
  }
};

}  // namespace sluice
