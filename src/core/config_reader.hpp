// The typed YAML reader the config sections are written with: each read
// checks one value and records a problem (key path, position, message)
// instead of failing. Private to core; only the config_*.cpp files use it.
//
// Two rules hold for every reader here and every section built on it. Every
// problem is collected, so one run of `sluice --check-config` shows everything
// wrong with a file. And a message never carries a value that came from the
// environment (it may be a secret): it shows the text as written in the file
// instead (Scalar::shown), and it shows nothing at all for api_key or header
// values.
#pragma once

#include <charconv>
#include <climits>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sluice/core/config.hpp"

namespace sluice::config_reader {

inline constexpr Millis kMinute{60'000};
inline constexpr Millis kHour{3'600'000};

std::string join_key(const std::string& path, std::string_view key);  // "a.b"
std::string quote(std::string_view text);                             // 'text'
std::string join_names(const std::vector<std::string>& names);        // "a, b, c"

// "must be between min and max"; a bound of INT_MAX is named only when crossed.
std::string range_message(long long min, long long max, bool below);

// One value in the document, its key path, and the position to blame.
struct Slot {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// Names already seen and the 1-based line of each, for duplicate checks.
using KeyLines = std::vector<std::pair<std::string, int>>;

std::optional<int> find_line(const KeyLines& seen, std::string_view name);

// A scalar after expansion. shown() is what a message may print.
struct Scalar {
  std::string text;
  std::string raw;
  bool from_env = false;
  std::string shown() const { return from_env ? "from " + quote(raw) : quote(text); }
};

// A provider's or model's name: its expanded value, and how messages show it.
// A name may come from the environment (`name: ${TEAM}`) like any value, and
// then a message shows the text written in the file, never the value.
struct Name {
  std::string value;
  std::string written;  // the value, or the `${VAR}` text it came from
  std::string shown;    // quoted for a message: 'openai', or from '${TEAM}'
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

  // Records a problem; a null mark (line -1) records no position.
  void problem(const std::string& path, const YAML::Mark& mark, std::string message);
  void problem(const Slot& at, std::string message) { problem(at.path, at.mark, std::move(message)); }

  std::vector<ConfigProblem> take_problems() { return std::move(problems_); }

  // Key collection (config_key_paths): from now on every mapping() appends
  // the path of each key it accepts to `keys` and reads every one of them
  // from an empty mapping, and every list() has one empty item (path
  // "x[]"), so one pass over an empty document visits every key the loader
  // knows: the same field lists that reject unknown keys. Problems found on
  // the way mean nothing then.
  void collect_keys(std::vector<std::string>* keys) { keys_ = keys; }

  // Calls each field's reader for the keys present; reports unknown, duplicate
  // and missing required keys. A null node (a section with everything
  // commented out) counts as an empty mapping.
  void mapping(const Slot& at, const std::vector<Field>& fields);

  // The items of a list; null counts as an empty list.
  std::vector<Slot> list(const Slot& at);

  // The expanded text of a scalar; `expected` names the type for messages.
  std::optional<Scalar> scalar(const Slot& at, std::string_view expected);

  // A key with no value (`api_key:`) reads as the empty string;
  // non_empty_string reports it. Each returns whether `out` is usable.
  bool string(const Slot& at, std::string& out);
  bool non_empty_string(const Slot& at, std::string& out);
  // A non-empty name; `out.value` is what the configuration uses.
  bool name(const Slot& at, Name& out);

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

  // A decimal number ("2.5", "10", "0.075"); no exponent, hex, inf or nan.
  void number(const Slot& at, double min, double max, double& out);
  void duration(const Slot& at, Millis min, Millis max, Millis& out);
  void boolean(const Slot& at, bool& out);

  // One of the named values; an unknown name is reported with the choices.
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
                  const std::vector<Field>& fields, KeyLines& seen);
  static std::string unknown_key_message(const std::string& name, const std::vector<Field>& fields);

  EnvLookup env_;
  std::vector<ConfigProblem> problems_;
  std::vector<std::string>* keys_ = nullptr;  // collect_keys
};

// Reports `name` if an earlier item of the same list used it (`what` is
// "provider" or "model"); otherwise remembers it with the line of `at`.
void check_unique(Reader& r, const Slot& at, const Name& name, std::string_view what, KeyLines& seen);

}  // namespace sluice::config_reader
