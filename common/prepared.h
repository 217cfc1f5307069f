#pragma once
// Prepared ratings: a binary form of a ratings file, written once (`cfps prepare`, or `cfps gen
// --out FILE.cfpsr`) and read by every later run, which then starts without parsing.
//
// Layout (little-endian; the interned ids of common/ratings.h, in the same first-appearance order):
//   0   char[8]  magic "CFPSRATE"
//   8   u32      format version (kPreparedVersion)
//   12  u32      CRC32 of the 64 header bytes with this field zero
//   16  u64      n ratings          24  u64  user names     32  u64  item names
//   40  u64      bytes of the names section                48  u32  CRC32 of the names section
//   52  u32      0                  56  u64  size of the whole file
//   64           names: per user name then per item name, u32 length + bytes
//   then zero padding to a multiple of 64, then int32 user[n], int32 item[n], float rating[n].
// A file of another version, a truncated or extended file, a damaged header or names section is
// a clear error naming the file. The arrays carry no checksum (25M ratings would cost a
// quarter-second at every start): every id is checked against the names and every rating for a
// finite value when the data set is built.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/ratings.h"
#include "common/status.h"

namespace cfps {

constexpr uint32_t kPreparedVersion = 1;
constexpr const char* kPreparedExtension = ".cfpsr";

// The ratings of a file as arrays in memory (the vectors of a parsed text file).
struct RatingsView {
  const std::vector<std::string>* user_names = nullptr;
  const std::vector<std::string>* item_names = nullptr;
  const int32_t* user = nullptr;
  const int32_t* item = nullptr;
  const float* rating = nullptr;
  size_t n = 0;
};
RatingsView ViewOf(const Ratings& r);

// True when `path` starts with the prepared magic (false for a missing or short file).
bool IsPreparedFile(const std::string& path);

// Writes `ratings` (every rating finite) as a prepared file, atomically.
Status WritePrepared(const RatingsView& ratings, const std::string& path);

// An opened prepared file: header checked, names read, the file kept open. The arrays are read on
// demand, a chunk at a time, into the caller's buffers: each pass over 25M ratings then holds a
// few hundred KB of them, never the file. (They are not mapped: on the 2-vCPU virtual machine this
// was measured on, faulting in a 300 MB map took 0.37-0.50 s a pass against 0.10 s for pread into a
// reused 4 MB buffer, and the map's pages count in the RSS until they are released.)
class PreparedRatings {
 public:
  PreparedRatings() = default;
  ~PreparedRatings();
  PreparedRatings(const PreparedRatings&) = delete;
  PreparedRatings& operator=(const PreparedRatings&) = delete;

  Status Open(const std::string& path);
  const std::string& path() const { return path_; }
  size_t size() const { return n_; }
  const std::vector<std::string>& user_names() const { return user_names_; }
  const std::vector<std::string>& item_names() const { return item_names_; }
  // Reads ratings [first, first + count) (inside size()) into the arrays given; a null array is
  // not read. A file that shrank or cannot be read since Open is an error naming it.
  Status Read(size_t first, size_t count, int32_t* user, int32_t* item, float* rating) const;

 private:
  std::string path_;
  int fd_ = -1;
  size_t arrays_offset_ = 0;
  size_t n_ = 0;
  std::vector<std::string> user_names_, item_names_;
};

}  // namespace cfps
