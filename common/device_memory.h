#pragma once
// DeviceMemory: an accelerator's memory as the step code sees it (issue 5: in the single-node GPU
// mode a rank that serves and trains keeps the step's payload on its GPU). The pulled rows, the
// gradient rows and the shard's sums of pushed gradients live there: the shard gathers into it,
// the exchange moves it (Exchange::AllToAllDevice; over NCCL from GPU to GPU), the worker's
// kernels read and write it, and the optimizer reads it. What stays on the host is small: the ids,
// the byte counts, the slots of the aggregation, the squared errors.
//
// Implementations: CudaDeviceMemory (worker/cuda/cuda_memory.h) and, in the tests, a twin in host
// memory (tests/unit/host_device_table.h) that lets the CPU suite run the device-resident step.
// Every call is complete when it returns (the components that share these pointers use streams of
// their own; none of them leaves work in flight on a buffer it hands over). Errors (an exhausted
// device) end the job with one line naming the rank, the device and the size. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <utility>

namespace cfps {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // `bytes` > 0 of device memory; `what` names the use in the out-of-memory message.
  virtual void* Allocate(size_t bytes, const char* what) = 0;
  virtual void Free(void* p) = 0;
  virtual void CopyOnDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void CopyToHost(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void CopyFromHost(void* dst, const void* host_src, size_t bytes) = 0;
  // True when device pointers are host pointers (the tests' twin): host code may then read and
  // write them directly, which the CPU math of the twin does.
  virtual bool host_addressable() const { return false; }
};

// A growable allocation of a DeviceMemory. Growing loses the contents; the capacity never shrinks
// (a quarter of headroom, so batches that vary in size do not reallocate every step).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept { swap(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    swap(other);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_ != nullptr) memory_->Free(data_);
  }

  // At least `bytes` on `memory` (which must stay the same for the buffer's life).
  void Reserve(DeviceMemory* memory, size_t bytes, const char* what) {
    if (memory_ == nullptr) memory_ = memory;
    if (bytes <= capacity_) return;
    if (data_ != nullptr) memory_->Free(data_);
    data_ = nullptr;
    capacity_ = 0;
    const size_t grown = bytes + bytes / 4;
    data_ = static_cast<char*>(memory_->Allocate(grown, what));
    capacity_ = grown;
  }
  char* data() { return data_; }
  size_t capacity() const { return capacity_; }
  template <typename T>
  T* as(size_t offset = 0) {
    return reinterpret_cast<T*>(data_ + offset);
  }
  void swap(DeviceBuffer& other) noexcept {
    std::swap(memory_, other.memory_);
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  DeviceMemory* memory_ = nullptr;
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace cfps
