// Call: one request as the pipeline takes it, whatever dialect it came in:
// the provider-neutral request, plus what the stages need from the request's
// headers, read once by the front door.
#pragma once

#include <string>

#include "sluice/core/request.hpp"

namespace sluice {

// Cache-Control as a client may send it: `no-cache` asks for a fresh answer
// (which may still be stored), `no-store` for one that is neither served from
// nor written to a cache.
enum class CacheDirective { normal, no_cache, no_store };

struct Call {
  LlmRequest request;
  // The gateway key the client presented (Authorization: Bearer, or
  // x-api-key as the Anthropic SDKs send it); empty when none. A secret:
  // never logged, never echoed.
  std::string credential;
  CacheDirective cache = CacheDirective::normal;
  bool respond_async = false;  // Prefer: respond-async (202 + a job to poll)
};

}  // namespace sluice
