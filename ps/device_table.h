#pragma once
// DeviceTable: one table of a shard kept in an accelerator's memory, rows and optimizer state
// (issue 5: in the single-node GPU mode every rank owns a shard in its GPU's memory and the
// optimizer runs on the GPU that owns the row). Shard (ps/shard.h) runs its Gather and its
// optimizer there, and keeps its host vectors as a mirror synced when they are read or written.
// The CUDA implementation is worker/cuda/cuda_table.h; an implementation must give the CPU
// optimizer's bits (UpdateRow), so a shard's rows do not depend on where it lived.

#include <cstdint>
#include <functional>
#include <memory>

#include "ps/optimizer.h"

namespace cfps {

class DeviceTable {
 public:
  virtual ~DeviceTable() = default;
  // The whole table, host <-> device: rows x width values, rows x StateFloatsPerRow(kind, width)
  // state (state may be null when that is 0).
  virtual void Upload(const float* values, const float* state) = 0;
  virtual void Download(float* values, float* state) const = 0;
  // Both check every id against the table's rows (an id outside is a bug: CFPS_CHECK).
  // out[j * width ..] = row ids[j], j < n (host memory in and out).
  virtual void Gather(const int32_t* ids, int64_t n, float* out) = 0;
  // UpdateRow(step, grads + j * width, row ids[j], its state) for j < n; ids distinct.
  virtual void Update(const PreparedStep& step, const int32_t* ids, const float* grads,
                      int64_t n) = 0;
};

// Makes the device table of a table with `rows` local rows of `width` floats.
using DeviceTableFactory =
    std::function<std::unique_ptr<DeviceTable>(int64_t rows, int width, OptimizerKind kind)>;

}  // namespace cfps
