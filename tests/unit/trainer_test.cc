// The trainer in one process (LocalExchange: the rank serves and trains) against the dense
// reference, bitwise, for every optimizer; and the epoch loop's metrics.
#include "worker/trainer.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/test_util.h"
#include "tests/unit/host_device_table.h"

namespace cfps {
namespace {

// Trains from step 0 and returns the metrics of every epoch.
std::vector<EpochMetrics> TrainAllEpochs(Trainer* trainer) {
  std::vector<EpochMetrics> epochs;
  Trainer::Hooks hooks;
  hooks.on_epoch = [&](const EpochMetrics& m) { epochs.push_back(m); };
  trainer->Train(0, hooks);
  return epochs;
}

// The trainer's gathered model is the dense reference's, bit for bit.
void ExpectTheReferenceModel(Trainer* trainer, const Dataset& data, const TrainConfig& c) {
  std::vector<float> users, items;
  trainer->GatherModel(0, &users, &items);
  testing::ReferenceModel ref = testing::ReferenceInit(data, c);
  testing::ReferenceTrain(data, c, 1, trainer->total_steps(), &ref);
  EXPECT_TRUE(testing::BitwiseEqual(users, ref.rows[0]));
  EXPECT_TRUE(testing::BitwiseEqual(items, ref.rows[1]));
}

// The small model and schedule the bitwise tests train: 5 factors, batches of 16, `epochs`.
TrainConfig SmallConfig(int epochs) {
  TrainConfig c;
  c.dims.k = 5;
  c.epochs = epochs;
  c.batch_size = 16;
  c.lr = 0.02;
  c.init_std = 0.1;
  return c;
}

// (optimizer, threads, fused): the fused single-rank step and the exchange path, on 1 to 3
// threads, all give the reference's bits.
class LocalTrainerTest : public ::testing::TestWithParam<std::tuple<OptimizerKind, int, bool>> {};

TEST_P(LocalTrainerTest, MatchesTheDenseReferenceBitwise) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  TrainConfig c = SmallConfig(3);
  c.optimizer.kind = std::get<0>(GetParam());
  c.threads = std::get<1>(GetParam());
  c.min_parallel_samples = 1;  // split even these tiny batches among the threads
  c.fused_single_rank = std::get<2>(GetParam());
  LocalExchange ex;
  Roles roles;
  ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
  Trainer trainer(&ex, roles, &data, c);
  const std::vector<EpochMetrics> epochs = TrainAllEpochs(&trainer);
  ASSERT_EQ(epochs.size(), 3u);
  ExpectTheReferenceModel(&trainer, data, c);
  EXPECT_EQ(epochs.back().step, trainer.total_steps());
  EXPECT_EQ(epochs.back().valid_count, 40);
  EXPECT_EQ(epochs.back().valid_unknown, data.valid_unknown);
  EXPECT_GT(epochs.back().bytes_pulled, 0);
  EXPECT_NEAR(epochs.back().valid_rmse * epochs.back().valid_rmse, epochs.back().valid_mse, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, LocalTrainerTest,
                         ::testing::Combine(::testing::Values(OptimizerKind::kAdam,
                                                              OptimizerKind::kSgd,
                                                              OptimizerKind::kAdagrad),
                                            ::testing::Values(1, 2, 3), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(OptimizerName(std::get<0>(info.param))) + "_threads" +
                                  std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) ? "_fused" : "_exchange");
                         });

// A worker of the exchange path with 2 threads or more prepares each step's batch on one of them
// during the step before it (every step but an epoch's first); with one thread, or prepare_ahead
// false, each step prepares its own. The reference's bits either way.
TEST(LocalTrainerTest, PreparingAheadChangesNoBits) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  for (int threads : {1, 2}) {
    for (bool ahead : {true, false}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + (ahead ? ", ahead" : ", serial"));
      TrainConfig c = SmallConfig(3);
      c.threads = threads;
      c.min_parallel_samples = 1;
      c.fused_single_rank = false;
      c.prepare_ahead = ahead;
      LocalExchange ex;
      Roles roles;
      ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
      Trainer trainer(&ex, roles, &data, c);
      TrainAllEpochs(&trainer);
      ExpectTheReferenceModel(&trainer, data, c);
      EXPECT_EQ(trainer.stats().batches_ahead,
                ahead && threads >= 2 ? trainer.total_steps() - c.epochs : 0);
    }
  }
}

