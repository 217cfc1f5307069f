#pragma once
// CFPS_SIMD_CLONES: compile a hot loop twice, for the x86-64 baseline (SSE2) and for AVX2, and let
// the loader pick the one this CPU runs (GCC function multi-versioning, an ifunc). The kernels are
// plain element-wise loops and fixed-lane reductions compiled with -ffp-contract=off, so both
// clones perform the same IEEE single-precision operations on every element, in the same order:
// the same bits (tests/unit/kernels_test.cc and phase_kernels_test.cc check the clone this machine
// runs against scalar references). Off with CFPS_NATIVE (-march=native decides everything) and on
// compilers or targets without target_clones.

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(CFPS_NATIVE_BUILD) && !defined(CFPS_NO_SIMD_CLONES)
#define CFPS_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CFPS_SIMD_CLONES
#endif
