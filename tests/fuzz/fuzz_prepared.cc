// libFuzzer target: the prepared ratings file (common/prepared.h) through PreparedRatings::Open
// and BuildDataset, as cfps train reads it. Each input is tried as given, and again with its
// size field, names CRC and header CRC made right (when it has a header), so that the fuzzer
// gets past the checksums into the counts, the names and the arrays. What an accepted file must
// give: a data set whose every row is inside its vocabularies.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "common/file_util.h"
#include "common/prepared.h"
#include "tests/fuzz/fuzz_file.h"

namespace {

void Check(const std::string& path) {
  cfps::PreparedRatings prepared;
  if (!prepared.Open(path).ok()) return;
  // An opened file's arrays are all there: its size was checked against the counts.
  const size_t n = prepared.size();
  CFPS_FUZZ_ASSERT(prepared.user_names().size() <= n && prepared.item_names().size() <= n);
  std::vector<int32_t> user(n), item(n);
  std::vector<float> rating(n);
  CFPS_FUZZ_ASSERT(prepared.Read(0, n, user.data(), item.data(), rating.data()).ok());
  cfps::DataOptions options;
  options.data = path;
  options.valid_pct = 0.25;
  options.seed = 1;
  cfps::Dataset d;
  if (!cfps::BuildDataset(options, &d).ok()) return;
  for (const cfps::RatingArrays* a : {&d.train, &d.valid}) {
    for (size_t k = 0; k < a->size(); ++k) {
      const bool train = a == &d.train;
      CFPS_FUZZ_ASSERT(a->user(k) < d.users.size() && a->item(k) < d.items.size());
      CFPS_FUZZ_ASSERT(!train || (a->user(k) >= 0 && a->item(k) >= 0));
      CFPS_FUZZ_ASSERT(a->rating(k) >= 0.0f && a->rating(k) <= 5.5f);  // the default y-range
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cfps::fuzz::FuzzFile& file = cfps::fuzz::TheFile();
  Check(file.Set(data, size));
  if (size < 64 || std::memcmp(data, "CFPSRATE", 8) != 0) return 0;
  std::vector<uint8_t> fixed(data, data + size);
  const uint64_t file_size = size;
  std::memcpy(&fixed[56], &file_size, 8);
  uint64_t names_bytes;
  std::memcpy(&names_bytes, &fixed[40], 8);
  if (names_bytes <= size - 64) {
    const uint32_t names_crc = cfps::Crc32(0, fixed.data() + 64, static_cast<size_t>(names_bytes));
    std::memcpy(&fixed[48], &names_crc, 4);
  }
  std::memset(&fixed[12], 0, 4);
  const uint32_t header_crc = cfps::Crc32(0, fixed.data(), 64);
  std::memcpy(&fixed[12], &header_crc, 4);
  Check(file.Set(fixed.data(), fixed.size()));
  return 0;
}
