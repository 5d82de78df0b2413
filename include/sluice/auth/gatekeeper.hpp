// Gatekeeper: the authentication stage, first in the pipeline. It decides
// who is calling (a gateway key and its tenant, or a client admitted without
// one by the configured posture) and whether that caller may make this call
// now: the key's model allow-list, expiry, monthly budget and its own RPM /
// TPM buckets. It never sees a provider key and never touches the request
// beyond its model name and token estimate.
//
// Keys are looked up by their SHA-256 and the digest compared in constant
// time; the configuration may hold only the digest. A key is never logged or
// echoed: its id (configured, or "sha256:" and 12 hex digits of the digest) is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "sluice/core/clock.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request.hpp"

namespace sluice::auth {

// Loopback as a peer address: 127.0.0.0/8, ::1, and 127.x as an IPv4-mapped
// IPv6 address (a dual-stack listener's view of an IPv4 loopback client).
bool is_loopback(const boost::asio::ip::address& peer) noexcept;

struct KeyState;  // one configured key at run time: its policy and what it has used

// Who is calling, as authenticate() found it. Cheap to copy. It keeps its
// key's state alive, so a request outlives a reload that dropped its key.
class Caller {
 public:
  const std::string& tenant() const noexcept;
  const std::string& key_id() const noexcept;  // empty when admitted without a key
  // The key's allow-list; a caller without a key may use every model.
  bool may_use(std::string_view model) const noexcept;
  // The highest overflow-queue priority its requests may claim; any without a key.
  Priority max_priority() const noexcept;

 private:
  friend class Gatekeeper;
  friend class KeyLease;
  explicit Caller(std::shared_ptr<KeyState> key) : key_(std::move(key)) {}
  std::shared_ptr<KeyState> key_;  // null: no key (loopback or open posture)
};

// One request's share of its key's limits: the RPM token and the TPM
// estimate taken by admit(). settle() replaces the estimate with the real
// usage (when the provider reported it) and adds the cost to the key's
// monthly spend; refund() gives the estimate back for a request that failed
// without using anything. A lease dropped unsettled (the client left, and
// the provider may have worked anyway) keeps its estimate.
class KeyLease {
 public:
  KeyLease() = default;
  KeyLease(KeyLease&& other) noexcept;
  KeyLease& operator=(KeyLease&& other) noexcept;
  KeyLease(const KeyLease&) = delete;
  KeyLease& operator=(const KeyLease&) = delete;
  ~KeyLease();

  void settle(const Usage& usage, double cost_usd);
  void refund();

 private:
  friend class Gatekeeper;
  KeyLease(std::shared_ptr<KeyState> key, std::shared_ptr<const Clock> clock, double tokens);
  void release();

  std::shared_ptr<KeyState> key_;  // null: nothing to settle
  std::shared_ptr<const Clock> clock_;
  double tokens_ = 0;  // the TPM estimate taken
};

class Gatekeeper {
 public:
  Gatekeeper(const AuthConfig& config, std::shared_ptr<const Clock> clock);
  ~Gatekeeper();
  Gatekeeper(const Gatekeeper&) = delete;
  Gatekeeper& operator=(const Gatekeeper&) = delete;

  // How the gateway admits callers, for the start log: "keys" (every request
  // needs one), "loopback_only" (no keys: loopback clients only) or
  // "unauthenticated" (no keys, anyone who reaches the port).
  std::string_view posture() const noexcept;
  std::size_t key_count() const noexcept { return by_digest_.size(); }

  // A configuration reload: this gatekeeper was built from the new
  // configuration, `previous` serves the old one. A key both know by id
  // keeps its state (RPM and TPM bucket levels, the month's spend, the
  // estimates of requests still in flight) under its new policy: a lowered
  // limit clamps the level, a changed secret keeps the id's spend. Keys
  // the new configuration dropped stay with `previous` (requests in flight
  // settle there). Returns how many keys were carried over.
  std::size_t carry_over(const Gatekeeper& previous);

  // Who is calling. `credential` is the key the client presented ("" when
  // none); `peer` the address it connects from. Errors: unauthorized (no
  // key, an unknown key, an expired key), peer_not_allowed (no keys
  // configured and a non-loopback peer, unless allow_unauthenticated).
  Result<Caller> authenticate(std::string_view credential, const boost::asio::ip::address& peer) const;

  // The caller a queued job was submitted by, on the replica that runs it:
  // the key with id `key_id` (its limits apply), or no key when `key_id` is
  // empty and the gateway has no keys. unauthorized when that key is gone
  // (removed, or expired since) or its tenant is no longer `tenant`.
  Result<Caller> caller_for(std::string_view key_id, std::string_view tenant) const;

  // May `caller` ask for `model` at all: model_not_allowed (not on the
  // allow-list), budget_exceeded (the month's spend reached the budget).
  // Takes nothing: what a cached answer is checked against, since a hit
  // costs no rate-limit tokens but must never reach a key that may not have it.
  Status permit(const Caller& caller, std::string_view model) const;

  // May `caller` ask for `model` now, and take its share of the key's
  // limits: model_not_allowed (not on the allow-list), budget_exceeded (the
  // month's spend reached the budget), rate_limited with retry_after_ms (the
  // key's own RPM or TPM bucket is empty; the providers' are not involved).
  // `tokens` is the request's token estimate, for the key's TPM.
  Result<KeyLease> admit(const Caller& caller, std::string_view model, double tokens) const;

  // The second half of admit(), for a caller permit() has passed already:
  // takes one request and `tokens` from the key's buckets, or rate_limited.
  Result<KeyLease> take(const Caller& caller, double tokens) const;

 private:
  std::shared_ptr<const Clock> clock_;
  bool open_ = false;  // allow_unauthenticated
  std::unordered_map<std::string, std::shared_ptr<KeyState>> by_digest_;  // raw 32-byte SHA-256
};

}  // namespace sluice::auth
