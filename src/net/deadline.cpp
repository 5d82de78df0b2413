#include "sluice/net/deadline.hpp"

#include <optional>
#include <vector>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>

namespace sluice::net {

namespace asio = boost::asio;

// One per execution context (an Asio service, created on first use): the
// armed deadlines and the timer that sweeps them.
class DeadlineSweeper final : public asio::execution_context::service {
 public:
  using key_type = DeadlineSweeper;
  static inline asio::execution_context::id id;

  explicit DeadlineSweeper(asio::execution_context& ctx) : service(ctx) {}

  void bind(const asio::any_io_executor& ex) {
    if (!timer_) timer_.emplace(ex);
  }

  void arm(Deadline& d) {
    if (d.slot_ == Deadline::kNotArmed) {
      d.slot_ = armed_.size();
      armed_.push_back(&d);
    }
    if (!ticking_ && timer_) tick_later();
  }

  void disarm(Deadline& d) noexcept {
    // The list is cleared at shutdown, before the objects holding deadlines
    // are destroyed: a stale slot is just forgotten.
    if (d.slot_ >= armed_.size() || armed_[d.slot_] != &d) {
      d.slot_ = Deadline::kNotArmed;
      return;
    }
    Deadline* last = armed_.back();
    armed_[d.slot_] = last;
    last->slot_ = d.slot_;
    armed_.pop_back();
    d.slot_ = Deadline::kNotArmed;
  }

 private:
  // The timer goes here, not in the destructor: the context destroys its
  // services newest first, and the timer's service, created after this one,
  // would be gone by then (a use after free that AddressSanitizer reported).
  void shutdown() override {
    timer_.reset();
    armed_.clear();
  }

  void tick_later() {
    ticking_ = true;
    timer_->expires_after(Deadline::kResolution);
    timer_->async_wait([this](boost::system::error_code ec) {
      ticking_ = false;
      if (ec) return;
      sweep();
      if (!armed_.empty()) tick_later();
    });
  }

  // Handlers may arm or disarm other deadlines (closing a socket completes
  // its operations later, never inline), so the expired ones are collected
  // and disarmed first, then fired.
  void sweep() {
    const auto now = Deadline::Clock::now();
    expired_.clear();
    for (Deadline* d : armed_)
      if (d->at_ <= now) expired_.push_back(d);
    for (Deadline* d : expired_) {
      disarm(*d);
      d->expired_ = true;
    }
    for (Deadline* d : expired_)
      if (d->slot_ == Deadline::kNotArmed && d->expired_) d->on_expire_();
  }

  std::optional<asio::steady_timer> timer_;
  std::vector<Deadline*> armed_;
  std::vector<Deadline*> expired_;
  bool ticking_ = false;
};

namespace {

DeadlineSweeper& sweeper_for(const asio::any_io_executor& ex) {
  auto& sweeper = asio::use_service<DeadlineSweeper>(asio::query(ex, asio::execution::context));
  sweeper.bind(ex);
  return sweeper;
}

}  // namespace

Deadline::Deadline(const asio::any_io_executor& executor, std::function<void()> on_expire)
    : sweeper_(sweeper_for(executor)), on_expire_(std::move(on_expire)) {}

Deadline::~Deadline() { disarm(); }

void Deadline::expire_after(Clock::duration d) {
  at_ = Clock::now() + d;
  expired_ = false;
  sweeper_.arm(*this);
}

void Deadline::disarm() noexcept { sweeper_.disarm(*this); }

}  // namespace sluice::net
