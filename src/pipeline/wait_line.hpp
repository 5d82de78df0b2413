// WaitLine: the requests of this gateway that wait for capacity in the
// overflow queue, per model group, in the order they are served: by priority
// class (high, normal, low), then round-robin across tenants (one tenant's
// burst cannot starve another's single request), first come first served
// within a tenant. Joining, leaving and taking the next are O(1); the line
// is bounded. Private to pipeline: the drain loop takes tickets from it and
// hands each the lease it acquired.
#pragma once

#include <array>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sluice/core/config.hpp"
#include "sluice/pool/provider_pool.hpp"

namespace sluice::pipeline {

class WaitLine;

// One waiting request. Its `wake` timer runs to the request's deadline;
// the drain loop cancels it when the turn comes, with `lease` filled.
struct Ticket {
  Ticket(boost::asio::any_io_executor executor, std::string group, std::string tenant, Priority priority,
         pool::Demand demand)
      : wake(std::move(executor)), group(std::move(group)), tenant(std::move(tenant)), priority(priority),
        demand(demand) {}

  boost::asio::steady_timer wake;
  std::string group, tenant;
  Priority priority;
  pool::Demand demand;
  pool::Lease lease;     // set with the turn
  bool granted = false;  // the turn came (lease may still be empty at shutdown)
  bool in_line = false;

 private:
  friend class WaitLine;
  std::list<std::shared_ptr<Ticket>>::iterator position;
};

class WaitLine {
 public:
  using TicketPtr = std::shared_ptr<Ticket>;

  explicit WaitLine(std::size_t max_length) : max_length_(max_length) {}

  // Joins the back of the ticket's tenant's line; false when the whole
  // line holds max_length tickets already.
  bool join(const TicketPtr& ticket);
  // Leaves the line wherever the ticket stands (a deadline, a client gone).
  void leave(Ticket& ticket);
  // The next ticket of `group` to serve; null when none waits. It stays in
  // the line until taken with take().
  Ticket* next(std::string_view group) const;
  // Removes `ticket`, which next() returned, and moves its tenant to the
  // back of the rotation of its class.
  TicketPtr take(Ticket& ticket);

  std::size_t size() const noexcept { return size_; }
  std::size_t size(std::string_view group) const;
  // Every ticket, for shutdown.
  std::vector<TicketPtr> all() const;

 private:
  struct TenantLine {
    std::string tenant;
    std::list<TicketPtr> tickets;
  };
  struct Class {
    std::list<TenantLine> rotation;  // tenants with waiting tickets, next to serve first
    std::unordered_map<std::string, std::list<TenantLine>::iterator> by_tenant;
  };
  struct Group {
    std::array<Class, 3> classes;  // indexed by Priority: low, normal, high
    std::size_t size = 0;
  };

  void remove(Ticket& ticket, bool rotate);

  std::size_t max_length_;
  std::size_t size_ = 0;
  std::map<std::string, Group, std::less<>> groups_;
};

}  // namespace sluice::pipeline
