// Fuzz target: the Anthropic Messages dialect at the front door
// (server/anthropic_wire.cpp, chat_draft.cpp): POST /v1/messages and
// /v1/messages/count_tokens bodies (the first byte picks which), and the
// translation to chat completions. Invariants (request_checks.hpp): a
// refusal is a 400 with a message and Anthropic's JSON error body; an
// accepted body goes upstream as sent; a messages request is either
// translated to a chat body that is JSON and that the chat parser accepts,
// or carries the 400 saying why not; the count_tokens estimate is JSON.
#include "anthropic_wire.hpp"
#include "request_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view input = fuzz::text_of(data, size);
  if (input.empty()) return 0;
  const Endpoint endpoint = input[0] & 1 ? Endpoint::count_tokens : Endpoint::messages;
  const std::string_view body = input.substr(1);

  auto parsed = server::parse_messages_request(endpoint, fuzz::padded(body));
  if (!parsed) {
    fuzz::check_refusal(parsed.error(), server::Wire::anthropic);
    return 0;
  }
  fuzz::check_accepted(*parsed, body);
  if (endpoint == Endpoint::messages)
    FUZZ_CHECK(parsed->as_chat || parsed->untranslatable, "a messages request neither translated nor refused");
  else
    FUZZ_CHECK(!parsed->as_chat, "count_tokens carries a translation");
  FUZZ_CHECK(fuzz::is_json(server::estimated_count_tokens_body(*parsed)), "the count_tokens estimate is not JSON");
  for (const Header& h : parsed->forward_headers) FUZZ_CHECK(is_safe_header_value(h.value), h.value);
  return 0;
}
