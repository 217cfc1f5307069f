#pragma once
// The body shared by fuzz_ratings_{tsv,dat,csv}: the first byte picks the options (bit 0:
// skip_bad_lines, bit 1: a narrower --y-range), the rest is the file. On success the parsed
// ratings must be consistent: parallel arrays of one length, indices within the interned names,
// finite ratings within the range, no empty ids, and no skipped lines unless skipping was asked.

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "common/ratings.h"
#include "tests/fuzz/fuzz_file.h"

namespace cfps {
namespace fuzz {

inline int FuzzRatings(RatingsFormat format, const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ReadOptions options;
  options.format = format;
  options.skip_bad_lines = (data[0] & 1) != 0;
  if (data[0] & 2) {
    options.min_rating = 1.0;
    options.max_rating = 5.0;
  }
  const std::string& path = TheFile().Set(data + 1, size - 1);
  Ratings r;
  Status s = ReadRatings(path, options, &r);
  if (!s.ok()) {
    CFPS_FUZZ_ASSERT(!s.message().empty());
    return 0;
  }
  CFPS_FUZZ_ASSERT(r.size() > 0);
  CFPS_FUZZ_ASSERT(r.user.size() == r.size() && r.item.size() == r.size());
  CFPS_FUZZ_ASSERT(options.skip_bad_lines || r.skipped_lines == 0);
  for (size_t k = 0; k < r.size(); ++k) {
    CFPS_FUZZ_ASSERT(r.user[k] >= 0 && static_cast<size_t>(r.user[k]) < r.user_names.size());
    CFPS_FUZZ_ASSERT(r.item[k] >= 0 && static_cast<size_t>(r.item[k]) < r.item_names.size());
    CFPS_FUZZ_ASSERT(std::isfinite(r.rating[k]));
    // The bound check is on the double; the float may round to the bound, never past it by more.
    CFPS_FUZZ_ASSERT(r.rating[k] >= static_cast<float>(options.min_rating) &&
                     r.rating[k] <= static_cast<float>(options.max_rating));
  }
  for (const std::string& n : r.user_names) CFPS_FUZZ_ASSERT(!n.empty());
  for (const std::string& n : r.item_names) CFPS_FUZZ_ASSERT(!n.empty());
  return 0;
}

}  // namespace fuzz
}  // namespace cfps
