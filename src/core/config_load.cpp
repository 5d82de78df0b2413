// Loads the YAML configuration into the typed structs of config.hpp, reporting
// every problem with its key path and position: parses the document, hands
// each top-level section to its reader (config_sections.hpp) and sorts what
// they report. The typed reads and the rules on messages (every problem is
// collected; env-expanded values and secrets are never printed) live in
// config_reader.hpp.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config_reader.hpp"
#include "config_sections.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/config_keys.hpp"

namespace sluice {

namespace config_reader {
namespace {

void read_root(Reader& r, const Slot& root, GatewayConfig& config) {
  KeyLines provider_names, model_names;
  std::vector<std::string> written_provider_names;
  std::vector<ProviderRef> refs;
  AuthRefs auth_refs;
  RouterRefs router_refs;
  CacheRefs cache_refs;
  bool has_providers = false, has_models = false;
  bool providers_usable = true;  // false when the providers value is not a list
  const auto read_list = [&](const Slot& s, bool& present, std::string_view what, auto read_item) {
    present = true;
    const auto items = r.list(s);
    const bool is_list = s.node.IsNull() || s.node.IsSequence();
    if (items.empty() && is_list) r.problem(s, "at least one " + std::string(what) + " is required");
    for (const auto& item : items) read_item(item);
    return is_list;
  };
  r.mapping(root, {
      {"server", [&](const Slot& s) { read_server(r, s, config.server); }},
      {"auth", [&](const Slot& s) { read_auth(r, s, config.auth, auth_refs); }},
      {"providers",
       [&](const Slot& s) {
         providers_usable = read_list(s, has_providers, "provider", [&](const Slot& item) {
           read_provider(r, item, config.providers.emplace_back(), provider_names, written_provider_names);
         });
       }},
      {"models",
       [&](const Slot& s) {
         read_list(s, has_models, "model", [&](const Slot& item) {
           read_model(r, item, config.models.emplace_back(), model_names, refs);
         });
       }},
      {"queue", [&](const Slot& s) { read_queue(r, s, config.queue); }},
      {"logging", [&](const Slot& s) { read_logging(r, s, config.logging); }},
      {"metrics", [&](const Slot& s) { read_metrics(r, s, config.metrics); }},
      {"router", [&](const Slot& s) { read_routers(r, s, config.routers, router_refs); }},
      {"redis", [&](const Slot& s) { read_redis(r, s, config.redis.emplace()); }},
      {"cache", [&](const Slot& s) { read_cache(r, s, config.cache, cache_refs); }},
  });
  const auto nowhere = YAML::Mark::null_mark();
  if (!has_providers) r.problem("providers", nowhere, "at least one provider is required");
  if (!has_models) r.problem("models", nowhere, "at least one model is required");
  if (config.queue.backend == QueueBackend::redis && !config.redis)
    r.problem("queue.backend", nowhere, "queue.backend redis needs the redis section (redis.url)");
  if (cache_refs.embedder_provider) refs.push_back(*cache_refs.embedder_provider);
  if (providers_usable) check_provider_refs(r, config, refs, written_provider_names);
  if (has_models) check_router_refs(r, config, router_refs);
  if (providers_usable && has_models) check_auth_refs(r, config, auth_refs);
}

}  // namespace

std::vector<std::string> key_paths() {
  std::vector<std::string> keys;
  Reader r([](const std::string&) { return std::optional<std::string>(); });
  r.collect_keys(&keys);
  GatewayConfig config;
  read_root(r, Slot{YAML::Node(YAML::NodeType::Map), "", YAML::Mark::null_mark()}, config);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace config_reader

std::vector<std::string> config_key_paths() { return config_reader::key_paths(); }

namespace {

// Problems in file order; those without a position last.
void sort_problems(std::vector<ConfigProblem>& problems) {
  std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::tuple(a.line == 0, a.line, a.column) < std::tuple(b.line == 0, b.line, b.column);
  });
}

// A problem with the document as a whole; no key path.
ConfigProblem document_problem(const YAML::Mark& mark, std::string message) {
  const bool known = mark.line >= 0;
  return {"", known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, std::move(message)};
}

// What the documents of a YAML stream start with, read as YAML::LoadAll
// would, without its endless loop: yaml-cpp 0.7 (Debian 12's) gives a
// document whose first token cannot start a node (",", also after an
// anchor, a tag or a first document) a null root without consuming the
// token, so LoadAll pushes null roots forever, gigabytes a second
// (jbeder/yaml-cpp#1040, fixed upstream by #1319: stop at the first null
// root). A stray comma in a configuration file froze `--check-config` and
// a hot reload until the kernel killed the process (found by fuzz_config_yaml).
struct DocumentRoots final : YAML::EventHandler {
  int documents = 0;
  bool null_root = false;  // the latest document's root is empty
  YAML::Mark null_mark;    // where
  YAML::Mark second;       // the second document's root
  int depth = 0;

