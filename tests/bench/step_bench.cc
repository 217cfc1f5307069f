// Where the time of the pipelined single-rank step goes (Trainer::FusedStep with 2 threads): the
// two halves that run side by side, timed on one thread, one after the other, on the same batches:
//   prepare  the next batch: its ratings read in the epoch's order, its users and items deduped
//            (RowGrouper): the other thread's work
//   compute  ForwardReduce (forward and one gradient row per unique row) and the optimizer on
//            every row of the batch: this thread's work, the step's critical path
// Prints ns per rating of each (and of the optimizer's share of compute), per round and the
// medians: the step can run no faster than the larger. Then, for scale, the optimizer's memory
// floor: UpdateRows on random user rows on one and on two threads, and the ratings/s that alone
// would cap the step at. Rounds of a second, so that both halves see the same machine (the 2-vCPU
// VM swings 2x between minutes).
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
#include "common/random.h"
#include "common/thread_pool.h"
#include "ps/shard.h"
#include "worker/batch.h"
#include "worker/phase_kernels.h"

namespace cfps {
namespace {

struct Prepared {
  std::vector<int32_t> users, items, uslot, islot, uunique, iunique;
  std::vector<float> ratings;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

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
  if (batch < 1 || steps < 1 || k < 1 || rounds < 1) {
    std::fprintf(stderr, "step_bench: --batch, --steps, --factors and --rounds must be >= 1\n");
    return 2;
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
  double t_update = 0;
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
    const double t0 = Now();
    shard.UpdateTables(step, ids, grads, counts, nullptr);
    t_update += Now() - t0;
  };

  std::printf("step_bench: %s, %lld ratings, k=%d, batch %lld, %s, %lld steps per round\n", argv[1],
              static_cast<long long>(n_train), k, static_cast<long long>(batch), optimizer.c_str(),
              static_cast<long long>(steps));
  std::printf(
      "round  prepare ns/rating  compute ns/rating  (of which update)  unique users  unique "
      "items\n");
  std::vector<double> prep_ns, comp_ns, upd_ns;
  int64_t rows_seen = 0, ratings_seen = 0;
  for (int r = 0; r < rounds; ++r) {
    double tp = 0, tc = 0;
    int64_t nu = 0, ni = 0;
    t_update = 0;
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
    rows_seen += nu + ni;
    ratings_seen += steps * batch;
    prep_ns.push_back(tp * per);
    comp_ns.push_back(tc * per);
    upd_ns.push_back(t_update * per);
    std::printf("%5d  %17.1f  %17.1f  %17.1f  %12.1f  %12.1f\n", r, tp * per, tc * per,
                t_update * per, static_cast<double>(nu) / static_cast<double>(steps),
                static_cast<double>(ni) / static_cast<double>(steps));
  }
  // The memory floor of the optimizer: Shard::UpdateRows (the optimizer, its state, 4 rows
  // prefetched ahead) on random rows of the user table, in chunks of 1024 rows as a step would
  // hand them, on one thread and on two (thread t takes the rows r with r % 2 == t, so no row is
  // shared); rows per second, and what that caps the step at, at this run's unique rows per
  // rating, had the step nothing else to do.
  {
    const int64_t chunk = 1024, chunks_per_thread = 256;
    // Thread t's rows are the rows r with r % 2 == t; one thread runs both lists.
    std::vector<int32_t> mine[2];
    Rng rng(7);
    const uint64_t half = static_cast<uint64_t>(shape.rows[0] / 2);
    for (int t = 0; t < 2; ++t) {
      mine[t].resize(static_cast<size_t>(chunk * chunks_per_thread));
      for (int32_t& id : mine[t]) id = static_cast<int32_t>(2 * rng.Below(half) + t);
    }
    const double total_rows = 2.0 * static_cast<double>(chunk * chunks_per_thread);
    std::vector<float> grads(static_cast<size_t>(chunk * width), 1e-3f);
    const PreparedStep step = PrepareStep(oc, width, 0.01, 0.9, 10);
    ThreadPool pool(2);
    const double rows_per_rating =
        static_cast<double>(rows_seen) / static_cast<double>(ratings_seen);
    for (int threads = 1; threads <= 2; ++threads) {
      std::vector<double> rate;
      for (int r = 0; r < rounds; ++r) {
        const double t0 = Now();
        auto run = [&](int t) {
          for (size_t c = 0; c < mine[t].size(); c += static_cast<size_t>(chunk)) {
            shard.UpdateRows(0, step, mine[t].data() + c, grads.data(), 0, chunk);
          }
        };
        if (threads == 1) {
          run(0);
          run(1);
        } else {
          pool.Run(run);
        }
        rate.push_back(total_rows / (Now() - t0));
      }
      const double m = Median(rate);
      // Each row's values and state read once and written back once.
      const double bytes_per_row = 2.0 * sizeof(float) * (width + shard.state_width());
      std::printf(
          "%s on random user rows (%lld rows of %d floats), %d thread%s: median %.3g rows/s "
          "(%.1f ns per row, %.1f GB/s of rows and state read and written); at %.2f unique rows "
          "per rating the update alone caps the step at %.3g ratings/s\n",
          OptimizerName(oc.kind), static_cast<long long>(shape.rows[0]), width, threads,
          threads == 1 ? "" : "s", m, 1e9 / m, m * bytes_per_row * 1e-9, rows_per_rating,
          m / rows_per_rating);
    }
  }
  const double prep = Median(prep_ns), comp = Median(comp_ns);
  std::printf(
      "median over %d rounds: prepare %.1f ns/rating, compute %.1f ns/rating (update %.1f) "
      "(the pipelined step at most %.3g ratings/s)\n",
      rounds, prep, comp, Median(upd_ns), 1e9 / std::max(comp, prep));
  return 0;
}

}  // namespace
}  // namespace cfps

int main(int argc, char** argv) { return cfps::Main(argc, argv); }
