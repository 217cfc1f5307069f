// libFuzzer target: the INI file of `cfps train --config FILE` (Boost.Program_options'
// parse_config_file plus cfps's validation), through cfps::ParseTrainOptions exactly as main()
// calls it. Parsing must never throw, and an accepted configuration must satisfy what the
// validation promises.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "launch/options.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cfps::fuzz::TheFile().Set(data, size);
  const char* argv[] = {"train", "--config", path.c_str()};
  cfps::TrainOptions options;
  std::string help;
  cfps::Status s = cfps::ParseTrainOptions(3, argv, &options, &help);
  if (!s.ok()) {
    CFPS_FUZZ_ASSERT(!s.message().empty());
    return 0;
  }
  if (!help.empty()) return 0;
  CFPS_FUZZ_ASSERT(!options.data.data.empty());
  CFPS_FUZZ_ASSERT(options.train.dims.k > 0 && options.train.epochs > 0);
  CFPS_FUZZ_ASSERT(options.train.batch_size > 0 && options.train.eval_batch > 0);
  CFPS_FUZZ_ASSERT(options.train.lr > 0 && std::isfinite(options.train.lr));
  CFPS_FUZZ_ASSERT(options.train.dims.lo < options.train.dims.hi);
  CFPS_FUZZ_ASSERT(options.data.valid_pct >= 0 && options.data.valid_pct < 1);
  CFPS_FUZZ_ASSERT(options.ps >= 0);
  return 0;
}
