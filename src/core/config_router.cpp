// The `router` config section: one router alias (a mapping) or several (a
// list of mappings), each with its tiers (cheapest first -> model groups),
// score thresholds, rules, mode (heuristic or knn over an examples file),
// what to do without capacity and shadow mode (RouterConfig); and the checks
// that need the whole file: tiers name configured models, aliases are not
// model names and appear once.
//
// Rule patterns are compiled with RE2 here, so a bad one is a load problem
// with its line; RE2 matches in time linear in the text, so no pattern can
// stall the event loop (std::regex backtracks, and recurses per character).
#include <algorithm>
#include <string>
#include <string_view>

#include <re2/re2.h>

#include "config_sections.hpp"
#include "config_syntax.hpp"
#include "sluice/core/labelled_prompts.hpp"

namespace sluice::config_reader {

namespace {

// Headers a rule may never read: they carry the caller's credentials.
constexpr std::string_view kSecretHeaders[] = {"authorization", "proxy-authorization", "x-api-key", "cookie"};
constexpr std::size_t kMaxExampleProblems = 5;

void read_label(Reader& r, const Slot& s, std::string& out, std::string_view what) {
  Name name;
  if (!r.name(s, name)) return;
  if (!config_syntax::is_name(name.value) || name.value.size() > 64)
    return r.problem(s, "invalid " + std::string(what) + " " + name.shown +
                            ": use up to 64 letters, digits, '.', '_' or '-'");
  out = std::move(name.value);
}

void read_pattern(Reader& r, const Slot& s, std::string& out) {
  const auto value = r.scalar(s, "a pattern (RE2 syntax)");
  if (!value) return;
  if (value->text.empty()) return r.problem(s, "must not be empty");
  RE2::Options options;
  options.set_log_errors(false);
  const RE2 re(value->text, options);
  if (!re.ok()) {
    // RE2's message quotes the pattern: not for one that came from the environment.
    const std::string detail = value->from_env ? std::string() : ": " + re.error();
    return r.problem(s, "invalid pattern " + value->shown() + detail);
  }
  out = value->text;
}

void read_header_name(Reader& r, const Slot& s, std::string& out) {
  std::string name;
  if (!r.non_empty_string(s, name)) return;
  if (!config_syntax::is_http_token(name)) return r.problem(s, "invalid header name");
  name = config_syntax::lowercase(name);
  if (std::find(std::begin(kSecretHeaders), std::end(kSecretHeaders), name) != std::end(kSecretHeaders))
    return r.problem(s, "a rule may not read '" + name + "': it carries credentials");
  out = std::move(name);
}

void read_rule(Reader& r, const Slot& at, RouterRule& c, std::size_t index, std::vector<Slot>& tier_slots) {
  std::optional<Slot> matches_slot;
  bool tier_given = false;
  r.mapping(at, {
      {"name", [&](const Slot& s) { read_label(r, s, c.name, "rule name"); }},
      {"system", [&](const Slot& s) { read_pattern(r, s, c.system); }},
      {"last_turn", [&](const Slot& s) { read_pattern(r, s, c.last_turn); }},
      {"tools",
       [&](const Slot& s) {
         bool tools = false;
         r.boolean(s, tools);
         c.tools = tools;
       }},
      {"header", [&](const Slot& s) { read_header_name(r, s, c.header); }},
      {"header_matches",
       [&](const Slot& s) {
         matches_slot = s;
         read_pattern(r, s, c.header_matches);
       }},
      {"tenant",
       [&](const Slot& s) {
         if (!s.node.IsSequence()) return read_label(r, s, c.tenants.emplace_back(), "tenant");
         for (const Slot& item : r.list(s)) read_label(r, item, c.tenants.emplace_back(), "tenant");
       }},
      {"tier",
       [&](const Slot& s) {
         tier_given = true;
         if (r.non_empty_string(s, c.tier)) tier_slots.push_back(s);
         else tier_slots.push_back({});
       },
       true},
  });
  if (!tier_given) tier_slots.push_back({});
  if (c.name.empty()) c.name = "rule-" + std::to_string(index);
  if (matches_slot && !at.node["header"]) r.problem(*matches_slot, "header_matches needs header");
  const bool has_condition = at.node.IsMap() && (at.node["system"] || at.node["last_turn"] || at.node["tools"] ||
                                                 at.node["header"] || at.node["tenant"]);
  if (at.node.IsMap() && !has_condition)
    r.problem(at, "a rule needs at least one condition: system, last_turn, tools, header or tenant");
}

// The tiers, in the order written: the cheapest first.
void read_tiers(Reader& r, const Slot& at, RouterConfig& c, RouterRefs& refs) {
  if (!at.node.IsMap())
    return r.problem(at, "expected a mapping of tier name to model, cheapest first, e.g. { low: fast, high: gpt-4o }");
  KeyLines seen;
  for (auto it = at.node.begin(); it != at.node.end(); ++it) {
    if (!it->first.IsScalar()) {
      r.problem(at.path, it->first.Mark(), "keys must be plain strings");
      continue;
    }
    const std::string tier = it->first.Scalar();
    const Slot value{it->second, join_key(at.path, tier), it->second.IsNull() ? it->first.Mark() : it->second.Mark()};
    if (!config_syntax::is_name(tier) || tier.empty() || tier.size() > 64) {
      r.problem(at.path, it->first.Mark(), "invalid tier name '" + tier + "': use up to 64 letters, digits, '.', '_' or '-'");
      continue;
    }
    if (const auto line = find_line(seen, tier)) {
      r.problem(value.path, it->first.Mark(), "duplicate tier '" + tier + "' (first at line " + std::to_string(*line) + ")");
      continue;
    }
    seen.emplace_back(tier, it->first.Mark().line + 1);
    Name model;
    if (!r.name(value, model)) continue;
    c.tiers.push_back({tier, model.value, 0});
    refs.tier_models.push_back({std::move(model), value});
  }
  if (c.tiers.empty()) r.problem(at, "at least one tier is required");
}

// Thresholds: the lowest score of each tier above the first, rising.
void read_thresholds(Reader& r, const std::optional<Slot>& at, RouterConfig& c) {
  const std::size_t n = c.tiers.size();
  if (!at) {
    if (n == 2) c.tiers[1].min_score = kRouterHighScore;
    if (n == 3) {
      c.tiers[1].min_score = kRouterMediumScore;
      c.tiers[2].min_score = kRouterHighScore;
    }
    return;  // more tiers: read_router reports the missing thresholds
  }
  if (!at->node.IsMap()) return r.problem(*at, "expected a mapping of tier name to its lowest score, e.g. { high: 0.6 }");
  std::vector<std::optional<double>> given(n);
  std::vector<bool> present(n, false);
  bool unknown = false;  // a misspelt tier: "missing" would only repeat it
  for (auto it = at->node.begin(); it != at->node.end(); ++it) {
    const std::string tier = it->first.IsScalar() ? it->first.Scalar() : std::string();
    const Slot value{it->second, join_key(at->path, tier), it->second.IsNull() ? it->first.Mark() : it->second.Mark()};
    const auto found = std::find_if(c.tiers.begin(), c.tiers.end(), [&](const RouterTier& t) { return t.name == tier; });
    if (found == c.tiers.end()) {
      std::vector<std::string> names;
      for (std::size_t i = 1; i < n; ++i) names.push_back(c.tiers[i].name);
      r.problem(value.path, it->first.Mark(), "unknown tier '" + tier + "'; thresholds are for: " + join_names(names));
      unknown = true;
      continue;
    }
    if (found == c.tiers.begin()) {
      r.problem(value.path, it->first.Mark(), "the first tier takes every score below the next one's: it has no threshold");
      continue;
    }
    present[static_cast<std::size_t>(found - c.tiers.begin())] = true;
    double score = -1;
    r.number(value, 0, 1, score);
    if (score >= 0) given[static_cast<std::size_t>(found - c.tiers.begin())] = score;
  }
  double previous = 0;
  for (std::size_t i = 1; i < n; ++i) {
    if (!given[i]) {
      if (!present[i] && !unknown) r.problem(*at, "missing threshold for tier '" + c.tiers[i].name + "'");
      return;
    }
    if (*given[i] <= previous && i > 1)
      r.problem(*at, "thresholds must rise with the tiers: '" + c.tiers[i].name + "' must be above '" +
                         c.tiers[i - 1].name + "'");
    c.tiers[i].min_score = *given[i];
    previous = *given[i];
  }
}

void read_examples(Reader& r, const Slot& at, RouterConfig& c) {
  const auto value = r.scalar(at, "a file name");
  if (!value) return;
  if (auto bad = config_syntax::check_readable_file(value->text))
    return r.problem(at, "cannot read examples file " + value->shown() + ": " + *bad);
  c.examples = value->text;
  LabelledPrompts file = read_labelled_prompts(c.examples);
  for (std::size_t i = 0; i < file.problems.size() && i < kMaxExampleProblems; ++i)
    r.problem(at, value->shown() + " " + file.problems[i]);
  if (file.problems.size() > kMaxExampleProblems)
    r.problem(at, value->shown() + ": " + std::to_string(file.problems.size() - kMaxExampleProblems) + " more problems");
  c.example_prompts = std::move(file.prompts);
}

void check_examples(Reader& r, const Slot& at, const RouterConfig& c) {
  std::size_t reported = 0;
  for (const LabelledPrompt& p : c.example_prompts) {
    if (c.find_tier(p.tier)) continue;
    if (reported++ < kMaxExampleProblems)
      r.problem(at, "line " + std::to_string(p.line) + ": " +
                        (p.tier.empty() ? "no 'tier'" : "tier '" + p.tier + "' is not a tier of this router"));
  }
  if (c.example_prompts.empty() && !c.examples.empty()) r.problem(at, "the examples file has no examples");
}

void read_router(Reader& r, const Slot& at, RouterConfig& c, RouterRefs& refs) {
  static const Choices<RouterMode> kModes = {{"heuristic", RouterMode::heuristic}, {"knn", RouterMode::knn}};
  static const Choices<NoCapacityPolicy> kPolicies = {{"queue", NoCapacityPolicy::queue},
                                                      {"next_tier_up", NoCapacityPolicy::next_tier_up}};
  std::optional<Slot> thresholds, examples, mode_slot;
  std::vector<Slot> rule_tiers;
  bool has_alias = false;
  r.mapping(at, {
      {"alias",
       [&](const Slot& s) {
         has_alias = true;
         Name alias;
         if (!r.name(s, alias)) return;
         c.alias = alias.value;
         refs.aliases.push_back({std::move(alias), s});
       }},
      {"tiers", [&](const Slot& s) { read_tiers(r, s, c, refs); }, true},
      {"thresholds", [&](const Slot& s) { thresholds = s; }},
      {"rules",
       [&](const Slot& s) {
         const auto items = r.list(s);
         for (std::size_t i = 0; i < items.size(); ++i) read_rule(r, items[i], c.rules.emplace_back(), i, rule_tiers);
       }},
      {"mode",
       [&](const Slot& s) {
         mode_slot = s;
         r.choice(s, kModes, c.mode);
       }},
      {"examples", [&](const Slot& s) { examples = s; }},  // read below, once the mode is known
      {"k", [&](const Slot& s) { r.integer(s, 1, 101, c.k); }},
      {"embedder",
       [&](const Slot& s) {
         static const Choices<std::string_view> kEmbedders = {{"hashed", "hashed"}};
         std::string_view embedder;
         if (r.choice(s, kEmbedders, embedder)) c.embedder = embedder;
       }},
      {"on_no_capacity", [&](const Slot& s) { r.choice(s, kPolicies, c.on_no_capacity); }},
      {"shadow", [&](const Slot& s) { r.boolean(s, c.shadow); }},
  });
  if (!has_alias) refs.aliases.push_back({{c.alias, c.alias, quote(c.alias)}, at});
  if (c.tiers.empty()) return;  // reported: nothing below can be checked
  read_thresholds(r, thresholds, c);
  if (!thresholds && c.tiers.size() > 3)
    r.problem(at, "thresholds are required with more than 3 tiers: give the lowest score of each tier above the first");
  for (std::size_t i = 0; i < c.rules.size() && i < rule_tiers.size(); ++i) {
    if (c.rules[i].tier.empty() || c.find_tier(c.rules[i].tier)) continue;
    std::vector<std::string> names;
    for (const RouterTier& t : c.tiers) names.push_back(t.name);
    r.problem(rule_tiers[i], "unknown tier '" + c.rules[i].tier + "'; this router's tiers: " + join_names(names));
  }
  if (c.mode == RouterMode::knn && !examples) r.problem(*mode_slot, "mode knn needs examples: a file of labelled prompts");
  if (examples && c.mode != RouterMode::knn) r.problem(*examples, "examples are used only with mode: knn");
  if (examples && c.mode == RouterMode::knn) {
    read_examples(r, *examples, c);
    check_examples(r, *examples, c);
  }
}

}  // namespace

void read_routers(Reader& r, const Slot& at, std::vector<RouterConfig>& out, RouterRefs& refs) {
  if (at.node.IsNull()) return;  // everything commented out: no router
  if (!at.node.IsSequence()) return read_router(r, at, out.emplace_back(), refs);
  const auto items = r.list(at);
  if (items.empty()) r.problem(at, "at least one router is required (or leave the section out)");
  for (const Slot& item : items) read_router(r, item, out.emplace_back(), refs);
}

void check_router_refs(Reader& r, const GatewayConfig& config, const RouterRefs& refs) {
  std::vector<std::string> models;
  for (const ModelConfig& m : config.models) models.push_back(m.name);
  for (const auto& ref : refs.tier_models) {
    if (!config.find_model(ref.name.value))
      r.problem(ref.slot, "unknown model " + ref.name.shown + "; configured models: " + join_names(models));
  }
  KeyLines seen;
  for (const auto& ref : refs.aliases) {
    if (config.find_model(ref.name.value))
      r.problem(ref.slot, "alias " + ref.name.shown + " is also a model's name: a client could not ask for that model");
    else
      check_unique(r, ref.slot, ref.name, "router alias", seen);
  }
}

}  // namespace sluice::config_reader
