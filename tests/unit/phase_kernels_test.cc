// The phased kernels (worker/phase_kernels.h) against the reference ForwardBackward, bitwise, on
// random batches with repeated rows, for any split of the samples and of the slots; and the pool
// and the balanced slot split they run on.
#include "worker/phase_kernels.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "common/thread_pool.h"
#include "worker/kernels.h"

namespace cfps {
namespace {

struct Batch {
  int k;
  int64_t n;
  std::vector<int32_t> uslot, islot;
  std::vector<float> rating, urows, irows;
  int32_t nu, ni;
};

Batch RandomBatch(uint64_t seed, int k, int64_t n) {
  Rng rng(seed);
  Batch b;
  b.k = k;
  b.n = n;
  b.nu = static_cast<int32_t>(1 + rng.Below(static_cast<uint64_t>(n)));
  b.ni = static_cast<int32_t>(1 + rng.Below(8));  // few items: many samples per item row
  for (int64_t i = 0; i < n; ++i) {
    // Every slot used at least once (slots are dense in the trainer).
    b.uslot.push_back(i < b.nu ? static_cast<int32_t>(i) : static_cast<int32_t>(rng.Below(b.nu)));
    b.islot.push_back(i < b.ni ? static_cast<int32_t>(i) : static_cast<int32_t>(rng.Below(b.ni)));
    b.rating.push_back(static_cast<float>(1 + rng.Below(5)));
  }
  for (int64_t j = 0; j < int64_t{b.nu} * (k + 1); ++j) {
    b.urows.push_back(static_cast<float>(rng.Normal() * 0.3));
  }
  for (int64_t j = 0; j < int64_t{b.ni} * (k + 1); ++j) {
    b.irows.push_back(static_cast<float>(rng.Normal() * 0.3));
  }
  return b;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(PhaseKernels, EqualTheReferenceBitwiseForAnySplit) {
  const uint64_t base = static_cast<uint64_t>(::testing::UnitTest::GetInstance()->random_seed());
  for (int k : {1, 5, 8, 16, 50, 64, 65}) {
    for (int parts : {1, 2, 3, 7}) {
      const uint64_t seed = base * 1000 + static_cast<uint64_t>(k * 10 + parts);
      SCOPED_TRACE("k=" + std::to_string(k) + " parts=" + std::to_string(parts) +
                   " seed=" + std::to_string(seed));
      const Batch b = RandomBatch(seed, k, 200);
      ModelDims dims;
      dims.k = k;
      const int64_t global_batch = 300;  // this worker's slice of a larger batch
      std::vector<float> ug(b.urows.size(), 0.0f), ig(b.irows.size(), 0.0f);
      const double sse = ForwardBackward<float>(dims, b.n, b.uslot.data(), b.islot.data(),
                                                b.rating.data(), b.urows.data(), b.irows.data(),
                                                global_batch, ug.data(), ig.data());

      std::vector<float> err(static_cast<size_t>(b.n)), delta(static_cast<size_t>(b.n));
      const SampleRows rows{b.urows.data(), b.irows.data(), b.uslot.data(), b.islot.data()};
      for (int t = 0; t < parts; ++t) {
        int64_t s, e;
        SplitRange(b.n, t, parts, &s, &e);
        ForwardDeltas(dims, rows, b.rating.data(), global_batch, s, e, err.data(), delta.data());
      }
      EXPECT_EQ(SumSquares(err.data(), b.n), sse);
      std::vector<int32_t> ucount(static_cast<size_t>(b.nu)), icount(static_cast<size_t>(b.ni));
      for (int64_t i = 0; i < b.n; ++i) {
        ++ucount[static_cast<size_t>(b.uslot[static_cast<size_t>(i)])];
        ++icount[static_cast<size_t>(b.islot[static_cast<size_t>(i)])];
      }
      std::vector<int32_t> ub(static_cast<size_t>(parts) + 1), ib(static_cast<size_t>(parts) + 1);
      BalancedSlotRanges(ucount.data(), b.nu, parts, ub.data());
      BalancedSlotRanges(icount.data(), b.ni, parts, ib.data());
      // NaN everywhere first: every slot must be written by exactly the part that owns it.
      std::vector<float> pug(ug.size(), std::nanf("")), pig(ig.size(), std::nanf(""));
      for (int t = 0; t < parts; ++t) {
        ReduceRows(k, b.n, b.uslot.data(), delta.data(), b.irows.data(), b.islot.data(),
                   ub[static_cast<size_t>(t)], ub[static_cast<size_t>(t) + 1], pug.data());
        ReduceRows(k, b.n, b.islot.data(), delta.data(), b.urows.data(), b.uslot.data(),
                   ib[static_cast<size_t>(t)], ib[static_cast<size_t>(t) + 1], pig.data());
      }
      EXPECT_TRUE(SameBits(pug, ug));
      EXPECT_TRUE(SameBits(pig, ig));
    }
  }
}

// The one-pass kernel of the fused step: RandomBatch numbers slots in order of first appearance,
// as RowGrouper does; NaN in the gradient buffers first, so every row must be zeroed by the kernel.
TEST(PhaseKernels, ForwardReduceEqualsTheReferenceBitwise) {
  const uint64_t base = static_cast<uint64_t>(::testing::UnitTest::GetInstance()->random_seed());
  for (int k : {1, 5, 8, 16, 50, 64, 65}) {
    for (int64_t n : {8, 17, 200}) {  // at least 8: every item slot of RandomBatch used
      const uint64_t seed = base * 1000 + static_cast<uint64_t>(k * 7 + n);
      SCOPED_TRACE("k=" + std::to_string(k) + " n=" + std::to_string(n) +
                   " seed=" + std::to_string(seed));
      const Batch b = RandomBatch(seed, k, n);
      ModelDims dims;
      dims.k = k;
      const int64_t global_batch = n + 3;
      std::vector<float> ug(b.urows.size(), 0.0f), ig(b.irows.size(), 0.0f);
      const double sse = ForwardBackward<float>(dims, b.n, b.uslot.data(), b.islot.data(),
                                                b.rating.data(), b.urows.data(), b.irows.data(),
                                                global_batch, ug.data(), ig.data());
      std::vector<float> err(static_cast<size_t>(n)), delta(static_cast<size_t>(n));
      const SampleRows rows{b.urows.data(), b.irows.data(), b.uslot.data(), b.islot.data()};
      ForwardDeltas(dims, rows, b.rating.data(), global_batch, 0, n, err.data(), delta.data());

      std::vector<float> ferr(static_cast<size_t>(n), std::nanf(""));
      std::vector<float> fug(ug.size(), std::nanf("")), fig(ig.size(), std::nanf(""));
      ForwardReduce(dims, rows, b.uslot.data(), b.islot.data(), b.rating.data(), n, global_batch,
                    ferr.data(), fug.data(), fig.data());
      EXPECT_TRUE(SameBits(ferr, err));
      EXPECT_EQ(SumSquares(ferr.data(), n), sse);
      EXPECT_TRUE(SameBits(fug, ug));
      EXPECT_TRUE(SameBits(fig, ig));
    }
  }
}

TEST(BalancedSlotRanges, CoverEverySlotInOrderAndBalanceSamples) {
  const std::vector<int32_t> count = {1, 1, 1, 1, 10, 1, 1, 1, 1, 2};
  std::vector<int32_t> bounds(4);
  BalancedSlotRanges(count.data(), 10, 3, bounds.data());
  EXPECT_EQ(bounds.front(), 0);
  EXPECT_EQ(bounds.back(), 10);
  for (size_t t = 0; t + 1 < bounds.size(); ++t) EXPECT_LE(bounds[t], bounds[t + 1]);
  // 20 samples in 3 parts: the heavy slot 4 ends the first part (4 + 10 >= 20/3).
  EXPECT_EQ(bounds[1], 5);
  std::vector<int32_t> none(3);
  BalancedSlotRanges(count.data(), 0, 2, none.data());
  EXPECT_EQ(none, (std::vector<int32_t>{0, 0, 0}));
}

TEST(ThreadPool, RunsEveryPartOnceAndIsABarrier) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    std::vector<int> hits(static_cast<size_t>(threads), 0);
    std::atomic<int> total{0};
    for (int round = 0; round < 2000; ++round) {
      pool.Run([&](int t) {
        ++hits[static_cast<size_t>(t)];
        total.fetch_add(1);
      });
      // Run returned: every part of this round has finished.
      ASSERT_EQ(total.load(), (round + 1) * threads);
    }
    for (int h : hits) EXPECT_EQ(h, 2000);
  }
}

TEST(ThreadPool, WakesHelpersThatWentToSleep) {
  ThreadPool pool(3);
  std::atomic<int> total{0};
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // helpers give up spinning
    pool.Run([&](int) { total.fetch_add(1); });
  }
  EXPECT_EQ(total.load(), 9);
}

}  // namespace
}  // namespace cfps
