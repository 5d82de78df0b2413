// Fuzz target: the streams a client of another dialect pulls
// (server/dialect_streams.cpp, anthropic_answer.cpp, responses_answer.cpp):
// a chat.completion.chunk stream translated to Anthropic Messages or
// Responses API events, or a native Messages / Responses stream relayed (the
// first byte picks which). The upstream events come in two batches cut at
// any event. Invariants: the client gets whole events whose data is JSON;
// where the batches are cut changes neither the events nor how the stream
// ends; a failure has a message and becomes the dialect's own event, JSON
// too, as the session would write it after the first byte.
#include "anthropic_answer.hpp"
#include "dialect_streams.hpp"
#include "responses_answer.hpp"
#include "run_coro.hpp"
#include "stream_checks.hpp"
#include "support/fixed_stream.hpp"

namespace {

using namespace sluice;

std::unique_ptr<ChunkStream> stream_for(int kind, std::vector<std::string> batches) {
  auto chat = std::make_unique<test::FixedStream>(std::move(batches));
  switch (kind) {
    case 0: return server::translated_stream(std::move(chat), std::make_unique<server::ChatToMessagesStream>("msg_fuzz"));
    case 1:
      return server::translated_stream(
          std::move(chat), std::make_unique<server::ChatToResponsesStream>(server::ResponseDraft{"resp_fuzz", 1, "m", ""}));
    case 2: return server::native_messages_stream(std::move(chat));
    default: return server::native_responses_stream(std::move(chat));
  }
}

struct Pulled {
  std::string out;
  std::optional<Error> error;
  std::string failure;  // the failure event the session would send
};

boost::asio::awaitable<Pulled> pull(int kind, std::vector<std::string> batches) {
  auto stream = stream_for(kind, std::move(batches));
  Pulled p;
  for (int i = 0; i < 100000; ++i) {
    auto next = co_await stream->next();
    if (!next) {
      p.error = std::move(next).error();
      p.failure = stream->failure_event(*p.error);
      break;
    }
    if (next->empty()) break;
    p.out += *next;
  }
  co_return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto split = fuzz::split_input(fuzz::text_of(data, size));
  const int kind = split.selector % 4;
  const std::vector<std::string> events = fuzz::events_of(split.rest);
  const std::size_t cut = events.empty() ? 0 : (split.selector / 4) % (events.size() + 1);
  std::string all, first, second;
  for (std::size_t i = 0; i < events.size(); ++i) (i < cut ? first : second) += events[i];
  all = first + second;

  const Pulled one = fuzz::run(pull(kind, all.empty() ? std::vector<std::string>{} : std::vector<std::string>{all}));
  std::vector<std::string> two;
  if (!first.empty()) two.push_back(first);
  if (!second.empty()) two.push_back(second);
  const Pulled batched = fuzz::run(pull(kind, two));
  if (kind < 2) {  // a relay passes batches on as they come; a translation reads events
    FUZZ_CHECK(one.out == batched.out, "where the batches are cut changes what the client gets");
    FUZZ_CHECK(one.error.has_value() == batched.error.has_value(), "where the batches are cut changes the end");
  }
  if (kind < 2) fuzz::check_client_events(one.out);
  if (one.error) {
    FUZZ_CHECK(!one.error->message.empty(), "a stream error without a message");
    fuzz::check_client_events(one.failure);
    FUZZ_CHECK(!one.failure.empty(), "a failure without an event");
  }
  return 0;
}
