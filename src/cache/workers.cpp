// on_workers: an in-process Embedder behind the asynchronous Embedding
// interface, run on a thread pool the object owns so that embedding (about a
// millisecond for use-lite) never blocks the event loop. The result is posted
// back to the caller's executor. A caller that stops waiting (per-operation
// cancellation: the cache's embed_timeout) is completed at once with
// errc::timeout; the worker's late vector is dropped. A cheap embedder
// (hashed-ngram) embeds a short text at once instead (embed_at_once).
#include <atomic>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/cache/cache.hpp"

namespace sluice::cache {

namespace asio = boost::asio;

namespace {

using Signature = void(bool embedded, std::vector<float>);

constexpr std::size_t kAtOnceBytes = 8 * 1024;

template <class Handler>
struct Pending {
  explicit Pending(Handler h)
      : handler(std::move(h)),
        work(asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked)) {}

  // Completes once, on the handler's executor, whoever comes first (the
  // worker or the cancellation).
  static void complete(const std::shared_ptr<Pending>& self, bool embedded, std::vector<float> vector) {
    if (self->done.exchange(true)) return;
    auto executor = self->work;
    asio::post(executor, [self, embedded, vector = std::move(vector)]() mutable {
      asio::get_associated_cancellation_slot(self->handler).clear();
      std::move(self->handler)(embedded, std::move(vector));
    });
  }

  Handler handler;
  decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                        asio::execution::outstanding_work.tracked)) work;
  std::atomic<bool> done{false};
};

class WorkerEmbedding final : public Embedding {
 public:
  WorkerEmbedding(std::shared_ptr<const Embedder> embedder, int threads)
      : embedder_(std::move(embedder)), pool_(static_cast<std::size_t>(threads < 1 ? 1 : threads)) {}
  ~WorkerEmbedding() override { pool_.join(); }

  std::string_view name() const override { return embedder_->name(); }
  std::size_t dimensions() const override { return embedder_->dimensions(); }

  // hashed-ngram embeds 8 KiB in about 65 us: less than a hand-off to a
  // worker and back (two posts, a thread woken, the embed_timeout timer
  // armed and cancelled), and about what parsing a request costs.
  std::optional<std::vector<float>> embed_at_once(std::string_view text) const override {
    if (!embedder_->cheap() || text.size() > kAtOnceBytes) return std::nullopt;
    return embedder_->embed(text);
  }

  asio::awaitable<Result<std::vector<float>>> embed(std::string text) override {
    auto [embedded, vector] = co_await asio::async_initiate<decltype(asio::use_awaitable), Signature>(
        [this](auto handler, std::string text) {
          using Op = Pending<decltype(handler)>;
          auto op = std::make_shared<Op>(std::move(handler));
          auto slot = asio::get_associated_cancellation_slot(op->handler);
          if (slot.is_connected())
            slot.assign([op](asio::cancellation_type) { Op::complete(op, false, {}); });
          asio::post(pool_, [op, text = std::move(text), embedder = embedder_] {
            if (op->done.load()) return;  // the caller gave up while this waited
            Op::complete(op, true, embedder->embed(text));
          });
        },
        asio::use_awaitable, std::move(text));
    if (!embedded) co_return Error{errc::cancelled, "the embedding was abandoned (embed_timeout)"};
    co_return std::move(vector);
  }

 private:
  std::shared_ptr<const Embedder> embedder_;
  asio::thread_pool pool_;
};

}  // namespace

std::unique_ptr<Embedding> on_workers(std::shared_ptr<const Embedder> embedder, int threads) {
  return std::make_unique<WorkerEmbedding>(std::move(embedder), threads);
}

}  // namespace sluice::cache
