#pragma once
// Ratings readers. A ratings file is read into interned raw ids (first-appearance order) plus one
// (user, item, rating) triple per line. Raw ids are kept as the exact strings of the file: the
// vocabulary (common/vocab.h) decides the dense row of each id.
//
// Formats:
//   tsv  ml-100k u.data: user<TAB>item<TAB>rating<TAB>timestamp (any run of spaces/tabs separates)
//   dat  ml-1m/10m ratings.dat: user::item::rating::timestamp
//   csv  ml-latest/20m/25m ratings.csv: header userId,movieId,rating,timestamp; or any delimited
//        file with a header naming the columns (userId/user, movieId/itemId/item, rating).
//   auto picks by content: a first line containing "::" is dat, one with a comma is csv, else tsv.
// Errors name the file and line: "u.data:17: expected 3 or more fields, got 2: '1 2'".

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace cfps {

enum class RatingsFormat { kAuto, kTsv, kDat, kCsv };

// "auto", "tsv", "dat", "csv" -> format; anything else is InvalidArgument naming --format.
Status ParseRatingsFormat(const std::string& name, RatingsFormat* out);

struct ReadOptions {
  RatingsFormat format = RatingsFormat::kAuto;
  // Ratings outside [min_rating, max_rating] are errors (or skipped and counted with
  // skip_bad_lines).
  double min_rating = 0.0;
  double max_rating = 5.5;
  // Skip malformed lines and out-of-range ratings, counting them, instead of failing.
  bool skip_bad_lines = false;
  // The option that skips bad lines, named in the hint of a bad-line error ("" when the caller
  // has none).
  std::string skip_option = "--skip-bad-lines";
  // A regular file at least this large is parsed by two threads (when the process has two cores):
  // the same result, names in the same order, the same errors as one pass.
  uint64_t parallel_min_bytes = uint64_t{64} << 20;
};

struct Ratings {
  std::vector<std::string> user_names;  // interned raw user ids, first-appearance order
  std::vector<std::string> item_names;  // interned raw item ids, first-appearance order
  std::vector<int32_t> user;            // per rating: index into user_names
  std::vector<int32_t> item;            // per rating: index into item_names
  std::vector<float> rating;
  int64_t skipped_lines = 0;  // with skip_bad_lines: lines that were dropped
  size_t size() const { return rating.size(); }
};

// Reads `path`. A missing file, a directory, an empty file (no ratings), a malformed line or a
// rating that is not a finite number in range gives an error naming the file (and line). So does
// a file that is not text a reader can split into lines: UTF-16/32 (a byte-order mark, or NUL
// bytes), binary data (NUL bytes), a gzip or zip archive, or classic-Mac CR line endings (which
// would otherwise read as one line); these are checked on the first chunk of the file. An id
// containing a tab or a line break is an error even with skip_bad_lines (the vocabulary files
// cannot hold it).
Status ReadRatings(const std::string& path, const ReadOptions& options, Ratings* out);

}  // namespace cfps
