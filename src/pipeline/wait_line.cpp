#include "wait_line.hpp"

namespace sluice::pipeline {

bool WaitLine::join(const TicketPtr& ticket) {
  if (size_ >= max_length_ || ticket->in_line) return false;
  auto group_it = groups_.find(ticket->group);
  if (group_it == groups_.end()) group_it = groups_.emplace(ticket->group, Group{}).first;
  Group& group = group_it->second;
  Class& cls = group.classes[static_cast<std::size_t>(ticket->priority)];
  auto line = cls.by_tenant.find(ticket->tenant);
  if (line == cls.by_tenant.end()) {
    cls.rotation.push_back(TenantLine{ticket->tenant, {}});
    line = cls.by_tenant.emplace(ticket->tenant, std::prev(cls.rotation.end())).first;
  }
  TenantLine& tenant_line = *line->second;
  tenant_line.tickets.push_back(ticket);
  ticket->position = std::prev(tenant_line.tickets.end());
  ticket->in_line = true;
  ++group.size;
  ++size_;
  return true;
}

void WaitLine::remove(Ticket& ticket, bool rotate) {
  if (!ticket.in_line) return;
  auto group_it = groups_.find(ticket.group);
  Group& group = group_it->second;
  Class& cls = group.classes[static_cast<std::size_t>(ticket.priority)];
  auto line = cls.by_tenant.find(ticket.tenant);
  TenantLine& tenant_line = *line->second;
  const TicketPtr keep = *ticket.position;  // the ticket outlives its erasure
  tenant_line.tickets.erase(ticket.position);
  ticket.in_line = false;
  if (tenant_line.tickets.empty()) {
    cls.rotation.erase(line->second);
    cls.by_tenant.erase(line);
  } else if (rotate) {
    cls.rotation.splice(cls.rotation.end(), cls.rotation, line->second);
  }
  --size_;
  if (--group.size == 0) groups_.erase(group_it);
}

void WaitLine::leave(Ticket& ticket) { remove(ticket, false); }

Ticket* WaitLine::next(std::string_view group_name) const {
  const auto group = groups_.find(group_name);
  if (group == groups_.end()) return nullptr;
  for (auto cls = group->second.classes.rbegin(); cls != group->second.classes.rend(); ++cls)
    if (!cls->rotation.empty()) return cls->rotation.front().tickets.front().get();
  return nullptr;
}

WaitLine::TicketPtr WaitLine::take(Ticket& ticket) {
  TicketPtr keep = *ticket.position;
  remove(ticket, true);
  return keep;
}

std::size_t WaitLine::size(std::string_view group) const {
  const auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second.size;
}

std::vector<WaitLine::TicketPtr> WaitLine::all() const {
  std::vector<TicketPtr> out;
  for (const auto& [name, group] : groups_)
    for (const Class& cls : group.classes)
      for (const TenantLine& line : cls.rotation) out.insert(out.end(), line.tickets.begin(), line.tickets.end());
  return out;
}

}  // namespace sluice::pipeline
