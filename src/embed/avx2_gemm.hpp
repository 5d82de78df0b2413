// A matrix product compiled for AVX2 and FMA inside a portable build, used
// when the CPU has them (checked at run time). Hand-written with intrinsics
// in a function of its own target on purpose: compiling Eigen or any other
// inline code with -mavx2 in one file of a portable binary lets the linker
// keep that copy for callers elsewhere, which then crash on an older CPU.
#pragma once

namespace sluice::embed {

// True when this CPU runs gemm_avx2 (x86-64 with AVX2 and FMA).
bool avx2_available() noexcept;

// c[rows x cols] (+)= a[rows x depth] * w[depth x cols], all row-major with
// the given row strides (in floats). `accumulate` adds to c, else c is
// overwritten. Only call when avx2_available().
void gemm_avx2(const float* a, long lda, const float* w, long ldw, float* c, long ldc, long rows, long depth,
               long cols, bool accumulate) noexcept;

}  // namespace sluice::embed
