#pragma once
// A DeviceTable (ps/device_table.h) in host memory, running the CPU optimizer: the twin that lets
// CPU tests drive a Shard "on a device" through every path the CUDA table takes (upload at
// construction, gather and update on the device copy, the host mirror synced on access, a loaded
// checkpoint uploaded before the next device operation). It counts its calls, so a test can tell
// that the device copy did the work.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "common/device_memory.h"
#include "common/status.h"
#include "ps/device_table.h"

namespace cfps::testing {

struct DeviceCalls {
  int uploads = 0, downloads = 0, gathers = 0, updates = 0;
  // The device-resident step's calls.
  int device_gathers = 0, device_updates = 0, sums_added = 0, sums_updated = 0;
  // HostDeviceMemory's copies, in bytes.
  int64_t on_device_bytes = 0, to_host_bytes = 0, from_host_bytes = 0;
};

class HostDeviceTable final : public DeviceTable {
 public:
  HostDeviceTable(int64_t rows, int width, OptimizerKind kind, DeviceCalls* calls)
      : width_(width),
        state_width_(StateFloatsPerRow(kind, width)),
        values_(static_cast<size_t>(rows) * width, -1.0f),
        state_(static_cast<size_t>(rows) * state_width_, -1.0f),
        calls_(calls) {}
  void Upload(const float* values, const float* state) override {
    ++calls_->uploads;
    if (!values_.empty()) std::memcpy(values_.data(), values, values_.size() * sizeof(float));
    if (!state_.empty()) std::memcpy(state_.data(), state, state_.size() * sizeof(float));
  }
  void Download(float* values, float* state) const override {
    ++calls_->downloads;
    if (!values_.empty()) std::memcpy(values, values_.data(), values_.size() * sizeof(float));
    if (!state_.empty()) std::memcpy(state, state_.data(), state_.size() * sizeof(float));
  }
  void Gather(const int32_t* ids, int64_t n, float* out) override {
    ++calls_->gathers;
    GatherRows(ids, n, out);
  }
  void Update(const PreparedStep& step, const int32_t* ids, const float* grads,
              int64_t n) override {
    ++calls_->updates;
    UpdateRows(step, ids, grads, n);
  }
  // The twin's device memory is host memory (HostDeviceMemory below).
  void GatherToDevice(const int32_t* ids, int64_t n, float* device_out) override {
    ++calls_->device_gathers;
    GatherRows(ids, n, device_out);
  }
  void UpdateFromDevice(const PreparedStep& step, const int32_t* ids, const float* device_grads,
                        int64_t n) override {
    ++calls_->device_updates;
    UpdateRows(step, ids, device_grads, n);
  }
  void AddToSums(const int32_t* slots, const uint8_t* first, int64_t n,
                 const float* device_grads) override {
    ++calls_->sums_added;
    for (int64_t j = 0; j < n; ++j) {
      const size_t end = (static_cast<size_t>(slots[j]) + 1) * static_cast<size_t>(width_);
      if (sums_.size() < end) sums_.resize(end);
      float* acc = sums_.data() + static_cast<int64_t>(slots[j]) * width_;
      const float* g = device_grads + j * width_;
      for (int c = 0; c < width_; ++c) acc[c] = first[j] ? g[c] : acc[c] + g[c];
    }
  }
  void UpdateFromSums(const PreparedStep& step, const int32_t* ids, int64_t n) override {
    ++calls_->sums_updated;
    CFPS_CHECK(static_cast<size_t>(n) * static_cast<size_t>(width_) <= sums_.size());
    UpdateRows(step, ids, sums_.data(), n);
  }

 private:
  void GatherRows(const int32_t* ids, int64_t n, float* out) const {
    for (int64_t j = 0; j < n; ++j) {
      CFPS_CHECK(ids[j] >= 0 && static_cast<size_t>(ids[j]) * width_ < values_.size());
      std::memcpy(out + j * width_, values_.data() + static_cast<int64_t>(ids[j]) * width_,
                  sizeof(float) * static_cast<size_t>(width_));
    }
  }
  void UpdateRows(const PreparedStep& step, const int32_t* ids, const float* grads, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t r = ids[j];
      CFPS_CHECK(r >= 0 && static_cast<size_t>(r) * width_ < values_.size());
      UpdateRow(step, grads + j * width_, values_.data() + r * width_,
                state_.data() + r * state_width_);
    }
  }
  int width_;
  int state_width_;
  std::vector<float> values_, state_, sums_;
  DeviceCalls* calls_;
};

// A DeviceMemory (common/device_memory.h) in host memory, for HostDeviceTable's "device". It
// counts the bytes it copies (into *calls), and fills what it allocates with NaN, so a step that
// reads a byte it did not write shows in the model.
class HostDeviceMemory final : public DeviceMemory {
 public:
  explicit HostDeviceMemory(DeviceCalls* calls) : calls_(calls) {}
  void* Allocate(size_t bytes, const char* /*what*/) override {
    float* p = static_cast<float*>(std::malloc((bytes + 3) / 4 * 4));
    CFPS_CHECK(p != nullptr);
    std::fill_n(p, (bytes + 3) / 4, std::numeric_limits<float>::quiet_NaN());
    return p;
  }
  void Free(void* p) override { std::free(p); }
  void CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    calls_->on_device_bytes += static_cast<int64_t>(bytes);
    std::memcpy(dst, src, bytes);
  }
  void CopyToHost(void* host_dst, const void* src, size_t bytes) override {
    calls_->to_host_bytes += static_cast<int64_t>(bytes);
    std::memcpy(host_dst, src, bytes);
  }
  void CopyFromHost(void* dst, const void* host_src, size_t bytes) override {
    calls_->from_host_bytes += static_cast<int64_t>(bytes);
    std::memcpy(dst, host_src, bytes);
  }
  bool host_addressable() const override { return true; }

 private:
  DeviceCalls* calls_;
};

// TrainConfig::step_memory of the twin.
inline std::function<std::unique_ptr<DeviceMemory>()> HostStepMemory(DeviceCalls* calls) {
  return [calls] { return std::make_unique<HostDeviceMemory>(calls); };
}

inline DeviceTableFactory HostDeviceTables(DeviceCalls* calls) {
  return [calls](int64_t rows, int width, OptimizerKind kind) {
    return std::make_unique<HostDeviceTable>(rows, width, kind, calls);
  };
}

}  // namespace cfps::testing
