#pragma once
// Helpers shared by the unit and multi-rank tests: small random data sets and an independent,
// dense re-implementation of the BSP step (no shards, no exchange) that the distributed trainer
// must match bit for bit.

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "common/random.h"
#include "ps/optimizer.h"
#include "worker/batch.h"
#include "worker/kernels.h"
#include "worker/trainer.h"

namespace cfps::testing {

// n ratings over n_users x n_items with Zipf-ish skew (so batches repeat rows), ratings 1..5.
inline Dataset MakeRandomDataset(int64_t n_users, int64_t n_items, int64_t n_train, int64_t n_valid,
                                 uint64_t seed) {
  Dataset d;
  std::vector<std::string> un, in;
  for (int64_t u = 0; u < n_users; ++u) un.push_back(std::to_string(u + 1));
  for (int64_t i = 0; i < n_items; ++i) in.push_back(std::to_string(i + 1));
  d.users = Vocab::Build(un);
  d.items = Vocab::Build(in);
  Rng rng(seed);
  auto fill = [&](RatingArrays* a, int64_t n, bool unknown) {
    for (int64_t j = 0; j < n; ++j) {
      // Square of a uniform: low rows are popular.
      double x = rng.Uniform(), y = rng.Uniform();
      int32_t u = static_cast<int32_t>(x * x * static_cast<double>(n_users));
      int32_t i = static_cast<int32_t>(y * y * static_cast<double>(n_items));
      if (unknown && j % 17 == 3) u = -1;
      if (unknown && j % 23 == 5) i = -1;
      a->push_back(u, i, static_cast<float>(1 + rng.Below(5)));
    }
  };
  fill(&d.train, n_train, false);
  fill(&d.valid, n_valid, true);
  for (size_t j = 0; j < d.valid.size(); ++j) {
    if (d.valid.user(j) < 0 || d.valid.item(j) < 0) ++d.valid_unknown;
  }
  return d;
}

// Dense tables of rows (k+1 floats) + optimizer state, updated exactly as the shards do.
struct ReferenceModel {
  std::vector<float> rows[2];
  std::vector<float> state[2];
};

inline ReferenceModel ReferenceInit(const Dataset& d, const TrainConfig& c) {
  ReferenceModel m;
  const int width = c.dims.k + 1;
  const int64_t n[2] = {d.users.size(), d.items.size()};
  for (int t = 0; t < 2; ++t) {
    m.rows[t].resize(static_cast<size_t>(n[t] * width));
    for (int64_t r = 0; r < n[t]; ++r) {
      for (int col = 0; col < width; ++col) {
        m.rows[t][static_cast<size_t>(r * width + col)] = InitValue(c.seed, t, r, col, c.init_std);
      }
    }
    m.state[t].assign(static_cast<size_t>(n[t] * StateFloatsPerRow(c.optimizer.kind, width)), 0.f);
  }
  return m;
}

// Runs `steps` global steps of BSP training with `num_workers` workers on a dense model.
inline void ReferenceTrain(const Dataset& d, const TrainConfig& c, int num_workers, int64_t steps,
                           ReferenceModel* m) {
  const int width = c.dims.k + 1;
  const int sw = StateFloatsPerRow(c.optimizer.kind, width);
  const int64_t n_train = static_cast<int64_t>(d.train.size());
  const int64_t spe = StepsPerEpoch(n_train, c.batch_size);
  Schedule sched;
  sched.kind = c.schedule;
  sched.lr_max = c.lr;
  sched.total_steps = std::max<int64_t>(1, spe * c.epochs);
  std::vector<int32_t> order;
  for (int64_t g = 0; g < steps; ++g) {
    const int64_t epoch = g / spe;
    EpochOrder(c.seed, epoch, n_train, &order);
    const int64_t begin = (g % spe) * c.batch_size;
    const int64_t len = std::min(c.batch_size, n_train - begin);
    std::map<int32_t, std::vector<float>> sum[2];  // row -> gradient summed in worker order
    for (int w = 0; w < num_workers; ++w) {
      Slice s = WorkerSlice(len, w, num_workers);
      std::vector<int32_t> us, is;
      std::vector<float> rs;
      std::map<int32_t, int32_t> slot[2];
      std::vector<int32_t> uniq[2];
      for (int64_t j = s.begin; j < s.end; ++j) {
        const size_t r = static_cast<size_t>(order[static_cast<size_t>(begin + j)]);
        const int32_t rows[2] = {d.train.user(r), d.train.item(r)};
        for (int t = 0; t < 2; ++t) {
          if (!slot[t].count(rows[t])) {
            slot[t][rows[t]] = static_cast<int32_t>(uniq[t].size());
            uniq[t].push_back(rows[t]);
          }
        }
        us.push_back(slot[0][rows[0]]);
        is.push_back(slot[1][rows[1]]);
        rs.push_back(d.train.rating(r));
      }
      std::vector<float> gathered[2], grad[2];
      for (int t = 0; t < 2; ++t) {
        for (int32_t row : uniq[t]) {
          gathered[t].insert(gathered[t].end(), m->rows[t].begin() + row * width,
                             m->rows[t].begin() + (row + 1) * width);
        }
        grad[t].assign(gathered[t].size(), 0.f);
      }
      ForwardBackward<float>(c.dims, static_cast<int64_t>(rs.size()), us.data(), is.data(),
                             rs.data(), gathered[0].data(), gathered[1].data(), len, grad[0].data(),
                             grad[1].data());
      for (int t = 0; t < 2; ++t) {
        for (size_t j = 0; j < uniq[t].size(); ++j) {
          const float* gr = &grad[t][j * width];
          auto it = sum[t].find(uniq[t][j]);
          if (it == sum[t].end()) {
            sum[t][uniq[t][j]] = std::vector<float>(gr, gr + width);
          } else {
            for (int col = 0; col < width; ++col) it->second[col] += gr[col];
          }
        }
      }
    }
    PreparedStep step = PrepareStep(c.optimizer, width, sched.Lr(g), sched.Mom(g), g + 1);
    for (int t = 0; t < 2; ++t) {
      for (auto& [row, gr] : sum[t]) {
        UpdateRow(step, gr.data(), &m->rows[t][static_cast<size_t>(row) * width],
                  m->state[t].data() + static_cast<size_t>(row) * sw);
      }
    }
  }
}

inline bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace cfps::testing
