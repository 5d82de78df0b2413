#include "sluice/pool/provider_pool.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "sluice/core/cost.hpp"

namespace sluice::pool {

namespace {

constexpr auto kMinute = std::chrono::minutes(1);
// A lease dropped without an outcome settles "now" without knowing the time:
// buckets never refill for a time point before their last update.
constexpr Clock::time_point kNoTimePassed{};

// What one bucket can ever hold of a request: a request larger than the
// whole bucket is admitted when the bucket is full, and the rest becomes debt
// at settle time (refusing it forever would be worse).
double fitting(const TokenBucket& bucket, double tokens) {
  return bucket.unlimited() ? tokens : std::min(tokens, bucket.capacity());
}

}  // namespace

// --- Demand ------------------------------------------------------------------

Demand Demand::of(const LlmRequest& req) {
  Demand d;
  d.prompt_tokens = static_cast<double>(sluice::estimate_tokens(req.prompt_chars()));
  d.max_tokens = req.max_tokens;
  d.completes = req.endpoint != Endpoint::embeddings;
  return d;
}

double Demand::tokens_on(const ProviderConfig& provider) const {
  if (!completes) return prompt_tokens;
  const std::int64_t budget = max_tokens && *max_tokens > 0 ? *max_tokens : provider.default_max_tokens;
  return prompt_tokens + static_cast<double>(budget);
}

// --- Lease -------------------------------------------------------------------

// Moving leaves `other` without a deployment (a moved-from shared_ptr is
// null), so only one of the two settles.
Lease::Lease(Lease&& other) noexcept = default;

// The lease held so far ends as a dropped one does (the destructor keeps its
// estimate charged), then takes `other`'s place.
Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    std::destroy_at(this);
    std::construct_at(this, std::move(other));
  }
  return *this;
}

Lease::~Lease() {
  if (deployment_) settle(tokens_, kNoTimePassed);
}

void Lease::settle(double actual_tokens, Clock::time_point now) {
  const std::shared_ptr<Deployment> held = std::move(deployment_);
  Deployment& d = *held;
  auto correct = [&](TokenBucket& bucket, double taken) {
    const double diff = actual_tokens - taken;
    if (diff > 0) bucket.charge(diff, now);
    else bucket.give_back(-diff, now);
  };
  correct(d.tpm, deployment_tokens_);
  correct(d.provider->tpm, provider_tokens_);
}

void Lease::succeeded(const Usage& usage, std::optional<double> remaining_requests,
                      std::optional<double> remaining_tokens, Clock::time_point now) {
  if (!deployment_) return;
  Deployment& d = *deployment_;
  settle(usage.known ? static_cast<double>(usage.prompt_tokens + usage.completion_tokens) : tokens_, now);
  d.consecutive_failures = 0;
  d.ejections = 0;
  // The provider knows what other clients of the account used: believe it
  // when it counts less room than we do, never when it counts more (it has
  // not seen our requests still in flight).
  auto recalibrate = [&](std::optional<double> remaining, TokenBucket& own, TokenBucket& account) {
    if (!remaining) return;
    TokenBucket& bucket = own.unlimited() ? account : own;
    if (!bucket.unlimited() && *remaining < bucket.available(now)) bucket.set_available(*remaining, now);
  };
  recalibrate(remaining_requests, d.rpm, d.provider->rpm);
  recalibrate(remaining_tokens, d.tpm, d.provider->tpm);
}

void Lease::rate_limited(Clock::duration retry_after, Clock::time_point now) {
  if (!deployment_) return;
  Deployment& d = *deployment_;
  settle(0, now);  // a refused request used no tokens
  const Clock::duration wait = retry_after.count() >= 0 ? retry_after : d.provider->config->cooldown;
  d.cooldown_until = std::max(d.cooldown_until, now + std::min(wait, d.policy->max_cooldown));
}

void Lease::failed(Clock::time_point now, bool generated) {
  if (!deployment_) return;
  Deployment& d = *deployment_;
  settle(generated ? tokens_ : 0, now);
  const PoolPolicy& policy = *d.policy;
  if (++d.consecutive_failures < policy.eject_after_failures) return;
  // Ejected for first_ejection, doubling with each ejection in a row. Once
  // back, a single further failure ejects again (half-open), for longer.
  const int doublings = std::min(d.ejections, 20);
  const auto period = std::min<Clock::duration>(policy.first_ejection * (std::int64_t{1} << doublings),
                                                policy.max_ejection);
  d.ejected_until = now + period;
  ++d.ejections;
  d.consecutive_failures = policy.eject_after_failures - 1;
}

void Lease::rejected(Clock::time_point now) {
  if (!deployment_) return;
  settle(0, now);
}

