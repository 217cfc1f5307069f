#pragma once
// Batches and per-batch deduplication.
//
// The global minibatch of step t of epoch e is a pure function of (seed, e, t): a seeded
// permutation of the training ratings, cut into batches of batch_size (the last one shorter).
// Worker w of W takes the contiguous slice [len*w/W, len*(w+1)/W) of each batch.
//
// RowGrouper turns the rows named by a slice into the unique rows it needs, grouped by owning
// shard (shard 0's rows first, each shard's in first-appearance order), and gives every sample the
// slot of its row in that grouped order. Row -1 (an id unknown in training, validation only) maps
// to the slot after the last unique row, where the caller keeps a zero row.

#include <cstdint>
#include <vector>

#include "common/dataset.h"

namespace cfps {

class ThreadPool;

int64_t StepsPerEpoch(int64_t n_train, int64_t batch_size);

// The order in which epoch `epoch` visits the training ratings (a permutation of 0..n-1).
void EpochOrder(uint64_t seed, int64_t epoch, int64_t n, std::vector<int32_t>* order);

// BlockedEpochOrder's count of ratings per tile, kept between calls (see there).
struct TileCounts {
  const RatingArrays* ratings = nullptr;  // what they count: these ratings, so tiled and split
  size_t n = 0;
  int64_t users = 0, items = 0;
  int blocks = 0, parts = 0;
  std::vector<std::vector<int64_t>> count;  // [part][tile]: part p's share of the ratings
  int64_t passes = 0;                       // counting passes made (for tests)
};

// The order of epoch `epoch` for --order blocked: LIBMF's blocking of the rating matrix. Rows of
// the user table are cut into `blocks` contiguous ranges, so are the item table's, and each
// rating falls in one of the blocks x blocks tiles; the epoch visits the tiles in a seeded random
// order and each tile's ratings in a seeded random order (a pure function of seed, epoch and the
// ratings, like EpochOrder). Consecutive batches then draw their rows from one tile's few rows,
// which stay in the caches. blocks == 1 is EpochOrder itself. `users` and `items` are the table
// sizes; every rating's rows must be in [0, users) and [0, items). With `pool` (optional) the
// sort and the shuffles run on its threads; the order is the same.
// `counts` (optional) keeps the ratings' count per tile, which does not change between epochs:
// a later call with the same ratings, table sizes, blocks and pool size skips the counting pass
// (a read of every rating; 0.05 s of an ML-25M epoch's 0.2 s of ordering). The order is the same.
// "The same ratings" is the same RatingArrays object (its address and size): a caller whose
// ratings change in place, or who frees them and makes others, must pass a fresh TileCounts.
void BlockedEpochOrder(uint64_t seed, int64_t epoch, const RatingArrays& ratings, int64_t users,
                       int64_t items, int blocks, std::vector<int32_t>* order,
                       ThreadPool* pool = nullptr, TileCounts* counts = nullptr);

// The blocks per table of --order blocked when --blocks is 0: enough that one tile's rows and
// their optimizer state (row_bytes each) take at most about 2 MB (a core's L2 cache and then
// some), and few enough that a tile holds four batches on average; at least 1 (small data sets
// get EpochOrder's order).
int AutoBlocks(int64_t users, int64_t items, int64_t row_bytes, int64_t ratings,
               int64_t batch_size);

struct Slice {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};
Slice WorkerSlice(int64_t length, int worker, int num_workers);

class RowGrouper {
 public:
  explicit RowGrouper(int64_t table_rows);

  // rows[i] in [-1, table_rows). Fills slots[i] (resized to n).
  void Group(const int32_t* rows, int64_t n, int num_shards, std::vector<int32_t>* slots);

  int64_t num_unique() const { return static_cast<int64_t>(unique_.size()); }
  // Global rows, grouped by shard; shard s owns unique()[offsets()[s] .. offsets()[s+1]).
  const std::vector<int32_t>& unique() const { return unique_; }
  const std::vector<int64_t>& offsets() const { return offsets_; }

 private:
  std::vector<int32_t> mark_;  // row -> slot while grouping; -1 otherwise (kept clean)
  std::vector<int32_t> first_seen_;
  std::vector<int32_t> unique_;
  std::vector<int64_t> offsets_;
  std::vector<int64_t> cursor_;
};

}  // namespace cfps
