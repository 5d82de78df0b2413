// A matrix product compiled for AVX2 and FMA inside a portable build, used
// when the CPU has them (checked at run time). Hand-written with intrinsics
// in a function of its own target on purpose: compiling Eigen or any other
// inline code with -mavx2 in one file of a portable binary lets the linker
// keep that copy for callers elsewhere, which then crash on an older CPU.
#pragma once

namespace sluice::embed {

// True when this CPU runs gemm_avx2 (x86-64 with AVX2 and FMA).
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

}  // namespace sluice::embed
