// What the router tools share: loading the gateway configuration and
// building the router for one of its aliases, as the daemon would.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/core/labelled_prompts.hpp"
#include "sluice/router/router.hpp"

namespace sluice::tools {

struct LoadedRouter {
  GatewayConfig config;
  const RouterConfig* router = nullptr;
  std::unique_ptr<Embedder> embedder;
  std::unique_ptr<router::ComplexityRouter> routing;
};

// Loads `path` and builds its routers; `alias` picks one (empty: the first).
// Prints what is wrong to stderr and returns nullopt on failure.
inline std::optional<LoadedRouter> load_router(const std::string& path, const std::string& alias) {
  ConfigLoadResult loaded = load_config_file(path);
  if (!loaded.config) {
    std::fputs(format_problems(path, loaded.problems).c_str(), stderr);
    return std::nullopt;
  }
  LoadedRouter out;
  out.config = std::move(*loaded.config);
  if (out.config.routers.empty()) {
    std::fprintf(stderr, "%s: no router is configured\n", path.c_str());
    return std::nullopt;
  }
  out.router = alias.empty() ? &out.config.routers.front() : out.config.find_router(alias);
  if (!out.router) {
    std::fprintf(stderr, "%s: no router has the alias '%s'\n", path.c_str(), alias.c_str());
    return std::nullopt;
  }
  out.embedder = make_hashed_embedder();
  out.routing = std::make_unique<router::ComplexityRouter>(out.config.routers, out.embedder.get());
  return out;
}

// Reads every file; prints problems and returns false when any has one.
inline bool read_prompt_files(const std::vector<std::string>& files, std::vector<LabelledPrompt>& out) {
  bool ok = true;
  for (const std::string& file : files) {
    LabelledPrompts read = read_labelled_prompts(file);
    for (const std::string& problem : read.problems) std::fprintf(stderr, "%s: %s\n", file.c_str(), problem.c_str());
    ok = ok && read.problems.empty();
    for (LabelledPrompt& p : read.prompts) out.push_back(std::move(p));
  }
  return ok;
}

}  // namespace sluice::tools
