#pragma once
// CudaDeviceMemory: the DeviceMemory (common/device_memory.h) of one GPU, for the device-resident
// step of a rank that serves and trains there (issue 5). cudaMalloc'd buffers, copies on a stream
// of its own, each complete when the call returns. An exhausted GPU or any CUDA error ends the job
// with one line naming the rank, the GPU and (out of memory) the size it tried. Built only when
// nvcc was found (CFPS_HAVE_CUDA); plain C++ header.

#include <cstddef>
#include <memory>

#include "common/device_memory.h"

namespace cfps::cuda {

class CudaDeviceMemory final : public DeviceMemory {
 public:
  // Selects `gpu` and creates the stream; `rank` names the rank in error messages.
  CudaDeviceMemory(int gpu, int rank);
  ~CudaDeviceMemory() override;
  CudaDeviceMemory(const CudaDeviceMemory&) = delete;
  CudaDeviceMemory& operator=(const CudaDeviceMemory&) = delete;

  void* Allocate(size_t bytes, const char* what) override;
  void Free(void* p) override;
  void CopyOnDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* host_dst, const void* src, size_t bytes) override;
  void CopyFromHost(void* dst, const void* host_src, size_t bytes) override;

  // Bytes allocated and not freed (for tests).
  size_t allocated_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cfps::cuda
