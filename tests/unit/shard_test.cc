#include "ps/shard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/roles.h"
#include "common/sharding.h"
#include "tests/unit/host_device_table.h"

namespace cfps {
namespace {

ModelShape Shape() {
  ModelShape s;
  s.rows[kUserTable] = 23;
  s.rows[kItemTable] = 11;
  s.k = 4;
  return s;
}

TEST(ShardTest, InitialRowsDoNotDependOnTheShardCount) {
  OptimizerConfig opt;
  Shard one(0, 1, Shape(), opt, 99);
  for (int S = 2; S <= 4; ++S) {
    for (int s = 0; s < S; ++s) {
      Shard shard(s, S, Shape(), opt, 99);
      for (int t = 0; t < 2; ++t) {
        ASSERT_EQ(shard.local_rows(t), RowsOnShard(Shape().rows[t], s, S));
        for (int64_t local = 0; local < shard.local_rows(t); ++local) {
          const int64_t g = GlobalRow(local, s, S);
          EXPECT_EQ(0, std::memcmp(shard.row(t, local), one.row(t, g), sizeof(float) * 5));
        }
      }
    }
  }
  // A different seed gives a different model; std is about 0.01.
  Shard other(0, 1, Shape(), opt, 100);
  EXPECT_NE(0, std::memcmp(other.row(0, 0), one.row(0, 0), sizeof(float) * 5));
  double sq = 0;
  for (int64_t r = 0; r < 23; ++r) {
    for (int c = 0; c < 5; ++c) sq += one.row(0, r)[c] * one.row(0, r)[c];
  }
  EXPECT_NEAR(std::sqrt(sq / (23 * 5)), 0.01, 0.004);
}

// The initial rows are computed on the pool's threads: the same bits for any number of threads.
TEST(ShardTest, InitialRowsDoNotDependOnTheThreads) {
  OptimizerConfig opt;
  Shard one(1, 2, Shape(), opt, 7);
  for (int threads : {2, 3, 5}) {
    ThreadPool pool(threads);
    Shard many(1, 2, Shape(), opt, 7, 0.01, &pool);
    for (int t = 0; t < 2; ++t) {
      ASSERT_EQ(many.values(t).size(), one.values(t).size());
      EXPECT_EQ(0, std::memcmp(many.values(t).data(), one.values(t).data(),
                               one.values(t).size() * sizeof(float)))
          << threads << " threads, table " << t;
    }
  }
}

TEST(ShardTest, GatherCopiesRows) {
  OptimizerConfig opt;
  Shard shard(1, 2, Shape(), opt, 5);
  const int32_t ids[] = {3, 0, 3};
  std::vector<float> out(15);
  shard.Gather(kUserTable, ids, 3, out.data());
  EXPECT_EQ(0, std::memcmp(&out[0], shard.row(0, 3), sizeof(float) * 5));
  EXPECT_EQ(0, std::memcmp(&out[5], shard.row(0, 0), sizeof(float) * 5));
  EXPECT_EQ(0, std::memcmp(&out[10], shard.row(0, 3), sizeof(float) * 5));
}

TEST(ShardTest, SumsWorkersInOrderThenUpdatesOnlyTouchedRows) {
  OptimizerConfig opt;
  opt.kind = OptimizerKind::kSgd;
  opt.wd = 0.0;
  Shard shard(0, 1, Shape(), opt, 5);
  std::vector<float> before(shard.values(kUserTable));
  const int32_t w0[] = {2, 5};
  const int32_t w1[] = {5};
  const float g0[] = {1, 2, 3, 4, 5, 1e8f, 1, 1, 1, 1};
  const float g1[] = {-1e8f, 1, 1, 1, 1};
  shard.AddGradients(kUserTable, w0, 2, g0);
  shard.AddGradients(kUserTable, w1, 1, g1);
  EXPECT_EQ(shard.pending_rows(kUserTable), 2);
  PreparedStep step = PrepareStep(opt, 5, /*lr=*/0.5, /*mom=*/0.9, /*t=*/1);
  shard.ApplyStep(step);
  EXPECT_EQ(shard.pending_rows(kUserTable), 0);
  const std::vector<float>& after = shard.values(kUserTable);
  for (int c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(after[2 * 5 + c], before[2 * 5 + c] - 0.5f * g0[c]);
  // Row 5: (1e8 + -1e8) summed in worker order is exactly 0, then + 1... = 2 for the others.
  EXPECT_FLOAT_EQ(after[5 * 5 + 0], before[5 * 5 + 0]);
  for (int c = 1; c < 5; ++c) EXPECT_FLOAT_EQ(after[5 * 5 + c], before[5 * 5 + c] - 0.5f * 2.0f);
  for (int64_t r = 0; r < 23; ++r) {
    if (r == 2 || r == 5) continue;
    EXPECT_EQ(0, std::memcmp(&after[static_cast<size_t>(r) * 5],
                             &before[static_cast<size_t>(r) * 5], sizeof(float) * 5));
  }
}

TEST(RolesTest, ClusterAndAllServeModes) {
  Roles r;
  ASSERT_TRUE(Roles::Make(5, 2, &r).ok());
  EXPECT_EQ(r.num_shards(), 2);
  EXPECT_EQ(r.num_workers(), 3);
  EXPECT_TRUE(r.serves(1) && !r.trains(1));
  EXPECT_TRUE(r.trains(2) && !r.serves(2));
  EXPECT_EQ(r.worker_rank(0), 2);
  EXPECT_EQ(r.Describe(0), "server");
  ASSERT_TRUE(Roles::Make(3, 0, &r).ok());
  EXPECT_EQ(r.num_shards(), 3);
  EXPECT_EQ(r.num_workers(), 3);
  EXPECT_EQ(r.Describe(2), "server+worker");
  ASSERT_TRUE(Roles::Make(1, 1, &r).ok());  // one rank always serves and trains
  EXPECT_EQ(r.Describe(0), "server+worker");
  Status s = Roles::Make(3, 3, &r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--ps"), std::string::npos);
  EXPECT_FALSE(Roles::Make(3, -1, &r).ok());
}

// A shard on a device (here the host twin of ps/device_table.h) gives the host shard's bits
// through every path: Gather and the optimizer run on the device copy, the host mirror is brought
// up to date when read, and rows written through it (a checkpoint being loaded) reach the device
// before its next operation.
TEST(ShardTest, OnADeviceGivesTheHostShardsBits) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    OptimizerConfig opt;
    opt.kind = kind;
    opt.wd = 0.05;
    testing::DeviceCalls calls;
    ThreadPool pool(2);
    Shard host(0, 1, Shape(), opt, 5, 0.1, &pool);
    Shard dev(0, 1, Shape(), opt, 5, 0.1, &pool, testing::HostDeviceTables(&calls));
    ASSERT_TRUE(dev.on_device());
    ASSERT_FALSE(host.on_device());
    EXPECT_EQ(calls.uploads, 2);  // both tables, at construction
    const int width = Shape().width();
    auto same = [&](const char* when) {
      const Shard& h = host;
      const Shard& d = dev;
      // Bit for bit (memcmp of no bytes would take sgd's empty state's null pointer).
      auto bits = [](const std::vector<float>& a, const std::vector<float>& b) {
        return a.size() == b.size() &&
               (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      };
      for (int t = 0; t < 2; ++t) {
        EXPECT_TRUE(bits(h.values(t), d.values(t))) << when << ", table " << t;
        EXPECT_TRUE(bits(h.states(t), d.states(t))) << when << ", table " << t;
      }
    };
    for (int64_t step = 1; step <= 4; ++step) {
      const int32_t users[] = {3, 0, 22, 7};
      const int32_t items[] = {10, 2};
      std::vector<float> ug(4 * static_cast<size_t>(width)), ig(2 * static_cast<size_t>(width));
      for (size_t j = 0; j < ug.size(); ++j)
        ug[j] = 0.01f * static_cast<float>((j * 7 + step) % 13) - 0.05f;
      for (size_t j = 0; j < ig.size(); ++j)
        ig[j] = 0.02f * static_cast<float>((j * 5 + step) % 11) - 0.1f;
      const PreparedStep ps = PrepareStep(opt, width, 0.01, 0.9, step);
      if (step % 2 == 1) {  // aggregated pushes, then ApplyStep (split among the pool)
        for (Shard* s : {&host, &dev}) {
          s->AddGradients(kUserTable, users, 4, ug.data());
          s->AddGradients(kItemTable, items, 2, ig.data());
          s->ApplyStep(ps, &pool);
        }
      } else {  // one worker's rows straight to the optimizer
        const int32_t* ids[2] = {users, items};
        const float* grads[2] = {ug.data(), ig.data()};
        const int64_t n[2] = {4, 2};
        host.UpdateTables(ps, ids, grads, n, &pool);
        dev.UpdateTables(ps, ids, grads, n, &pool);
      }
      std::vector<float> hg(4 * static_cast<size_t>(width)), dg(hg.size(), std::nanf(""));
      host.Gather(kUserTable, users, 4, hg.data());
      dev.Gather(kUserTable, users, 4, dg.data());
      EXPECT_EQ(0, std::memcmp(hg.data(), dg.data(), hg.size() * sizeof(float))) << "step " << step;
    }
    EXPECT_GE(calls.updates, 8);
    EXPECT_GE(calls.gathers, 4);
    same("after four steps");
    EXPECT_GE(calls.downloads, 1);
    // A row written through the mirror (as a checkpoint load does) reaches the device.
    for (Shard* s : {&host, &dev}) s->row(kItemTable, 4)[1] = 0.75f;
    const int before = calls.uploads;
    std::vector<float> hrow(static_cast<size_t>(width)), drow(static_cast<size_t>(width));
    const int32_t four = 4;
    host.Gather(kItemTable, &four, 1, hrow.data());
    dev.Gather(kItemTable, &four, 1, drow.data());
    EXPECT_EQ(calls.uploads, before + 1);
    EXPECT_EQ(drow[1], 0.75f);
    EXPECT_EQ(0, std::memcmp(hrow.data(), drow.data(), hrow.size() * sizeof(float)));
    same("after a write through the mirror");
  }
}

// The device-resident step's shard calls (rows and gradient rows in device memory, here the
// twin's host memory): two workers' pushes summed on the device (rows they share and rows only
// one pushed, the sums growing across calls), one worker's straight to the optimizer, the gather
// into device memory: the host shard's bits at every step. A step mixing host and device pushes
// is a bug.
TEST(ShardTest, DeviceResidentCallsGiveTheHostShardsBits) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    OptimizerConfig opt;
    opt.kind = kind;
    opt.wd = 0.05;
    testing::DeviceCalls calls;
    Shard host(0, 1, Shape(), opt, 5, 0.1);
    Shard dev(0, 1, Shape(), opt, 5, 0.1, nullptr, testing::HostDeviceTables(&calls));
    const int width = Shape().width();
    const size_t w = static_cast<size_t>(width);
    for (int64_t step = 1; step <= 6; ++step) {
      const int32_t users_a[] = {3, 0, 22, 7};
      const int32_t users_b[] = {22, 5, 3};
      const int32_t items_a[] = {10, 2};
      const int32_t items_b[] = {2};
      auto grads = [&](int64_t rows, int salt) {
        std::vector<float> g(static_cast<size_t>(rows) * w);
        for (size_t j = 0; j < g.size(); ++j) {
          g[j] =
              0.01f * static_cast<float>((j * 7 + static_cast<size_t>(step * salt)) % 13) - 0.05f;
        }
        return g;
      };
      const std::vector<float> ua = grads(4, 1), ub = grads(3, 2), ia = grads(2, 3),
                               ib = grads(1, 4);
      const PreparedStep ps = PrepareStep(opt, width, 0.01, 0.9, step);
      if (step % 2 == 1) {
        host.AddGradients(kUserTable, users_a, 4, ua.data());
        host.AddGradients(kItemTable, items_a, 2, ia.data());
        host.AddGradients(kUserTable, users_b, 3, ub.data());
        host.AddGradients(kItemTable, items_b, 1, ib.data());
        host.ApplyStep(ps);
        dev.AddGradientsOnDevice(kUserTable, users_a, 4, ua.data());
        dev.AddGradientsOnDevice(kItemTable, items_a, 2, ia.data());
        dev.AddGradientsOnDevice(kUserTable, users_b, 3, ub.data());
        dev.AddGradientsOnDevice(kItemTable, items_b, 1, ib.data());
        EXPECT_EQ(dev.pending_rows(kUserTable), 5);
        dev.ApplyStep(ps);
        EXPECT_EQ(dev.pending_rows(kUserTable), 0);
      } else {
        const int32_t* ids[2] = {users_a, items_a};
        const float* g[2] = {ua.data(), ia.data()};
        const int64_t n[2] = {4, 2};
        host.UpdateTables(ps, ids, g, n);
        dev.UpdateTablesOnDevice(ps, ids, g, n);
      }
      const int32_t all[] = {0, 3, 5, 7, 22};
      std::vector<float> hg(5 * w), dg(5 * w, std::nanf(""));
      host.Gather(kUserTable, all, 5, hg.data());
      dev.GatherOnDevice(kUserTable, all, 5, dg.data());
      EXPECT_EQ(0, std::memcmp(hg.data(), dg.data(), hg.size() * sizeof(float))) << "step " << step;
    }
    EXPECT_EQ(calls.sums_added, 3 * 4);
    EXPECT_EQ(calls.sums_updated, 3 * 2);
    EXPECT_EQ(calls.device_updates, 3 * 2);
    EXPECT_EQ(calls.updates, 0);
    EXPECT_EQ(calls.device_gathers, 6);
    for (int t = 0; t < 2; ++t) {
      const Shard& h = host;
      const Shard& d = dev;
      EXPECT_EQ(0, std::memcmp(h.values(t).data(), d.values(t).data(),
                               h.values(t).size() * sizeof(float)));
    }
    const int32_t one = 1;
    const std::vector<float> g(w, 0.5f);
    dev.AddGradientsOnDevice(kUserTable, &one, 1, g.data());
    EXPECT_DEATH(dev.AddGradients(kUserTable, &one, 1, g.data()), "sums_on_device");
  }
}

}  // namespace
}  // namespace cfps
