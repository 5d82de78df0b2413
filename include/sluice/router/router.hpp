// ComplexityRouter: the routing stage. A request whose model is a router
// alias (router.alias, default "auto") gets a tier of that router, and the
// tier's model group serves it; any other model bypasses routing. The tier
// comes from the first rule that matches (a pattern on the system prompt or
// the last turn, tools offered, a header, the tenant), else from the
// complexity score against the router's thresholds (heuristic mode) or from
// the vote of the nearest labelled examples (knn mode).
//
// Synchronous and in-process: no network call, whatever the mode (the knn
// embedder is an in-process one). Rules are RE2 patterns compiled here, once;
// they match in time linear in their input, which is bounded. Single-threaded
// like the rest of the gateway; route() itself is const and keeps no state.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/core/header.hpp"
#include "sluice/core/request.hpp"

namespace sluice::router {

// What one router decided for one request.
struct Route {
  const RouterConfig* router = nullptr;  // the alias's configuration
  std::size_t decided = 0;        // the tier chosen (by rule, score or vote), index into router->tiers
  std::size_t served = 0;         // the tier that serves: decided; the strongest in shadow mode; higher after step_up
  std::optional<double> score;    // the complexity score, or the knn vote; none for a rule
  std::string reason;             // short and header-safe: "code+multi-step", "rule:vip", "knn:5/7"

  const RouterTier& tier() const { return router->tiers[served]; }
  const RouterTier& decided_tier() const { return router->tiers[decided]; }
};

// What rules may look at besides the request.
struct RouteInput {
  const LlmRequest& request;
  std::string_view tenant;
  const std::vector<Header>& headers;  // lower-case names: those header_names() lists
};

class ComplexityRouter {
 public:
  // `embedder` serves the knn routers; it may be null when none is knn, and
  // must outlive the router. Each knn router's examples are embedded here.
  // The configuration must have passed the loader's checks.
  ComplexityRouter(const std::vector<RouterConfig>& routers, const Embedder* embedder);
  ~ComplexityRouter();
  ComplexityRouter(const ComplexityRouter&) = delete;
  ComplexityRouter& operator=(const ComplexityRouter&) = delete;

  // The aliases, in configuration order (GET /v1/models lists them).
  std::vector<std::string> aliases() const;

  // The names of the request headers rules read (lower case), for the front
  // door to hand over with the call.
  const std::vector<std::string>& header_names() const noexcept { return header_names_; }

  // The route of a chat or completions request whose model is an alias;
  // nullopt for any other model, and for embeddings (an alias is then an
  // unknown model). Never fails.
  std::optional<Route> route(const RouteInput& input) const;

  // Moves `route` to the next stronger tier whose model group differs from
  // the one serving now; false when there is none. Never down.
  static bool step_up(Route& route);

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> routers_;
  std::vector<std::string> header_names_;
  const Embedder* embedder_;
};

}  // namespace sluice::router
