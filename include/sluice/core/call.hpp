// Call: one request as the pipeline takes it, whatever dialect it came in:
// the provider-neutral request, plus what the stages need from the request's
// headers, read once by the front door. (The gateway key is not here: it is
// checked before the body is parsed, and never travels with the request.)
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/config.hpp"
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
  // x-sluice-priority: the class it asks for in the overflow queue (capped
  // by what its key may use); x-sluice-max-wait: how long it may wait there
  // at most (never above queue.max_wait; 0: do not wait).
  Priority priority = Priority::normal;
  std::optional<std::chrono::milliseconds> max_wait;
  // The request headers a stage reads (router rules), by lower-case name;
  // only those the pipeline asks for (Pipeline::header_names), never a credential.
  std::vector<Header> headers;
};

}  // namespace sluice
