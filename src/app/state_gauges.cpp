#include "state_gauges.hpp"

#include <algorithm>
#include <chrono>

namespace sluice {

namespace {

using Type = Exposition::Type;

void write_deployments(Exposition& out, pool::ProviderPool& pool, Clock::time_point now) {
  out.family("sluice_deployment_bucket_available",
             "What a deployment's rate-limit bucket holds now (requests for rpm, tokens for tpm); "
             "negative while in debt. Unlimited buckets have no sample.",
             Type::gauge);
  for (const auto& d : pool.deployments()) {
    for (auto [name, bucket] : {std::pair{"rpm", &d->rpm}, std::pair{"tpm", &d->tpm}}) {
      if (bucket->unlimited()) continue;
      out.sample("sluice_deployment_bucket_available",
                 {{"provider", d->provider_name()}, {"model", d->model}, {"bucket", name}}, bucket->available(now));
    }
  }
  out.family("sluice_deployment_bucket_capacity", "A deployment's rate-limit bucket size (its rpm or tpm).",
             Type::gauge);
  for (const auto& d : pool.deployments()) {
    for (auto [name, bucket] : {std::pair{"rpm", &d->rpm}, std::pair{"tpm", &d->tpm}}) {
      if (bucket->unlimited()) continue;
      out.sample("sluice_deployment_bucket_capacity",
                 {{"provider", d->provider_name()}, {"model", d->model}, {"bucket", name}}, bucket->capacity());
    }
  }
  out.family("sluice_deployment_cooldown_seconds",
             "Seconds a deployment still cools down after an upstream 429 (0: not cooling).", Type::gauge);
  for (const auto& d : pool.deployments()) {
    const double left = d->cooling(now) ? std::chrono::duration<double>(d->cooldown_until - now).count() : 0.0;
    out.sample("sluice_deployment_cooldown_seconds", {{"provider", d->provider_name()}, {"model", d->model}}, left);
  }
  out.family("sluice_deployment_ejected",
             "1 while a deployment is out of choice after repeated failures or refused credentials.", Type::gauge);
  for (const auto& d : pool.deployments())
    out.sample("sluice_deployment_ejected", {{"provider", d->provider_name()}, {"model", d->model}},
               d->ejected(now) ? 1.0 : 0.0);
}

void write_queue(Exposition& out, const pipeline::QueueStats& q, const queue::MemoryJobs* memory,
                 const queue::RedisJobs* jobs) {
  out.family("sluice_queue_depth",
             "What waits in this gateway's overflow queue now: held requests, and async jobs queued or running "
             "(memory backend; the redis backend's jobs are shared by all replicas).",
             Type::gauge);
  out.sample("sluice_queue_depth", {{"queue", "requests"}}, static_cast<double>(q.waiting));
  out.sample("sluice_queue_depth", {{"queue", "jobs"}}, memory ? static_cast<double>(memory->unfinished()) : 0.0);
  out.family("sluice_queue_requests_total",
             "Held requests leaving the overflow queue, by result: served (their turn came), expired (max_wait "
             "reached), cancelled (the client left), shutdown; rejected: refused because the queue was full.",
             Type::counter);
  for (auto [result, n] : {std::pair{"served", q.served}, std::pair{"expired", q.expired},
                           std::pair{"cancelled", q.cancelled}, std::pair{"shutdown", q.shutdown},
                           std::pair{"rejected", q.rejected}})
    out.sample("sluice_queue_requests_total", {{"result", result}}, static_cast<double>(n));
  out.family("sluice_queue_jobs_total",
             "Async jobs (Prefer: respond-async) finished here, by backend and result: completed, failed; redis: ran, expired "
             "(past their deadline before a replica could run them).",
             Type::counter);
  if (memory) {
    out.sample("sluice_queue_jobs_total", {{"backend", "memory"}, {"result", "completed"}},
               static_cast<double>(memory->counters().completed));
    out.sample("sluice_queue_jobs_total", {{"backend", "memory"}, {"result", "failed"}},
               static_cast<double>(memory->counters().failed));
  }
  if (jobs) {
    out.sample("sluice_queue_jobs_total", {{"backend", "redis"}, {"result", "ran"}},
               static_cast<double>(jobs->counters().ran));
    out.sample("sluice_queue_jobs_total", {{"backend", "redis"}, {"result", "expired"}},
               static_cast<double>(jobs->counters().expired));
  }
}

}  // namespace

void add_state_gauges(Metrics& metrics, pool::ProviderPool& pool, const pipeline::Pipeline& pipeline,
                      const server::Server& server, const queue::MemoryJobs* memory_jobs, const queue::RedisJobs* jobs,
                      std::shared_ptr<const Clock> clock) {
  metrics.add_collector([&pool, clock](Exposition& out) { write_deployments(out, pool, clock->now()); });
  metrics.add_collector([&pipeline, memory_jobs, jobs](Exposition& out) {
    write_queue(out, pipeline.queue_stats(), memory_jobs, jobs);
  });
  metrics.add_collector([&server](Exposition& out) {
    out.family("sluice_open_connections", "Client connections open now.", Type::gauge);
    out.sample("sluice_open_connections", {}, static_cast<double>(server.connections()));
    out.family("sluice_connections_refused_total",
               "Client connections refused (503 and closed) because server.max_connections were open.",
               Type::counter);
    out.sample("sluice_connections_refused_total", {}, static_cast<double>(server.connections_refused()));
    out.family("sluice_inflight_requests", "Requests being handled now (read, and not yet answered in full).",
               Type::gauge);
    out.sample("sluice_inflight_requests", {}, static_cast<double>(server.in_flight()));
  });
  metrics.add_collector([jobs](Exposition& out) {
    out.family("sluice_redis_up", "1 while the gateway's Redis connection is up, 0 while it is down; "
                                  "no sample when the gateway uses no Redis.",
               Type::gauge);
    if (jobs) out.sample("sluice_redis_up", {}, jobs->connected() ? 1.0 : 0.0);
  });
}

}  // namespace sluice
