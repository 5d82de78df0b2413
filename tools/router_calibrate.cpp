// sluice-router-calibrate: thresholds for a target share of requests per
// tier, from a file of recent prompts (RouteLLM's calibration: choose the
// share of strong-model calls, get the threshold that gives it).
//
//   sluice-router-calibrate --config FILE [--router ALIAS]
//                           --shares low=0.5,medium=0.3,high=0.2 PROMPTS.jsonl...
//
// Prompts need no label. Prints the `thresholds:` line to put under the
// router in the configuration, and the shares those thresholds give on the
// file (ties at a cut can move a few prompts). Rules are ignored: what they
// force is not the score's to share out.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "router_common.hpp"
#include "sluice/router/complexity.hpp"
#include "sluice/router/evaluation.hpp"

namespace {

using namespace sluice;

int usage() {
  std::fputs("usage: sluice-router-calibrate --config FILE [--router ALIAS] --shares TIER=SHARE,... PROMPTS.jsonl...\n",
             stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, alias, shares_text;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--config" && has_value) config_path = argv[++i];
    else if (arg == "--router" && has_value) alias = argv[++i];
    else if (arg == "--shares" && has_value) shares_text = argv[++i];
    else if (arg.starts_with("--")) return usage();
    else files.push_back(arg);
  }
  if (config_path.empty() || files.empty() || shares_text.empty()) return usage();
  auto loaded = tools::load_router(config_path, alias);
  if (!loaded) return 1;
  const RouterConfig& router = *loaded->router;
  if (router.mode != RouterMode::heuristic) {
    std::fprintf(stderr, "router '%s' is in knn mode: its tiers come from the vote, not thresholds\n", router.alias.c_str());
    return 1;
  }

  // --shares low=0.5,medium=0.3,high=0.2: every tier once, summing to 1.
  std::vector<double> shares(router.tiers.size(), -1);
  std::size_t pos = 0;
  while (pos < shares_text.size()) {
    const std::size_t comma = std::min(shares_text.find(',', pos), shares_text.size());
    const std::string item = shares_text.substr(pos, comma - pos);
    const std::size_t eq = item.find('=');
    const RouterTier* tier = eq == std::string::npos ? nullptr : router.find_tier(item.substr(0, eq));
    if (!tier) {
      std::fprintf(stderr, "--shares: '%s' is not TIER=SHARE with a tier of router '%s'\n", item.c_str(),
                   router.alias.c_str());
      return 2;
    }
    shares[static_cast<std::size_t>(tier - router.tiers.data())] = std::atof(item.c_str() + eq + 1);
    pos = comma + 1;
  }
  double sum = 0;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    if (shares[i] < 0) {
      std::fprintf(stderr, "--shares: no share for tier '%s'\n", router.tiers[i].name.c_str());
      return 2;
    }
    sum += shares[i];
  }
  if (sum < 0.999 || sum > 1.001) {
    std::fprintf(stderr, "--shares: the shares add up to %.3f, not 1\n", sum);
    return 2;
  }

  std::vector<LabelledPrompt> prompts;
  if (!tools::read_prompt_files(files, prompts)) return 1;
  std::vector<double> scores;
  const std::vector<Header> no_headers;
  for (const LabelledPrompt& p : prompts) scores.push_back(router::assess(request_of(p)).score);
  const std::vector<double> thresholds = router::calibrate_thresholds(scores, shares);

  std::printf("# %zu prompts; target shares:", scores.size());
  for (std::size_t i = 0; i < shares.size(); ++i) std::printf(" %s %.1f%%", router.tiers[i].name.c_str(), 100 * shares[i]);
  std::printf("\n# shares on this file with these thresholds:");
  std::vector<int> counts(shares.size(), 0);
  for (double s : scores) {
    std::size_t tier = 0;
    for (std::size_t i = 0; i < thresholds.size(); ++i)
      if (s >= thresholds[i]) tier = i + 1;
    ++counts[tier];
  }
  for (std::size_t i = 0; i < counts.size(); ++i)
    std::printf(" %s %.1f%%", router.tiers[i].name.c_str(), scores.empty() ? 0.0 : 100.0 * counts[i] / static_cast<double>(scores.size()));
  std::printf("\nthresholds: {");
  for (std::size_t i = 0; i < thresholds.size(); ++i)
    std::printf("%s %s: %.3f", i ? "," : "", router.tiers[i + 1].name.c_str(), thresholds[i]);
  std::puts(" }");
  return 0;
}
