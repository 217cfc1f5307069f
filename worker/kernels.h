#pragma once
// The DotProductBias kernels on gathered rows. A row is k factors followed by the bias (k+1
// values, stride k+1). The worker gathers the unique rows of its slice of the batch; each sample
// names its user row and item row by slot (index into the gathered rows).
//
//   dot_i   = sum_f U[us_i][f] * V[is_i][f]            (f = 0..k-1, order below)
//   raw_i   = dot_i + (U[us_i][k] + V[is_i][k])        (biases added together first)
//   s_i     = 1 / (1 + exp(-raw_i))
//   pred_i  = s_i * (hi - lo) + lo
//   delta_i = (2 / B) * (pred_i - r_i) * (hi - lo) * s_i * (1 - s_i)
//           B is the size of the *global* batch: the loss is the mean over all workers' samples.
//   gU[us_i] += delta_i * [V[is_i][0..k-1], 1];  gV[is_i] += delta_i * [U[us_i][0..k-1], 1]
//
// Exact arithmetic, all in T unless stated (this is what a faster path must reproduce bit for
// bit; tests/unit/kernels_test.cc spells it out as a scalar reference):
//   dot: eight partial sums a[l] = 0 (l = 0..7); for f = 0..k-1 in order, a[f % 8] += u[f]*v[f];
//        then dot = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])).
//        (Fixed lanes let GCC vectorize without -ffast-math; the tree is a SIMD horizontal sum.)
//   s    = T(1) / (T(1) + exp(-raw))                  (expf for float)
//   err  = (s * T(hi - lo) + T(lo)) - T(r_i)           (pred_i is the parenthesized value)
//   sse += double(err) * double(err)                  (in double, in sample order)
//   delta = (((T(2.0 / B) * err) * T(hi - lo)) * s) * (T(1) - s)   (2/B and hi-lo are doubles
//        rounded to T once)
//   then for f = 0..k-1: gU[f] += delta * v[f]; gU[k] += delta; the same for gV with u.
// Gradients are reduced into one row per slot by visiting samples in increasing index: for every
// row the additions happen in sample order, so the result is the same on every run (no atomics).
// (Bitwise claims assume a*b+c is not fused into an FMA: the baseline x86-64 target has none.)
// The caller zeroes the gradient rows; rows of urows/irows/ugrad/igrad must not overlap. No
// allocation. These functions are the readable CPU reference that every faster path (CUDA) is
// tested against. T is float in training, double in the finite-difference tests.

#include <cstdint>

namespace cfps {

struct ModelDims {
  int k = 50;       // factors; a row has k + 1 values
  double lo = 0.0;  // y_range
  double hi = 5.5;
};

// Forward and backward for n samples. Adds into ugrad/igrad (rows of k+1, already zeroed by the
// caller, same slots as urows/irows). Returns the sum of squared errors of the n samples (double).
template <typename T>
double ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                       const int32_t* item_slot, const float* rating, const T* urows,
                       const T* irows, int64_t global_batch, T* ugrad, T* igrad);

// Forward only: the sum of squared errors of n samples; writes predictions when pred != nullptr.
// Same arithmetic as ForwardBackward, so it returns the very same SSE.
template <typename T>
double Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                const int32_t* item_slot, const float* rating, const T* urows, const T* irows,
                T* pred);

}  // namespace cfps
