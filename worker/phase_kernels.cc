// The phased kernels (contract: worker/phase_kernels.h; arithmetic: worker/kernels.h).

#include "worker/phase_kernels.h"

#include <vector>

#include "common/simd.h"
#include "common/status.h"
#include "worker/kernel_math.h"

namespace cfps {

namespace {
// Samples ahead whose rows are prefetched: enough to cover a DRAM miss with a few rows in flight.
constexpr int64_t kPrefetchAhead = 16;
}  // namespace

CFPS_SIMD_CLONES
void ForwardDeltas(const ModelDims& dims, const SampleRows& rows, const float* rating,
                   int64_t global_batch, int64_t begin, int64_t end, float* err, float* delta) {
  CFPS_CHECK_GE(global_batch, 1);
  const int k = dims.k;
  const int width = k + 1;
  const kernel_math::SampleLoss<float> loss(dims.lo, dims.hi, global_batch);
  const int64_t ahead_end = end - kPrefetchAhead;
  for (int64_t i = begin; i < end; ++i) {
    if (i < ahead_end) {
      PrefetchFloats(
          rows.user_base + static_cast<int64_t>(rows.user_row[i + kPrefetchAhead]) * width, width);
      PrefetchFloats(
          rows.item_base + static_cast<int64_t>(rows.item_row[i + kPrefetchAhead]) * width, width);
    }
    const float* u = rows.user_base + static_cast<int64_t>(rows.user_row[i]) * width;
    const float* v = rows.item_base + static_cast<int64_t>(rows.item_row[i]) * width;
    const float s = kernel_math::Sigmoid(u, v, k);
    const float e = loss.Error(s, rating[i]);
    err[i] = e;
    delta[i] = loss.Delta(s, e);
  }
}

CFPS_SIMD_CLONES
void PredictionErrors(const ModelDims& dims, const SampleRows& rows, const float* rating,
                      int64_t begin, int64_t end, float* err) {
  const int k = dims.k;
  const int width = k + 1;
  const kernel_math::SampleLoss<float> loss(dims.lo, dims.hi, 1);
  const std::vector<float> zero(static_cast<size_t>(width), 0.0f);
  auto row = [&](const float* base, int32_t r) {
    return r < 0 ? zero.data() : base + static_cast<int64_t>(r) * width;
  };
  for (int64_t i = begin; i < end; ++i) {
    if (i + kPrefetchAhead < end) {
      const int32_t ua = rows.user_row[i + kPrefetchAhead], ia = rows.item_row[i + kPrefetchAhead];
      if (ua >= 0)
        PrefetchFloats(rows.user_base + static_cast<int64_t>(ua) * width,
                       static_cast<size_t>(width));
      if (ia >= 0)
        PrefetchFloats(rows.item_base + static_cast<int64_t>(ia) * width,
                       static_cast<size_t>(width));
    }
    const float s = kernel_math::Sigmoid(row(rows.user_base, rows.user_row[i]),
                                         row(rows.item_base, rows.item_row[i]), k);
    err[i] = loss.Error(s, rating[i]);
  }
}

double SumSquares(const float* err, int64_t n) {
  double sse = 0.0;
  for (int64_t i = 0; i < n; ++i) sse += static_cast<double>(err[i]) * static_cast<double>(err[i]);
  return sse;
}

CFPS_SIMD_CLONES
void ReduceRows(int k, int64_t n, const int32_t* slot_of, const float* delta,
                const float* other_base, const int32_t* other_row, int32_t first, int32_t last,
                float* out) {
  const int64_t width = k + 1;
  for (int64_t j = static_cast<int64_t>(first) * width; j < static_cast<int64_t>(last) * width;
       ++j) {
    out[j] = 0.0f;
  }
  if (first >= last) return;
  // In chunks of samples: first the chunk's samples whose slot is in [first, last), picked
  // without a branch (which slots are in range follows no pattern the CPU could predict), then
  // their rows in sample order. The rows of the other table were read by ForwardDeltas moments
  // ago (by this thread, mostly, when the threads split the slots: slots are numbered by first
  // appearance), but a cache miss is still likely: prefetched a few samples ahead.
  constexpr int64_t kChunk = 128;
  constexpr int kAhead = 8;
  int32_t picked[kChunk];
  const uint32_t span = static_cast<uint32_t>(last - first);
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    int m = 0;
    for (int64_t i = begin; i < end; ++i) {
      picked[m] = static_cast<int32_t>(i - begin);
      m += static_cast<uint32_t>(slot_of[i] - first) < span ? 1 : 0;
    }
    for (int j = 0; j < m; ++j) {
      if (j + kAhead < m) {
        PrefetchFloats(
            other_base + static_cast<int64_t>(other_row[begin + picked[j + kAhead]]) * width,
            static_cast<size_t>(width));
      }
      const int64_t i = begin + picked[j];
      kernel_math::AddScaledRow(delta[i], other_base + static_cast<int64_t>(other_row[i]) * width,
                                k, out + static_cast<int64_t>(slot_of[i]) * width);
    }
  }
}

