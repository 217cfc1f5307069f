// The CPU DotProductBias kernels (contract and summation order: worker/kernels.h).
//
// Written as plain loops that GCC -O3 vectorizes for the baseline x86-64 (SSE2) without
// -ffast-math: the dot product keeps kDotLanes independent partial sums, which is a fixed order
// of additions and therefore legal to vectorize, and the gradient scatter is an AXPY on one row.
// No allocation, no atomics, no data-dependent order: the same inputs give the same bits.

#include <cmath>
#include <cstdint>

#include "common/status.h"
#include "worker/kernel_math.h"
#include "worker/kernels.h"

namespace cfps {
namespace {

using kernel_math::AddScaledRow;
using kernel_math::Sigmoid;

void CheckArgs(const ModelDims& dims, int64_t n) {
  CFPS_CHECK_GE(dims.k, 0);
  CFPS_CHECK_GE(n, 0);
}

}  // namespace

template <typename T>
double ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                       const int32_t* item_slot, const float* rating, const T* urows,
                       const T* irows, int64_t global_batch, T* ugrad, T* igrad) {
  CheckArgs(dims, n);
  CFPS_CHECK_GE(global_batch, n);
  CFPS_CHECK_GE(global_batch, 1);
  const int k = dims.k;
  const int64_t width = k + 1;
  const kernel_math::SampleLoss<T> loss(dims.lo, dims.hi, global_batch);
  double sse = 0.0;
  // Two passes over chunks of samples: first every delta (a long chain of latency per sample:
  // dot, exp, divide, which the CPU overlaps across samples), then the gradient AXPYs in sample
  // order. Same operations in the same order as one pass, so the same bits; no heap.
  constexpr int64_t kChunk = 64;
  T delta[kChunk];
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    for (int64_t i = begin; i < end; ++i) {
      const T s = Sigmoid(urows + user_slot[i] * width, irows + item_slot[i] * width, k);
      const T err = loss.Error(s, static_cast<T>(rating[i]));
      sse += static_cast<double>(err) * static_cast<double>(err);
      delta[i - begin] = loss.Delta(s, err);
    }
    for (int64_t i = begin; i < end; ++i) {
      const T* u = urows + user_slot[i] * width;
      const T* v = irows + item_slot[i] * width;
      AddScaledRow(delta[i - begin], v, k, ugrad + user_slot[i] * width);
      AddScaledRow(delta[i - begin], u, k, igrad + item_slot[i] * width);
    }
  }
  return sse;
}

template <typename T>
double Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                const int32_t* item_slot, const float* rating, const T* urows, const T* irows,
                T* pred) {
  CheckArgs(dims, n);
  const int k = dims.k;
  const int64_t width = k + 1;
  const kernel_math::SampleLoss<T> loss(dims.lo, dims.hi, 1);
  double sse = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const T s = Sigmoid(urows + user_slot[i] * width, irows + item_slot[i] * width, k);
    const T p = loss.Prediction(s);
    if (pred != nullptr) pred[i] = p;
    const T err = p - static_cast<T>(rating[i]);
    sse += static_cast<double>(err) * static_cast<double>(err);
  }
  return sse;
}

template double ForwardBackward<float>(const ModelDims&, int64_t, const int32_t*, const int32_t*,
                                       const float*, const float*, const float*, int64_t, float*,
                                       float*);
template double ForwardBackward<double>(const ModelDims&, int64_t, const int32_t*, const int32_t*,
                                        const float*, const double*, const double*, int64_t,
                                        double*, double*);
template double Evaluate<float>(const ModelDims&, int64_t, const int32_t*, const int32_t*,
                                const float*, const float*, const float*, float*);
template double Evaluate<double>(const ModelDims&, int64_t, const int32_t*, const int32_t*,
                                 const float*, const double*, const double*, double*);

}  // namespace cfps
