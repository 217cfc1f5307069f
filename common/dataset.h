#pragma once
// The training and validation sets as dense rows: what every rank holds before training.
// Built identically on every rank from the same files and seed (a pure function of them).

#include <cstdint>
#include <string>
#include <vector>

#include "common/ratings.h"
#include "common/status.h"
#include "common/vocab.h"

namespace cfps {

struct DataOptions {
  std::string data;        // --data
  std::string valid_data;  // --valid-data: explicit validation file (then valid_pct is unused)
  double valid_pct = 0.2;  // --valid-pct: seeded random fraction, as fastai's RandomSplitter
  uint64_t seed = 42;
  ReadOptions read;
};

// One rating as training reads it: the three values of a rating sit in one 12-byte record, so a
// random visit (the epoch order) costs one cache miss, not three.
struct Rating {
  int32_t user;  // dense user row, or -1 (validation only: unknown in training)
  int32_t item;  // dense item row, or -1
  float rating;
};

class RatingArrays {
 public:
  size_t size() const { return r_.size(); }
  bool empty() const { return r_.empty(); }
  void reserve(size_t n);  // with huge pages for large arrays (random access)
  void resize(size_t n);   // likewise
  void push_back(int32_t user, int32_t item, float rating) { r_.push_back({user, item, rating}); }
  void set(size_t k, int32_t user, int32_t item, float rating) { r_[k] = {user, item, rating}; }
  int32_t user(size_t k) const { return r_[k].user; }
  int32_t item(size_t k) const { return r_[k].item; }
  float rating(size_t k) const { return r_[k].rating; }
  void set_rating(size_t k, float v) { r_[k].rating = v; }
  const Rating& operator[](size_t k) const { return r_[k]; }
  const Rating* data() const { return r_.data(); }
  // Column copies (tests, reports).
  std::vector<int32_t> users() const;
  std::vector<int32_t> items() const;
  std::vector<float> ratings() const;

 private:
  std::vector<Rating> r_;
};

struct Dataset {
  Vocab users, items;  // built from the training ratings only
  RatingArrays train;  // every entry >= 0
  RatingArrays valid;
  int64_t valid_unknown = 0;  // validation ratings whose user or item never occurs in training
  int64_t skipped_lines = 0;
};

// Reads options.data (and options.valid_data), splits, builds the vocabularies from the training
// part and maps both parts to dense rows. Random split: a seeded permutation of the ratings; the
// first round(n * valid_pct) of it are the validation set; both sets keep file order.
Status BuildDataset(const DataOptions& options, Dataset* out);

}  // namespace cfps
