// The AVX2 product against a plain triple loop, on shapes with row and
// column remainders, packed and unpacked, overwriting and accumulating.
#include "avx2_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sluice::embed {
namespace {

std::vector<float> values(std::size_t n, float seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(seed + 0.37f * static_cast<float>(i));
  return v;
}

// `half`: the weights packed as half floats (gemm_avx2_half), each within
// 2^-11 of its float, so a sum of `depth` products within depth * 2^-11.
void check(long rows, long depth, long cols, bool packed, bool accumulate, bool half = false) {
  SCOPED_TRACE(testing::Message() << rows << "x" << depth << "x" << cols << (packed ? " packed" : "")
                                  << (accumulate ? " accumulate" : ""));
  const long lda = depth + 3, ldc = cols + 5;  // strides wider than the blocks, as for Eigen blocks
  const auto a = values(static_cast<std::size_t>(rows * lda), 0.5f);
  const auto w = values(static_cast<std::size_t>(depth * cols), 1.5f);
  auto c = values(static_cast<std::size_t>(rows * ldc), 2.5f);
  auto want = c;
  for (long r = 0; r < rows; ++r)
    for (long j = 0; j < cols; ++j) {
      double sum = accumulate ? want[static_cast<std::size_t>(r * ldc + j)] : 0.0;
      for (long i = 0; i < depth; ++i) sum += double(a[static_cast<std::size_t>(r * lda + i)]) * w[static_cast<std::size_t>(i * cols + j)];
      want[static_cast<std::size_t>(r * ldc + j)] = static_cast<float>(sum);
    }
  std::vector<float> panels(w.size());
  std::vector<std::uint16_t> halves(w.size());
  if (half) {
    ASSERT_TRUE(pack_panels_half(w.data(), depth, cols, halves.data()));
    gemm_avx2_half(a.data(), lda, halves.data(), c.data(), ldc, rows, depth, cols, accumulate);
  } else {
    if (packed) pack_panels(w.data(), depth, cols, panels.data());
    gemm_avx2(a.data(), lda, packed ? panels.data() : w.data(), cols, packed, c.data(), ldc, rows, depth, cols,
              accumulate);
  }
  const double tolerance = half ? static_cast<double>(depth) / 2048 : 1e-4;
  for (std::size_t k = 0; k < c.size(); ++k) ASSERT_NEAR(c[k], want[k], tolerance) << "at " << k;
}

TEST(Avx2Gemm, MatchesAPlainProduct) {
  if (!avx2_available()) GTEST_SKIP() << "this CPU has no AVX2+FMA; the Eigen path runs instead";
  for (bool accumulate : {false, true}) {
    check(7, 13, 37, false, accumulate);  // 1 block of 4 rows + 3, 2 panels + 5 columns
    check(1, 5, 16, false, accumulate);
    check(9, 21, 48, true, accumulate);
    check(4, 1, 32, true, accumulate);
    // Every remainder after the 6-row blocks (1-5 rows: the depth split in
    // 6, 3, 2 partial sums, with a depth remainder), and a few blocks.
    for (long rows = 1; rows <= 13; ++rows) check(rows, 23, 32, true, accumulate);
    check(128, 512, 64, true, accumulate);
  }
}

TEST(Avx2Gemm, HalfFloatPanelsMatchWithinTheirPrecision) {
  if (!avx2_available()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  for (bool accumulate : {false, true})
    for (long rows : {1L, 2L, 3L, 4L, 5L, 6L, 7L, 13L}) check(rows, 37, 48, true, accumulate, /*half=*/true);
  // A weight no half can hold: refused, so the caller keeps floats.
  std::vector<float> w(16, 1.0f);
  w[3] = 70'000.0f;
  std::vector<std::uint16_t> halves(16);
  EXPECT_FALSE(pack_panels_half(w.data(), 1, 16, halves.data()));
}

}  // namespace
}  // namespace sluice::embed
