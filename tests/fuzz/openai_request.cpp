// Fuzz target: the OpenAI inbound dialect's body parser (server/openai_wire.cpp,
// json_body.cpp) for chat completions, completions and embeddings; the first
// byte picks the endpoint. Invariants (request_checks.hpp): a refusal is a
// 400 with a message and a JSON error body; an accepted body goes upstream as
// sent, with its model located exactly; and a job queued with that body
// decodes to the same request (server::decode_job_call).
#include "request_checks.hpp"
#include "sluice/server/job_call.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view input = fuzz::text_of(data, size);
  if (input.empty()) return 0;
  static constexpr Endpoint kEndpoints[] = {Endpoint::chat_completions, Endpoint::completions, Endpoint::embeddings};
  const Endpoint endpoint = kEndpoints[static_cast<unsigned char>(input[0]) % 3];
  const std::string_view body = input.substr(1);

  auto parsed = server::parse_request(endpoint, fuzz::padded(body));
  if (!parsed) {
    fuzz::check_refusal(parsed.error(), server::Wire::openai);
  } else {
    FUZZ_CHECK(parsed->endpoint == endpoint, "the request's endpoint is not the route's");
    fuzz::check_accepted(*parsed, body);
    FUZZ_CHECK(!parsed->as_chat, "an OpenAI request needs no translation");
  }
  auto job = server::decode_job_call(to_string(endpoint), std::string(body));
  FUZZ_CHECK(job.ok() == parsed.ok(), "a queued job and the front door disagree about a body");
  if (job) FUZZ_CHECK(job->request.model == parsed->model && job->request.body == parsed->body, "a job decodes differently");
  return 0;
}
