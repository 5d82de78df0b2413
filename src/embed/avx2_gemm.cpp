// The AVX2 product (avx2_gemm.hpp): a 4-row x 16-column register block
// (8 accumulators) run down the whole depth, so each 64-byte line of
// weights is loaded once per block of 4 input rows; packed weights make that
// walk sequential. Row and column remainders take narrower
// loops. Only intrinsics (always inlined) and plain arithmetic in here: no
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

__attribute__((target("avx2,fma"))) void gemm_avx2(const float* a, long lda, const float* weights, long ldw,
                                                   bool packed, float* c, long ldc, long rows, long depth,
                                                   long cols, bool accumulate) noexcept {
  long j = 0;
  for (; j + kPanelWidth <= cols; j += kPanelWidth) {
    // This block of 16 columns: row i at w + i * ldw, j folded into w.
    const float* w = packed ? weights + j * depth : weights + j;
    if (packed) ldw = kPanelWidth;
    long r = 0;
    for (; r + 4 <= rows; r += 4) {
      __m256 acc[4][2];
      for (int k = 0; k < 4; ++k) {
        float* out = c + (r + k) * ldc + j;
        acc[k][0] = accumulate ? _mm256_loadu_ps(out) : _mm256_setzero_ps();
        acc[k][1] = accumulate ? _mm256_loadu_ps(out + 8) : _mm256_setzero_ps();
      }
      for (long i = 0; i < depth; ++i) {
        const __m256 w0 = _mm256_loadu_ps(w + i * ldw);
        const __m256 w1 = _mm256_loadu_ps(w + i * ldw + 8);
        for (int k = 0; k < 4; ++k) {
          const __m256 x = _mm256_broadcast_ss(a + (r + k) * lda + i);
          acc[k][0] = _mm256_fmadd_ps(x, w0, acc[k][0]);
          acc[k][1] = _mm256_fmadd_ps(x, w1, acc[k][1]);
        }
      }
      for (int k = 0; k < 4; ++k) {
        float* out = c + (r + k) * ldc + j;
        _mm256_storeu_ps(out, acc[k][0]);
        _mm256_storeu_ps(out + 8, acc[k][1]);
      }
    }
    for (; r < rows; ++r) {
      float* out = c + r * ldc + j;
      __m256 s0 = accumulate ? _mm256_loadu_ps(out) : _mm256_setzero_ps();
      __m256 s1 = accumulate ? _mm256_loadu_ps(out + 8) : _mm256_setzero_ps();
      for (long i = 0; i < depth; ++i) {
        const __m256 x = _mm256_broadcast_ss(a + r * lda + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + i * ldw), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + i * ldw + 8), s1);
      }
      _mm256_storeu_ps(out, s0);
      _mm256_storeu_ps(out + 8, s1);
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
