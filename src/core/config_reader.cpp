// The typed YAML reader behind every config section: mapping, list and
// scalar reads that record a problem instead of failing. Contracts in
// config_reader.hpp.
#include "config_reader.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "config_syntax.hpp"

namespace sluice::config_reader {

namespace {

std::string join_index(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

}  // namespace

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string quote(std::string_view text) {
  std::string out(1, '\'');  // (not "'" + ...: g++ 12 warns falsely with -Wrestrict)
  out += text;
  out += '\'';
  return out;
}

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

std::optional<int> find_line(const KeyLines& seen, std::string_view name) {
  for (const auto& [earlier, line] : seen) {
    if (earlier == name) return line;
  }
  return std::nullopt;
}

void Reader::problem(const std::string& path, const YAML::Mark& mark, std::string message) {
  const bool known = mark.line >= 0;  // yaml-cpp marks are 0-based; -1 when unknown
  problems_.push_back({path, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0,
                       std::move(message)});
}

void Reader::mapping(const Slot& at, const std::vector<Field>& fields) {
  if (keys_) {
    for (const auto& field : fields) {
      if (!field.read) continue;  // a section not supported: not accepted
      keys_->push_back(join_key(at.path, field.key));
      field.read({YAML::Node(YAML::NodeType::Map), join_key(at.path, field.key), at.mark});
    }
    return;
  }
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

std::vector<Slot> Reader::list(const Slot& at) {
  std::vector<Slot> items;
  if (keys_) return {Slot{YAML::Node(YAML::NodeType::Map), at.path + "[]", at.mark}};
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

std::optional<Scalar> Reader::scalar(const Slot& at, std::string_view expected) {
  if (!at.node.IsScalar()) {
    problem(at, "expected " + std::string(expected) + (at.node.IsNull() ? ", found no value" : ""));
    return std::nullopt;
  }
  config_syntax::Expanded expanded = config_syntax::expand_env(at.node.Scalar(), env_);
  for (auto& error : expanded.errors) problem(at, std::move(error));
  if (!expanded.errors.empty()) return std::nullopt;
  return Scalar{std::move(expanded.text), at.node.Scalar(), expanded.used_env};
}

bool Reader::string(const Slot& at, std::string& out) {
  if (at.node.IsNull()) {
    out.clear();
    return true;
  }
  auto value = scalar(at, "a string");
  if (value) out = std::move(value->text);
  return value.has_value();
}

bool Reader::non_empty_string(const Slot& at, std::string& out) {
  if (!string(at, out)) return false;
  if (out.empty()) problem(at, "must not be empty");
  return !out.empty();
}

bool Reader::name(const Slot& at, Name& out) {
  if (at.node.IsNull()) {
    problem(at, "must not be empty");
    return false;
  }
  auto value = scalar(at, "a string");
  if (!value) return false;
  out.shown = value->shown();
  out.written = value->from_env ? value->raw : value->text;
  out.value = std::move(value->text);
  if (out.value.empty()) problem(at, "must not be empty");
  return !out.value.empty();
}

void Reader::number(const Slot& at, double min, double max, double& out) {
  const auto value = scalar(at, "a number");
  if (!value) return;
  const std::string& text = value->text;
  double number = 0;
  const bool plain = !text.empty() && text.find_first_not_of("0123456789.-") == std::string::npos;
  const auto [stop, ec] = std::from_chars(text.data(), text.data() + text.size(), number, std::chars_format::fixed);
  if (!plain || ec != std::errc{} || stop != text.data() + text.size()) return problem(at, "expected a number");
  if (number < min || number > max) {
    std::ostringstream range;
    range << "must be between " << min << " and " << max;
    return problem(at, range.str());
  }
  out = number;
}

void Reader::duration(const Slot& at, Millis min, Millis max, Millis& out) {
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

void Reader::boolean(const Slot& at, bool& out) {
  const auto value = scalar(at, "true or false");
  if (!value) return;
  const std::string text = config_syntax::lowercase(value->text);
  if (text != "true" && text != "false") return problem(at, "expected true or false");
  out = text == "true";
}

void Reader::read_entry(const Slot& at, const YAML::Node& key, const YAML::Node& value,
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

std::string Reader::unknown_key_message(const std::string& name, const std::vector<Field>& fields) {
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

void check_unique(Reader& r, const Slot& at, const Name& name, std::string_view what, KeyLines& seen) {
  if (const auto line = find_line(seen, name.value)) {
    return r.problem(at, "duplicate " + std::string(what) + " name " + name.shown +
                             " (first defined at line " + std::to_string(*line) + ")");
  }
  seen.emplace_back(name.value, at.mark.line + 1);
}

}  // namespace sluice::config_reader
