// A matrix product compiled for AVX2 and FMA inside a portable build, used
// when the CPU has them (checked at run time). Hand-written with intrinsics
// in a function of its own target on purpose: compiling Eigen or any other
// inline code with -mavx2 in one file of a portable binary lets the linker
// keep that copy for callers elsewhere, which then crash on an older CPU.
#pragma once

#include <cstdint>

namespace sluice::embed {

// True when this CPU runs gemm_avx2 and gemm_avx2_half (x86-64 with AVX2,
// FMA and F16C: every AVX2 CPU has F16C).
bool avx2_available() noexcept;

// Columns per panel of a packed weight matrix.
inline constexpr long kPanelWidth = 16;

// `w` [depth x cols], row-major, as gemm_avx2 reads it fastest: panels of 16
// columns, each depth x 16 contiguous, so the kernel walks memory in order
// instead of jumping a whole row per step. `cols` must be a multiple of 16;
// `packed` receives depth * cols floats.
void pack_panels(const float* w, long depth, long cols, float* packed) noexcept;

// c[rows x cols] (+)= a[rows x depth] * w[depth x cols]; a and c row-major
// with the given row strides (in floats); w either row-major with stride ldw
// or, when `packed`, as pack_panels() left it (ldw unused). `accumulate`
// adds to c, else c is overwritten. Only call when avx2_available().
void gemm_avx2(const float* a, long lda, const float* w, long ldw, bool packed, float* c, long ldc, long rows,
               long depth, long cols, bool accumulate) noexcept;

// pack_panels() into IEEE half floats (round to nearest), half the bytes;
// false, and nothing usable written, when a weight is not a finite half
// (|w| > 65504). Only call when avx2_available().
bool pack_panels_half(const float* w, long depth, long cols, std::uint16_t* packed) noexcept;

// gemm_avx2 on half-float panels (pack_panels_half), widened to float in
// registers; the arithmetic is float. `cols` a multiple of 16.
void gemm_avx2_half(const float* a, long lda, const std::uint16_t* panels, float* c, long ldc, long rows,
                    long depth, long cols, bool accumulate) noexcept;

}  // namespace sluice::embed
