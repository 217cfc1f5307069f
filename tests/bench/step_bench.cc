// Where the time of the pipelined single-rank step goes (Trainer::FusedStep with 2 threads): the
// two halves that run side by side, timed on one thread, one after the other, on the same batches:
//   prepare  the next batch: its ratings read in the epoch's order, its users and items deduped
//            (RowGrouper): the other thread's work
//   compute  ForwardReduce (forward and one gradient row per unique row) and the optimizer on
//            every row of the batch: this thread's work, the step's critical path
// Prints ns per rating of each, per round and the medians: the step can run no faster than the
// larger; and, for scale, what a random read-modify-write of one user row costs. Rounds of a
// second, so that both halves see the same machine (the 2-vCPU VM swings 2x between minutes).
//
//   step_bench DATA [--optimizer sgd|adagrad|adam] [--batch 1024] [--factors 64] [--steps 2000]
//              [--rounds 9]
// DATA: anything cfps train --data reads (tests/bench/perf_table.sh makes the ML-25M shape).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "common/prefetch.h"
#include "common/random.h"
#include "ps/shard.h"
#include "worker/batch.h"
#include "worker/phase_kernels.h"

namespace cfps {
namespace {

struct Prepared {
  std::vector<int32_t> users, items, uslot, islot, uunique, iunique;
  std::vector<float> ratings;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: step_bench DATA [--optimizer O] [--batch B] [--factors K] "
                 "[--steps S] [--rounds R]\n");
    return 2;
  }
  std::string optimizer = "sgd";
  int64_t batch = 1024, steps = 2000;
  int k = 64, rounds = 9;
  for (int a = 2; a + 1 < argc; a += 2) {
    const std::string flag = argv[a];
    const char* v = argv[a + 1];
    if (flag == "--optimizer") {
      optimizer = v;
    } else if (flag == "--batch") {
      batch = std::atoll(v);
    } else if (flag == "--factors") {
      k = std::atoi(v);
    } else if (flag == "--steps") {
      steps = std::atoll(v);
    } else if (flag == "--rounds") {
      rounds = std::atoi(v);
    } else {
      std::fprintf(stderr, "step_bench: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  DataOptions options;
  options.data = argv[1];
  Dataset data;
  Status st = BuildDataset(options, &data);
  if (!st.ok()) {
    std::fprintf(stderr, "step_bench: %s\n", st.ToString().c_str());
    return 1;
  }
  OptimizerConfig oc;
  st = ParseOptimizerKind(optimizer, &oc.kind);
  if (!st.ok()) {
    std::fprintf(stderr, "step_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  oc.wd = 0.01;
  ModelShape shape;
  shape.rows[0] = data.users.size();
  shape.rows[1] = data.items.size();
  shape.k = k;
  Shard shard(0, 1, shape, oc, 42);
  const int width = k + 1;
  ModelDims dims;
  dims.k = k;

  const int64_t n_train = static_cast<int64_t>(data.train.size());
  std::vector<int32_t> order;
  EpochOrder(42, 0, n_train, &order);
  const int64_t steps_per_epoch = n_train / batch;
  RowGrouper ug(data.users.size()), ig(data.items.size());
  int64_t next_step = 0;
  auto prepare = [&](Prepared* p) {
    const int64_t begin = (next_step++ % steps_per_epoch) * batch;
    p->users.resize(static_cast<size_t>(batch));
    p->items.resize(static_cast<size_t>(batch));
    p->ratings.resize(static_cast<size_t>(batch));
    data.train.Read([&](auto reader) {
      for (int64_t i = 0; i < batch; ++i) {
        const Rating r = reader(static_cast<size_t>(order[static_cast<size_t>(begin + i)]));
        p->users[static_cast<size_t>(i)] = r.user;
        p->items[static_cast<size_t>(i)] = r.item;
        p->ratings[static_cast<size_t>(i)] = r.rating;
      }
    });
    ug.Group(p->users.data(), batch, 1, &p->uslot);
    ig.Group(p->items.data(), batch, 1, &p->islot);
    p->uunique = ug.unique();
    p->iunique = ig.unique();
  };

  std::vector<float> err(static_cast<size_t>(batch)), ugrad, igrad;
  Prepared p;
  auto compute = [&] {
    const PreparedStep step = PrepareStep(oc, width, 0.01, 0.9, next_step);
    ugrad.resize(p.uunique.size() * static_cast<size_t>(width));
    igrad.resize(p.iunique.size() * static_cast<size_t>(width));
    const SampleRows rows{shard.values(0).data(), shard.values(1).data(), p.users.data(),
                          p.items.data()};
    ForwardReduce(dims, rows, p.uslot.data(), p.islot.data(), p.ratings.data(), batch, batch,
                  err.data(), ugrad.data(), igrad.data());
    const int32_t* const ids[2] = {p.uunique.data(), p.iunique.data()};
    const float* const grads[2] = {ugrad.data(), igrad.data()};
    const int64_t counts[2] = {static_cast<int64_t>(p.uunique.size()),
                               static_cast<int64_t>(p.iunique.size())};
    shard.UpdateTables(step, ids, grads, counts, nullptr);
  };

  std::printf("step_bench: %s, %lld ratings, k=%d, batch %lld, %s, %lld steps per round\n", argv[1],
              static_cast<long long>(n_train), k, static_cast<long long>(batch), optimizer.c_str(),
              static_cast<long long>(steps));
  std::printf("round  prepare ns/rating  compute ns/rating  unique users  unique items\n");
  std::vector<double> prep_ns, comp_ns;
  for (int r = 0; r < rounds; ++r) {
    double tp = 0, tc = 0;
    int64_t nu = 0, ni = 0;
    for (int64_t s = 0; s < steps; ++s) {
      const double t0 = Now();
      prepare(&p);
      const double t1 = Now();
      compute();
      tc += Now() - t1;
      tp += t1 - t0;
      nu += static_cast<int64_t>(p.uunique.size());
      ni += static_cast<int64_t>(p.iunique.size());
    }
    const double per = 1e9 / static_cast<double>(steps * batch);
    prep_ns.push_back(tp * per);
    comp_ns.push_back(tc * per);
    std::printf("%5d  %17.1f  %17.1f  %12.1f  %12.1f\n", r, tp * per, tc * per,
                static_cast<double>(nu) / static_cast<double>(steps),
                static_cast<double>(ni) / static_cast<double>(steps));
  }
  // The memory floor of the same table: rows of random users read, changed and written back, as
  // many as the rounds above updated, prefetched 16 ahead; per row.
  {
    std::vector<int32_t> rows(1 << 20);
    Rng rng(7);
    for (int32_t& r : rows)
      r = static_cast<int32_t>(rng.Below(static_cast<uint64_t>(shape.rows[0])));
    float* table = shard.values(0).data();
    std::vector<double> ns;
    for (int r = 0; r < rounds; ++r) {
      const double t0 = Now();
      for (size_t j = 0; j < rows.size(); ++j) {
        if (j + 16 < rows.size()) {
          PrefetchFloats(table + static_cast<int64_t>(rows[j + 16]) * width,
                         static_cast<size_t>(width), true);
        }
        float* row = table + static_cast<int64_t>(rows[j]) * width;
        for (int c = 0; c < width; ++c) row[c] = row[c] * 0.5f + 0.25f;
      }
      ns.push_back((Now() - t0) * 1e9 / static_cast<double>(rows.size()));
    }
    std::sort(ns.begin(), ns.end());
    std::printf("random read-modify-write of a user row (%lld rows of %d floats): median %.1f ns\n",
                static_cast<long long>(shape.rows[0]), width, ns[ns.size() / 2]);
  }
  std::sort(prep_ns.begin(), prep_ns.end());
  std::sort(comp_ns.begin(), comp_ns.end());
  const double c = comp_ns[comp_ns.size() / 2];
  std::printf(
      "median over %d rounds: prepare %.1f ns/rating, compute %.1f ns/rating "
      "(the pipelined step at most %.3g ratings/s)\n",
      rounds, prep_ns[prep_ns.size() / 2], c, 1e9 / std::max(c, prep_ns[prep_ns.size() / 2]));
  return 0;
}

}  // namespace
}  // namespace cfps

int main(int argc, char** argv) { return cfps::Main(argc, argv); }
