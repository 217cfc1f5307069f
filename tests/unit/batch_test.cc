#include "worker/batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "common/dataset.h"
#include "common/random.h"
#include "common/sharding.h"
#include "common/thread_pool.h"

namespace cfps {
namespace {

TEST(BatchTest, EpochOrderIsASeededPermutation) {
  std::vector<int32_t> a, b, c;
  EpochOrder(42, 0, 1000, &a);
  EpochOrder(42, 0, 1000, &b);
  EpochOrder(42, 1, 1000, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int32_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
}

// Random ratings of a users x items matrix, in the wide layout.
RatingArrays RandomRatings(int64_t users, int64_t items, int64_t n, uint64_t seed) {
  RatingArrays r(ChooseRatingLayout(users, items, 32));
  Rng rng(seed);
  for (int64_t k = 0; k < n; ++k) {
    r.push_back(static_cast<int32_t>(rng.Below(static_cast<uint64_t>(users))),
                static_cast<int32_t>(rng.Below(static_cast<uint64_t>(items))), 3.0f);
  }
  return r;
}

// --order blocked: a permutation, a pure function of (seed, epoch), each tile's ratings one run
// of the order, the tiles in a different order every epoch, and 1 x 1 tiles the random order.
TEST(BatchTest, BlockedEpochOrderVisitsOneTileAfterAnother) {
  const int64_t users = 103, items = 61, n = 20000;
  const int blocks = 4;
  const RatingArrays r = RandomRatings(users, items, n, 5);
  auto tile = [&](int32_t k) {
    const Rating x = r[static_cast<size_t>(k)];
    return (x.user / ((users + blocks - 1) / blocks)) * blocks +
           x.item / ((items + blocks - 1) / blocks);
  };
  std::vector<int32_t> a, b, c;
  BlockedEpochOrder(42, 0, r, users, items, blocks, &a);
  BlockedEpochOrder(42, 0, r, users, items, blocks, &b);
  BlockedEpochOrder(42, 1, r, users, items, blocks, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int32_t k = 0; k < n; ++k) ASSERT_EQ(sorted[static_cast<size_t>(k)], k);

  auto tile_sequence = [&](const std::vector<int32_t>& order) {
    std::vector<int> seq;
    for (int32_t k : order) {
      if (seq.empty() || seq.back() != tile(k)) seq.push_back(tile(k));
    }
    return seq;
  };
  const std::vector<int> seq_a = tile_sequence(a), seq_c = tile_sequence(c);
  // Every tile exactly once: its ratings are consecutive.
  EXPECT_EQ(seq_a.size(), static_cast<size_t>(blocks * blocks));
  std::vector<int> tiles_a = seq_a;
  std::sort(tiles_a.begin(), tiles_a.end());
  EXPECT_EQ(std::unique(tiles_a.begin(), tiles_a.end()), tiles_a.end());
  EXPECT_NE(seq_a, seq_c);
  // Within a tile the ratings are shuffled, not in file order.
  const auto first_run =
      std::find_if(a.begin() + 1, a.end(), [&](int32_t k) { return tile(k) != tile(a.front()); });
  EXPECT_FALSE(std::is_sorted(a.begin(), first_run));

  std::vector<int32_t> plain, one;
  EpochOrder(42, 3, n, &plain);
  BlockedEpochOrder(42, 3, r, users, items, 1, &one);
  EXPECT_EQ(one, plain);
}

// The sort and the shuffles split over a pool's threads give the one-thread order, for 2 and 3
// threads (ranges of ratings cut across tiles), above the size where the split starts.
TEST(BatchTest, BlockedEpochOrderOnAPoolIsTheSameOrder) {
  const int64_t users = 1000, items = 700, n = 200003;
  const RatingArrays r = RandomRatings(users, items, n, 11);
  std::vector<int32_t> one;
  BlockedEpochOrder(42, 2, r, users, items, 7, &one);
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<int32_t> pooled;
    BlockedEpochOrder(42, 2, r, users, items, 7, &pooled, &pool);
    EXPECT_EQ(pooled, one) << threads << " threads";
  }
}

// The tile counts kept from the first call give later epochs the order a fresh count gives, on
// one thread and on a pool, and are counted again only when the tiling or the split changes.
TEST(BatchTest, BlockedEpochOrderReusesItsTileCounts) {
  const int64_t users = 1000, items = 700, n = 200003;
  const RatingArrays r = RandomRatings(users, items, n, 11);
  TileCounts counts;
  ThreadPool pool(2);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::vector<int32_t> fresh, kept;
      BlockedEpochOrder(42, epoch, r, users, items, 7, &fresh, p);
      BlockedEpochOrder(42, epoch, r, users, items, 7, &kept, p, &counts);
      EXPECT_EQ(kept, fresh) << "epoch " << epoch << (p ? ", pool" : "");
    }
  }
  EXPECT_EQ(counts.passes, 2);  // once per split (one part, then two)
  std::vector<int32_t> fresh, kept;
  BlockedEpochOrder(42, 1, r, users, items, 5, &fresh, &pool);
  BlockedEpochOrder(42, 1, r, users, items, 5, &kept, &pool, &counts);
  EXPECT_EQ(kept, fresh);
  EXPECT_EQ(counts.passes, 3);
}

