// RedisJobs: the `redis` backend of the overflow queue's async jobs, shared
// by every replica that names the same Redis.
//
// Layout (prefix sluice:):
//   sluice:jobs:{group}:p{class}:t:{tenant}
//                         a Stream per model group, priority class (0 low,
//                         1 normal, 2 high) and tenant; entries hold id,
//                         tenant, key_id, priority, enqueued_ms, deadline_ms,
//                         endpoint, body. The group's streams together are
//                         bounded by queue.max_length (their XLENs summed
//                         before XADD; MAXLEN ~ 2x on each as a backstop)
//   sluice:jobs:{group}:streams
//                         a set naming the group's streams, each member
//                         prefixed with its class's digit
//   sluice:jobs:{group}   the one stream of earlier versions, still read (as
//                         normal priority) so an upgrade strands nothing
//   consumer group `sluice` on each stream (XGROUP CREATE 0 MKSTREAM: from the
//                         start, as the stream holds only unfinished entries)
//   sluice:job:{id}       a hash: tenant, model, status, created_at,
//                         http_status, body; EXPIRE max_wait + result_ttl while
//                         pending, result_ttl once finished
//   sluice:job:{id}:run   SET NX PX: the replica running it (a lease refreshed
//                         while it runs), so a job runs once even when claimed twice
//   sluice:jobs:dead      malformed entries, moved aside
//
// submit() is HSET + EXPIRE + XADD + SADD in one pipeline. Each replica runs
// one drain loop per configured group (start()): it reads new entries only
// while `capacity` says the group has room, the highest class that has any
// first, with one XREADGROUP over all that class's streams taking an equal
// share of each (the free run slots over the streams, 1 to 8) and starting
// them in turns, so one tenant's burst cannot starve another's single job;
// it polls every
// 100 ms growing to 1 s when idle (at once after a local submit), and
// reclaims entries idle longer than queue.reclaim_after (XAUTOCLAIM), so a
// dead replica's jobs are run by another. A job is acknowledged (XACK, XDEL)
// only after its result is stored. Past its deadline it fails (429, expired)
// without running. Single-threaded: the executor's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "sluice/core/clock.hpp"
#include "sluice/core/config.hpp"
#include "sluice/queue/job_backend.hpp"

namespace sluice::queue {

struct RedisJobsCounters {
  std::uint64_t submitted = 0, ran = 0, expired = 0, malformed = 0, reclaimed = 0, duplicates = 0;
};

class RedisJobs final : public JobBackend {
 public:
  // nullopt from the runner: the entry stays pending for another replica.
  using Runner = JobRunner;
  // How long until `group` has capacity for one more call (zero: now).
  using Capacity = std::function<Clock::duration(const std::string& group)>;

  RedisJobs(boost::asio::any_io_executor executor, const RedisConfig& redis, const QueueConfig& queue,
            std::vector<std::string> groups, Runner runner, Capacity capacity);
  ~RedisJobs() override;

  // Connects and starts a drain loop per group.
  void start();
  // Stops reading; `done` runs once the jobs running here ended (at once
  // when none does). Jobs not finished stay pending for another replica.
  void stop(std::function<void()> done);

  // A configuration reload named these groups: those new to this queue get
  // a drain loop (at once when started). Loops of groups the configuration
  // dropped go on; the jobs they find fail as the pipeline refuses the model.
  void add_groups(const std::vector<std::string>& groups);

  boost::asio::awaitable<Status> submit(JobEntry job) override;
  boost::asio::awaitable<Result<std::optional<JobState>>> find(std::string id, std::string tenant) override;

  const std::string& consumer() const noexcept;
  const RedisJobsCounters& counters() const noexcept;
  // Whether its Redis connection is up now (for sluice_redis_up).
  bool connected() const noexcept;

 private:
  void start_loops();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::queue
