// The AVX2 product (avx2_gemm.hpp): a 6-row x 16-column register block
// (12 accumulators) run down the whole depth, so each 64-byte line of
// weights is loaded once per block of 6 input rows; packed weights make that
// walk sequential. The last 1-5 rows take a narrower block that splits the
// depth to keep as many accumulators; column remainders a plain loop. Only intrinsics (always inlined) and plain arithmetic in here: no
// function this file compiles may be shared with portable code.
#include "avx2_gemm.hpp"

#include <cmath>

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

namespace {

// R rows x 16 columns of c, run down the whole depth. FMA latency is 4
// cycles on two ports, so at least 8 independent accumulators keep the
// ports busy: a block of few rows splits the depth into S interleaved
// partial sums (row i goes to sum i % S), added at the end. 6 x 16 with
// S = 1 (12 accumulators) is the main block: one 64-byte line of weights
// per 12 FMAs. Always inlined into gemm_avx2: no AVX2 code outside it.
// Eight weights at `at`: floats, or halves widened (F16C).
template <bool Half>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline __m256 load8(const void* w, long at) {
  if constexpr (Half)
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(w) + at)));
  else
    return _mm256_loadu_ps(static_cast<const float*>(w) + at);
}

template <int R, int S, bool Half>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void block(const float* a, long lda, const void* w,
                                                                           long ldw, float* c, long ldc, long depth,
                                                                           bool accumulate) {
  __m256 acc[S][R][2];
  for (int s = 0; s < S; ++s)
    for (int k = 0; k < R; ++k) acc[s][k][0] = acc[s][k][1] = _mm256_setzero_ps();
  long i = 0;
  for (; i + S <= depth; i += S)
    for (int s = 0; s < S; ++s) {
      const __m256 w0 = load8<Half>(w, (i + s) * ldw);
      const __m256 w1 = load8<Half>(w, (i + s) * ldw + 8);
      for (int k = 0; k < R; ++k) {
        const __m256 x = _mm256_broadcast_ss(a + k * lda + i + s);
        acc[s][k][0] = _mm256_fmadd_ps(x, w0, acc[s][k][0]);
        acc[s][k][1] = _mm256_fmadd_ps(x, w1, acc[s][k][1]);
      }
    }
  for (; i < depth; ++i) {
    const __m256 w0 = load8<Half>(w, i * ldw);
    const __m256 w1 = load8<Half>(w, i * ldw + 8);
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

// Rows in blocks of 6, then the remainder, for one panel of 16 columns.
template <bool Half>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void panel(const float* a, long lda, const void* w,
                                                                           long ldw, float* c, long ldc, long rows,
                                                                           long depth, bool accumulate) {
  long r = 0;
  for (; r + 6 <= rows; r += 6) block<6, 1, Half>(a + r * lda, lda, w, ldw, c + r * ldc, ldc, depth, accumulate);
  const float* ar = a + r * lda;
  float* cr = c + r * ldc;
  switch (rows - r) {
    case 5: block<5, 1, Half>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
    case 4: block<4, 1, Half>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
    case 3: block<3, 2, Half>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
    case 2: block<2, 3, Half>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
    case 1: block<1, 6, Half>(ar, lda, w, ldw, cr, ldc, depth, accumulate); break;
    default: break;
  }
}

}  // namespace

bool avx2_available() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

__attribute__((target("avx2,fma,f16c"))) void gemm_avx2(const float* a, long lda, const float* weights, long ldw,
                                                        bool packed, float* c, long ldc, long rows, long depth,
                                                        long cols, bool accumulate) noexcept {
  long j = 0;
  for (; j + kPanelWidth <= cols; j += kPanelWidth) {
    // This block of 16 columns: row i at w + i * ldw, j folded into w.
    const float* w = packed ? weights + j * depth : weights + j;
    panel<false>(a, lda, w, packed ? kPanelWidth : ldw, c + j, ldc, rows, depth, accumulate);
  }
  for (; j < cols; ++j)  // never when packed: packed widths are multiples of 16
    for (long r = 0; r < rows; ++r) {
      float sum = accumulate ? c[r * ldc + j] : 0.0f;
      for (long i = 0; i < depth; ++i) sum += a[r * lda + i] * weights[i * ldw + j];
      c[r * ldc + j] = sum;
    }
}

__attribute__((target("avx2,fma,f16c"))) bool pack_panels_half(const float* w, long depth, long cols,
                                                               std::uint16_t* packed) noexcept {
  for (long k = 0; k < depth * cols; ++k)
    if (!(std::fabs(w[k]) <= 65504.0f)) return false;  // not a finite half
  for (long j = 0; j < cols; j += kPanelWidth)
    for (long i = 0; i < depth; ++i, packed += kPanelWidth) {
      const float* row = w + i * cols + j;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(packed),
                       _mm256_cvtps_ph(_mm256_loadu_ps(row), _MM_FROUND_TO_NEAREST_INT));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(packed + 8),
                       _mm256_cvtps_ph(_mm256_loadu_ps(row + 8), _MM_FROUND_TO_NEAREST_INT));
    }
  return true;
}

__attribute__((target("avx2,fma,f16c"))) void gemm_avx2_half(const float* a, long lda, const std::uint16_t* panels,
                                                             float* c, long ldc, long rows, long depth, long cols,
                                                             bool accumulate) noexcept {
  for (long j = 0; j + kPanelWidth <= cols; j += kPanelWidth)
    panel<true>(a, lda, panels + j * depth, kPanelWidth, c + j, ldc, rows, depth, accumulate);
}

#else

bool avx2_available() noexcept { return false; }
void gemm_avx2(const float*, long, const float*, long, bool, float*, long, long, long, long, bool) noexcept {}
bool pack_panels_half(const float*, long, long, std::uint16_t*) noexcept { return false; }
void gemm_avx2_half(const float*, long, const std::uint16_t*, float*, long, long, long, long, bool) noexcept {}

#endif

}  // namespace sluice::embed
