#pragma once
// CudaTable: the rows of one table of a shard and their optimizer state in GPU memory, with the
// two things a shard does to them (issue 5: shards in GPU memory, the optimizer on the GPU that
// owns the row): Gather rows for a pull, and Update rows with their summed gradients.
// Built only when nvcc was found (CFPS_HAVE_CUDA); plain C++ header.
//
// The update is ps/optimizer.h's UpdateRow, operation for operation: every multiply, add, divide
// and square root is a round-to-nearest intrinsic (the library is compiled with -fmad=false), and
// Adagrad's mean square adds its eight partial sums in the CPU's lane order and tree. So the GPU
// twin gives the CPU optimizer's bits (tests/gpu/gpu_test.cc, CudaTable.*), and a shard's rows do
// not depend on where it lived: the checkpoint files of either are the same.
//
// Host-side interface: ids, gradients and gathered rows pass through staging buffers on the
// table's own stream (each call returns when its work is done). The device-resident step's calls
// (GatherToDevice, UpdateFromDevice, AddToSums, UpdateFromSums) take rows already in this GPU's
// memory: only the ids, and the aggregation's slots, go up. Errors end the job with one line
// naming the rank and the GPU (worker/cuda/cuda_errors.h).

#include <cstdint>
#include <memory>

#include "ps/device_table.h"
#include "ps/optimizer.h"

namespace cfps::cuda {

class CudaTable final : public DeviceTable {
 public:
  // rows x width floats of values and rows x StateFloatsPerRow(kind, width) of state on `gpu`,
  // zeroed; `rank` names the rank in error messages.
  CudaTable(int gpu, int rank, int64_t rows, int width, OptimizerKind kind);
  ~CudaTable() override;
  CudaTable(const CudaTable&) = delete;
  CudaTable& operator=(const CudaTable&) = delete;

  int64_t rows() const { return rows_; }
  int width() const { return width_; }
  int state_width() const { return state_width_; }

  // The whole table, host <-> device (state may be null when state_width() == 0).
  void Upload(const float* values, const float* state) override;
  void Download(float* values, float* state) const override;
  // out[j * width ..] = row ids[j], j < n: the rows a shard sends for a pull.
  void Gather(const int32_t* ids, int64_t n, float* out) override;
  // UpdateRow(step, grads + j * width, row ids[j], its state) for j < n; ids distinct and in
  // [0, rows) (checked on the host; a bad id is a bug, not bad input).
  void Update(const PreparedStep& step, const int32_t* ids, const float* grads, int64_t n) override;
  void GatherToDevice(const int32_t* ids, int64_t n, float* device_out) override;
  void UpdateFromDevice(const PreparedStep& step, const int32_t* ids, const float* device_grads,
                        int64_t n) override;
  // AddToSumsKernel: one thread per element, sum = first ? g : sum + g (__fadd_rn).
  void AddToSums(const int32_t* slots, const uint8_t* first, int64_t n,
                 const float* device_grads) override;
  void UpdateFromSums(const PreparedStep& step, const int32_t* ids, int64_t n) override;
  // Device bytes of the sums of pushed gradients (for tests of their growth).
  size_t sums_bytes() const;

 private:
  // Checks ids[0, n) against rows(), grows the staging (for n rows too when the call's rows pass
  // through it: not for rows already in GPU memory) and copies the ids to the device.
  void StageIds(const int32_t* ids, int64_t n, bool rows_staged = true);
  // The optimizer's kernel on the staged ids and n gradient rows at device_grads.
  void RunOptimizer(const PreparedStep& step, int64_t n, const float* device_grads);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rows_;
  int width_;
  int state_width_;
};

}  // namespace cfps::cuda
