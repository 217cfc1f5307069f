#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <initializer_list>
#include <vector>

namespace cfps {
namespace {

cpu_set_t Cpus(std::initializer_list<int> cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  return set;
}

TEST(ThreadPool, RunsEveryThreadOncePerRunAndWaitsForAll) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    std::vector<int> calls(static_cast<size_t>(threads), 0);
    for (int round = 0; round < 200; ++round) {
      std::atomic<int> done{0};
      pool.Run([&](int t) {
        ++calls[static_cast<size_t>(t)];
        done.fetch_add(1);
      });
      // Run is a barrier: every call has returned when it does.
      ASSERT_EQ(done.load(), threads);
    }
    for (int c : calls) EXPECT_EQ(c, 200);
  }
}

TEST(ThreadPool, SplitRangeCoversEveryIndexOnce) {
  for (int64_t n : {0, 1, 7, 64, 1001}) {
    for (int parts : {1, 2, 3, 8}) {
      int64_t expect = 0;
      for (int t = 0; t < parts; ++t) {
        int64_t begin, end;
        SplitRange(n, t, parts, &begin, &end);
        EXPECT_EQ(begin, expect);
        EXPECT_LE(end - begin, n / parts + 1);
        expect = end;
      }
      EXPECT_EQ(expect, n);
    }
  }
}

TEST(ThreadPool, RunOnWithoutAPoolCallsPartZeroHere) {
  std::vector<int> seen;
  RunOn(nullptr, [&](int t) { seen.push_back(t); });
  EXPECT_EQ(seen, std::vector<int>{0});
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  RunOn(&pool, [&](int t) { sum.fetch_add(t + 1); });
  EXPECT_EQ(sum.load(), 3);
}

TEST(CoreShare, RanksWithCpusOfTheirOwnKeepThemAll) {
  // mpirun's default for 2 ranks: each bound to one core.
  const std::vector<cpu_set_t> cores = {Cpus({0}), Cpus({1})};
  EXPECT_EQ(CoreShare(cores, 0), 1);
  EXPECT_EQ(CoreShare(cores, 1), 1);
  // Its default for more: each bound to a socket. Two sockets of 4 CPUs, two ranks on each:
  // 4 CPUs shared by 2 ranks, 2 threads each (a rank's 4 CPUs divided among the node's 4 ranks
  // would leave half the node idle).
  const std::vector<cpu_set_t> sockets = {Cpus({0, 1, 2, 3}), Cpus({4, 5, 6, 7}),
                                          Cpus({0, 1, 2, 3}), Cpus({4, 5, 6, 7})};
  for (size_t r = 0; r < sockets.size(); ++r) EXPECT_EQ(CoreShare(sockets, r), 2);
  // Three ranks, two on one socket: 4 for the lone one, 2 for the others.
  const std::vector<cpu_set_t> uneven = {Cpus({0, 1, 2, 3}), Cpus({4, 5, 6, 7}),
                                         Cpus({4, 5, 6, 7})};
  EXPECT_EQ(CoreShare(uneven, 0), 4);
  EXPECT_EQ(CoreShare(uneven, 1), 2);
  EXPECT_EQ(CoreShare(uneven, 2), 2);
}

TEST(CoreShare, UnboundRanksShareTheCpusEqually) {
  const cpu_set_t all = Cpus({0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(CoreShare({all}, 0), 8);
  EXPECT_EQ(CoreShare({all, all}, 1), 4);
  EXPECT_EQ(CoreShare({all, all, all}, 0), 2);  // 8/3, rounded down
  // More ranks than CPUs: still one thread each.
  const cpu_set_t two = Cpus({0, 1});
  EXPECT_EQ(CoreShare({two, two, two}, 2), 1);
  // 1/3 + 1/3 + 1/3 of three CPUs is 1 whatever the rounding of the sum.
  const cpu_set_t three = Cpus({0, 1, 2});
  EXPECT_EQ(CoreShare({three, three, three}, 0), 1);
}

TEST(CoreShare, ThisProcessHasAtLeastOneCpu) {
  const cpu_set_t mine = AffinityMask();
  EXPECT_GE(CPU_COUNT(&mine), 1);
  EXPECT_EQ(AvailableCores(), CPU_COUNT(&mine));
  EXPECT_EQ(CoreShare({mine}, 0), CPU_COUNT(&mine));
}

}  // namespace
}  // namespace cfps
