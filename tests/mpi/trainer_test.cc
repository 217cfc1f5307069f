// The distributed BSP step on real ranks against the dense single-process reference
// (tests/test_util.h), bitwise; determinism across shard counts and modes; counted bytes.
#include <gtest/gtest.h>
#include <mpi.h>

#include <map>
#include <set>

#include "common/mpi_exchange.h"
#include "common/sharding.h"
#include "tests/test_util.h"
#include "tests/unit/host_device_table.h"

namespace cfps {
namespace {

using testing::BitwiseEqual;

TrainConfig SmallConfig(OptimizerKind kind) {
  TrainConfig c;
  c.dims.k = 7;
  c.epochs = 2;
  c.batch_size = 24;
  c.optimizer.kind = kind;
  c.optimizer.wd = kind == OptimizerKind::kAdam ? 0.1 : 0.05;
  c.lr = kind == OptimizerKind::kAdam ? 1e-2 : 0.05;
  c.seed = 7;
  c.init_std = 0.1;
  c.eval_batch = 10;
  return c;
}

// Runs the trainer on the ranks [0, ranks) of MPI_COMM_WORLD (others sit out) and returns the
// gathered model on world rank 0.
struct RunResult {
  std::vector<float> users, items;
  double valid_sse = 0;
  int64_t valid_count = 0;
};
RunResult RunOn(int ranks, int ps, const Dataset& data, const TrainConfig& config, int64_t steps,
                TrafficCounters* traffic = nullptr, bool* device_step = nullptr) {
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm comm;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &comm);
  RunResult out;
  if (comm != MPI_COMM_NULL) {
    MpiExchange ex(comm);
    Roles roles;
    EXPECT_TRUE(Roles::Make(ranks, ps, &roles).ok());
    Trainer trainer(&ex, roles, &data, config);
    std::vector<int32_t> order;
    for (int64_t g = 0; g < steps; ++g) {
      if (g % trainer.steps_per_epoch() == 0) {
        EpochOrder(config.seed, g / trainer.steps_per_epoch(),
                   static_cast<int64_t>(data.train.size()), &order);
      }
      trainer.Step(g, order);
    }
    if (traffic != nullptr) *traffic = ex.counters();
    if (device_step != nullptr) *device_step = trainer.device_step();
    trainer.Evaluate(&out.valid_sse, &out.valid_count);
    trainer.GatherModel(0, &out.users, &out.items);
    MPI_Comm_free(&comm);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return out;
}

int WorldSize() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

class TrainerMpiTest : public ::testing::TestWithParam<OptimizerKind> {};

// Every cluster shape the world allows: S servers + W workers, and the all-serve mode, each
// against the dense reference with the same W. Bitwise. With 1 thread per rank, and with 2 (the
// workers prepare each next batch on one of them, and every phase is split); with pre-pull (the
// default, in the shapes where no rank both serves and trains) and without.
TEST_P(TrainerMpiTest, EveryShapeMatchesTheDenseReferenceBitwise) {
  const Dataset data = testing::MakeRandomDataset(37, 29, 300, 60, 11);
  TrainConfig config = SmallConfig(GetParam());
  const int64_t steps = 2 * StepsPerEpoch(300, config.batch_size);  // crosses an epoch
  const int n = WorldSize();
  for (int run = 0; run < 4; ++run) {
    const int threads = 1 + run % 2;
    config.threads = threads;
    config.prepull = run < 2;
    config.min_parallel_samples = 1;
    SCOPED_TRACE("threads=" + std::to_string(threads) + (config.prepull ? "" : ", no prepull"));
    for (int ranks = 1; ranks <= n; ++ranks) {
      for (int ps = 0; ps < ranks || (ranks == 1 && ps == 0); ++ps) {
        const int workers = (ps == 0 || ranks == 1) ? ranks : ranks - ps;
        RunResult got = RunOn(ranks, ps, data, config, steps);
        if (WorldRank() == 0) {
          testing::ReferenceModel ref = testing::ReferenceInit(data, config);
          testing::ReferenceTrain(data, config, workers, steps, &ref);
          EXPECT_TRUE(BitwiseEqual(got.users, ref.rows[0]))
              << "users differ: ranks=" << ranks << " ps=" << ps;
          EXPECT_TRUE(BitwiseEqual(got.items, ref.rows[1]))
              << "items differ: ranks=" << ranks << " ps=" << ps;
          // Validation MSE from the gathered model, unknown ids predicted from a zero row.
          double sse = 0;
          const int width = config.dims.k + 1;
          std::vector<float> zero(static_cast<size_t>(width), 0.f);
          for (size_t j = 0; j < data.valid.size(); ++j) {
            const int32_t u = data.valid.user(j), i = data.valid.item(j);
            const float* ur = u < 0 ? zero.data() : &ref.rows[0][static_cast<size_t>(u) * width];
            const float* ir = i < 0 ? zero.data() : &ref.rows[1][static_cast<size_t>(i) * width];
            int32_t zs = 0;
            const float rating_j = data.valid.rating(j);
            sse += Evaluate<float>(config.dims, 1, &zs, &zs, &rating_j, ur, ir,
                                   static_cast<float*>(nullptr));
          }
          EXPECT_EQ(got.valid_count, static_cast<int64_t>(data.valid.size()));
          EXPECT_NEAR(got.valid_sse, sse, 1e-9 * std::max(1.0, sse));
        }
        if (ranks == 1) break;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainerMpiTest,
                         ::testing::Values(OptimizerKind::kAdam, OptimizerKind::kSgd,
                                           OptimizerKind::kAdagrad),
                         [](const auto& info) { return std::string(OptimizerName(info.param)); });

// Bytes pulled per step are the unique rows of each worker's slice plus ids and headers, and in
// the cluster mode (no rank both serves and trains) they are exactly what crossed the wire over an
// epoch (with pre-pull, the request of step g+1 goes out during step g, and an epoch's last step
// requests nothing), with pre-pull or without.
TEST(TrainerMpiBytesTest, PulledBytesAreTheUniqueRowsOfTheBatch) {
  const int n = WorldSize();
  if (n < 2) GTEST_SKIP() << "needs 2 ranks";
  const Dataset data = testing::MakeRandomDataset(50, 40, 500, 10, 5);
  for (bool prepull : {true, false}) {
    SCOPED_TRACE(prepull ? "prepull" : "no prepull");
    TrainConfig config = SmallConfig(OptimizerKind::kAdam);
    config.prepull = prepull;
    const int ps = n >= 3 ? 2 : 1;
    MpiExchange ex(MPI_COMM_WORLD);
    Roles roles;
    ASSERT_TRUE(Roles::Make(n, ps, &roles).ok());
    EXPECT_EQ(PrePulls(config, roles), prepull);
    Trainer trainer(&ex, roles, &data, config);
    std::vector<int32_t> order;
    EpochOrder(config.seed, 0, static_cast<int64_t>(data.train.size()), &order);
    const int64_t steps = trainer.steps_per_epoch();
    const TrafficCounters before = ex.counters();
    for (int64_t g = 0; g < steps; ++g) trainer.Step(g, order);
    // Three rounds per step; with pre-pull two, and the first step's request round.
    EXPECT_EQ(ex.counters().collectives - before.collectives, prepull ? 2 * steps + 1 : 3 * steps);
    const int w = roles.worker_of_rank(ex.rank());
    if (w < 0) {
      EXPECT_EQ(trainer.stats().bytes_pulled, 0);
      continue;
    }
    int64_t expect_rows = 0;
    for (int64_t g = 0; g < steps; ++g) {
      Slice s =
          WorkerSlice(std::min<int64_t>(config.batch_size, static_cast<int64_t>(data.train.size()) -
                                                               g * config.batch_size),
                      w, roles.num_workers());
      std::set<int32_t> users, items;
      for (int64_t j = s.begin; j < s.end; ++j) {
        const size_t r = static_cast<size_t>(order[static_cast<size_t>(g * config.batch_size + j)]);
        users.insert(data.train.user(r));
        items.insert(data.train.item(r));
      }
      expect_rows += static_cast<int64_t>(users.size() + items.size());
    }
    const int64_t row_bytes = 4 * (config.dims.k + 1);
    const int64_t pulled = expect_rows * (row_bytes + 4) + 8 * roles.num_shards() * steps;
    EXPECT_EQ(trainer.stats().rows_pulled, expect_rows);
    EXPECT_EQ(trainer.stats().bytes_pulled, pulled);
    EXPECT_EQ(trainer.stats().bytes_pushed, expect_rows * row_bytes);
    // Requests + pushes went out, rows came back: the wire carried exactly the counted bytes.
    EXPECT_EQ(ex.counters().bytes_sent - before.bytes_sent,
              pulled - expect_rows * row_bytes + expect_rows * row_bytes);
    EXPECT_EQ(ex.counters().bytes_received - before.bytes_received, expect_rows * row_bytes);
  }
}

// The device-resident step (the all-serve mode of a GPU per rank, issue 5), its device and its
// memory replaced by host twins: at 1 to 4 ranks it trains the host step's model bit for bit, with
// the same bytes on the wire, its rows never staged through host memory on a single rank; and
// ranks whose payload is in host memory take part in the same job (AllToAllDevice is AllToAllV
// on the wire).
TEST(TrainerMpiDeviceTest, DeviceResidentStepMatchesTheHostStepWithTheSameBytes) {
  const Dataset data = testing::MakeRandomDataset(37, 29, 300, 60, 11);
  const int n = std::min(WorldSize(), 4);
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    TrainConfig config = SmallConfig(kind);
    config.threads = 2;
    config.min_parallel_samples = 1;
    config.fused_single_rank = false;  // one rank too: the host step with its rounds
    const int64_t steps = 2 * StepsPerEpoch(300, config.batch_size);  // crosses an epoch
    for (int ranks = 1; ranks <= n; ++ranks) {
      // 0: host payload; 1: every rank's payload on its (twin) device; 2: odd ranks only.
      RunResult got[3];
      TrafficCounters traffic[3];
      for (int mode = 0; mode < 3; ++mode) {
        if (mode == 2 && ranks == 1) continue;
        SCOPED_TRACE("ranks=" + std::to_string(ranks) + " mode=" + std::to_string(mode));
        testing::DeviceCalls calls;
        TrainConfig c = config;
        const bool on_device = mode == 1 || (mode == 2 && WorldRank() % 2 == 1);
        if (on_device) {
          c.shard_device = testing::HostDeviceTables(&calls);
          c.step_memory = testing::HostStepMemory(&calls);
        }
        bool device_step = false;
        got[mode] = RunOn(ranks, 0, data, c, steps, &traffic[mode], &device_step);
        if (WorldRank() >= ranks) continue;
        EXPECT_EQ(device_step, on_device);
        if (on_device) {
          EXPECT_GT(calls.device_gathers, 0);
          EXPECT_GT(calls.device_updates + calls.sums_updated, 0);
          EXPECT_EQ(calls.updates, 0);  // every update read its gradient rows on the device
          if (ranks == 1) {             // nothing to send: the payload never left the device
            EXPECT_EQ(calls.to_host_bytes, 0);
            EXPECT_EQ(calls.from_host_bytes, 0);
            EXPECT_GT(calls.on_device_bytes, 0);
          }
          if (ranks > 1 && mode == 1) {
            EXPECT_GT(calls.sums_added, 0);
          }
        }
        EXPECT_EQ(traffic[mode].bytes_sent, traffic[0].bytes_sent);
        EXPECT_EQ(traffic[mode].bytes_received, traffic[0].bytes_received);
        EXPECT_EQ(traffic[mode].collectives, traffic[0].collectives);
        if (WorldRank() == 0) {
          EXPECT_TRUE(BitwiseEqual(got[mode].users, got[0].users));
          EXPECT_TRUE(BitwiseEqual(got[mode].items, got[0].items));
          EXPECT_EQ(got[mode].valid_sse, got[0].valid_sse);
          if (mode == 0) {
            testing::ReferenceModel ref = testing::ReferenceInit(data, c);
            testing::ReferenceTrain(data, c, ranks, steps, &ref);
            EXPECT_TRUE(BitwiseEqual(got[0].users, ref.rows[0]));
            EXPECT_TRUE(BitwiseEqual(got[0].items, ref.rows[1]));
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace cfps
