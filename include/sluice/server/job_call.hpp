// Re-creating a queued job's call on the replica that runs it: the overflow
// queue keeps the endpoint and the client's body as received, and the
// composition root hands this to the queue's runner, so the queue never
// depends on the server.
#pragma once

#include <string>
#include <string_view>

#include "sluice/core/call.hpp"
#include "sluice/core/error.hpp"

namespace sluice::server {

// The call a job carries: `endpoint` as to_string(Endpoint) wrote it, and the
// body parsed as the front door parses it. bad_request for an unknown
// endpoint or a body the parser refuses.
Result<Call> decode_job_call(std::string_view endpoint, std::string body);

}  // namespace sluice::server