// In the blocked order the fused step with two threads reduces the gradients one table per thread
// (with three, by ranges of slots): the exchange path's bits on one thread, which the reference
// test above ties to the dense reference in the random order.
TEST(LocalTrainerTest, BlockedOrderFusedMatchesTheExchangePathBitwise) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    std::vector<float> want[2];
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(std::string(OptimizerName(kind)) + ", threads " + std::to_string(threads));
      TrainConfig c = SmallConfig(3);
      c.optimizer.kind = kind;
      c.order_blocks = 3;
      c.threads = threads;
      c.min_parallel_samples = 1;
      c.fused_single_rank = threads > 1;
      LocalExchange ex;
      Roles roles;
      ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
      Trainer trainer(&ex, roles, &data, c);
      TrainAllEpochs(&trainer);
      std::vector<float> got[2];
      trainer.GatherModel(0, &got[0], &got[1]);
      if (threads == 1) {
        want[0] = got[0];
        want[1] = got[1];
        continue;
      }
      EXPECT_TRUE(testing::BitwiseEqual(got[0], want[0]));
      EXPECT_TRUE(testing::BitwiseEqual(got[1], want[1]));
    }
  }
}

// The single-rank Adam step on two threads reads the next step's records during its update. A
// Train() stopped after a step that read ahead (mid-epoch, or at an epoch's end) and called again
// from there, as a resume does, and an epoch's short last batch (below min_parallel_samples, so
// on one thread, reading its own records) both keep the reference's bits.
TEST(LocalTrainerTest, PhasedStepStopsResumesAndEndsEpochsOnTheReferenceBits) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  for (int64_t stop : {int64_t{5}, int64_t{16}, int64_t{21}}) {
    SCOPED_TRACE("stopped after step " + std::to_string(stop));
    TrainConfig c = SmallConfig(3);
    c.optimizer.kind = OptimizerKind::kAdam;
    c.threads = 2;
    c.min_parallel_samples = 16;  // full batches of 16 split, the last of each epoch (10) not
    c.fused_single_rank = true;
    LocalExchange ex;
    Roles roles;
    ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
    Trainer trainer(&ex, roles, &data, c);
    ASSERT_EQ(trainer.steps_per_epoch(), 16);  // 15 batches of 16, then 10
    Trainer::Hooks hooks;
    hooks.after_step = [stop](int64_t done, bool) { return done == stop; };
    ASSERT_EQ(trainer.Train(0, hooks), stop);
    hooks.after_step = nullptr;
    ASSERT_EQ(trainer.Train(stop, hooks), trainer.total_steps());
    ExpectTheReferenceModel(&trainer, data, c);
  }
}

// The phased step reads the next step's records ahead, from the order it was given: a next step
// called with another order reads its own records (as after an evaluation, which drops the
// records read ahead), not those read ahead from the first order.
TEST(LocalTrainerTest, PhasedStepReadsAheadOnlyForTheSameOrder) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  TrainConfig c = SmallConfig(1);
  c.optimizer.kind = OptimizerKind::kAdam;
  c.threads = 2;
  c.min_parallel_samples = 1;
  c.fused_single_rank = true;
  std::vector<int32_t> first, second;
  EpochOrder(c.seed, 0, static_cast<int64_t>(data.train.size()), &first);
  EpochOrder(c.seed, 1, static_cast<int64_t>(data.train.size()), &second);
  ASSERT_NE(first, second);
  std::vector<float> model[2][2];
  for (int fresh = 0; fresh < 2; ++fresh) {
    LocalExchange ex;
    Roles roles;
    ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
    Trainer trainer(&ex, roles, &data, c);
    trainer.Step(0, first);
    if (fresh == 1) {
      double sse;
      int64_t count;
      trainer.Evaluate(&sse, &count);
    }
    trainer.Step(1, second);
    trainer.GatherModel(0, &model[fresh][0], &model[fresh][1]);
  }
  EXPECT_TRUE(testing::BitwiseEqual(model[0][0], model[1][0]));
  EXPECT_TRUE(testing::BitwiseEqual(model[0][1], model[1][1]));
}

// SmallConfig(2) on two threads with every phase split, its shard on the host twin of a device
// (counting into *calls), and with step_memory the step's payload in the twin's device memory.
TrainConfig OnTwinDevice(OptimizerKind kind, testing::DeviceCalls* calls, bool step_memory) {
  TrainConfig c = SmallConfig(2);
  c.optimizer.kind = kind;
  c.threads = 2;
  c.min_parallel_samples = 1;
  c.shard_device = testing::HostDeviceTables(calls);
  if (step_memory) c.step_memory = testing::HostStepMemory(calls);
  return c;
}

// A shard on a device (the host twin of the CUDA table) trains the reference's bits: the step's
// pulls and optimizer go through the device copy, the export reads the synced mirror.
TEST(LocalTrainerTest, ShardOnADeviceMatchesTheDenseReferenceBitwise) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    testing::DeviceCalls calls;
    const TrainConfig c = OnTwinDevice(kind, &calls, /*step_memory=*/false);
    LocalExchange ex;
    Roles roles;
    ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
    Trainer trainer(&ex, roles, &data, c);
    ASSERT_TRUE(trainer.shard()->on_device());
    TrainAllEpochs(&trainer);
    ExpectTheReferenceModel(&trainer, data, c);
    // Every step gathered and updated on the device; the tables were uploaded once.
    EXPECT_GE(calls.updates, 2 * trainer.total_steps());
    EXPECT_GE(calls.gathers, 2 * trainer.total_steps());
    EXPECT_EQ(calls.uploads, 2);
  }
}