CFPS_SIMD_CLONES
void ForwardReduce(const ModelDims& dims, const SampleRows& rows, const int32_t* user_slot,
                   const int32_t* item_slot, const float* rating, int64_t n, int64_t global_batch,
                   float* err, float* ugrad, float* igrad) {
  CFPS_CHECK_GE(global_batch, 1);
  const int k = dims.k;
  const int64_t width = k + 1;
  const kernel_math::SampleLoss<float> loss(dims.lo, dims.hi, global_batch);
  int32_t next_user = 0, next_item = 0;  // the first slot not seen yet
  const int64_t ahead_end = n - kPrefetchAhead;
  // Two passes over chunks of samples, as ForwardBackward: first every delta (dot, exp and divide:
  // a chain of latency per sample that the CPU overlaps across samples), then the gradient rows
  // in sample order, reading rows that are still in L1. The same operations in the same order.
  constexpr int64_t kChunk = 64;
  float delta[kChunk];
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    for (int64_t i = begin; i < end; ++i) {
      if (i < ahead_end) {
        PrefetchFloats(
            rows.user_base + static_cast<int64_t>(rows.user_row[i + kPrefetchAhead]) * width,
            static_cast<size_t>(width));
        PrefetchFloats(
            rows.item_base + static_cast<int64_t>(rows.item_row[i + kPrefetchAhead]) * width,
            static_cast<size_t>(width));
      }
      const float* u = rows.user_base + static_cast<int64_t>(rows.user_row[i]) * width;
      const float* v = rows.item_base + static_cast<int64_t>(rows.item_row[i]) * width;
      const float s = kernel_math::Sigmoid(u, v, k);
      const float e = loss.Error(s, rating[i]);
      err[i] = e;
      delta[i - begin] = loss.Delta(s, e);
    }
    for (int64_t i = begin; i < end; ++i) {
      const float* u = rows.user_base + static_cast<int64_t>(rows.user_row[i]) * width;
      const float* v = rows.item_base + static_cast<int64_t>(rows.item_row[i]) * width;
      kernel_math::AccumulateRow(delta[i - begin], v, k, user_slot[i], &next_user, ugrad);
      kernel_math::AccumulateRow(delta[i - begin], u, k, item_slot[i], &next_item, igrad);
    }
  }
}

void BalancedSlotRanges(const int32_t* count, int32_t num_slots, int parts, int32_t* bounds) {
  int64_t total = 0;
  for (int32_t s = 0; s < num_slots; ++s) total += count[s];
  bounds[0] = 0;
  int part = 1;
  int64_t seen = 0;
  for (int32_t s = 0; s < num_slots && part < parts; ++s) {
    seen += count[s];
    while (part < parts && seen * parts >= total * part) bounds[part++] = s + 1;
  }
  while (part <= parts) bounds[part++] = num_slots;
}

}  // namespace cfps
