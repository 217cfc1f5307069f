// libFuzzer target: cfps::ReadNpy (the .npy files of an export). On success the shape has one or
// two non-negative dimensions whose product is the number of floats read.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/npy.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<float> values;
  std::vector<int64_t> shape;
  cfps::Status s = cfps::ReadNpy(cfps::fuzz::TheFile().Set(data, size), &values, &shape);
  if (!s.ok()) {
    CFPS_FUZZ_ASSERT(!s.message().empty());
    return 0;
  }
  CFPS_FUZZ_ASSERT(shape.size() == 1 || shape.size() == 2);
  uint64_t count = 1;
  for (int64_t d : shape) {
    CFPS_FUZZ_ASSERT(d >= 0);
    count *= static_cast<uint64_t>(d);
  }
  CFPS_FUZZ_ASSERT(count == values.size());
  return 0;
}
