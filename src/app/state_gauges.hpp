// The metric families read at scrape time (see core/metrics.hpp): state
// that already lives in the pool, the overflow queue, the server and the
// Redis client is asked for when /metrics is, never updated per request.
// Private to app, the only folder that sees all of them.
#pragma once

#include <memory>

#include "sluice/core/clock.hpp"
#include "sluice/core/metrics.hpp"
#include "sluice/pipeline/pipeline.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/queue/memory_jobs.hpp"
#include "sluice/queue/redis_jobs.hpp"
#include "sluice/server/server.hpp"

namespace sluice {

// Adds the collectors of deployment buckets and cooldowns, queue depth and
// outcomes, connections and requests in flight, and Redis. Every reference
// must outlive `metrics`' scrapes; of the two job backends one is null
// (without queue.backend redis, sluice_redis_up has no sample).
void add_state_gauges(Metrics& metrics, pool::ProviderPool& pool, const pipeline::Pipeline& pipeline,
                      const server::Server& server, const queue::MemoryJobs* memory_jobs, const queue::RedisJobs* jobs,
                      std::shared_ptr<const Clock> clock);

}  // namespace sluice
