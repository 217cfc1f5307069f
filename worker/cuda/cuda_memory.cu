// CudaDeviceMemory (contract: cuda_memory.h).

#include <cuda_runtime.h>

#include <string>
#include <unordered_map>

#include "common/status.h"
#include "worker/cuda/cuda_errors.h"
#include "worker/cuda/cuda_memory.h"

namespace cfps::cuda {

struct CudaDeviceMemory::Impl {
  int gpu = 0;
  int rank = 0;
  std::string name;
  cudaStream_t stream = nullptr;
  std::unordered_map<void*, size_t> sizes;  // what Allocate handed out
  size_t allocated = 0;

  void Check(cudaError_t e, const char* expr, int line) const {
    CheckCuda(rank, gpu, name, e, expr, __FILE__, line);
  }
  void Copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
    if (bytes == 0) return;
    Check(cudaSetDevice(gpu), "cudaSetDevice", __LINE__);
    Check(cudaMemcpyAsync(dst, src, bytes, kind, stream), what, __LINE__);
    Check(cudaStreamSynchronize(stream), what, __LINE__);
  }
};

CudaDeviceMemory::CudaDeviceMemory(int gpu, int rank) : impl_(std::make_unique<Impl>()) {
  Impl* m = impl_.get();
  m->gpu = gpu;
  m->rank = rank;
  m->Check(cudaSetDevice(gpu), "cudaSetDevice", __LINE__);
  cudaDeviceProp p;
  m->Check(cudaGetDeviceProperties(&p, gpu), "cudaGetDeviceProperties", __LINE__);
  m->name = p.name;
  m->Check(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking), "cudaStreamCreate",
           __LINE__);
}

CudaDeviceMemory::~CudaDeviceMemory() {
  // No error checks: at process exit the runtime may already be shutting down. Buffers still
  // allocated belong to DeviceBuffers that outlive this object only by mistake; they are freed
  // here so the GPU's memory is not held.
  Impl* m = impl_.get();
  cudaSetDevice(m->gpu);
  if (m->stream) cudaStreamSynchronize(m->stream);
  for (const auto& kv : m->sizes) cudaFree(kv.first);
  if (m->stream) cudaStreamDestroy(m->stream);
  cudaGetLastError();
}

void* CudaDeviceMemory::Allocate(size_t bytes, const char* what) {
  Impl* m = impl_.get();
  CFPS_CHECK(bytes > 0);
  m->Check(cudaSetDevice(m->gpu), "cudaSetDevice", __LINE__);
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    cudaGetLastError();
    Fatal(m->rank, m->gpu, m->name,
          "out of GPU memory: cudaMalloc of " + Megabytes(bytes) + " for " + what +
              " failed: " + ErrorText(e) + "; " + Megabytes(free_bytes) + " free of " +
              Megabytes(total_bytes) + " (try a smaller --batch-size)");
  }
  m->sizes[p] = bytes;
  m->allocated += bytes;
  return p;
}

void CudaDeviceMemory::Free(void* p) {
  if (p == nullptr) return;
  Impl* m = impl_.get();
  auto it = m->sizes.find(p);
  CFPS_CHECK(it != m->sizes.end());
  m->allocated -= it->second;
  m->sizes.erase(it);
  m->Check(cudaSetDevice(m->gpu), "cudaSetDevice", __LINE__);
  m->Check(cudaFree(p), "cudaFree", __LINE__);
}

void CudaDeviceMemory::CopyOnDevice(void* dst, const void* src, size_t bytes) {
  impl_->Copy(dst, src, bytes, cudaMemcpyDeviceToDevice, "cudaMemcpyAsync (device to device)");
}

void CudaDeviceMemory::CopyToHost(void* host_dst, const void* src, size_t bytes) {
  impl_->Copy(host_dst, src, bytes, cudaMemcpyDeviceToHost, "cudaMemcpyAsync (device to host)");
}

void CudaDeviceMemory::CopyFromHost(void* dst, const void* host_src, size_t bytes) {
  impl_->Copy(dst, host_src, bytes, cudaMemcpyHostToDevice, "cudaMemcpyAsync (host to device)");
}

size_t CudaDeviceMemory::allocated_bytes() const { return impl_->allocated; }

}  // namespace cfps::cuda
