#pragma once
// The per-sample arithmetic shared by the reference kernels (worker/cpu_kernels.cc) and their
// phased, multi-threaded form (worker/phase_kernels.cc): one definition, so the two cannot drift.
// Order of operations: worker/kernels.h.

#include <cmath>
#include <cstdint>

namespace cfps {
namespace kernel_math {

// Partial sums of the dot product; see worker/kernels.h for the exact order.
constexpr int kDotLanes = 8;

template <typename T>
inline T Dot(const T* __restrict a, const T* __restrict b, int k) {
  T acc[kDotLanes] = {};
  int f = 0;
  for (; f + kDotLanes <= k; f += kDotLanes) {
    for (int l = 0; l < kDotLanes; ++l) acc[l] += a[f + l] * b[f + l];
  }
  for (int l = 0; f + l < k; ++l) acc[l] += a[f + l] * b[f + l];
  // Fixed tree: lanes l and l+4, then l and l+2, then 0 and 1 (what a horizontal SIMD sum does).
  const T s0 = acc[0] + acc[4], s1 = acc[1] + acc[5], s2 = acc[2] + acc[6], s3 = acc[3] + acc[7];
  return (s0 + s2) + (s1 + s3);
}

// g[0..k-1] += delta * x[0..k-1]; g[k] += delta.
template <typename T>
inline void AddScaledRow(T delta, const T* __restrict x, int k, T* __restrict g) {
  for (int f = 0; f < k; ++f) g[f] += delta * x[f];
  g[k] += delta;
}

// g[0..k-1] = 0 + delta * x[0..k-1]; g[k] = 0 + delta: AddScaledRow on a zeroed row, bit for bit.
template <typename T>
inline void StartScaledRow(T delta, const T* __restrict x, int k, T* __restrict g) {
  for (int f = 0; f < k; ++f) g[f] = T{0} + delta * x[f];
  g[k] = T{0} + delta;
}

// delta * [x, 1] into gradient row `slot` of grad (rows of k + 1), for slots numbered by first
// appearance: the slot's first sample (slot == *next, then ++*next) starts its row with
// StartScaledRow, the additions of a zeroed row without its stores; later ones AddScaledRow.
template <typename T>
inline void AccumulateRow(T delta, const T* __restrict x, int k, int32_t slot, int32_t* next,
                          T* __restrict grad) {
  T* g = grad + static_cast<int64_t>(slot) * (k + 1);
  if (slot == *next) {
    ++*next;
    StartScaledRow(delta, x, k, g);
  } else {
    AddScaledRow(delta, x, k, g);
  }
}

// The forward pass of one sample; returns s = sigmoid(raw), the only value backward needs.
template <typename T>
inline T Sigmoid(const T* __restrict u, const T* __restrict v, int k) {
  const T raw = Dot(u, v, k) + (u[k] + v[k]);
  return T{1} / (T{1} + std::exp(-raw));
}

// The loss of one sample as the CPU kernels compute it (the CUDA kernels spell out the same
// operations with round-to-nearest intrinsics): p = s * range + lo, err = p - rating, and the
// gradient of the batch's mean squared error with respect to the raw score,
// delta = two_over_b * err * range * s * (1 - s), evaluated left to right.
template <typename T>
struct SampleLoss {
  T lo, range, two_over_b;
  SampleLoss(double y_lo, double y_hi, int64_t global_batch)
      : lo(static_cast<T>(y_lo)),
        range(static_cast<T>(y_hi - y_lo)),
        two_over_b(static_cast<T>(2.0 / static_cast<double>(global_batch > 0 ? global_batch : 1))) {
  }
  T Prediction(T s) const { return s * range + lo; }
  T Error(T s, T rating) const { return Prediction(s) - rating; }
  T Delta(T s, T err) const { return two_over_b * err * range * s * (T{1} - s); }
};

}  // namespace kernel_math
}  // namespace cfps
