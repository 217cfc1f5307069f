// libFuzzer target: cfps::ReadRatings with --format dat (see ratings_target.h for the input
// layout).
#include "tests/fuzz/ratings_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cfps::fuzz::FuzzRatings(cfps::RatingsFormat::kDat, data, size);
}