void Lease::unsent(Clock::time_point now) {
  if (!deployment_) return;
  Deployment& d = *deployment_;
  d.rpm.give_back(deployment_request_, now);
  d.provider->rpm.give_back(provider_request_, now);
  settle(0, now);
}

void Lease::credentials_refused(Clock::time_point now) {
  if (!deployment_) return;
  Deployment& d = *deployment_;
  settle(0, now);
  d.ejected_until = std::max(d.ejected_until, now + d.policy->credentials_ejection);
}

// --- ProviderPool --------------------------------------------------------------

ProviderPool::ProviderPool(const GatewayConfig& config, Clock::time_point now, PoolPolicy policy,
                           std::uint64_t seed)
    : policy_(std::make_shared<const PoolPolicy>(policy)), random_(seed) {
  std::map<std::string, std::shared_ptr<ProviderState>, std::less<>> providers;
  for (const ProviderConfig& p : config.providers) {
    providers_.push_back(std::make_shared<ProviderState>(
        ProviderState{&p, TokenBucket(p.rpm, kMinute, now), TokenBucket(p.tpm, kMinute, now)}));
    providers.emplace(p.name, providers_.back());
  }
  // One Deployment per (provider, model) pair; where groups configure
  // different limits for the same pair, the tightest wins.
  auto tighter = [](int a, int b) { return a == 0 ? b : (b == 0 ? a : std::min(a, b)); };
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> limits;
  for (const ModelConfig& m : config.models)
    for (const DeploymentConfig& dc : m.deployments) {
      auto [it, fresh] = limits.try_emplace({dc.provider, dc.model}, dc.rpm, dc.tpm);
      if (!fresh) it->second = {tighter(it->second.first, dc.rpm), tighter(it->second.second, dc.tpm)};
    }
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Deployment>> made;
  for (const auto& [key, rpm_tpm] : limits) {
    auto p = providers.find(key.first);
    if (p == providers.end()) continue;  // the loader rejects such configs
    deployments_.push_back(std::make_shared<Deployment>(p->second, policy_, key.second,
                                                        TokenBucket(rpm_tpm.first, kMinute, now),
                                                        TokenBucket(rpm_tpm.second, kMinute, now)));
    made.emplace(key, deployments_.back());
  }
  for (const ModelConfig& m : config.models) {
    Group& group = groups_[m.name];
    for (const DeploymentConfig& dc : m.deployments) {
      auto d = made.find({dc.provider, dc.model});
      if (d == made.end()) continue;
      // A price is per (provider, model): the first entry that sets one wins.
      if (!d->second->price || (dc.price && !d->second->priced_by_config)) {
        d->second->price = deployment_price(d->second->provider->config->type, dc);
        d->second->priced_by_config = dc.price.has_value();
      }
      const int weight = dc.weight > 0 ? dc.weight : d->second->provider->config->weight;
      group.push_back(Member{d->second, static_cast<double>(weight), dc.priority});
    }
  }
}

bool ProviderPool::has_group(std::string_view group) const { return find_group(group) != nullptr; }

bool ProviderPool::add_listed_group(std::string_view name, std::string_view provider, Clock::time_point now) {
  if (has_group(name)) return true;
  auto p = std::find_if(providers_.begin(), providers_.end(),
                        [&](const auto& state) { return state->config->name == provider; });
  if (p == providers_.end()) return false;
  auto d = std::find_if(deployments_.begin(), deployments_.end(),
                        [&](const auto& dep) { return dep->provider == *p && dep->model == name; });
  if (d == deployments_.end()) {
    // Listed in the configuration before a reload: its cooldown carries over.
    auto carried = std::find_if(carried_listed_.begin(), carried_listed_.end(),
                                [&](const auto& dep) { return dep->provider == *p && dep->model == name; });
    if (carried != carried_listed_.end()) {
      (*carried)->rpm.set_capacity(0, kMinute, now);  // a listed model has no limits of its own
      (*carried)->tpm.set_capacity(0, kMinute, now);
      deployments_.push_back(*carried);
      carried_listed_.erase(carried);
      groups_.emplace(std::string(name), Group{Member{deployments_.back(), static_cast<double>((*p)->config->weight), 0}});
      return true;
    }
    deployments_.push_back(std::make_shared<Deployment>(*p, policy_, std::string(name), TokenBucket(0, kMinute, now),
                                                        TokenBucket(0, kMinute, now)));
    deployments_.back()->price = builtin_price((*p)->config->type, name);
    d = deployments_.end() - 1;
  }
  groups_.emplace(std::string(name), Group{Member{*d, static_cast<double>((*p)->config->weight), 0}});
  return true;
}

