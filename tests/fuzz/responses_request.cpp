// Fuzz target: the OpenAI Responses API at the front door
// (server/responses_wire.cpp, chat_draft.cpp). Invariants
// (request_checks.hpp): a refusal is a 400 with a message and a JSON error
// body; an accepted body goes upstream as sent; it is either translated to a
// chat body that is JSON and that the chat parser accepts, or carries the
// 400 saying why not; the parameters a Response object repeats (echo) are
// JSON object members.
#include "request_checks.hpp"
#include "responses_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view body = fuzz::text_of(data, size);
  auto parsed = server::parse_responses_request(fuzz::padded(body));
  if (!parsed) {
    fuzz::check_refusal(parsed.error(), server::Wire::openai);
    return 0;
  }
  fuzz::check_accepted(parsed->request, body);
  FUZZ_CHECK(parsed->request.endpoint == Endpoint::responses, "a responses request for another endpoint");
  FUZZ_CHECK(parsed->request.as_chat || parsed->request.untranslatable,
             "a responses request neither translated nor refused");
  const std::string& echo = parsed->echo;
  FUZZ_CHECK(echo.empty() || echo[0] == ',', echo);
  FUZZ_CHECK(fuzz::is_json("{\"id\":1" + echo + "}"), echo);
  return 0;
}
