#pragma once
// BatchKernels: the forward/backward of one worker's batch on gathered rows, behind one interface
// with two implementations:
//   - CPU: the reference functions of worker/kernels.h, unchanged;
//   - CUDA (worker/cuda/, built when nvcc was found): the same arithmetic on a GPU, in the same
//     order (8-lane dot, fused expression order, no FMA contraction, gradients reduced per row in
//     sample order, no atomics). Only expf may differ in the last bit, so results match the CPU
//     to about 1e-7 relative and are bitwise reproducible from run to run.
// The Trainer holds one, chosen at construction from TrainConfig::device (--device).

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/kernels.h"

namespace cfps {

class Exchange;
class Roles;

enum class Device { kAuto, kCpu, kCuda };

// "auto", "cpu" or "cuda"; anything else is InvalidArgument naming --device.
Status ParseDevice(const std::string& text, Device* out);
const char* DeviceName(Device device);

class BatchKernels {
 public:
  virtual ~BatchKernels() = default;

  // "cpu", or "cuda GPU 0 (NVIDIA H100 80GB HBM3)".
  virtual std::string Describe() const = 0;

  // cfps::ForwardBackward<float> (worker/kernels.h) on n samples whose slots index the first
  // user_rows rows of urows and item_rows rows of irows (rows of k+1 floats). Writes (does not
  // add to) ugrad[0 .. user_rows*(k+1)) and igrad[0 .. item_rows*(k+1)); a row no sample names
  // gets zeros. Returns the sum of squared errors, accumulated in double in sample order.
  virtual double ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                 const int32_t* item_slot, const float* rating, int64_t user_rows,
                                 const float* urows, int64_t item_rows, const float* irows,
                                 int64_t global_batch, float* ugrad, float* igrad) = 0;

  // ForwardBackward with urows, irows, ugrad and igrad in the memory of the kernels' device (the
  // device-resident step, common/device_memory.h); the slots and ratings stay on the host. The
  // CPU's device memory is host memory.
  virtual double ForwardBackwardOnDevice(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                         const int32_t* item_slot, const float* rating,
                                         int64_t user_rows, const float* urows, int64_t item_rows,
                                         const float* irows, int64_t global_batch, float* ugrad,
                                         float* igrad) = 0;

  // cfps::Evaluate<float>: the SSE of n samples; writes predictions when pred != nullptr.
  virtual double Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                          const int32_t* item_slot, const float* rating, int64_t user_rows,
                          const float* urows, int64_t item_rows, const float* irows,
                          float* pred) = 0;
};

// device kCpu or kCuda (kAuto must have been resolved, see ChooseDevice). `gpu` is the CUDA
// device index; `rank` only names the rank in error messages. A CUDA device that cannot be
// initialized ends the job with one line naming the rank and the GPU.
std::unique_ptr<BatchKernels> MakeBatchKernels(Device device, int gpu, int rank);

// The GPUs this process can use (CUDA_VISIBLE_DEVICES applies): 0 in a CPU-only build, or when
// the CUDA runtime reports an error (no driver, no device), with the reason in *why.
int VisibleGpuCount(std::string* why);

// One line for `cfps --help`: "cuda: built for sm_80,sm_90 (+PTX compute_90)" or
// "cuda: not built (no CUDA compiler at build time): CPU kernels only".
std::string CudaBuildInfo();

// Collective over every rank of `exchange` (and MPI_COMM_WORLD when MPI is initialized).
// Resolves --device for this rank: ranks that do not train use the CPU; a worker rank takes GPU
// (node-local worker index % visible GPUs), the node being MPI_COMM_TYPE_SHARED. --device cuda on
// a worker without a usable GPU is an error (InvalidArgument naming --device, the rank and the
// CUDA runtime's reason) on that rank. On rank 0, *line says which workers use which GPU (empty
// when no worker uses one).
Status ChooseDevice(Exchange* exchange, const Roles& roles, Device requested, Device* device,
                    int* gpu, std::string* line);

}  // namespace cfps
