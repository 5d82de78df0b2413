// ProviderPool: which deployment serves a request, and whether any may.
//
// A model group (what a client asks for) lists deployments (provider +
// upstream model), each with a weight. Every deployment has an RPM and a TPM
// token bucket of its own, and every provider one pair for the whole account;
// a request must fit in all four. Choosing is weighted random among eligible
// deployments: healthy (not ejected after repeated failures or refused
// credentials), not cooling down (after a 429), with room in their buckets; a
// lower `priority` goes first (primary and fallback deployments). The choice
// returns an ordered candidate list, so failover simply walks it.
//
// Capacity is reserved before the call (one request; prompt estimate plus the
// completion budget in tokens) and settled with the real usage afterwards, in
// the same synchronous step that chose the deployment: concurrent requests
// can never overshoot a limit together (check-then-act). A Lease owns a
// reservation until its outcome is reported.
//
// Pure and single-threaded: time is passed in, randomness is seeded, so tests
// drive every timing without sleeping. The pipeline owns the clock and the
// event loop; this class never blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/request.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/core/token_bucket.hpp"

namespace sluice::pool {

using Clock = sluice::Clock;  // time is passed in, never read here

// Timing policy. The defaults are what the gateway runs with; tests may pass
// others. Cooldowns come from the provider (Retry-After) or its `cooldown`.
struct PoolPolicy {
  int eject_after_failures = 3;                   // consecutive failures that eject a deployment
  Clock::duration first_ejection = std::chrono::seconds(5);   // doubles with every ejection in a row
  Clock::duration max_ejection = std::chrono::minutes(5);
  Clock::duration max_cooldown = std::chrono::minutes(5);     // cap on a provider's Retry-After
  // Out of choice after the provider refused the gateway's credentials (401/403).
  Clock::duration credentials_ejection = std::chrono::minutes(5);
  // Pause before retrying after a failure: doubles per retry up to the cap,
  // the second half random (jitter).
  Clock::duration backoff_base = std::chrono::milliseconds(50);
  Clock::duration backoff_max = std::chrono::seconds(2);
};

// Shared state of one provider account.
struct ProviderState {
  const ProviderConfig* config = nullptr;
  TokenBucket rpm;
  TokenBucket tpm;
};

// Shared state of one (provider, upstream model) pair: the same pair listed in
// two model groups is one deployment with one set of buckets. Leases share
// its ownership, so a stream still open when the gateway is torn down can
// settle safely.
struct Deployment : std::enable_shared_from_this<Deployment> {
  Deployment(std::shared_ptr<ProviderState> p, std::shared_ptr<const PoolPolicy> pol, std::string m, TokenBucket r,
             TokenBucket t)
      : provider(std::move(p)), policy(std::move(pol)), model(std::move(m)), rpm(r), tpm(t) {}

  std::shared_ptr<ProviderState> provider;
  std::shared_ptr<const PoolPolicy> policy;
  std::string model;  // the upstream model name
  TokenBucket rpm;
  TokenBucket tpm;
  Clock::time_point cooldown_until{};  // after a 429
  Clock::time_point ejected_until{};   // after repeated failures, or refused credentials
  int consecutive_failures = 0;
  int ejections = 0;                   // in a row; reset by a success
  std::optional<Price> price;          // per million tokens; unset: unknown (no cost is reported)
  bool priced_by_config = false;

  const std::string& provider_name() const noexcept { return provider->config->name; }
  bool cooling(Clock::time_point now) const noexcept { return now < cooldown_until; }
  bool ejected(Clock::time_point now) const noexcept { return now < ejected_until; }
};

class ProviderPool;

// What a request will cost in tokens, before the provider is known: the
// prompt estimate plus the completion budget (max_tokens, else the chosen
// provider's default_max_tokens; none for embeddings).
struct Demand {
  double prompt_tokens = 0;
  std::optional<std::int64_t> max_tokens;
  bool completes = true;  // false for embeddings: no completion tokens

  static Demand of(const LlmRequest& req);
  double tokens_on(const ProviderConfig& provider) const;
};

// A reservation on one deployment's buckets, held while the attempt runs.
// Exactly one outcome settles it; if none is reported (the client went away,
// an exception), the destructor keeps the estimate charged.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();

  explicit operator bool() const noexcept { return deployment_ != nullptr; }
  Deployment& deployment() const noexcept { return *deployment_; }

  // The upstream answered: settle tokens with its usage (the estimate stays
  // charged when usage is unknown), re-calibrate from its remaining counts,
  // and mark the deployment healthy.
  void succeeded(const Usage& usage, std::optional<double> remaining_requests,
                 std::optional<double> remaining_tokens, Clock::time_point now);
  // The upstream answered 429: cool the deployment down for `retry_after`
  // (negative: the provider's configured cooldown; capped by the policy).
  void rate_limited(Clock::duration retry_after, Clock::time_point now);
  // 5xx, connect error, timeout, broken stream: counts towards ejection.
  // The tokens go back, unless the upstream had already been generating
  // (a stream that broke midway): then the estimate stays charged.
  void failed(Clock::time_point now, bool generated = false);
  // The upstream refused the request itself (a 4xx other than 408/409/429):
  // the deployment is fine; unused tokens go back.
  void rejected(Clock::time_point now);
  // The upstream refused the gateway's own credentials (401/403): every
  // request would meet the same refusal, so the deployment is ejected at
  // once, for the policy's credentials_ejection (not the growing ejection of
  // failures: a key is fixed by an operator, not by waiting). The tokens go
  // back. As for any ejection, a group whose every deployment is ejected
  // ignores it.
  void credentials_refused(Clock::time_point now);
  // The request never left (the client went away while the connection was
  // being opened: Error::unsent): its request and tokens go back, and the
  // deployment's health is not judged.
  void unsent(Clock::time_point now);

