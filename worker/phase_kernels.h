#pragma once
// The kernels of worker/kernels.h cut into phases that several threads can run without changing a
// single bit of the result (tests/unit/phase_kernels_test.cc checks them against ForwardBackward):
//
//   1. ForwardDeltas   samples [begin, end): err_i and delta_i of every sample (any split of the
//                      samples: each sample's arithmetic is independent).
//   2. SumSquares      sse = sum of double(err_i)^2 in sample order (serial: it is n additions).
//   3. ReduceRows      gradient rows of slots [first, last): for each such slot, the rows of its
//                      samples scaled by delta_i, added in increasing sample order, starting from
//                      zero: the very additions ForwardBackward makes into that row.
// Rows are reached through a base pointer and a row index per sample (row_of[i] * width), so the
// same code reads gathered rows (slots into a pull buffer) or a shard's own table (global rows).
// Prefetching the rows of samples a few places ahead hides most of the DRAM latency of a table
// that does not fit in the caches.

#include <cstdint>

#include "common/prefetch.h"
#include "worker/kernels.h"

namespace cfps {

struct SampleRows {
  const float* user_base;  // row r of the user side is user_base + r * width
  const float* item_base;
  const int32_t* user_row;  // per sample
  const int32_t* item_row;
};

void ForwardDeltas(const ModelDims& dims, const SampleRows& rows, const float* rating,
                   int64_t global_batch, int64_t begin, int64_t end, float* err, float* delta);

double SumSquares(const float* err, int64_t n);

// Evaluation: err_i = prediction - rating for samples [begin, end), the arithmetic of Evaluate in
// worker/kernels.h; a row index of -1 (an id unknown in training) reads a zero row.
void PredictionErrors(const ModelDims& dims, const SampleRows& rows, const float* rating,
                      int64_t begin, int64_t end, float* err);

// Gradient rows of the slots in [first, last) of one table: out[slot] (width floats, zeroed here)
// = sum over samples i with slot_of[i] == slot, in increasing i, of delta_i * [other_i, 1], where
// other_i = other_base + other_row[i] * width is the sample's row in the other table.
void ReduceRows(int k, int64_t n, const int32_t* slot_of, const float* delta,
                const float* other_base, const int32_t* other_row, int32_t first, int32_t last,
                float* out);

// ForwardDeltas then ReduceRows for both tables in one pass over samples [0, n), on one thread:
// the rows are read once, while in cache. user_slot/item_slot number each table's rows in order of
// first appearance (0, 1, 2, ... as RowGrouper gives them with one shard): a slot seen for the
// first time gets a zero gradient row, then every sample adds delta_i * [other row, 1] to its rows'
// gradients in increasing sample order. The same bits as the phased kernels: err[i] as
// ForwardDeltas, ugrad/igrad as ReduceRows.
void ForwardReduce(const ModelDims& dims, const SampleRows& rows, const int32_t* user_slot,
                   const int32_t* item_slot, const float* rating, int64_t n, int64_t global_batch,
                   float* err, float* ugrad, float* igrad);

// Splits slots [0, num_slots) into `parts` ranges holding about equal numbers of samples
// (count[s] samples in slot s); bounds gets parts + 1 entries.
void BalancedSlotRanges(const int32_t* count, int32_t num_slots, int parts, int32_t* bounds);

}  // namespace cfps
