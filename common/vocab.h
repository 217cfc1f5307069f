#pragma once
// Vocabulary: raw id (string) <-> dense row. Built once from the training ratings; rows are
// assigned in sorted order of the raw ids (numerically when every id is an integer, else
// lexicographically), so the same data always gives the same rows whatever the file order.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace cfps {

class Vocab {
 public:
  Vocab() = default;
  // Builds from the distinct raw ids in `names` (duplicates are allowed and ignored). When rows is
  // not null, (*rows)[j] is the row of names[j]. Integer ids are ordered without comparing strings.
  static Vocab Build(std::vector<std::string> names, std::vector<int32_t>* rows = nullptr);

  int64_t size() const { return static_cast<int64_t>(names_.size()); }
  // Dense row of a raw id, or -1 when the id is not in the vocabulary.
  int32_t Lookup(const std::string& raw) const;
  const std::string& Name(int64_t row) const { return names_[static_cast<size_t>(row)]; }
  const std::vector<std::string>& names() const { return names_; }

  // One line per row: "row<TAB>raw_id\n". Written to a temporary file and renamed.
  Status WriteTsv(const std::string& path) const;
  // Reads what WriteTsv wrote; rows must be 0..n-1 in order.
  static Status ReadTsv(const std::string& path, Vocab* out);

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, int32_t> index_;
};

}  // namespace cfps
