#pragma once
// A DeviceTable (ps/device_table.h) in host memory, running the CPU optimizer: the twin that lets
// CPU tests drive a Shard "on a device" through every path the CUDA table takes (upload at
// construction, gather and update on the device copy, the host mirror synced on access, a loaded
// checkpoint uploaded before the next device operation). It counts its calls, so a test can tell
// that the device copy did the work.

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/status.h"
#include "ps/device_table.h"

namespace cfps::testing {

struct DeviceCalls {
  int uploads = 0, downloads = 0, gathers = 0, updates = 0;
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
    for (int64_t j = 0; j < n; ++j) {
      CFPS_CHECK(ids[j] >= 0 && static_cast<size_t>(ids[j]) * width_ < values_.size());
      std::memcpy(out + j * width_, values_.data() + static_cast<int64_t>(ids[j]) * width_,
                  sizeof(float) * static_cast<size_t>(width_));
    }
  }
  void Update(const PreparedStep& step, const int32_t* ids, const float* grads,
              int64_t n) override {
    ++calls_->updates;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t r = ids[j];
      CFPS_CHECK(r >= 0 && static_cast<size_t>(r) * width_ < values_.size());
      UpdateRow(step, grads + j * width_, values_.data() + r * width_,
                state_.data() + r * state_width_);
    }
  }

 private:
  int width_;
  int state_width_;
  std::vector<float> values_, state_;
  DeviceCalls* calls_;
};

inline DeviceTableFactory HostDeviceTables(DeviceCalls* calls) {
  return [calls](int64_t rows, int width, OptimizerKind kind) {
    return std::make_unique<HostDeviceTable>(rows, width, kind, calls);
  };
}

}  // namespace cfps::testing
