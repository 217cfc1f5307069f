#pragma once
// The CUDA implementation of BatchKernels (worker/batch_kernels.h), built only when nvcc was found
// (CFPS_HAVE_CUDA). This header is plain C++: the CUDA types stay in cuda_batch_kernels.cu.
//
// One batch, on one stream of the worker's GPU:
//   1. host: count the samples of every user and item slot (and check every slot's range);
//   2. host -> pinned staging -> device (one async copy): slots, ratings, the gathered rows;
//      ForwardKernel: one warp per sample: the dot product in the 8-lane order of kernels.h,
//      sigmoid_range, the error, its square (double) and delta;
//   3. host, while the GPU copies and runs step 2: a CSR of samples per slot (slots in order,
//      each slot's samples in increasing index, with the other table's slot of each sample);
//      one async copy; GradientKernel: one warp per gathered row sums delta * other row over the
//      row's samples in sample order (the CPU's order: same bits, no atomics);
//   4. one async copy back of the gradient rows and the squared errors; the host sums the squared
//      errors in sample order.
// Device and pinned buffers grow on demand and are kept. A CUDA error or an exhausted GPU ends the
// job with one line naming the rank, the GPU and the size it tried.

#include <cstdint>
#include <memory>
#include <string>

#include "worker/batch_kernels.h"

namespace cfps::cuda {

// Visible CUDA devices; 0 with the runtime's reason when cudaGetDeviceCount fails (no driver:
// cudaErrorInsufficientDriver; no GPU: cudaErrorNoDevice). Clears the error.
int DeviceCount(std::string* why);

// "GPU 0 (NVIDIA H200, 139.8 GiB, sm_90)". Needs a visible device `gpu`.
std::string DeviceDescription(int gpu);

// "sm_80,sm_90 (+PTX compute_90)": the architectures this build's kernels were compiled for.
std::string Architectures();

// Peak DRAM bandwidth in GB/s from the memory clock and bus width (0 when the runtime does not
// report them; *how says which attributes were used).
double PeakMemoryBandwidthGBs(int gpu, std::string* how);

// Where the time of the last call went (CUDA events on the stream; enable with set_timing).
struct CallTiming {
  double upload_ms = 0;    // host -> device copies
  double forward_ms = 0;   // ForwardKernel
  double gradient_ms = 0;  // GradientKernel (0 in Evaluate)
  double download_ms = 0;  // device -> host copies
  double host_ms = 0;      // wall time of the whole call on the host
  int64_t h2d_bytes = 0;
  int64_t d2h_bytes = 0;
  // Bytes the two kernels must read and write (every gathered row read once per sample in the
  // forward pass and once per sample in the gradient pass, indices, deltas, outputs): the
  // numerator of "achieved GB/s". About 16*(k+1) + 48 bytes per rating.
  int64_t kernel_bytes = 0;
};

class CudaBatchKernels final : public BatchKernels {
 public:
  // Selects `gpu` and creates the stream; `rank` names the rank in error messages.
  CudaBatchKernels(int gpu, int rank);
  ~CudaBatchKernels() override;
  CudaBatchKernels(const CudaBatchKernels&) = delete;
  CudaBatchKernels& operator=(const CudaBatchKernels&) = delete;

  std::string Describe() const override;
  double ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                         const int32_t* item_slot, const float* rating, int64_t user_rows,
                         const float* urows, int64_t item_rows, const float* irows,
                         int64_t global_batch, float* ugrad, float* igrad) override;
  // Steps 1-4 without copying rows and gradient rows: the kernels read urows and irows and write
  // ugrad and igrad in this GPU's memory; only the squared errors come back.
  double ForwardBackwardOnDevice(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                 const int32_t* item_slot, const float* rating, int64_t user_rows,
                                 const float* urows, int64_t item_rows, const float* irows,
                                 int64_t global_batch, float* ugrad, float* igrad) override;
  double Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                  const int32_t* item_slot, const float* rating, int64_t user_rows,
                  const float* urows, int64_t item_rows, const float* irows, float* pred) override;

  // Records CUDA events between the stages of every call (off by default: no extra API calls).
  void set_timing(bool on) { timing_ = on; }
  const CallTiming& last_timing() const { return last_; }
  // Device bytes held (for tests of the growth policy).
  size_t device_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double Run(const ModelDims& dims, int64_t n, const int32_t* user_slot, const int32_t* item_slot,
             const float* rating, int64_t user_rows, const float* urows, int64_t item_rows,
             const float* irows, int64_t global_batch, float* ugrad, float* igrad,
             bool rows_on_device);
  bool timing_ = false;
  CallTiming last_;
};

}  // namespace cfps::cuda
