#pragma once
// Buffer: a growable byte buffer that, unlike std::vector<char>, does not zero what it grows into
// and never shrinks its capacity. The exchange moves these between ranks every step, so resizing
// one must cost nothing once it has reached its steady-state size.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "common/status.h"

namespace cfps {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept { swap(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    swap(other);
    return *this;
  }
  ~Buffer() { std::free(data_); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  char* data() { return data_; }
  const char* data() const { return data_; }

  void clear() { size_ = 0; }
  // New bytes are uninitialized; the capacity only grows (64-byte aligned storage).
  void resize(size_t n) {
    if (n > capacity_) Grow(n);
    size_ = n;
  }
  void append(const void* src, size_t n) {
    size_t old = size_;
    resize(old + n);
    if (n) std::memcpy(data_ + old, src, n);
  }
  template <typename T>
  void push(const T& value) {
    append(&value, sizeof(T));
  }
  // Typed view at a byte offset (the caller keeps offsets aligned to alignof(T)).
  template <typename T>
  T* as(size_t offset = 0) {
    return reinterpret_cast<T*>(data_ + offset);
  }
  template <typename T>
  const T* as(size_t offset = 0) const {
    return reinterpret_cast<const T*>(data_ + offset);
  }
  void swap(Buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void Grow(size_t n) {
    size_t cap = capacity_ ? capacity_ : 256;
    while (cap < n) cap *= 2;
    char* fresh = static_cast<char*>(std::aligned_alloc(64, (cap + 63) / 64 * 64));
    CFPS_CHECK(fresh != nullptr);
    if (size_) std::memcpy(fresh, data_, size_);
    std::free(data_);
    data_ = fresh;
    capacity_ = cap;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cfps