// More blocks than rows: empty ranges, still every rating once.
TEST(BatchTest, BlockedEpochOrderWithMoreBlocksThanRows) {
  const RatingArrays r = RandomRatings(3, 2, 50, 9);
  std::vector<int32_t> order;
  BlockedEpochOrder(1, 0, r, 3, 2, 8, &order);
  std::sort(order.begin(), order.end());
  for (int32_t k = 0; k < 50; ++k) ASSERT_EQ(order[static_cast<size_t>(k)], k);
}

TEST(BatchTest, AutoBlocksKeepsATilesRowsNearTwoMegabytes) {
  // ML-25M's shape, k = 64: sgd rows of 260 bytes, adam rows with their state 780 bytes.
  EXPECT_EQ(AutoBlocks(162541, 59047, 260, 20000000, 1024), 28);
  EXPECT_EQ(AutoBlocks(162541, 59047, 780, 20000000, 1024), 69);  // capped: 4 batches per tile
  EXPECT_EQ(AutoBlocks(943, 1682, 51 * 4 * 3, 80000, 64), 1);     // ml-100k: the random order
  EXPECT_EQ(AutoBlocks(0, 0, 260, 0, 64), 1);
}

// Shuffle draws its swap targets ahead (to prefetch them): the permutation must be exactly the
// plain Fisher-Yates loop's, which defines every epoch order (and so every trained model).
TEST(BatchTest, ShuffleIsThePlainFisherYates) {
  for (int64_t n : {0, 1, 2, 3, 31, 32, 33, 64, 1000, 100003}) {
    for (uint64_t seed : {1u, 7u}) {
      std::vector<int64_t> fast(static_cast<size_t>(n)), plain;
      std::iota(fast.begin(), fast.end(), 0);
      plain = fast;
      Rng a(seed), b(seed);
      Shuffle(fast.data(), n, &a);
      for (int64_t i = n - 1; i > 0; --i) {
        const int64_t j = static_cast<int64_t>(b.Below(static_cast<uint64_t>(i) + 1));
        std::swap(plain[static_cast<size_t>(i)], plain[static_cast<size_t>(j)]);
      }
      ASSERT_EQ(fast, plain) << "n " << n << " seed " << seed;
      EXPECT_EQ(a.Next(), b.Next());  // and the generator is left in the same state
    }
  }
}

TEST(BatchTest, WorkerSlicesTileTheBatch) {
  for (int64_t len : {0, 1, 5, 64, 65}) {
    for (int w = 1; w <= 5; ++w) {
      int64_t next = 0;
      for (int i = 0; i < w; ++i) {
        Slice s = WorkerSlice(len, i, w);
        EXPECT_EQ(s.begin, next);
        EXPECT_LE(s.size(), (len + w - 1) / w);
        next = s.end;
      }
      EXPECT_EQ(next, len);
    }
  }
  EXPECT_EQ(StepsPerEpoch(100, 64), 2);
  EXPECT_EQ(StepsPerEpoch(128, 64), 2);
}

TEST(RowGrouperTest, UniqueRowsGroupedByShardWithSlots) {
  RowGrouper g(20);
  const std::vector<int32_t> rows = {7, 3, 7, 10, -1, 3, 4, 19, 10};
  std::vector<int32_t> slots;
  g.Group(rows.data(), static_cast<int64_t>(rows.size()), 3, &slots);
  // First appearance: 7 3 10 4 19; by shard (r % 3): shard0 {3}, shard1 {7 10 4 19}, shard2 {}.
  EXPECT_EQ(g.unique(), (std::vector<int32_t>{3, 7, 10, 4, 19}));
  EXPECT_EQ(g.offsets(), (std::vector<int64_t>{0, 1, 5, 5}));
  ASSERT_EQ(slots.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0) {
      EXPECT_EQ(slots[i], g.num_unique());  // the zero row after the unique rows
    } else {
      EXPECT_EQ(g.unique()[static_cast<size_t>(slots[i])], rows[i]);
    }
  }
  for (int s = 0; s < 3; ++s) {
    for (int64_t j = g.offsets()[s]; j < g.offsets()[s + 1]; ++j) {
      EXPECT_EQ(ShardOf(g.unique()[static_cast<size_t>(j)], 3), s);
    }
  }
  // The grouper leaves no state behind: a second batch is independent of the first.
  const std::vector<int32_t> rows2 = {3, 3};
  g.Group(rows2.data(), 2, 3, &slots);
  EXPECT_EQ(g.unique(), (std::vector<int32_t>{3}));
  EXPECT_EQ(slots, (std::vector<int32_t>{0, 0}));
}

TEST(ShardingTest, RowsOnShardPartitionTheTable) {
  for (int64_t rows : {0, 1, 7, 100}) {
    for (int s = 1; s <= 4; ++s) {
      int64_t total = 0;
      for (int shard = 0; shard < s; ++shard) {
        const int64_t n = RowsOnShard(rows, shard, s);
        total += n;
        for (int64_t local = 0; local < n; ++local) {
          const int64_t r = GlobalRow(local, shard, s);
          EXPECT_EQ(ShardOf(r, s), shard);
          EXPECT_EQ(LocalIndex(r, s), local);
          EXPECT_LT(r, rows);
        }
      }
      EXPECT_EQ(total, rows);
    }
  }
}

}  // namespace
}  // namespace cfps
