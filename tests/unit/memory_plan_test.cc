// The memory plan (launch/memory_plan.h) from the shapes: what each role holds, in bytes.
#include "launch/memory_plan.h"

#include <gtest/gtest.h>

#include <string>

#include "ps/optimizer.h"
#include "tests/test_util.h"

namespace cfps {
namespace {

constexpr int64_t kUsers = 300, kItems = 120, kTrain = 5000, kValid = 700;

TrainConfig Config(OptimizerKind kind, int threads) {
  TrainConfig c;
  c.dims.k = 7;
  c.batch_size = 64;
  c.optimizer.kind = kind;
  c.threads = threads;
  return c;
}

MemoryPlan Plan(int ranks, int shards, int rank, const Dataset& data, const TrainConfig& c) {
  Roles roles;
  EXPECT_TRUE(Roles::Make(ranks, shards, &roles).ok());
  return PlanMemory(roles, rank, data, c);
}

TEST(MemoryPlan, ShardRowsAndOptimizerStateFollowTheShapes) {
  const Dataset data = testing::MakeRandomDataset(kUsers, kItems, kTrain, kValid, 1);
  const double rows = static_cast<double>(kUsers + kItems);
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam}) {
    SCOPED_TRACE(OptimizerName(kind));
    const TrainConfig c = Config(kind, 1);
    const MemoryPlan p = Plan(1, 1, 0, data, c);
    EXPECT_EQ(p.shard_rows, rows * 8 * 4);  // k + 1 floats a row
    EXPECT_EQ(p.shard_state, rows * StateFloatsPerRow(kind, 8) * 4);
    EXPECT_EQ(p.order, static_cast<double>(kTrain) * 4);  // one index per training rating
    EXPECT_GT(p.data, 0);
    EXPECT_GT(p.buffers, 0);
    EXPECT_DOUBLE_EQ(p.total(), p.shard_rows + p.shard_state + p.shard_aggregation + p.data +
                                    p.order + p.buffers);
    EXPECT_GE(p.peak(), p.total());
    EXPECT_NE(DescribePlan(p).find("shard rows"), std::string::npos) << DescribePlan(p);
  }
}

TEST(MemoryPlan, ServersSplitTheRowsAndOnlyWorkersHoldTheOrderAndBuffers) {
  const Dataset data = testing::MakeRandomDataset(kUsers, kItems, kTrain, kValid, 2);
  const TrainConfig c = Config(OptimizerKind::kAdam, 1);
  const MemoryPlan one = Plan(1, 1, 0, data, c);
  // 2 servers (ranks 0 and 1) and 2 workers.
  const MemoryPlan s0 = Plan(4, 2, 0, data, c), s1 = Plan(4, 2, 1, data, c);
  const MemoryPlan w0 = Plan(4, 2, 2, data, c);
  EXPECT_EQ(s0.shard_rows + s1.shard_rows, one.shard_rows);
  EXPECT_EQ(s0.shard_state + s1.shard_state, one.shard_state);
  EXPECT_GT(s0.shard_rows, 0);
  EXPECT_EQ(s0.order, 0);
  EXPECT_EQ(s0.buffers, 0);
  EXPECT_EQ(w0.shard_rows, 0);
  EXPECT_EQ(w0.shard_state, 0);
  EXPECT_EQ(w0.order, one.order);
  EXPECT_GT(w0.buffers, 0);
}

// The blocked order adds a range per table row and, per tile, 20 bytes and a count per sorting
// thread: the ahead pool's 2 for a worker that prepares ahead, whatever its --threads.
TEST(MemoryPlan, TheBlockedOrderCountsTheThreadsThatSortIt) {
  const Dataset data = testing::MakeRandomDataset(kUsers, kItems, kTrain, kValid, 3);
  const double tiles = 9;
  const double ranges = static_cast<double>(kUsers + kItems) * 4;
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    TrainConfig random = Config(OptimizerKind::kSgd, threads);
    TrainConfig blocked = random;
    blocked.order_blocks = 3;
    // One rank (the fused step sorts on its pool of `threads`). Each sorting thread's counts are
    // held twice: kept for the run (TileCounts) and copied into positions each epoch.
    EXPECT_EQ(Plan(1, 1, 0, data, blocked).order - Plan(1, 1, 0, data, random).order,
              ranges + tiles * (20 + 2 * 8 * threads));
    // A worker of 1 server + 1 worker: the ahead pool (2 threads) once it has 2 or more.
    const int sorters = threads >= 2 ? 2 : 1;
    EXPECT_EQ(Plan(2, 1, 1, data, blocked).order - Plan(2, 1, 1, data, random).order,
              ranges + tiles * (20 + 2 * 8 * sorters));
  }
}

}  // namespace
}  // namespace cfps
