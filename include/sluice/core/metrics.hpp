// Metrics: what GET /metrics shows. Two kinds of figures:
//
// - recorded: one RequestSummary per request, at its end (the same record
//   the access log writes), feeds counters and histograms: requests,
//   errors, upstream attempts, durations, time to first token, tokens,
//   cost, cache and router decisions, queue waits. record() is the only
//   work on the request path: a handful of hash lookups on small integer
//   keys, no allocation once a label combination has been seen.
// - read at scrape time: state that already lives somewhere (bucket
//   levels, cooldowns, queue depth, connections, Redis) is asked for by
//   collectors the composition root registers, never updated per request.
//
// Label sets are bounded by construction: a label value is a name from the
// configuration (a model or router alias, a provider, a tenant, a tier), a
// route from a fixed list, an HTTP status or an error code; anything else
// (a model no one configured) is "other". No request id, prompt or key can
// become a label.
//
// Every family is written on every scrape, with its HELP and TYPE lines even
// before it has a sample, so dashboards and alerts can rely on the names.
//
// Single-threaded: used on the event loop that serves the requests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/exposition.hpp"
#include "sluice/core/request_summary.hpp"

namespace sluice {

class Metrics {
 public:
  // Takes the bounded label values (models, router aliases and tiers,
  // providers, tenants) from `config`; it is not kept.
  explicit Metrics(const GatewayConfig& config);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Records one finished request.
  void record(const RequestSummary& summary);

  // A configuration reload finished (sluice_config_reloads_total).
  void count_reload(bool succeeded) noexcept;

  // A configuration reload took effect: the names `config` brings (models,
  // aliases, tiers, providers, tenants) become label values; those it
  // dropped stay, so their series keep what they counted (the label set
  // stays bounded by what the configurations named). The collectors are
  // removed: the new configuration's parts add theirs.
  void reconfigure(const GatewayConfig& config);

  // Writes families of state read at scrape time. Collectors run in the
  // order added, after the recorded families; each writes its families'
  // HELP and TYPE lines whether or not it has samples.
  using Collector = std::function<void(Exposition&)>;
  void add_collector(Collector collector);

  // The whole exposition document.
  std::string scrape() const;

 private:
  void add_names(const GatewayConfig& config);

  struct Tables;
  std::unique_ptr<Tables> t_;
  std::vector<Collector> collectors_;
};

}  // namespace sluice
