#include "sluice/auth/gatekeeper.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sluice/core/token_bucket.hpp"

namespace sluice::auth {

namespace {

constexpr auto kMinute = std::chrono::minutes(1);

std::string sha256(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32)
    throw std::runtime_error("SHA-256 is not available");
  return std::string(reinterpret_cast<const char*>(digest.data()), size);
}

std::string from_hex(std::string_view hex) {  // validated by the config loader
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// Months since year 0: the budget's period.
int month_of(Clock::wall_time t) {
  const std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(t)};
  return static_cast<int>(day.year()) * 12 + static_cast<int>(static_cast<unsigned>(day.month())) - 1;
}

std::string first_of_next_month(int month) {
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-01", (month + 1) / 12, (month + 1) % 12 + 1);
  return text;
}

std::string utc_text(Clock::wall_time t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{std::chrono::floor<std::chrono::seconds>(t - day)};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long long>(time.hours().count()), static_cast<long long>(time.minutes().count()),
                static_cast<long long>(time.seconds().count()));
  return text;
}

std::string dollars(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.2f", usd);
  return text;
}

Error key_rate_limited(std::string_view what, int limit, Clock::duration wait) {
  Error e = make_error(errc::rate_limited, "This key's limit of " + std::to_string(limit) + " " + std::string(what) +
                                               " per minute is reached; retry after " +
                                               std::to_string(retry_after_seconds(wait)) + " s.");
  e.retry_after_ms = retry_after_ms(wait);
  return e;
}

const std::string kNoTenant = "anonymous";
const std::string kNoKey;

}  // namespace

struct KeyState {
  KeyState(GatewayKeyConfig c, std::string key_id, Clock::time_point now)
      : config(std::move(c)), id(std::move(key_id)), rpm(config.rpm, kMinute, now), tpm(config.tpm, kMinute, now) {}

  GatewayKeyConfig config;
  std::string id;
  TokenBucket rpm, tpm;
  int spend_month = -1;  // the month spent_usd counts in
  double spent_usd = 0;
};

bool is_loopback(const boost::asio::ip::address& peer) noexcept {
  if (peer.is_v6() && peer.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6()).is_loopback();
  return peer.is_loopback();
}

// --- Caller -----------------------------------------------------------------

const std::string& Caller::tenant() const noexcept { return key_ ? key_->config.tenant : kNoTenant; }
const std::string& Caller::key_id() const noexcept { return key_ ? key_->id : kNoKey; }

bool Caller::may_use(std::string_view model) const noexcept {
  if (!key_ || key_->config.models.empty()) return true;
  const auto& allowed = key_->config.models;
  return std::find(allowed.begin(), allowed.end(), model) != allowed.end();
}

Priority Caller::max_priority() const noexcept { return key_ ? key_->config.max_priority : Priority::high; }

// --- KeyLease ---------------------------------------------------------------

KeyLease::KeyLease(std::shared_ptr<KeyState> key, std::shared_ptr<const Clock> clock, double tokens)
    : key_(std::move(key)), clock_(std::move(clock)), tokens_(tokens) {}

KeyLease::KeyLease(KeyLease&& other) noexcept
    : key_(std::move(other.key_)), clock_(std::move(other.clock_)), tokens_(other.tokens_) {}

KeyLease& KeyLease::operator=(KeyLease&& other) noexcept {
  if (this != &other) {
    release();
    key_ = std::move(other.key_);
    clock_ = std::move(other.clock_);
    tokens_ = other.tokens_;
  }
  return *this;
}

KeyLease::~KeyLease() { release(); }

void KeyLease::release() { key_.reset(); }

void KeyLease::refund() {
  if (!key_) return;
  key_->tpm.give_back(tokens_, clock_->now());
  key_.reset();
}

void KeyLease::settle(const Usage& usage, double cost_usd) {
  if (!key_) return;
  const auto now = clock_->now();
  const double used = static_cast<double>(usage.prompt_tokens + usage.completion_tokens);
  if (!usage.known) {
    // The provider did not say: the estimate stands.
  } else if (used < tokens_) {
    key_->tpm.give_back(tokens_ - used, now);
  } else {
    key_->tpm.charge(used - tokens_, now);
  }
  if (cost_usd > 0 && std::isfinite(cost_usd)) {
    const int month = month_of(clock_->wall());
    if (month != key_->spend_month) {
      key_->spend_month = month;
      key_->spent_usd = 0;
    }
    key_->spent_usd += cost_usd;
  }
  key_.reset();
}

// --- Gatekeeper -------------------------------------------------------------

Gatekeeper::Gatekeeper(const AuthConfig& config, std::shared_ptr<const Clock> clock)
    : clock_(std::move(clock)), open_(config.allow_unauthenticated) {
  const auto now = clock_->now();
  for (const GatewayKeyConfig& key : config.keys) {
    std::string digest = key.sha256.empty() ? sha256(key.key) : from_hex(key.sha256);
    // (append, not "sha256:" + ...: g++ 12 warns falsely with -Wrestrict)
    std::string id = key.id.empty() ? std::string("sha256:").append(to_hex(digest).substr(0, 12)) : key.id;
    GatewayKeyConfig policy = key;
    policy.key.clear();  // the state keeps no secret
    by_digest_.emplace(std::move(digest), std::make_shared<KeyState>(std::move(policy), std::move(id), now));
  }
}

