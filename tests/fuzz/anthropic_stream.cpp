// Fuzz target: an Anthropic upstream's SSE stream translated to OpenAI
// chat.completion.chunk events, or relayed to a /v1/messages client
// (providers/anthropic_response.cpp, AnthropicStreamTranslator); the first
// byte picks the mode and whether the client asked for usage. Events come as
// SseFramer cuts them, as AnthropicChunkStream feeds them. Invariants: the
// client gets whole events whose data is JSON or [DONE]; a translated stream
// ends with [DONE] exactly when the translator says it is done; a failure
// is an Error with a message; nothing is emitted after the end.
#include "anthropic.hpp"
#include "stream_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const auto split = fuzz::split_input(fuzz::text_of(data, size));
  const auto mode = split.selector & 1 ? providers::AnthropicStreamTranslator::Mode::relay
                                       : providers::AnthropicStreamTranslator::Mode::translate;
  providers::AnthropicStreamTranslator translator("fuzz", split.selector & 2, 1700000000, mode);
  std::string out;
  std::optional<Error> error;
  for (const std::string& event : fuzz::events_of(split.rest)) {
    const bool was_done = translator.done();
    const std::size_t before = out.size();
    if (Status s = translator.feed(event, out); !s) {
      error = std::move(s).error();
      break;
    }
    if (was_done) FUZZ_CHECK(out.size() == before, "events after message_stop were emitted");
  }
  if (!error)
    if (Status end = translator.finish(); !end) error = std::move(end).error();
  fuzz::check_client_events(out);
  if (error) {
    FUZZ_CHECK(!error->message.empty(), "a stream error without a message");
    FUZZ_CHECK(fuzz::is_json(error_body(*error)), error_body(*error));
  } else {
    FUZZ_CHECK(translator.done(), "a stream that ended without error is not done");
    if (mode == providers::AnthropicStreamTranslator::Mode::translate) {
      const auto events = fuzz::events_of(out);
      FUZZ_CHECK(!events.empty() && net::is_done_event(events.back()), "a translated stream ended without [DONE]");
    }
  }
  const Usage usage = translator.usage();
  FUZZ_CHECK(usage.prompt_tokens >= 0 && usage.completion_tokens >= 0, "negative usage");
  return 0;
}