 private:
  friend class ProviderPool;
  Lease(std::shared_ptr<Deployment> deployment, double tokens) : deployment_(std::move(deployment)), tokens_(tokens) {}
  void settle(double actual_tokens, Clock::time_point now);

  std::shared_ptr<Deployment> deployment_;  // null once settled
  double tokens_ = 0;                 // the estimate
  double provider_tokens_ = 0;        // taken from each TPM bucket (a bucket
  double deployment_tokens_ = 0;      // never takes more than its capacity)
  double provider_request_ = 0;       // the request taken from each RPM
  double deployment_request_ = 0;     // bucket (1, or a capacity below it)
};

class ProviderPool {
 public:
  // Every deployment's provider must exist in `config` (the loader checks).
  // `config` must outlive the pool.
  ProviderPool(const GatewayConfig& config, Clock::time_point now, PoolPolicy policy = {},
               std::uint64_t seed = std::random_device{}());

  bool has_group(std::string_view group) const;

  // Adds the group `name`, served by `provider`'s model of the same name (a
  // model the provider listed itself, e.g. Ollama's): no limits of its own,
  // the provider's apply. True when the group exists (now or before); false
  // for an unknown provider.
  bool add_listed_group(std::string_view name, std::string_view provider, Clock::time_point now);

  // The eligible deployments of `group` in weighted random order: not ejected
  // (unless every deployment of the group is: then ejection is ignored, so
  // that failures never take a whole group out), not cooling down, and with
  // room for one request of `demand` in all four buckets. Ordered by
  // priority, then weighted random. Empty for an unknown group.
  std::vector<Deployment*> candidates(std::string_view group, const Demand& demand, Clock::time_point now);

  // Chooses and reserves in one step: the first candidate not in `avoid`
  // whose buckets take the reservation; failing that, the first in
  // `retry_ok` (deployments that failed earlier in this request and may be
  // tried again). No lease when nothing has room.
  Lease acquire(std::string_view group, const Demand& demand, Clock::time_point now,
                std::span<Deployment* const> avoid = {}, std::span<Deployment* const> retry_ok = {});

  // How long until `group` could take `demand`: the earliest moment some
  // deployment is out of cooldown and ejection with room in its buckets.
  // Zero when one could now.
  Clock::duration wait_hint(std::string_view group, const Demand& demand, Clock::time_point now);

  GroupLimits limits(std::string_view group, Clock::time_point now);

  const PoolPolicy& policy() const noexcept { return *policy_; }

  // A configuration reload: this pool was built from the new configuration,
  // `previous` serves the old one. Every provider account (by name) and
  // deployment (by provider name and upstream model) that both know becomes
  // one shared state again: bucket levels, cooldowns, ejections and the
  // reservations of requests still in flight on the old pool carry over,
  // under the new limits (TokenBucket::set_capacity: a level above a lowered
  // limit is clamped). Those the new configuration dropped stay with
  // `previous` alone; new ones start fresh. The shared states take this
  // pool's configuration (which must outlive every pool that uses them),
  // so call it only once the new configuration is certain to be used.
  // Returns how many deployments were carried over.
  std::size_t carry_over(ProviderPool& previous, Clock::time_point now);

  // Every deployment, for the metrics' scrape-time gauges (bucket levels,
  // cooldown, ejection).
  const std::vector<std::shared_ptr<Deployment>>& deployments() const noexcept { return deployments_; }

 private:
  struct Member {
    std::shared_ptr<Deployment> deployment;
    double weight;
    int priority;
  };
  using Group = std::vector<Member>;

  const Group* find_group(std::string_view name) const;
  bool has_room(Deployment& d, double tokens, Clock::time_point now);
  // Not cooling, not ejected (unless the whole group is), room for `demand`.
  bool eligible(const Member& m, const Demand& demand, Clock::time_point now, bool ignore_ejection);
  // Weighted random among the allowed members of the lowest priority that has any.
  template <class Allowed>
  Deployment* pick(const Group& group, Allowed allowed);
  bool all_ejected(const Group& group, Clock::time_point now) const;

  std::shared_ptr<const PoolPolicy> policy_;
  std::vector<std::shared_ptr<ProviderState>> providers_;
  std::vector<std::shared_ptr<Deployment>> deployments_;
  std::map<std::string, Group, std::less<>> groups_;
  // Deployments a provider listed (add_listed_group) in the previous pool,
  // kept for when it lists them again.
  std::vector<std::shared_ptr<Deployment>> carried_listed_;
  std::mt19937_64 random_;
};

}  // namespace sluice::pool
