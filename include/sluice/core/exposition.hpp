// Prometheus text exposition (format 0.0.4): the writer /metrics renders
// with, and the histogram the request metrics record into. Small and
// allocation-free on the recording side: a histogram is a fixed array of
// bucket counts over bounds given once; only the writer builds text.
//
// Single-threaded, like the event loop that owns the metrics.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// Observations counted into fixed buckets by upper bound (`le`), plus their
// sum and count. The bounds must be sorted ascending and outlive the
// histogram (they are static tables); +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

  // Counts `value` in the first bucket whose bound is >= value (the +Inf
  // bucket when none is). NaN is ignored.
  void observe(double value) noexcept;

  std::span<const double> bounds() const noexcept { return bounds_; }
  // Per bucket, not cumulative; the last is the +Inf bucket's own count.
  const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }
  double sum() const noexcept { return sum_; }
  std::uint64_t count() const noexcept { return count_; }

 private:
  std::span<const double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

// Builds one exposition document. Each family is announced once with
// family() (its HELP and TYPE lines), then its samples follow. Label values
// are escaped (backslash, double quote, line feed); label and metric names
// are the caller's constants and are not checked here.
class Exposition {
 public:
  enum class Type { counter, gauge, histogram };

  // "# HELP name help" and "# TYPE name type". Help text is escaped.
  void family(std::string_view name, std::string_view help, Type type);

  // name{labels} value. Integers print exactly; other values in the
  // shortest form that reads back the same; +Inf, -Inf and NaN as
  // Prometheus spells them.
  void sample(std::string_view name, std::span<const Label> labels, double value);
  void sample(std::string_view name, Labels labels, double value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }

  // A histogram's series: name_bucket{labels,le="..."} (cumulative, the
  // +Inf bucket last), name_sum{labels} and name_count{labels}.
  void histogram(std::string_view name, std::span<const Label> labels, const Histogram& h);
  void histogram(std::string_view name, Labels labels, const Histogram& h) {
    histogram(name, std::span<const Label>(labels.begin(), labels.size()), h);
  }

  const std::string& text() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  void labels(std::span<const Label> labels, std::string_view le = {});
  void number(double value);

  std::string out_;
};

// The exposition format's content type.
inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sluice
