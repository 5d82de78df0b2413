// Call: one request as the pipeline takes it, whatever dialect it came in:
// the provider-neutral request, plus what the stages need from the request's
// headers, read once by the front door. (The gateway key is not here: it is
// checked before the body is parsed, and never travels with the request.)
#pragma once

#include <string>
#include <vector>

#include "sluice/core/header.hpp"
#include "sluice/core/request.hpp"

namespace sluice {

// Cache-Control as a client may send it: `no-cache` asks for a fresh answer
// (which may still be stored), `no-store` for one that is neither served from
// nor written to a cache.
enum class CacheDirective { normal, no_cache, no_store };

struct Call {
  LlmRequest request;
  CacheDirective cache = CacheDirective::normal;
  bool respond_async = false;  // Prefer: respond-async (202 + a job to poll)
  // The request headers a stage reads (router rules), by lower-case name;
  // only those the pipeline asks for (Pipeline::header_names), never a credential.
  std::vector<Header> headers;
};

}  // namespace sluice