// The device-resident step on one rank (host twins of the GPU table and of GPU memory): the
// reference's bits in the shard's mirror (what a checkpoint reads) and in the gathered model, the
// payload never copied through host memory, and a mid-run read of the mirror (a checkpoint)
// changes nothing.
TEST(LocalTrainerTest, DeviceResidentStepMatchesTheDenseReferenceBitwise) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 40, 3);
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    testing::DeviceCalls calls;
    const TrainConfig c = OnTwinDevice(kind, &calls, /*step_memory=*/true);
    LocalExchange ex;
    Roles roles;
    ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
    Trainer trainer(&ex, roles, &data, c);
    ASSERT_TRUE(trainer.device_step());
    Trainer::Hooks hooks;
    const int64_t stop = trainer.total_steps() / 2 + 1;
    hooks.after_step = [stop](int64_t done, bool) { return done == stop; };
    ASSERT_EQ(trainer.Train(0, hooks), stop);
    const int downloads = calls.downloads, uploads = calls.uploads;
    const Shard* read = trainer.shard();
    EXPECT_FALSE(read->values(kUserTable).empty());  // as a checkpoint reads the shard
    EXPECT_GT(calls.downloads, downloads);
    hooks.after_step = nullptr;
    ASSERT_EQ(trainer.Train(stop, hooks), trainer.total_steps());
    ExpectTheReferenceModel(&trainer, data, c);
    testing::ReferenceModel ref = testing::ReferenceInit(data, c);
    testing::ReferenceTrain(data, c, 1, trainer.total_steps(), &ref);
    const Shard* shard = trainer.shard();
    EXPECT_TRUE(testing::BitwiseEqual(shard->values(kUserTable), ref.rows[0]));
    EXPECT_TRUE(testing::BitwiseEqual(shard->values(kItemTable), ref.rows[1]));
    EXPECT_EQ(calls.updates, 0);
    EXPECT_GE(calls.device_updates, 2 * trainer.total_steps());
    EXPECT_EQ(calls.to_host_bytes, 0);
    EXPECT_EQ(calls.from_host_bytes, 0);
    EXPECT_GT(calls.on_device_bytes, 0);
    EXPECT_EQ(calls.uploads, uploads);  // reading the mirror did not send it back
  }
}

// The fused single-rank step and evaluation report the very numbers of the exchange path.
TEST(LocalTrainerTest, FusedAndExchangePathsReportTheSameMetrics) {
  const Dataset data = testing::MakeRandomDataset(31, 17, 250, 90, 5);
  std::vector<EpochMetrics> runs[2];
  for (int fused = 0; fused < 2; ++fused) {
    TrainConfig c;
    c.dims.k = 6;
    c.epochs = 2;
    c.batch_size = 32;
    c.eval_batch = 25;  // several evaluation rounds
    c.threads = 2;
    c.min_parallel_samples = 1;
    c.fused_single_rank = fused == 1;
    LocalExchange ex;
    Roles roles;
    ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
    Trainer trainer(&ex, roles, &data, c);
    runs[fused] = TrainAllEpochs(&trainer);
  }
  ASSERT_EQ(runs[0].size(), 2u);
  ASSERT_EQ(runs[1].size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(runs[0][e].train_loss, runs[1][e].train_loss);
    EXPECT_EQ(runs[0][e].valid_mse, runs[1][e].valid_mse);
    EXPECT_EQ(runs[0][e].valid_count, runs[1][e].valid_count);
    EXPECT_EQ(runs[0][e].bytes_pulled, runs[1][e].bytes_pulled);
    EXPECT_EQ(runs[0][e].bytes_pushed, runs[1][e].bytes_pushed);
  }
  EXPECT_GT(data.valid_unknown, 0);  // the zero row of unknown ids is exercised
}

TEST(LocalTrainerTest, LearnsAPlantedSignal) {
  // Ratings that depend only on the item: the model must get well below the variance.
  Dataset data = testing::MakeRandomDataset(40, 20, 4000, 400, 9);
  for (RatingArrays* a : {&data.train, &data.valid}) {
    for (size_t j = 0; j < a->size(); ++j) {
      a->set_rating(j, a->item(j) < 0 ? 3.0f : static_cast<float>(1 + a->item(j) % 5));
    }
  }
  TrainConfig c;
  c.dims.k = 4;
  c.epochs = 8;
  c.batch_size = 64;
  c.lr = 0.05;
  LocalExchange ex;
  Roles roles;
  ASSERT_TRUE(Roles::Make(1, 1, &roles).ok());
  Trainer trainer(&ex, roles, &data, c);
  const std::vector<EpochMetrics> epochs = TrainAllEpochs(&trainer);
  EXPECT_LT(epochs.back().train_loss, 0.25 * epochs.front().train_loss + 0.05);
  EXPECT_LT(epochs.back().train_loss, 0.3);
}

}  // namespace
}  // namespace cfps