std::size_t ProviderPool::carry_over(ProviderPool& previous, Clock::time_point now) {
  // Accounts first: a carried deployment must end up on the carried account.
  for (std::shared_ptr<ProviderState>& fresh : providers_) {
    auto old = std::find_if(previous.providers_.begin(), previous.providers_.end(),
                            [&](const auto& p) { return p->config->name == fresh->config->name; });
    if (old == previous.providers_.end()) continue;
    ProviderState& kept = **old;
    kept.config = fresh->config;
    kept.rpm.set_capacity(fresh->rpm.capacity(), kMinute, now);
    kept.tpm.set_capacity(fresh->tpm.capacity(), kMinute, now);
    for (auto& d : deployments_)
      if (d->provider == fresh) d->provider = *old;
    fresh = *old;
  }
  std::size_t carried = 0;
  std::map<const Deployment*, std::shared_ptr<Deployment>> replaced;
  for (std::shared_ptr<Deployment>& fresh : deployments_) {
    auto old = std::find_if(previous.deployments_.begin(), previous.deployments_.end(), [&](const auto& d) {
      return d->provider == fresh->provider && d->model == fresh->model;
    });
    if (old == previous.deployments_.end()) continue;
    Deployment& kept = **old;
    kept.rpm.set_capacity(fresh->rpm.capacity(), kMinute, now);
    kept.tpm.set_capacity(fresh->tpm.capacity(), kMinute, now);
    kept.price = fresh->price;
    kept.priced_by_config = fresh->priced_by_config;
    replaced.emplace(fresh.get(), *old);
    fresh = *old;
    ++carried;
  }
  for (auto& [name, group] : groups_)
    for (Member& m : group)
      if (auto it = replaced.find(m.deployment.get()); it != replaced.end()) m.deployment = it->second;
  // What the old pool's providers listed, where the provider stays.
  for (const auto& d : previous.deployments_) {
    const bool still_provider = std::find(providers_.begin(), providers_.end(), d->provider) != providers_.end();
    const bool taken = std::find(deployments_.begin(), deployments_.end(), d) != deployments_.end();
    if (still_provider && !taken) carried_listed_.push_back(d);
  }
  return carried;
}

