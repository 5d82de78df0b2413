// Fuzz target: relaying an OpenAI-compatible upstream's SSE stream
// (providers/openai_stream.cpp) with the filters a deployment may set (the
// first byte picks them), the body arriving in pieces. Invariants: the
// client gets whole events whose data is JSON or [DONE]; how the bytes were
// cut changes neither what the client gets nor how the stream ends; a stream
// without [DONE] (or a Responses stream without its terminal event) ends in
// an error with a message; nothing follows the end.
#include <deque>

#include "openai_stream.hpp"
#include "run_coro.hpp"
#include "stream_checks.hpp"

namespace {

using namespace sluice;

// The upstream body, handed out in the given pieces.
class Pieces final : public net::BodyReader {
 public:
  // An empty piece would read as the end of the body: those are left out.
  explicit Pieces(std::deque<std::string> pieces) {
    for (auto& p : pieces)
      if (!p.empty()) pieces_.push_back(std::move(p));
  }
  boost::asio::awaitable<Result<std::string_view>> read_some() override {
    if (pieces_.empty()) co_return std::string_view();
    current_ = std::move(pieces_.front());
    pieces_.pop_front();
    co_return std::string_view(current_);
  }

 private:
  std::deque<std::string> pieces_;
  std::string current_;
};

struct Relayed {
  std::string out;
  std::optional<Error> error;
  Usage usage;
};

boost::asio::awaitable<Relayed> relay(std::deque<std::string> pieces, providers::StreamFilter filter) {
  auto stream = providers::make_openai_chunk_stream(std::make_unique<Pieces>(std::move(pieces)), "fuzz", filter);
  Relayed r;
  for (int i = 0; i < 100000; ++i) {
    auto next = co_await stream->next();
    if (!next) {
      r.error = std::move(next).error();
      break;
    }
    if (next->empty()) break;
    r.out += *next;
  }
  r.usage = stream->usage();
  co_return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto split = fuzz::split_input(fuzz::text_of(data, size));
  providers::StreamFilter filter;
  filter.drop_empty_choices = split.selector & 1;
  filter.strip_usage = split.selector & 2;
  filter.responses = split.selector & 4;
  const std::string bytes(split.rest);

  const Relayed whole = fuzz::run(relay({bytes}, filter));
  const Relayed cut = fuzz::run(relay({bytes.substr(0, split.at), bytes.substr(split.at)}, filter));
  FUZZ_CHECK(whole.out == cut.out, "how the upstream bytes arrive changes what the client gets");
  FUZZ_CHECK(whole.error.has_value() == cut.error.has_value(), "how the bytes arrive changes how the stream ends");
  FUZZ_CHECK(whole.usage.known == cut.usage.known && whole.usage.prompt_tokens == cut.usage.prompt_tokens &&
                 whole.usage.completion_tokens == cut.usage.completion_tokens,
             "how the bytes arrive changes the usage");
  fuzz::check_client_events(whole.out);
  if (whole.error) {
    FUZZ_CHECK(!whole.error->message.empty(), "a stream error without a message");
    FUZZ_CHECK(fuzz::is_json(error_body(*whole.error)), error_body(*whole.error));
  } else if (!filter.responses) {
    const auto events = fuzz::events_of(whole.out);
    FUZZ_CHECK(!events.empty() && net::is_done_event(events.back()),
               "a stream that ended without error did not end with [DONE]");
  }
  return 0;
}
