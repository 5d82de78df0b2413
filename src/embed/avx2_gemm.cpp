// The AVX2 product (avx2_gemm.hpp): a 6-row x 16-column register block
// (12 accumulators) run down the whole depth, so each 64-byte line of
// weights is loaded once per block of 6 input rows; packed weights make that
// walk sequential. The last 1-5 rows take a narrower block that splits the
// depth to keep as many accumulators; column remainders a plain loop. Only intrinsics (always inlined) and plain arithmetic in here: no
// function this file compiles may be shared with portable code.
#include "avx2_gemm.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SLUICE_HAVE_AVX2_KERNEL 1
#endif

namespace sluice::embed {

void pack_panels(const float* w, long depth, long cols, float* packed) noexcept {
  for (long j = 0; j < cols; j += kPanelWidth)
    for (long i = 0; i < depth; ++i)
      for (long c = 0; c < kPanelWidth; ++c) *packed++ = w[i * cols + j + c];
}

#ifdef SLUICE_HAVE_AVX2_KERNEL

bool avx2_available() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

namespace {

// R rows x 16 columns of c, run down the whole depth. FMA latency is 4
// cycles on two ports, so at least 8 independent accumulators keep the
// ports busy: a block of few rows splits the depth into S interleaved
// partial sums (row i goes to sum i % S), added at the end. 6 x 16 with
// S = 1 (12 accumulators) is the main block: one 64-byte line of weights
// per 12 FMAs. Always inlined into gemm_avx2: no AVX2 code outside it.
template <int R, int S>
__attribute__((target("avx2,fma"), always_inline)) inline void block(const float* a, long lda, const float* w,
                                                                      long ldw, float* c, long ldc, long depth,
                                                                      bool accumulate) {
  __m256 acc[S][R][2];
  for (int s = 0; s < S; ++s)
    for (int k = 0; k < R; ++k) acc[s][k][0] = acc[s][k][1] = _mm256_setzero_ps();
  long i = 0;
  for (; i + S <= depth; i += S)
    for (int s = 0; s < S; ++s) {
      const __m256 w0 = _mm256_loadu_ps(w + (i + s) * ldw);
      const __m256 w1 = _mm256_loadu_ps(w + (i + s) * ldw + 8);
      for (int k = 0; k < R; ++k) {
        const __m256 x = _mm256_broadcast_ss(a + k * lda + i + s);
        acc[s][k][0] = _mm256_fmadd_ps(x, w0, acc[s][k][0]);
        acc[s][k][1] = _mm256_fmadd_ps(x, w1, acc[s][k][1]);
      }
    }
  for (; i < depth; ++i) {
    const __m256 w0 = _mm256_loadu_ps(w + i * ldw);
    const __m256 w1 = _mm256_loadu_ps(w + i * ldw + 8);
    for (int k = 0; k < R; ++k) {
      const __m256 x = _mm256_broadcast_ss(a + k * lda + i);
      acc[0][k][0] = _mm256_fmadd_ps(x, w0, acc[0][k][0]);
      acc[0][k][1] = _mm256_fmadd_ps(x, w1, acc[0][k][1]);
    }
  }
  for (int k = 0; k < R; ++k) {
    __m256 s0 = acc[0][k][0], s1 = acc[0][k][1];
    for (int s = 1; s < S; ++s) {
      s0 = _mm256_add_ps(s0, acc[s][k][0]);
      s1 = _mm256_add_ps(s1, acc[s][k][1]);
    }
    float* out = c + k * ldc;
    if (accumulate) {
      s0 = _mm256_add_ps(s0, _mm256_loadu_ps(out));
      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(out + 8));
    }
    _mm256_storeu_ps(out, s0);
    _mm256_storeu_ps(out + 8, s1);
  }
}

}  // namespace

__attribute__((target("avx2,fma"))) void gemm_avx2(const float* a, long lda, const float* weights, long ldw,
                                                   bool packed, float* c, long ldc, long rows, long depth,
                                                   long cols, bool accumulate) noexcept {
  long j = 0;
  for (; j + kPanelWidth <= cols; j += kPanelWidth) {
    // This block of 16 columns: row i at w + i * ldw, j folded into w.
    const float* w = packed ? weights + j * depth : weights + j;
    if (packed) ldw = kPanelWidth;
    long r = 0;
    for (; r + 6 <= rows; r += 6) block<6, 1>(a + r * lda, lda, w, ldw, c + r * ldc + j, ldc, depth, accumulate);
    const float* ar = a + r * lda;
    float* cr = c + r * ldc + j;
    switch (rows - r) {
      case 5: block<5, 1>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
      case 4: block<4, 1>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
      case 3: block<3, 2>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
      case 2: block<2, 3>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
      case 1: block<1, 6>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
      default: break;
    }
  }
  for (; j < cols; ++j)  // never when packed: packed widths are multiples of 16
    for (long r = 0; r < rows; ++r) {
      float sum = accumulate ? c[r * ldc + j] : 0.0f;
      for (long i = 0; i < depth; ++i) sum += a[r * lda + i] * weights[i * ldw + j];
      c[r * ldc + j] = sum;
    }
}

#else

bool avx2_available() noexcept { return false; }
void gemm_avx2(const float*, long, const float*, long, bool, float*, long, long, long, long, bool) noexcept {}

#endif

}  // namespace sluice::embed