const ProviderPool::Group* ProviderPool::find_group(std::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

bool ProviderPool::has_room(Deployment& d, double tokens, Clock::time_point now) {
  ProviderState& p = *d.provider;
  return d.rpm.available(now) >= fitting(d.rpm, 1) && p.rpm.available(now) >= fitting(p.rpm, 1) &&
         d.tpm.available(now) >= fitting(d.tpm, tokens) && p.tpm.available(now) >= fitting(p.tpm, tokens);
}

bool ProviderPool::all_ejected(const Group& group, Clock::time_point now) const {
  return std::all_of(group.begin(), group.end(), [&](const Member& m) { return m.deployment->ejected(now); });
}

bool ProviderPool::eligible(const Member& m, const Demand& demand, Clock::time_point now, bool ignore_ejection) {
  Deployment& d = *m.deployment;
  return !d.cooling(now) && (ignore_ejection || !d.ejected(now)) &&
         has_room(d, demand.tokens_on(*d.provider->config), now);
}

std::vector<Deployment*> ProviderPool::candidates(std::string_view name, const Demand& demand,
                                                  Clock::time_point now) {
  std::vector<Deployment*> out;
  const Group* group = find_group(name);
  if (!group) return out;
  const bool ignore_ejection = all_ejected(*group, now);
  // Weighted order without replacement: each candidate is a pick among those
  // left, so the first follows the weights exactly and the rest are the
  // failover order (lowest priority first, as every pick is).
  auto left = [&](const Member& m) {
    return std::find(out.begin(), out.end(), m.deployment.get()) == out.end() &&
           eligible(m, demand, now, ignore_ejection);
  };
  while (Deployment* d = pick(*group, left)) out.push_back(d);
  return out;
}

Lease ProviderPool::acquire(std::string_view group, const Demand& demand, Clock::time_point now,
                            std::span<Deployment* const> avoid, std::span<Deployment* const> retry_ok) {
  const Group* g = find_group(group);
  if (!g) return Lease{};
  const bool ignore_ejection = all_ejected(*g, now);
  auto listed = [](std::span<Deployment* const> list, const Member& m) {
    return std::find(list.begin(), list.end(), m.deployment.get()) != list.end();
  };
  auto take = [&](Deployment& d) {
    // The room was checked in this same synchronous step, so the takes
    // cannot fail: nothing else ran in between.
    ProviderState& p = *d.provider;
    const double tokens = demand.tokens_on(*p.config);
    const double on_deployment = fitting(d.tpm, tokens), on_provider = fitting(p.tpm, tokens);
    const double request_on_deployment = fitting(d.rpm, 1), request_on_provider = fitting(p.rpm, 1);
    d.rpm.try_take(request_on_deployment, now);
    p.rpm.try_take(request_on_provider, now);
    d.tpm.try_take(on_deployment, now);
    p.tpm.try_take(on_provider, now);
    Lease lease(d.shared_from_this(), tokens);
    lease.deployment_tokens_ = on_deployment;
    lease.provider_tokens_ = on_provider;
    lease.deployment_request_ = request_on_deployment;
    lease.provider_request_ = request_on_provider;
    return lease;
  };
  // The head of candidates() without building the list (this runs on every
  // request): untried deployments first, then those that may be retried.
  auto untried = [&](const Member& m) { return !listed(avoid, m) && eligible(m, demand, now, ignore_ejection); };
  auto retriable = [&](const Member& m) { return listed(retry_ok, m) && eligible(m, demand, now, ignore_ejection); };
  if (Deployment* d = pick(*g, untried)) return take(*d);
  if (Deployment* d = pick(*g, retriable)) return take(*d);
  return Lease{};
}

template <class Allowed>
Deployment* ProviderPool::pick(const Group& group, Allowed allowed) {
  // The lowest priority with an allowed member, and the weight there.
  int priority = 0;
  double total = 0;
  bool any = false;
  for (const Member& m : group) {
    if (any && m.priority > priority) continue;
    if (!allowed(m)) continue;
    if (!any || m.priority < priority) {
      priority = m.priority;
      total = 0;
      any = true;
    }
    total += m.weight;
  }
  if (!any) return nullptr;
  double point = std::uniform_real_distribution<double>(0.0, total)(random_);
  Deployment* last = nullptr;
  for (const Member& m : group) {
    if (m.priority != priority || !allowed(m)) continue;
    last = m.deployment.get();
    if (point < m.weight) break;
    point -= m.weight;
  }
  return last;
}

Clock::duration ProviderPool::wait_hint(std::string_view name, const Demand& demand, Clock::time_point now) {
  const Group* group = find_group(name);
  if (!group || group->empty()) return Clock::duration::zero();
  const bool ignore_ejection = all_ejected(*group, now);
  Clock::duration best = Clock::duration::max();
  for (const Member& m : *group) {
    Deployment& d = *m.deployment;
    ProviderState& p = *d.provider;
    const double tokens = demand.tokens_on(*p.config);
    Clock::duration wait = std::max({d.rpm.time_until(1, now), p.rpm.time_until(1, now),
                                     d.tpm.time_until(tokens, now), p.tpm.time_until(tokens, now)});
    if (d.cooling(now)) wait = std::max(wait, d.cooldown_until - now);
    if (!ignore_ejection && d.ejected(now)) wait = std::max(wait, d.ejected_until - now);
    best = std::min(best, wait);
  }
  return best;
}

GroupLimits ProviderPool::limits(std::string_view name, Clock::time_point now) {
  GroupLimits out;
  const Group* group = find_group(name);
  if (!group || group->empty()) return out;
  // Unlimited buckets count as infinity, so one unlimited part makes the sum
  // unlimited. Per provider: the sum over its deployments in the group,
  // bounded by the account's own bucket.
  auto cap = [](const TokenBucket& b) { return b.unlimited() ? INFINITY : b.capacity(); };
  auto left = [&](TokenBucket& b) { return std::max(0.0, b.available(now)); };
  double limit_requests = 0, remaining_requests = 0, limit_tokens = 0, remaining_tokens = 0;
  for (auto first = group->begin(); first != group->end(); ++first) {
    ProviderState* p = first->deployment->provider.get();
    const auto same_provider = [&](const Member& m) { return m.deployment->provider.get() == p; };
    if (std::any_of(group->begin(), first, same_provider)) continue;  // summed already
    double rpm_cap = 0, rpm_left = 0, tpm_cap = 0, tpm_left = 0;
    for (const Member& m : *group) {
      if (m.deployment->provider.get() != p) continue;
      rpm_cap += cap(m.deployment->rpm);
      rpm_left += left(m.deployment->rpm);
      tpm_cap += cap(m.deployment->tpm);
      tpm_left += left(m.deployment->tpm);
    }
    limit_requests += std::min(rpm_cap, cap(p->rpm));
    remaining_requests += std::min(rpm_left, left(p->rpm));
    limit_tokens += std::min(tpm_cap, cap(p->tpm));
    remaining_tokens += std::min(tpm_left, left(p->tpm));
  }
  auto whole = [](double v) -> std::optional<std::int64_t> {
    if (std::isinf(v)) return std::nullopt;
    return static_cast<std::int64_t>(std::floor(v));
  };
  out.limit_requests = whole(limit_requests);
  out.remaining_requests = whole(remaining_requests);
  out.limit_tokens = whole(limit_tokens);
  out.remaining_tokens = whole(remaining_tokens);
  return out;
}

}  // namespace sluice::pool
