// Fuzz target: decoding a queued job on the replica that runs it
// (server::decode_job_call). The input is "<endpoint>\n<body>", as the
// queue keeps them. Invariants: an unknown endpoint or a refused body is a
// 400 with a message; a known one decodes exactly as the front door parses
// the same body.
#include "request_checks.hpp"
#include "sluice/server/job_call.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view input = fuzz::text_of(data, size);
  const std::size_t nl = input.find('\n');
  const std::string_view endpoint = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  auto job = server::decode_job_call(endpoint, std::string(body));
  std::optional<Endpoint> known;
  for (Endpoint e : {Endpoint::chat_completions, Endpoint::completions, Endpoint::embeddings})
    if (to_string(e) == endpoint) known = e;
  if (!known) {
    FUZZ_CHECK(!job, "a job with an unknown endpoint was decoded");
    fuzz::check_refusal(job.error(), server::Wire::openai);
    return 0;
  }
  auto front = server::parse_request(*known, fuzz::padded(body));
  FUZZ_CHECK(job.ok() == front.ok(), "a queued job and the front door disagree about a body");
  if (!job) {
    fuzz::check_refusal(job.error(), server::Wire::openai);
    FUZZ_CHECK(job.error().message == front.error().message, job.error().message);
    return 0;
  }
  fuzz::check_accepted(job->request, body);
  FUZZ_CHECK(job->request.endpoint == *known, "a job decoded for another endpoint");
  FUZZ_CHECK(job->request.model == front->model && job->request.inputs == front->inputs &&
                 job->request.stream == front->stream && job->request.max_tokens == front->max_tokens,
             "a job decodes differently from the same body at the front door");
  return 0;
}
