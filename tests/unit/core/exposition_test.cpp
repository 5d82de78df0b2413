// The exposition writer: HELP/TYPE lines, label escaping, number forms, and
// histograms as Prometheus reads them (cumulative buckets, +Inf, _sum, _count).
#include "sluice/core/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace sluice {
namespace {

constexpr double kBounds[] = {0.1, 0.5, 1};

TEST(Exposition, FamilyWritesHelpAndTypeWithTheHelpEscaped) {
  Exposition out;
  out.family("a_total", "first line\nback\\slash \"quoted\"", Exposition::Type::counter);
  out.family("b", "gauge", Exposition::Type::gauge);
  out.family("c_seconds", "histogram", Exposition::Type::histogram);
  EXPECT_EQ(out.text(),
            "# HELP a_total first line\\nback\\\\slash \"quoted\"\n# TYPE a_total counter\n"
            "# HELP b gauge\n# TYPE b gauge\n"
            "# HELP c_seconds histogram\n# TYPE c_seconds histogram\n");
}

TEST(Exposition, SamplesWithoutAndWithLabels) {
  Exposition out;
  out.sample("up", {}, 1);
  out.sample("requests_total", {{"route", "/v1/chat"}, {"status", "200"}}, 42);
  EXPECT_EQ(out.text(), "up 1\nrequests_total{route=\"/v1/chat\",status=\"200\"} 42\n");
}

TEST(Exposition, LabelValuesAreEscaped) {
  Exposition out;
  out.sample("x", {{"v", "a\"b\\c\nd"}}, 0);
  EXPECT_EQ(out.text(), "x{v=\"a\\\"b\\\\c\\nd\"} 0\n");
}

TEST(Exposition, NumbersPrintExactlyAndReadBack) {
  Exposition out;
  out.sample("a", {}, 123456789012.0);
  out.sample("b", {}, 0.1);
  out.sample("c", {}, 1e-9);
  out.sample("d", {}, -2.5);
  out.sample("e", {}, std::numeric_limits<double>::infinity());
  out.sample("f", {}, -std::numeric_limits<double>::infinity());
  out.sample("g", {}, std::nan(""));
  EXPECT_EQ(out.text(), "a 123456789012\nb 0.1\nc 1e-09\nd -2.5\ne +Inf\nf -Inf\ng NaN\n");
}

TEST(Histogram, CountsIntoTheFirstBucketWhoseBoundHoldsTheValue) {
  Histogram h(kBounds);
  for (double v : {0.05, 0.1, 0.2, 0.5, 0.7, 3.0}) h.observe(v);
  h.observe(std::nan(""));  // ignored
  EXPECT_EQ(h.counts(), (std::vector<std::uint64_t>{2, 2, 1, 1}));  // le is inclusive
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.05 + 0.1 + 0.2 + 0.5 + 0.7 + 3.0);
}

TEST(Exposition, HistogramBucketsAreCumulativeEndingInInfThenSumAndCount) {
  Histogram h(kBounds);
  for (double v : {0.0625, 0.25, 0.25, 2.0}) h.observe(v);
  Exposition out;
  out.histogram("d_seconds", {{"route", "r"}}, h);
  EXPECT_EQ(out.text(),
            "d_seconds_bucket{route=\"r\",le=\"0.1\"} 1\n"
            "d_seconds_bucket{route=\"r\",le=\"0.5\"} 3\n"
            "d_seconds_bucket{route=\"r\",le=\"1\"} 3\n"
            "d_seconds_bucket{route=\"r\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{route=\"r\"} 2.5625\n"
            "d_seconds_count{route=\"r\"} 4\n");
}

TEST(Exposition, AnEmptyUnlabelledHistogramStillHasEveryBucket) {
  Histogram h(kBounds);
  Exposition out;
  out.histogram("s", {}, h);
  EXPECT_EQ(out.text(),
            "s_bucket{le=\"0.1\"} 0\ns_bucket{le=\"0.5\"} 0\ns_bucket{le=\"1\"} 0\ns_bucket{le=\"+Inf\"} 0\n"
            "s_sum 0\ns_count 0\n");
}

}  // namespace
}  // namespace sluice
