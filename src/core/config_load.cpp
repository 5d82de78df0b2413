// Loads the YAML configuration into the typed structs of config.hpp, reporting
// every problem with its key path and position. The only file that knows YAML.
//
// Two rules shape this file. Every problem is collected, so one run of
// `sluice --check-config` shows everything wrong with a file. And a message
// never carries a value that came from the environment (it may be a secret):
// it shows the text as written in the file instead, and it shows nothing at
// all for api_key or header values.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "config_syntax.hpp"
#include "sluice/core/config.hpp"

namespace sluice {

namespace {

using config_syntax::Expanded;
using config_syntax::lowercase;

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string join_index(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string quote(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// A limit that exists only because the field is an int is not worth stating
// unless it was crossed.
std::string range_message(long long min, long long max, bool below) {
  if (max != INT_MAX) return "must be between " + std::to_string(min) + " and " + std::to_string(max);
  return below ? "must be at least " + std::to_string(min) : "must be at most " + std::to_string(max);
}

// ---------------------------------------------------------------------------
// The YAML reader: typed reads that record a problem instead of failing.

// One value in the document, its key path, and the position to blame.
struct Slot {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// Names already seen and the 1-based line of each, for duplicate checks.
using KeyLines = std::vector<std::pair<std::string, int>>;

std::optional<int> find_line(const KeyLines& seen, std::string_view name) {
  for (const auto& [earlier, line] : seen) {
    if (earlier == name) return line;
  }
  return std::nullopt;
}

// A scalar after expansion. shown() is what a message may print.
struct Scalar {
  std::string text;
  std::string raw;
  bool from_env = false;
  std::string shown() const { return from_env ? "from " + quote(raw) : quote(text); }
};

struct Field {
  std::string_view key;
  std::function<void(const Slot&)> read;  // empty: a DESIGN.md section not implemented yet
  bool required = false;
};

template <typename E>
using Choices = std::vector<std::pair<std::string_view, E>>;

class Reader {
 public:
  explicit Reader(EnvLookup env) : env_(std::move(env)) {}

  void problem(const std::string& path, const YAML::Mark& mark, std::string message) {
    const bool known = mark.line >= 0;  // yaml-cpp marks are 0-based; -1 when unknown
    problems_.push_back({path, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0,
                         std::move(message)});
  }
  void problem(const Slot& at, std::string message) { problem(at.path, at.mark, std::move(message)); }

  std::vector<ConfigProblem> take_problems() { return std::move(problems_); }

  // Calls each field's reader for the keys present; reports unknown, duplicate
  // and missing required keys. A null node (a section with everything
  // commented out) counts as an empty mapping.
  void mapping(const Slot& at, const std::vector<Field>& fields) {
    if (!at.node.IsMap() && !at.node.IsNull()) return problem(at, "expected a mapping");
    KeyLines seen;
    if (at.node.IsMap()) {
      for (auto it = at.node.begin(); it != at.node.end(); ++it) {
        read_entry(at, it->first, it->second, fields, seen);
      }
    }
    for (const auto& field : fields) {
      if (field.required && !find_line(seen, field.key)) {
        problem(at, "missing required key " + quote(field.key));
      }
    }
  }

  // The items of a list; null counts as an empty list.
  std::vector<Slot> list(const Slot& at) {
    std::vector<Slot> items;
    if (at.node.IsNull()) return items;
    if (!at.node.IsSequence()) {
      problem(at, "expected a list");
      return items;
    }
    for (std::size_t i = 0; i < at.node.size(); ++i) {
      const YAML::Node item = at.node[i];
      items.push_back({item, join_index(at.path, i), item.IsNull() ? at.mark : item.Mark()});
    }
    return items;
  }

  // The expanded text of a scalar; `expected` names the type for messages.
  std::optional<Scalar> scalar(const Slot& at, std::string_view expected) {
    if (!at.node.IsScalar()) {
      problem(at, "expected " + std::string(expected) + (at.node.IsNull() ? ", found no value" : ""));
      return std::nullopt;
    }
    Expanded expanded = config_syntax::expand_env(at.node.Scalar(), env_);
    for (auto& error : expanded.errors) problem(at, std::move(error));
    if (!expanded.errors.empty()) return std::nullopt;
    return Scalar{std::move(expanded.text), at.node.Scalar(), expanded.used_env};
  }

  // A key with no value (`api_key:`) reads as the empty string.
  bool string(const Slot& at, std::string& out) {
    if (at.node.IsNull()) {
      out.clear();
      return true;
    }
    auto value = scalar(at, "a string");
    if (value) out = std::move(value->text);
    return value.has_value();
  }

  bool non_empty_string(const Slot& at, std::string& out) {
    if (!string(at, out)) return false;
    if (out.empty()) problem(at, "must not be empty");
    return !out.empty();
  }

  // Decimal integers only: "1.5", "1e3" and "0x10" are rejected, not rounded.
  template <typename T>
  void integer(const Slot& at, long long min, long long max, T& out) {
    const auto value = scalar(at, "an integer");
    if (!value) return;
    long long number = 0;
    const char* end = value->text.data() + value->text.size();
    const auto [stop, ec] = std::from_chars(value->text.data(), end, number);
    const bool too_big = ec == std::errc::result_out_of_range;
    if (value->text.empty() || stop != end || (ec != std::errc{} && !too_big)) {
      return problem(at, "expected an integer");
    }
    if (too_big || number < min || number > max) {
      const bool below = too_big ? value->text.starts_with('-') : number < min;
      return problem(at, range_message(min, max, below));
    }
    out = static_cast<T>(number);
  }

  void duration(const Slot& at, Millis min, Millis max, Millis& out) {
    const auto value = scalar(at, "a duration like 250ms, 10s, 5m");
    if (!value) return;
    const auto parsed = parse_duration(value->text);
    if (!parsed) return problem(at, "expected a duration like 250ms, 10s, 5m");
    if (*parsed < min || *parsed > max) {
      using config_syntax::format_millis;
      return problem(at, "must be between " + format_millis(min) + " and " + format_millis(max));
    }
    out = *parsed;
  }

  void boolean(const Slot& at, bool& out) {
    const auto value = scalar(at, "true or false");
    if (!value) return;
    const std::string text = lowercase(value->text);
    if (text != "true" && text != "false") return problem(at, "expected true or false");
    out = text == "true";
  }

  template <typename E>
  bool choice(const Slot& at, const Choices<E>& choices, E& out) {
    const auto value = scalar(at, "a string");
    if (!value) return false;
    std::vector<std::string> allowed;
    for (const auto& [name, e] : choices) {
      if (name == value->text) {
        out = e;
        return true;
      }
      allowed.emplace_back(name);
    }
    problem(at, "invalid value " + value->shown() + "; expected one of: " + join_names(allowed));
    return false;
  }

 private:
  void read_entry(const Slot& at, const YAML::Node& key, const YAML::Node& value,
                  const std::vector<Field>& fields, KeyLines& seen) {
    if (!key.IsScalar()) return problem(at.path, key.Mark(), "keys must be plain strings");
    const std::string& name = key.Scalar();
    const std::string path = join_key(at.path, name);
    if (const auto line = find_line(seen, name)) {
      return problem(path, key.Mark(),
                     "duplicate key " + quote(name) + " (first at line " + std::to_string(*line) + ")");
    }
    seen.emplace_back(name, key.Mark().line + 1);
    const auto field = std::find_if(fields.begin(), fields.end(),
                                    [&](const Field& f) { return f.key == name; });
    if (field == fields.end()) return problem(path, key.Mark(), unknown_key_message(name, fields));
    if (!field->read) {
      return problem(path, key.Mark(),
                     "section " + quote(name) + " is not supported by this version of sluice");
    }
    // A null value has no position of its own (yaml-cpp points past it).
    field->read({value, path, value.IsNull() ? key.Mark() : value.Mark()});
  }

  static std::string unknown_key_message(const std::string& name, const std::vector<Field>& fields) {
    std::string message = "unknown key " + quote(name);
    const Field* best = nullptr;
    std::size_t best_distance = 3;  // suggest only for one or two typos
    for (const auto& field : fields) {
      const auto distance = config_syntax::edit_distance(name, field.key);
      if (field.read && distance < best_distance && distance < name.size()) {
        best = &field;
        best_distance = distance;
      }
    }
    if (best) message += "; did you mean " + quote(best->key) + "?";
    return message;
  }

  EnvLookup env_;
  std::vector<ConfigProblem> problems_;
};

// ---------------------------------------------------------------------------
// The sections. Defaults are whatever the struct holds before a key is read.

constexpr Millis kMinute{60'000};
constexpr Millis kHour{3'600'000};

void read_server(Reader& r, const Slot& at, ServerConfig& c) {
  r.mapping(at, {
      {"listen",
       [&](const Slot& s) {
         const auto value = r.scalar(s, "a string");
         if (!value) return;
         if (auto bad = config_syntax::check_listen(value->text)) {
           return r.problem(s, "invalid address " + value->shown() + ": " + *bad);
         }
         c.listen = value->text;
       }},
      {"max_body_bytes", [&](const Slot& s) { r.integer(s, 1024, 1 << 30, c.max_body_bytes); }},
      {"max_header_bytes", [&](const Slot& s) { r.integer(s, 1024, 1 << 20, c.max_header_bytes); }},
      {"header_timeout", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.header_timeout); }},
      {"keepalive_timeout",
       [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.keepalive_timeout); }},
      {"shutdown_grace", [&](const Slot& s) { r.duration(s, Millis{0}, kHour, c.shutdown_grace); }},
      {"max_connections", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.max_connections); }},
  });
}

void read_mock(Reader& r, const Slot& at, MockConfig& c) {
  r.mapping(at, {
      {"latency", [&](const Slot& s) { r.duration(s, Millis{0}, 10 * kMinute, c.latency); }},
      {"stream_chunks", [&](const Slot& s) { r.integer(s, 1, 10'000, c.stream_chunks); }},
      {"chunk_interval", [&](const Slot& s) { r.duration(s, Millis{0}, kMinute, c.chunk_interval); }},
      {"completion_tokens", [&](const Slot& s) { r.integer(s, 1, 100'000, c.completion_tokens); }},
      {"embedding_dims", [&](const Slot& s) { r.integer(s, 1, 65'536, c.embedding_dims); }},
  });
}

// Header values are never echoed: they often carry credentials.
void read_headers(Reader& r, const Slot& at, std::map<std::string, std::string>& headers) {
  if (at.node.IsNull()) return;
  if (!at.node.IsMap()) return r.problem(at, "expected a mapping");
  static const std::set<std::string> kReserved = {"host", "content-length", "transfer-encoding",
                                                  "connection"};
  std::set<std::string> seen;  // lowercased: header names are case-insensitive
  for (auto it = at.node.begin(); it != at.node.end(); ++it) {
    if (!it->first.IsScalar()) {
      r.problem(at.path, it->first.Mark(), "keys must be plain strings");
      continue;
    }
    const std::string& name = it->first.Scalar();
    const Slot value{it->second, join_key(at.path, name),
                     it->second.IsNull() ? it->first.Mark() : it->second.Mark()};
    if (!config_syntax::is_http_token(name)) {
      r.problem(value.path, it->first.Mark(), "invalid header name " + quote(name));
    } else if (kReserved.contains(lowercase(name))) {
      r.problem(value.path, it->first.Mark(), "header " + quote(name) + " is set by sluice");
    } else if (!seen.insert(lowercase(name)).second) {
      r.problem(value.path, it->first.Mark(), "duplicate header " + quote(name));
    }
    std::string text;
    if (!r.string(value, text)) continue;
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      r.problem(value, "header value must not contain CR, LF or NUL");
      continue;
    }
    headers[name] = std::move(text);
  }
}

void read_ca_file(Reader& r, const Slot& at, std::string& out) {
  if (at.node.IsNull()) return;  // `ca_file:` with no value: the system store only
  const auto value = r.scalar(at, "a string");
  if (!value) return;
  if (auto bad = config_syntax::check_readable_file(value->text)) {
    return r.problem(at, "cannot read CA file " + value->shown() + ": " + *bad);
  }
  out = value->text;
}

void check_unique(Reader& r, const Slot& at, const std::string& name, std::string_view what,
                  KeyLines& seen) {
  if (const auto line = find_line(seen, name)) {
    return r.problem(at, "duplicate " + std::string(what) + " name " + quote(name) +
                             " (first defined at line " + std::to_string(*line) + ")");
  }
  seen.emplace_back(name, at.mark.line + 1);
}

void read_provider(Reader& r, const Slot& at, ProviderConfig& c, KeyLines& names) {
  static const Choices<ProviderType> kTypes = {{"openai", ProviderType::openai},
                                               {"azure", ProviderType::azure},
                                               {"anthropic", ProviderType::anthropic},
                                               {"ollama", ProviderType::ollama},
                                               {"mock", ProviderType::mock}};
  bool type_read = false;
  bool has_base_url = false;
  r.mapping(at, {
      {"name",
       [&](const Slot& s) {
         if (!r.non_empty_string(s, c.name)) return;
         if (!config_syntax::is_name(c.name)) {
           r.problem(s, "invalid name " + quote(c.name) + "; use letters, digits, '.', '_' and '-'");
         }
         check_unique(r, s, c.name, "provider", names);
       },
       true},
      {"type", [&](const Slot& s) { type_read = r.choice(s, kTypes, c.type); }, true},
      {"base_url",
       [&](const Slot& s) {
         has_base_url = true;
         if (!r.string(s, c.base_url)) return;
         if (auto bad = config_syntax::check_base_url(c.base_url)) r.problem(s, *bad);
       }},
      {"api_key", [&](const Slot& s) { r.string(s, c.api_key); }},
      {"api_version", [&](const Slot& s) { r.non_empty_string(s, c.api_version); }},
      {"anthropic_version", [&](const Slot& s) { r.non_empty_string(s, c.anthropic_version); }},
      {"ca_file", [&](const Slot& s) { read_ca_file(r, s, c.ca_file); }},
      {"headers", [&](const Slot& s) { read_headers(r, s, c.headers); }},
      {"rpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.rpm); }},
      {"tpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.tpm); }},
      {"weight", [&](const Slot& s) { r.integer(s, 1, 1000, c.weight); }},
      {"default_max_tokens", [&](const Slot& s) { r.integer(s, 1, 1'000'000, c.default_max_tokens); }},
      {"max_retries", [&](const Slot& s) { r.integer(s, 0, 10, c.max_retries); }},
      {"cooldown", [&](const Slot& s) { r.duration(s, Millis{100}, kHour, c.cooldown); }},
      {"timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.timeout); }},
      {"connect_timeout",
       [&](const Slot& s) { r.duration(s, Millis{10}, 10 * kMinute, c.connect_timeout); }},
      {"first_byte_timeout",
       [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.first_byte_timeout); }},
      {"idle_timeout", [&](const Slot& s) { r.duration(s, Millis{10}, kHour, c.idle_timeout); }},
      {"max_idle_connections",
       [&](const Slot& s) { r.integer(s, 0, 10'000, c.max_idle_connections); }},
      {"mock", [&](const Slot& s) { read_mock(r, s, c.mock); }},
  });
  if (type_read && (c.type == ProviderType::openai || c.type == ProviderType::azure) && !has_base_url) {
    r.problem(at, std::string("missing required key 'base_url' (required for type ") +
                      (c.type == ProviderType::azure ? "azure)" : "openai)"));
  }
  if (!has_base_url && c.type == ProviderType::anthropic) c.base_url = "https://api.anthropic.com";
  if (!has_base_url && c.type == ProviderType::ollama) c.base_url = "http://127.0.0.1:11434";
}

// A deployment's provider name, checked once every provider is known.
struct ProviderRef {
  std::string name;
  Slot slot;
};

void read_deployment(Reader& r, const Slot& at, DeploymentConfig& c, std::vector<ProviderRef>& refs) {
  r.mapping(at, {
      {"provider",
       [&](const Slot& s) {
         if (r.non_empty_string(s, c.provider)) refs.push_back({c.provider, s});
       },
       true},
      {"model", [&](const Slot& s) { r.non_empty_string(s, c.model); }, true},
      {"weight", [&](const Slot& s) { r.integer(s, 1, 1000, c.weight); }},
      {"priority", [&](const Slot& s) { r.integer(s, 0, 1000, c.priority); }},
      {"rpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.rpm); }},
      {"tpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.tpm); }},
  });
}

void read_model(Reader& r, const Slot& at, ModelConfig& c, KeyLines& names,
                std::vector<ProviderRef>& refs) {
  r.mapping(at, {
      {"name",
       [&](const Slot& s) {
         if (r.non_empty_string(s, c.name)) check_unique(r, s, c.name, "model", names);
       },
       true},
      {"deployments",
       [&](const Slot& s) {
         const auto items = r.list(s);
         if (items.empty() && (s.node.IsNull() || s.node.IsSequence())) {
           r.problem(s, "must list at least one deployment");
         }
         for (const auto& item : items) read_deployment(r, item, c.deployments.emplace_back(), refs);
       },
       true},
  });
}

void read_logging(Reader& r, const Slot& at, LoggingConfig& c) {
  static const Choices<std::string_view> kLevels = {
      {"trace", "trace"}, {"debug", "debug"}, {"info", "info"},
      {"warn", "warn"},   {"error", "error"}, {"off", "off"}};
  static const Choices<LogFormat> kFormats = {{"json", LogFormat::json}, {"text", LogFormat::text}};
  r.mapping(at, {
      {"level",
       [&](const Slot& s) {
         std::string_view level;
         if (r.choice(s, kLevels, level)) c.level = level;
       }},
      {"format", [&](const Slot& s) { r.choice(s, kFormats, c.format); }},
      {"access_log", [&](const Slot& s) { r.boolean(s, c.access_log); }},
  });
}

// Skipped when there are no providers or some provider's name could not be
// read: that problem is reported already, and one more per deployment would
// only bury it.
void check_provider_refs(Reader& r, const GatewayConfig& config, const std::vector<ProviderRef>& refs) {
  std::vector<std::string> names;
  for (const auto& provider : config.providers) {
    if (provider.name.empty()) return;
    if (std::find(names.begin(), names.end(), provider.name) == names.end()) {
      names.push_back(provider.name);
    }
  }
  for (const auto& ref : refs) {
    if (names.empty() || config.find_provider(ref.name)) continue;
    r.problem(ref.slot, "unknown provider " + quote(ref.name) + "; configured providers: " +
                            join_names(names));
  }
}

void read_root(Reader& r, const Slot& root, GatewayConfig& config) {
  KeyLines provider_names, model_names;
  std::vector<ProviderRef> refs;
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
      {"providers",
       [&](const Slot& s) {
         providers_usable = read_list(s, has_providers, "provider", [&](const Slot& item) {
           read_provider(r, item, config.providers.emplace_back(), provider_names);
         });
       }},
      {"models",
       [&](const Slot& s) {
         read_list(s, has_models, "model", [&](const Slot& item) {
           read_model(r, item, config.models.emplace_back(), model_names, refs);
         });
       }},
      {"logging", [&](const Slot& s) { read_logging(r, s, config.logging); }},
      {"auth", {}}, {"router", {}}, {"cache", {}}, {"queue", {}}, {"redis", {}},
  });
  const auto nowhere = YAML::Mark::null_mark();
  if (!has_providers) r.problem("providers", nowhere, "at least one provider is required");
  if (!has_models) r.problem("models", nowhere, "at least one model is required");
  if (providers_usable) check_provider_refs(r, config, refs);
}

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

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

ConfigLoadResult load_config_text(const std::string& yaml, const std::string& source_name,
                                  EnvLookup env) {
  ConfigLoadResult result;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml);
    if (documents.empty() || documents[0].IsNull()) {
      result.problems.push_back(document_problem(YAML::Mark::null_mark(), "the configuration is empty"));
      return result;
    }
    if (documents.size() > 1) {
      result.problems.push_back(document_problem(documents[1].Mark(), "expected one YAML document"));
      return result;
    }
    const YAML::Node& root = documents[0];
    if (!root.IsMap()) {
      result.problems.push_back(document_problem(root.Mark(), "expected a mapping at the top level"));
      return result;
    }
    Reader reader(env ? std::move(env) : EnvLookup(process_env));
    GatewayConfig config;
    config.source = source_name;
    read_root(reader, {root, "", root.Mark()}, config);
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
      out += ":" + std::to_string(problem.line) + ":" + std::to_string(problem.column);
    }
    out += ": ";
    if (!problem.key_path.empty()) out += problem.key_path + ": ";
    out += problem.message + "\n";
  }
  return out;
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

}  // namespace sluice
