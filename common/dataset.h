#pragma once
// The training and validation sets as dense rows: what every rank holds before training.
// Built identically on every rank from the same files and seed (a pure function of them).

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
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

// One rating as training reads it.
struct Rating {
  int32_t user;  // dense user row, or -1 (validation only: unknown in training)
  int32_t item;  // dense item row, or -1
  float rating;
};

// An allocator whose resize() leaves new trivial elements uninitialised: BuildDataset writes every
// rating from two threads, which then also share the first touch of the pages (zeroing 200 MB
// first, on one thread, cost 0.03-0.3 s of a start).
template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}  // NOLINT: allocators convert implicitly
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: nothing for a trivial type
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// How RatingArrays stores its ratings. Wide: one 12-byte Rating each. Packed: one 8-byte word each,
// user row + 1 in the low user_bits, item row + 1 in the next item_bits (0 stands for -1), and the
// rating's float bits without their rating_shift low bits (which are zero for every rating) on
// top. MovieLens-shaped data packs (ML-25M: 18 + 16 bits of rows, ratings in halves need 12 bits),
// which is a third less memory and less traffic for the random reads of the epoch order; packing is
// exact or not used.
struct RatingLayout {
  bool packed = false;
  int user_bits = 0, item_bits = 0, rating_shift = 0;
};

// The packed layout for rows in [-1, n_users) x [-1, n_items) and ratings whose float bit patterns
// OR to `rating_bits` (their common trailing zero bits may be dropped), when one fits in 64 bits;
// the wide layout otherwise.
RatingLayout ChooseRatingLayout(int64_t n_users, int64_t n_items, uint32_t rating_bits);

// The OR of the float bit patterns of ratings[0, n).
uint32_t RatingBits(const float* ratings, size_t n);

// Readers of the two layouts, for loops that visit many ratings: RatingArrays::Read picks one once
// and the loop is compiled for each.
struct WideRatingReader {
  const Rating* r;
  Rating operator()(size_t k) const { return r[k]; }
  const void* address(size_t k) const { return r + k; }
};

struct PackedRatingReader {
  const uint64_t* w;
  int user_bits, item_shift, rating_pos, rating_shift;
  uint64_t user_mask, item_mask;
  Rating operator()(size_t k) const {
    const uint64_t x = w[k];
    const uint32_t bits = static_cast<uint32_t>(x >> rating_pos) << rating_shift;
    float rating;
    __builtin_memcpy(&rating, &bits, sizeof(rating));
    return {static_cast<int32_t>(x & user_mask) - 1,
            static_cast<int32_t>((x >> item_shift) & item_mask) - 1, rating};
  }
  const void* address(size_t k) const { return w + k; }
};

class RatingArrays {
 public:
  RatingArrays() = default;
  explicit RatingArrays(RatingLayout layout) : layout_(layout) {}

  const RatingLayout& layout() const { return layout_; }
  size_t bytes_per_rating() const { return layout_.packed ? sizeof(uint64_t) : sizeof(Rating); }
  size_t size() const { return counted_ ? counted_n_ : layout_.packed ? w_.size() : r_.size(); }
  bool empty() const { return size() == 0; }
  // The bytes the ratings take here (0 for a counted array).
  size_t bytes() const { return counted_ ? 0 : size() * bytes_per_rating(); }
  // Sizes without values: a rank that only serves needs the counts (steps per epoch, evaluation
  // rounds), never a rating. Reading one is a bug.
  static RatingArrays Counted(size_t n) {
    RatingArrays a;
    a.counted_ = true;
    a.counted_n_ = n;
    return a;
  }
  bool counted() const { return counted_; }
  void reserve(size_t n);  // with huge pages for large arrays (random access)
  void resize(size_t n);   // likewise; the new ratings are not initialised: set() each one
  // Rows and rating must fit the layout (they do when it was chosen from them).
  void push_back(int32_t user, int32_t item, float rating);
  void set(size_t k, int32_t user, int32_t item, float rating) {
    if (layout_.packed) {
      w_[k] = Pack(user, item, rating);
    } else {
      r_[k] = {user, item, rating};
    }
  }
  Rating operator[](size_t k) const { return layout_.packed ? packed_reader()(k) : r_[k]; }
  int32_t user(size_t k) const { return (*this)[k].user; }
  int32_t item(size_t k) const { return (*this)[k].item; }
  float rating(size_t k) const { return (*this)[k].rating; }
  void set_rating(size_t k, float v) {
    const Rating r = (*this)[k];
    set(k, r.user, r.item, v);
  }
  // f(reader) with the reader of this layout; returns what f returns.
  template <typename F>
  decltype(auto) Read(F&& f) const {
    CFPS_CHECK(!counted_ || counted_n_ == 0);
    if (layout_.packed) return f(packed_reader());
    return f(WideRatingReader{r_.data()});
  }
  // Column copies (tests, reports).
  std::vector<int32_t> users() const;
  std::vector<int32_t> items() const;
  std::vector<float> ratings() const;

 private:
  PackedRatingReader packed_reader() const {
    return {w_.data(),
            layout_.user_bits,
            layout_.user_bits,
            layout_.user_bits + layout_.item_bits,
            layout_.rating_shift,
            (uint64_t{1} << layout_.user_bits) - 1,
            (uint64_t{1} << layout_.item_bits) - 1};
  }
  // The layout was chosen from the data: a value it cannot hold is a bug, not bad input.
  uint64_t Pack(int32_t user, int32_t item, float rating) const {
    uint32_t bits;
    __builtin_memcpy(&bits, &rating, sizeof(bits));
    CFPS_CHECK(user >= -1 && item >= -1 &&
               static_cast<uint64_t>(user + 1) >> layout_.user_bits == 0 &&
               static_cast<uint64_t>(item + 1) >> layout_.item_bits == 0 &&
               (bits & ((uint32_t{1} << layout_.rating_shift) - 1)) == 0);
    return static_cast<uint64_t>(static_cast<uint32_t>(user + 1)) |
           static_cast<uint64_t>(static_cast<uint32_t>(item + 1)) << layout_.user_bits |
           static_cast<uint64_t>(bits >> layout_.rating_shift)
               << (layout_.user_bits + layout_.item_bits);
  }

  RatingLayout layout_;
  bool counted_ = false;
  size_t counted_n_ = 0;
  std::vector<Rating, NoInitAllocator<Rating>> r_;      // wide
  std::vector<uint64_t, NoInitAllocator<uint64_t>> w_;  // packed
};

struct Dataset {
  Vocab users, items;  // built from the training ratings only
  RatingArrays train;  // every entry >= 0
  RatingArrays valid;
  int64_t valid_unknown = 0;  // validation ratings whose user or item never occurs in training
  int64_t skipped_lines = 0;
  // Bytes BuildDataset held only while loading, before the ratings were placed: the random split's
  // permutation and selection mask (the peak of a rank that keeps no ratings).
  int64_t split_bytes = 0;
};

// Reads options.data (and options.valid_data), splits, builds the vocabularies from the training
// part and maps both parts to dense rows. Random split: a seeded permutation of the ratings; the
// first round(n * valid_pct) of it are the validation set; both sets keep file order.
// With keep_ratings false (a rank that only serves), train and valid are counted arrays: the same
// vocabularies, sizes and counts, the same errors, no ratings kept.
Status BuildDataset(const DataOptions& options, Dataset* out, bool keep_ratings = true);

}  // namespace cfps
