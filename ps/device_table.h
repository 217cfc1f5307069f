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

  // The device-resident step (common/device_memory.h): ids stay in host memory, rows and
  // gradient rows are in the device's memory (the DeviceMemory of the same device).
  // Gather into device memory: out[j * width ..] = row ids[j].
  virtual void GatherToDevice(const int32_t* ids, int64_t n, float* device_out) = 0;
  // Update with gradient rows in device memory.
  virtual void UpdateFromDevice(const PreparedStep& step, const int32_t* ids,
                                const float* device_grads, int64_t n) = 0;
  // The sums of one step's pushed gradient rows, kept on the device (Shard::AddGradients, whose
  // arithmetic this is): for j < n, sum row slots[j] = gradient row j when first[j] != 0, else
  // sum row slots[j] + gradient row j (one float add per element). Slots of one call are
  // distinct; the sums grow to the largest slot, keeping the rows summed so far.
  virtual void AddToSums(const int32_t* slots, const uint8_t* first, int64_t n,
                         const float* device_grads) = 0;
  // UpdateRow(step, sum row j, row ids[j]) for j < n; ids distinct.
  virtual void UpdateFromSums(const PreparedStep& step, const int32_t* ids, int64_t n) = 0;
};

// Makes the device table of a table with `rows` local rows of `width` floats.
using DeviceTableFactory =
    std::function<std::unique_ptr<DeviceTable>(int64_t rows, int width, OptimizerKind kind)>;

}  // namespace cfps