Gatekeeper::~Gatekeeper() = default;

std::size_t Gatekeeper::carry_over(const Gatekeeper& previous) {
  const auto now = clock_->now();
  std::size_t carried = 0;
  for (auto& [digest, fresh] : by_digest_) {
    for (const auto& [old_digest, old] : previous.by_digest_) {
      if (old->id != fresh->id) continue;
      // The old state, shared with requests in flight, takes the new policy.
      old->config = fresh->config;
      old->rpm.set_capacity(fresh->config.rpm, kMinute, now);
      old->tpm.set_capacity(fresh->config.tpm, kMinute, now);
      fresh = old;
      ++carried;
      break;
    }
  }
  return carried;
}

std::string_view Gatekeeper::posture() const noexcept {
  if (!by_digest_.empty()) return "keys";
  return open_ ? "unauthenticated" : "loopback_only";
}

Result<Caller> Gatekeeper::authenticate(std::string_view credential, const boost::asio::ip::address& peer) const {
  if (by_digest_.empty()) {
    if (open_ || is_loopback(peer)) return Caller(nullptr);
    return make_error(errc::peer_not_allowed,
                      "This gateway has no keys configured and serves only clients on its own host. Its operator "
                      "can configure auth.keys, or set auth.allow_unauthenticated: true.");
  }
  if (credential.empty())
    return make_error(errc::unauthorized,
                      "Missing gateway key: send it as `Authorization: Bearer <key>` or in the `x-api-key` header.");
  // The table is keyed by the digest, so a lookup's timing says nothing
  // useful about any key; the final comparison takes constant time anyway.
  const std::string digest = sha256(credential);
  const auto it = by_digest_.find(digest);
  if (it == by_digest_.end() || CRYPTO_memcmp(it->first.data(), digest.data(), digest.size()) != 0)
    return make_error(errc::unauthorized, "Invalid gateway key.");
  const KeyState& key = *it->second;
  if (key.config.expires && clock_->wall() >= *key.config.expires)
    return make_error(errc::unauthorized, "This gateway key expired at " + utc_text(*key.config.expires) + ".");
  return Caller(it->second);
}

Result<Caller> Gatekeeper::caller_for(std::string_view key_id, std::string_view tenant) const {
  if (key_id.empty()) {
    if (by_digest_.empty() && tenant == kNoTenant) return Caller(nullptr);
    return make_error(errc::unauthorized, "The job was submitted without a key, and this gateway now requires one.");
  }
  for (const auto& [digest, key] : by_digest_) {
    if (key->id != key_id) continue;
    if (key->config.tenant != tenant) break;
    if (key->config.expires && clock_->wall() >= *key->config.expires)
      return make_error(errc::unauthorized, "The gateway key that submitted this job expired.");
    return Caller(key);
  }
  return make_error(errc::unauthorized, "The gateway key that submitted this job is no longer configured.");
}

Status Gatekeeper::permit(const Caller& caller, std::string_view model) const {
  KeyState* key = caller.key_.get();
  if (!key) return Ok{};
  if (!caller.may_use(model))
    return make_error(errc::model_not_allowed,
                      "This gateway key may not use the model `" + std::string(model) + "`.", "model");
  if (key->config.monthly_budget_usd) {
    const int month = month_of(clock_->wall());
    const double spent = key->spend_month == month ? key->spent_usd : 0;
    if (spent >= *key->config.monthly_budget_usd)
      return make_error(errc::budget_exceeded, "This gateway key has spent its monthly budget of " +
                                                   dollars(*key->config.monthly_budget_usd) + " (" + dollars(spent) +
                                                   " this month); it renews on " + first_of_next_month(month) + ".");
  }
  return Ok{};
}

Result<KeyLease> Gatekeeper::admit(const Caller& caller, std::string_view model, double tokens) const {
  if (Status permitted = permit(caller, model); !permitted) return std::move(permitted).error();
  return take(caller, tokens);
}

Result<KeyLease> Gatekeeper::take(const Caller& caller, double tokens) const {
  KeyState* key = caller.key_.get();
  if (!key) return KeyLease();
  const auto now = clock_->now();
  if (!key->rpm.try_take(1, now)) return key_rate_limited("requests", key->config.rpm, key->rpm.time_until(1, now));
  // A demand above the whole bucket could never fit: it takes what a full
  // bucket holds, and the real usage is charged after.
  const double take = key->tpm.unlimited() ? 0 : std::min(tokens, key->tpm.capacity());
  if (!key->tpm.try_take(take, now)) {
    key->rpm.give_back(1, now);
    return key_rate_limited("tokens", key->config.tpm, key->tpm.time_until(take, now));
  }
  return KeyLease(caller.key_, clock_, take);
}

}  // namespace sluice::auth
