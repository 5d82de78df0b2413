#include "sluice/core/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sluice {

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  // A dozen bounds: a linear scan beats a binary search's branches.
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

namespace {

void append_escaped(std::string& out, std::string_view value, bool quote_too) {
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote_too) out += "\\\"";
    else out += c;
  }
}

}  // namespace

void Exposition::family(std::string_view name, std::string_view help, Type type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += type == Type::counter ? " counter\n" : type == Type::gauge ? " gauge\n" : " histogram\n";
}

void Exposition::labels(std::span<const Label> labels, std::string_view le) {
  if (labels.empty() && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += name;
    out_ += "=\"";
    append_escaped(out_, value, true);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void Exposition::number(double value) {
  if (std::isnan(value)) {
    out_ += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[32];
  std::to_chars_result r;
  // Counts up to 2^53 are exact integers: print them without an exponent.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0)
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
  else
    r = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round-trip form
  out_.append(buffer, r.ptr);
}

void Exposition::sample(std::string_view name, std::span<const Label> label_set, double value) {
  out_ += name;
  labels(label_set);
  out_ += ' ';
  number(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, std::span<const Label> label_set, const Histogram& h) {
  std::uint64_t cumulative = 0;
  const auto bounds = h.bounds();
  char le[32];
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += h.counts()[i];
    std::string_view le_text = "+Inf";
    if (i < bounds.size()) {
      auto r = std::to_chars(le, le + sizeof le, bounds[i]);
      le_text = std::string_view(le, static_cast<std::size_t>(r.ptr - le));
    }
    out_ += name;
    out_ += "_bucket";
    labels(label_set, le_text);
    out_ += ' ';
    number(static_cast<double>(cumulative));
    out_ += '\n';
  }
  out_ += name;
  out_ += "_sum";
  labels(label_set);
  out_ += ' ';
  number(h.sum());
  out_ += '\n';
  out_ += name;
  out_ += "_count";
  labels(label_set);
  out_ += ' ';
  number(static_cast<double>(h.count()));
  out_ += '\n';
}

}  // namespace sluice
