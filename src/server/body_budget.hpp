// BodyBudget: one process-wide bound on the request body bytes the gateway
// buffers at once (server.max_buffered_body_bytes). Without it, every
// connection may hold a body of max_body_bytes: 10,000 x 8 MiB by default.
//
// A session takes a Hold per request: it grows the hold to a body's declared
// Content-Length before reading the body (a chunked body: to its size as it
// grows), and gives the bytes back when the body is no longer held (the
// Hold's destructor, or release()). A hold that cannot grow leaves the budget
// as it was; the session answers 503.
//
// Single-threaded, like the event loop that owns it. The budget must outlive
// its holds.
#pragma once

#include <cstddef>
#include <utility>

namespace sluice::server {

class BodyBudget {
 public:
  explicit BodyBudget(std::size_t limit) : limit_(limit) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  class Hold {
   public:
    Hold() = default;
    explicit Hold(BodyBudget* budget) : budget_(budget) {}
    Hold(Hold&& o) noexcept : budget_(std::exchange(o.budget_, nullptr)), held_(std::exchange(o.held_, 0)) {}
    Hold& operator=(Hold&& o) noexcept {
      if (this != &o) {
        release();
        budget_ = std::exchange(o.budget_, nullptr);
        held_ = std::exchange(o.held_, 0);
      }
      return *this;
    }
    ~Hold() { release(); }

    // Holds `total` bytes in all (never less than already held). False, and
    // nothing changed, when the budget has no room for the difference.
    bool grow_to(std::size_t total) {
      if (!budget_ || total <= held_) return true;
      const std::size_t more = total - held_;
      if (more > budget_->limit_ - budget_->in_use_) return false;
      budget_->in_use_ += more;
      held_ = total;
      return true;
    }

    // Gives every held byte back.
    void release() noexcept {
      if (budget_) budget_->in_use_ -= held_;
      held_ = 0;
    }

    std::size_t held() const noexcept { return held_; }

   private:
    BodyBudget* budget_ = nullptr;
    std::size_t held_ = 0;
  };

  // A hold of nothing yet.
  Hold hold() { return Hold(this); }

  std::size_t limit() const noexcept { return limit_; }
  std::size_t in_use() const noexcept { return in_use_; }

 private:
  std::size_t limit_;
  std::size_t in_use_ = 0;
};

}  // namespace sluice::server