  void root(const YAML::Mark& mark) {
    if (depth == 0 && documents == 2) second = mark;
  }
  void OnDocumentStart(const YAML::Mark&) override {
    ++documents;
    null_root = false;
    depth = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    root(mark);
    if (depth == 0) null_root = true, null_mark = mark;
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    root(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(mark);
    ++depth;
  }
  void OnSequenceEnd() override { --depth; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    root(mark);
    ++depth;
  }
  void OnMapEnd() override { --depth; }
};

// The problem with the stream's documents, if any: more than one, or a
// token no document can start with. Reads at most two documents.
std::optional<ConfigProblem> document_count_problem(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentRoots roots;
  while (roots.documents < 2 && parser.HandleNextDocument(roots)) {
    if (!roots.null_root) continue;
    // The token the root stopped at, past its anchor or tag.
    std::size_t at = static_cast<std::size_t>(std::max(0, roots.null_mark.pos));
    while (at < yaml.size() && (yaml[at] == '&' || yaml[at] == '!')) {
      while (at < yaml.size() && yaml[at] != ' ' && yaml[at] != '\n') ++at;
      while (at < yaml.size() && yaml[at] == ' ') ++at;
    }
    if (at < yaml.size() && yaml[at] == ',')
      return document_problem(roots.null_mark, "unexpected ',': a value cannot start with it");
    break;  // an empty document: nothing after it is read (#1319's rule)
  }
  if (roots.documents > 1) return document_problem(roots.second, "expected one YAML document");
  return std::nullopt;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

ConfigLoadResult load_config_text(const std::string& yaml, const std::string& source_name,
                                  EnvLookup env) {
  ConfigLoadResult result;
  result.content_hash = std::hash<std::string_view>{}(yaml);
  try {
    if (auto problem = document_count_problem(yaml)) {
      result.problems.push_back(std::move(*problem));
      return result;
    }
    const YAML::Node root = YAML::Load(yaml);  // the first document only
    if (!root || root.IsNull()) {
      result.problems.push_back(document_problem(YAML::Mark::null_mark(), "the configuration is empty"));
      return result;
    }
    if (!root.IsMap()) {
      result.problems.push_back(document_problem(root.Mark(), "expected a mapping at the top level"));
      return result;
    }
    config_reader::Reader reader(env ? std::move(env) : EnvLookup(process_env));
    GatewayConfig config;
    config.source = source_name;
    config_reader::read_root(reader, {root, "", root.Mark()}, config);
    result.problems = reader.take_problems();
    sort_problems(result.problems);
    if (result.problems.empty()) result.config = std::move(config);
  } catch (const YAML::Exception& e) {
    result.problems.push_back(document_problem(e.mark, e.msg));
  } catch (const std::exception& e) {
    const auto internal = std::string("internal error while loading: ") + e.what();
    result.problems.push_back(document_problem(YAML::Mark::null_mark(), internal));
  }
  return result;
}

ConfigLoadResult load_config_file(const std::string& path, EnvLookup env) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  std::string text;
  int error = file ? 0 : errno;
  if (file) {
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    if (std::ferror(file)) error = errno ? errno : EIO;
    std::fclose(file);
  }
  if (error != 0) {
    ConfigLoadResult result;
    result.problems.push_back({"", 0, 0, std::string("cannot read file: ") + std::strerror(error)});
    return result;
  }
  return load_config_text(text, path, std::move(env));
}

std::string format_problems(const std::string& source, const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& problem : problems) {
    out += source;
    if (problem.line > 0) {
      // (append, not ":" + ...: g++ 12 warns falsely with -Wrestrict)
      out.append(":").append(std::to_string(problem.line));
      out.append(":").append(std::to_string(problem.column));
    }
    out += ": ";
    if (!problem.key_path.empty()) out += problem.key_path + ": ";
    out += problem.message + "\n";
  }
  return out;
}

std::string_view to_string(ProviderType type) noexcept {
  switch (type) {
    case ProviderType::openai: return "openai";
    case ProviderType::azure: return "azure";
    case ProviderType::anthropic: return "anthropic";
    case ProviderType::ollama: return "ollama";
    case ProviderType::mock: return "mock";
  }
  return "unknown";
}

const ProviderConfig* GatewayConfig::find_provider(std::string_view name) const {
  const auto it = std::find_if(providers.begin(), providers.end(),
                               [&](const ProviderConfig& p) { return p.name == name; });
  return it == providers.end() ? nullptr : &*it;
}

const ModelConfig* GatewayConfig::find_model(std::string_view name) const {
  const auto it = std::find_if(models.begin(), models.end(),
                               [&](const ModelConfig& m) { return m.name == name; });
  return it == models.end() ? nullptr : &*it;
}

const RouterConfig* GatewayConfig::find_router(std::string_view alias) const {
  const auto it = std::find_if(routers.begin(), routers.end(),
                               [&](const RouterConfig& r) { return r.alias == alias; });
  return it == routers.end() ? nullptr : &*it;
}

const RouterTier* RouterConfig::find_tier(std::string_view name) const {
  const auto it = std::find_if(tiers.begin(), tiers.end(), [&](const RouterTier& t) { return t.name == name; });
  return it == tiers.end() ? nullptr : &*it;
}

}  // namespace sluice
