// sluice-router-eval: how well a configured router routes a labelled set.
//
//   sluice-router-eval --config FILE [--router ALIAS] [--thresholds 0.35,0.6]
//                      [--completion-tokens N] [--sweep] [--misrouted]
//                      [--min-accuracy X] [--max-quality-loss X] PROMPTS.jsonl...
//
// Prints the confusion matrix, accuracy, quality loss (strongest-tier
// prompts sent to the cheapest tier), waste (the reverse) and the cost
// estimated from the configuration's prices against always-strongest.
// --sweep adds a grid of thresholds (3 tiers); --misrouted lists what went
// wrong. With --min-accuracy / --max-quality-loss it exits 1 when the set
// falls short: a regression test.
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
  std::fputs("usage: sluice-router-eval --config FILE [--router ALIAS] [--thresholds T1,T2,...]\n"
             "         [--completion-tokens N] [--sweep] [--misrouted]\n"
             "         [--min-accuracy X] [--max-quality-loss X] PROMPTS.jsonl...\n", stderr);
  return 2;
}

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = text.find(',', pos);
    out.push_back(std::strtod(text.substr(pos, comma - pos).c_str(), nullptr));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void sweep(const RouterConfig& router, const std::vector<router::Scored>& scored) {
  if (router.tiers.size() != 3) return (void)std::puts("(--sweep needs a router with 3 tiers)");
  std::printf("\nthreshold sweep (%s, %s): accuracy / quality loss / waste\n%8s", router.tiers[1].name.c_str(),
              router.tiers[2].name.c_str(), "");
  for (int h = 45; h <= 85; h += 5) std::printf("   high>=%.2f   ", h / 100.0);
  std::puts("");
  for (int m = 15; m <= 50; m += 5) {
    std::printf("med>=%.2f", m / 100.0);
    for (int h = 45; h <= 85; h += 5) {
      if (h <= m) {
        std::printf("  %15s", "-");
        continue;
      }
      const auto e = router::evaluate(router, router::with_thresholds(scored, {m / 100.0, h / 100.0}));
      std::printf("  %.3f/%4.1f/%4.1f", e.accuracy(), 100 * e.quality_loss(), 100 * e.waste());
    }
    std::puts("");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, alias;
  std::vector<std::string> files;
  std::vector<double> thresholds;
  long long completion_tokens = 400;
  bool do_sweep = false, misrouted = false;
  double min_accuracy = -1, max_quality_loss = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--config" && has_value) config_path = argv[++i];
    else if (arg == "--router" && has_value) alias = argv[++i];
    else if (arg == "--thresholds" && has_value) thresholds = parse_list(argv[++i]);
    else if (arg == "--completion-tokens" && has_value) completion_tokens = std::atoll(argv[++i]);
    else if (arg == "--min-accuracy" && has_value) min_accuracy = std::atof(argv[++i]);
    else if (arg == "--max-quality-loss" && has_value) max_quality_loss = std::atof(argv[++i]);
    else if (arg == "--sweep") do_sweep = true;
    else if (arg == "--misrouted") misrouted = true;
    else if (arg.starts_with("--")) return usage();
    else files.push_back(arg);
  }
  if (config_path.empty() || files.empty()) return usage();
  auto loaded = tools::load_router(config_path, alias);
  if (!loaded) return 1;
  std::vector<LabelledPrompt> prompts;
  if (!tools::read_prompt_files(files, prompts)) return 1;
  const RouterConfig& router = *loaded->router;
  if (!thresholds.empty() && thresholds.size() + 1 != router.tiers.size()) {
    std::fprintf(stderr, "--thresholds needs %zu values\n", router.tiers.size() - 1);
    return 2;
  }

  std::size_t unlabelled = 0;
  auto scored = router::score_prompts(*loaded->routing, router, prompts, &unlabelled);
  if (!thresholds.empty()) scored = router::with_thresholds(std::move(scored), thresholds);
  const auto e = router::evaluate(router, scored, &loaded->config, completion_tokens);
  std::printf("router '%s' (%s), %zu prompts", router.alias.c_str(), router.mode == RouterMode::knn ? "knn" : "heuristic",
              scored.size());
  if (unlabelled) std::printf(", %zu left out (no tier of this router)", unlabelled);
  std::puts("");
  std::fputs(router::format_evaluation(e).c_str(), stdout);
  if (misrouted) {
    std::puts("\nmisrouted (file order: label -> routed, score):");
    std::size_t j = 0;
    for (const LabelledPrompt& p : prompts) {
      if (!router.find_tier(p.tier)) continue;
      const auto& s = scored[j++];
      if (s.label == s.decided) continue;
      std::string text = p.messages.back().text.substr(0, 90);
      for (char& c : text)
        if (c == '\n') c = ' ';
      std::printf("  line %3d %-6s -> %-6s %.3f  %s\n", p.line, router.tiers[s.label].name.c_str(),
                  router.tiers[s.decided].name.c_str(), s.score.value_or(-1), text.c_str());
    }
  }
  if (do_sweep) sweep(router, scored);

  bool ok = true;
  if (min_accuracy >= 0 && e.accuracy() < min_accuracy) {
    std::printf("FAIL: accuracy %.3f is below %.3f\n", e.accuracy(), min_accuracy);
    ok = false;
  }
  if (max_quality_loss >= 0 && e.quality_loss() > max_quality_loss) {
    std::printf("FAIL: quality loss %.3f is above %.3f\n", e.quality_loss(), max_quality_loss);
    ok = false;
  }
  return ok ? 0 : 1;
}
