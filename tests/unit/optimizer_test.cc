// Tests of the row optimizers (ps/optimizer.h): five lazy steps of Adam, SGD and row-wise Adagrad
// against PyTorch's float32 golden trajectories (gradients from worker/kernels.h on the touched
// rows, updates on those rows only), hand-worked single-row updates, and the SIMD body against
// the scalar formula bit for bit.

#include "ps/optimizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/schedule.h"
#include "tests/unit/golden_json.h"
#include "tests/unit/golden_util.h"
#include "worker/kernels.h"

namespace cfps {
namespace {

using testing::GoldenOneCycle;
using testing::Json;
using testing::LoadGolden;
using testing::SlotsOf;
using testing::UniqueSorted;

// ---------------------------------------------------------------------------------------------
// A tiny in-memory model: two tables of rows [factors..., bias] and their optimizer state, as a
// shard holds them (here one shard holds everything).

constexpr int kNumUsers = 5, kNumItems = 4, kK = 3, kWidth = kK + 1;

struct Table {
  std::vector<float> rows;   // n * kWidth
  std::vector<float> state;  // n * StateFloatsPerRow
};

std::vector<float> RowsFromGolden(const Json& params, const char* factors, const char* bias) {
  const std::vector<double> f = params[factors].Flat(), b = params[bias].Flat();
  std::vector<float> rows;
  for (size_t r = 0; r < b.size(); ++r) {
    for (int c = 0; c < kK; ++c) rows.push_back(static_cast<float>(f[r * kK + c]));
    rows.push_back(static_cast<float>(b[r]));
  }
  return rows;
}

struct Model {
  Table users, items;
};

Model InitialModel(const Json& golden, OptimizerKind kind) {
  Model m;
  const Json& init = golden["initial_params"];
  m.users.rows = RowsFromGolden(init, "user_factors", "user_bias");
  m.items.rows = RowsFromGolden(init, "item_factors", "item_bias");
  EXPECT_EQ(m.users.rows.size(), static_cast<size_t>(kNumUsers * kWidth));
  EXPECT_EQ(m.items.rows.size(), static_cast<size_t>(kNumItems * kWidth));
  m.users.state.assign(kNumUsers * StateFloatsPerRow(kind, kWidth), 0.0f);
  m.items.state.assign(kNumItems * StateFloatsPerRow(kind, kWidth), 0.0f);
  return m;
}

std::vector<float> Gather(const std::vector<float>& rows, const std::vector<int32_t>& ids) {
  std::vector<float> out;
  for (int32_t id : ids) out.insert(out.end(), &rows[id * kWidth], &rows[(id + 1) * kWidth]);
  return out;
}

// Checks that the rows (and their state) not in `touched` are bitwise what they were.
void ExpectUntouchedUnchanged(const Table& before, const Table& after,
                              const std::vector<int32_t>& touched, int n, const char* name) {
  const size_t state_width = before.state.size() / n;
  for (int r = 0; r < n; ++r) {
    if (std::binary_search(touched.begin(), touched.end(), r)) continue;
    EXPECT_EQ(
        std::memcmp(&before.rows[r * kWidth], &after.rows[r * kWidth], kWidth * sizeof(float)), 0)
        << name << " row " << r;
    if (state_width > 0) {
      EXPECT_EQ(std::memcmp(&before.state[r * state_width], &after.state[r * state_width],
                            state_width * sizeof(float)),
                0)
          << name << " state of row " << r;
    }
  }
}

// One lazy step, the way a worker and a shard split it: gather the touched rows, compute the
// per-row gradient of the batch-mean MSE (global_batch = B), and update only those rows.
// Returns the batch loss before the step.
double LazyStep(const PreparedStep& step, const Json& batch, Model* m) {
  std::vector<int32_t> users, items;
  for (double u : batch["users"].Flat()) users.push_back(static_cast<int32_t>(u));
  for (double i : batch["items"].Flat()) items.push_back(static_cast<int32_t>(i));
  std::vector<float> ratings;
  for (double r : batch["ratings"].Flat()) ratings.push_back(static_cast<float>(r));
  const std::vector<int32_t> uids = UniqueSorted(users), iids = UniqueSorted(items);
  const std::vector<int32_t> uslot = SlotsOf(users, uids), islot = SlotsOf(items, iids);
  const std::vector<float> urows = Gather(m->users.rows, uids), irows = Gather(m->items.rows, iids);
  std::vector<float> ugrad(urows.size(), 0.0f), igrad(irows.size(), 0.0f);
  const int64_t b = static_cast<int64_t>(ratings.size());
  const double sse =
      ForwardBackward<float>(ModelDims{kK, 0.0, 5.5}, b, uslot.data(), islot.data(), ratings.data(),
                             urows.data(), irows.data(), b, ugrad.data(), igrad.data());
  const Model before = *m;
  const int state_width = StateFloatsPerRow(step.kind, kWidth);
  for (size_t j = 0; j < uids.size(); ++j) {
    UpdateRow(step, &ugrad[j * kWidth], &m->users.rows[uids[j] * kWidth],
              m->users.state.data() + uids[j] * state_width);
  }
  for (size_t j = 0; j < iids.size(); ++j) {
    UpdateRow(step, &igrad[j * kWidth], &m->items.rows[iids[j] * kWidth],
              m->items.state.data() + iids[j] * state_width);
  }
  ExpectUntouchedUnchanged(before.users, m->users, uids, kNumUsers, "user");
  ExpectUntouchedUnchanged(before.items, m->items, iids, kNumItems, "item");
  return sse / static_cast<double>(b);
}

void ExpectNearAll(const std::vector<float>& got, const std::vector<float>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t e = 0; e < got.size(); ++e) {
    EXPECT_NEAR(got[e], want[e], tol) << what << " row " << e / kWidth << " col " << e % kWidth;
  }
}

void ExpectModelNear(const Model& m, const Json& params, double tol, int t) {
  const std::string after = " after step " + std::to_string(t);
  ExpectNearAll(m.users.rows, RowsFromGolden(params, "user_factors", "user_bias"), tol,
                "user" + after);
  ExpectNearAll(m.items.rows, RowsFromGolden(params, "item_factors", "item_bias"), tol,
                "item" + after);
}

// ---------------------------------------------------------------------------------------------
// Golden trajectories. A float32 implementation may differ from PyTorch's float32 by summation
// order and FMA use; each file's float32-vs-float64 gap (1e-7 .. 3e-7) sizes the tolerance.

OptimizerConfig GoldenAdamConfig(const Json& adam) {
  OptimizerConfig c;
  c.kind = OptimizerKind::kAdam;
  c.wd = adam["optimizer"]["wd"].number;
  c.beta2 = adam["optimizer"]["sqr_mom"].number;
  c.adam_eps = adam["optimizer"]["eps"].number;
  return c;
}

// The file lists lr, mom and the bias corrections it used; the schedule with total_steps = 5 and
// lr_max = 5e-3 must give the same lr and mom, and PrepareStep the same float scalars.
TEST(OptimizerGolden, AdamScalarsMatchTheListedScheduleAndBiasCorrections) {
  const Json g = LoadGolden("adam_steps.json");
  const Schedule s = GoldenOneCycle(g["optimizer"]["schedule"]);
  EXPECT_EQ(s.total_steps, 5);
  EXPECT_EQ(s.lr_max, 5e-3);
  const OptimizerConfig config = GoldenAdamConfig(g);
  const std::vector<double> lr = g["lr"].Flat(), mom = g["mom"].Flat();
  const std::vector<double> bc1 = g["bias_correction1"].Flat(), bc2 = g["bias_correction2"].Flat();
  ASSERT_EQ(lr.size(), 5u);
  for (int t = 1; t <= 5; ++t) {
    SCOPED_TRACE("t=" + std::to_string(t));
    EXPECT_NEAR(s.Lr(t - 1), lr[t - 1], 1e-15 * lr[t - 1]);
    EXPECT_NEAR(s.Mom(t - 1), mom[t - 1], 1e-15);
    const PreparedStep listed = PrepareStep(config, kWidth, lr[t - 1], mom[t - 1], t);
    const PreparedStep scheduled = PrepareStep(config, kWidth, s.Lr(t - 1), s.Mom(t - 1), t);
    EXPECT_EQ(listed.step_size, static_cast<float>(-lr[t - 1] / bc1[t - 1]));
    EXPECT_EQ(listed.bc2, static_cast<float>(bc2[t - 1]));
    EXPECT_EQ(listed.decay, static_cast<float>(1.0 - lr[t - 1] * config.wd));
    EXPECT_EQ(listed.b1, static_cast<float>(mom[t - 1]));
    EXPECT_EQ(listed.one_minus_b1, static_cast<float>(1.0 - mom[t - 1]));
    EXPECT_EQ(listed.b2, 0.99f);
    EXPECT_EQ(listed.one_minus_b2, static_cast<float>(1.0 - 0.99));
    EXPECT_EQ(listed.eps, 1e-5f);
    // The schedule's values give the very same float scalars, so the same trajectory.
    EXPECT_EQ(scheduled.step_size, listed.step_size);
    EXPECT_EQ(scheduled.decay, listed.decay);
    EXPECT_EQ(scheduled.b1, listed.b1);
    EXPECT_EQ(scheduled.one_minus_b1, listed.one_minus_b1);
    EXPECT_EQ(scheduled.bc2, listed.bc2);
  }
}

TEST(OptimizerGolden, LazyAdamFiveSteps) {
  const Json g = LoadGolden("adam_steps.json");
  const Schedule s = GoldenOneCycle(g["optimizer"]["schedule"]);
  const OptimizerConfig config = GoldenAdamConfig(g);
  const double tol = 4 * g["lazy"]["max_abs_diff_float32_vs_float64"].number;
  Model m = InitialModel(g, OptimizerKind::kAdam);
  for (int t = 1; t <= 5; ++t) {
    const Json& want = g["lazy"]["float32"][t - 1];
    ASSERT_EQ(want["step"].number, t);
    const PreparedStep step = PrepareStep(config, kWidth, s.Lr(t - 1), s.Mom(t - 1), t);
    const double loss = LazyStep(step, g["batches"][t - 1], &m);
    EXPECT_NEAR(loss, want["loss_before_step"].number, 1e-6 * loss) << "step " << t;
    ExpectModelNear(m, want["params"], tol, t);
  }
}

TEST(OptimizerGolden, SgdFiveSteps) {
  const Json g = LoadGolden("sgd_adagrad_steps.json");
  const Json& sgd = g["sgd"];
  OptimizerConfig config;
  config.kind = OptimizerKind::kSgd;
  config.wd = sgd["l2"].number;
  const double tol = 4 * sgd["max_abs_diff_float32_vs_float64"].number;
  Model m = InitialModel(g, OptimizerKind::kSgd);
  for (int t = 1; t <= 5; ++t) {
    const Json& want = sgd["float32"][t - 1];
    ASSERT_EQ(want["step"].number, t);
    const PreparedStep step = PrepareStep(config, kWidth, sgd["lr"].number, 0.9, t);
    const double loss = LazyStep(step, g["batches"][t - 1], &m);
    EXPECT_NEAR(loss, want["loss_before_step"].number, 1e-6 * loss) << "step " << t;
    ExpectModelNear(m, want["params"], tol, t);
  }
}

TEST(OptimizerGolden, RowwiseAdagradFiveSteps) {
  const Json g = LoadGolden("sgd_adagrad_steps.json");
  const Json& ada = g["adagrad"];
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdagrad;
  config.wd = ada["l2"].number;
  config.adagrad_eps = ada["eps"].number;
  ASSERT_EQ(ada["G_init"].number, 0.0);
  const double tol = 4 * ada["max_abs_diff_float32_vs_float64"].number;
  Model m = InitialModel(g, OptimizerKind::kAdagrad);
  for (int t = 1; t <= 5; ++t) {
    const Json& want = ada["float32"][t - 1];
    ASSERT_EQ(want["step"].number, t);
    const PreparedStep step = PrepareStep(config, kWidth, ada["lr"].number, 0.9, t);
    const double loss = LazyStep(step, g["batches"][t - 1], &m);
    EXPECT_NEAR(loss, want["loss_before_step"].number, 1e-6 * loss) << "step " << t;
    ExpectModelNear(m, want["params"], tol, t);
    // G grows to about 2.5: compare it relative to its size.
    const std::vector<double> gu = want["G_user"].Flat(), gi = want["G_item"].Flat();
    ASSERT_EQ(gu.size(), m.users.state.size());
    ASSERT_EQ(gi.size(), m.items.state.size());
    for (size_t r = 0; r < gu.size(); ++r) EXPECT_NEAR(m.users.state[r], gu[r], tol * (1 + gu[r]));
    for (size_t r = 0; r < gi.size(); ++r) EXPECT_NEAR(m.items.state[r], gi[r], tol * (1 + gi[r]));
  }
}

// ---------------------------------------------------------------------------------------------
// Single rows worked out by hand.

// g' = g + wd*p = {0.6, 0.05, -0.95}; p - lr*g' = {0.94, -2.005, 0.595}.
TEST(OptimizerRow, SgdByHand) {
  OptimizerConfig config;
  config.kind = OptimizerKind::kSgd;
  config.wd = 0.1;
  const PreparedStep step = PrepareStep(config, 3, /*lr=*/0.1, /*mom=*/0.9, /*t=*/1);
  const float g[3] = {0.5f, 0.25f, -1.0f};
  float p[3] = {1.0f, -2.0f, 0.5f};
  UpdateRow(step, g, p, nullptr);
  EXPECT_NEAR(p[0], 0.94, 1e-6);
  EXPECT_NEAR(p[1], -2.005, 1e-6);
  EXPECT_NEAR(p[2], 0.595, 1e-6);
}

// Step 1: g' = g + 0.1*p = {1, 1, -1, 1}, G = 0 + mean(g'^2) = 1, p -= 0.5*g'/sqrt(1 + 1e-8).
// Step 2: g' = {2, 2, 2, 2}, G = 1 + 4 = 5, p -= 0.5*2/sqrt(5 + 1e-8).
TEST(OptimizerRow, AdagradByHand) {
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdagrad;
  config.wd = 0.1;
  const PreparedStep step = PrepareStep(config, 4, /*lr=*/0.5, /*mom=*/0.9, /*t=*/1);
  float p[4] = {1.0f, -1.0f, 0.5f, 0.0f};
  float big_g = 0.0f;
  const float g1[4] = {0.9f, 1.1f, -1.05f, 1.0f};
  UpdateRow(step, g1, p, &big_g);
  EXPECT_NEAR(big_g, 1.0, 1e-6);
  const double s1 = 0.5 / std::sqrt(1.0 + 1e-8);
  EXPECT_NEAR(p[0], 1.0 - s1, 1e-6);
  EXPECT_NEAR(p[1], -1.0 - s1, 1e-6);
  EXPECT_NEAR(p[2], 0.5 + s1, 1e-6);
  EXPECT_NEAR(p[3], 0.0 - s1, 1e-6);
  const float p1[4] = {p[0], p[1], p[2], p[3]};
  float g2[4];
  for (int c = 0; c < 4; ++c) g2[c] = static_cast<float>(2.0 - 0.1 * p1[c]);
  UpdateRow(step, g2, p, &big_g);
  EXPECT_NEAR(big_g, 5.0, 1e-5);
  const double s2 = 0.5 * 2.0 / std::sqrt(5.0 + 1e-8);
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(p[c], p1[c] - s2, 1e-6) << c;
}

// Adam at t = 1: m = (1-b1) g and v = (1-b2) g^2 are undone exactly by the bias corrections, so
// p' = p*(1 - lr*wd) - lr * g / (|g| + eps): a step of almost exactly lr against the sign of g,
// and pure decay where g = 0. At t = 2 (with a different beta1, which the bias correction uses
// raised to the *current* step) the moments are worked through explicitly.
TEST(OptimizerRow, AdamByHand) {
  const OptimizerConfig config;  // adam, wd 0.1, beta2 0.99, eps 1e-5
  const double lr = 0.01, wd = 0.1, eps = 1e-5;
  const double g1[4] = {0.1, -0.2, 0.0, -4.0};
  const double p0[4] = {1.0, -1.0, 2.0, 0.5};
  float p[4], g[4], state[8] = {};
  for (int c = 0; c < 4; ++c) p[c] = static_cast<float>(p0[c]), g[c] = static_cast<float>(g1[c]);
  UpdateRow(PrepareStep(config, 4, lr, /*mom=*/0.9, /*t=*/1), g, p, state);
  double p1[4], m1[4], v1[4];
  for (int c = 0; c < 4; ++c) {
    p1[c] = p0[c] * (1 - lr * wd) - lr * g1[c] / (std::fabs(g1[c]) + eps);
    m1[c] = 0.1 * g1[c];
    v1[c] = 0.01 * g1[c] * g1[c];
    EXPECT_NEAR(p[c], p1[c], 1e-6) << c;
    EXPECT_NEAR(state[c], m1[c], 1e-7) << c;
    EXPECT_NEAR(state[4 + c], v1[c], 1e-7) << c;
  }
  EXPECT_EQ(p[2], static_cast<float>(1 - lr * wd) * 2.0f);  // g = 0: decay only

  const double g2[4] = {0.3, 0.2, -0.1, 1.0};
  for (int c = 0; c < 4; ++c) g[c] = static_cast<float>(g2[c]);
  UpdateRow(PrepareStep(config, 4, lr, /*mom=*/0.8, /*t=*/2), g, p, state);
  const double bc1 = 1 - 0.8 * 0.8, bc2 = 1 - 0.99 * 0.99;
  for (int c = 0; c < 4; ++c) {
    const double m2 = 0.8 * m1[c] + 0.2 * g2[c];
    const double v2 = 0.99 * v1[c] + 0.01 * g2[c] * g2[c];
    const double p2 = p1[c] * (1 - lr * wd) - (lr / bc1) * m2 / (std::sqrt(v2 / bc2) + eps);
    EXPECT_NEAR(p[c], p2, 2e-6) << c;
    EXPECT_NEAR(state[c], m2, 1e-6) << c;
    EXPECT_NEAR(state[4 + c], v2, 1e-6) << c;
  }
}

// ---------------------------------------------------------------------------------------------
// The vectorized loops give each element exactly the bits of the scalar formula in
// ps/optimizer.h, for widths that exercise the SIMD body, the tail and both.

float ScalarAdagradMeanSquareSum(const float* g, const float* p, float wd, int width) {
  float lane[8] = {};
  for (int c = 0; c < width; ++c) {
    const float x = g[c] + wd * p[c];
    lane[c % 8] += x * x;
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

void ScalarUpdate(const PreparedStep& s, const float* g, float* p, float* state) {
  const int w = s.width;
  switch (s.kind) {
    case OptimizerKind::kAdam:
      for (int c = 0; c < w; ++c) {
        float* m = state + c;
        float* v = state + w + c;
        p[c] *= s.decay;
        *m = *m * s.b1;
        *m += s.one_minus_b1 * g[c];
        *v = *v * s.b2;
        *v += s.one_minus_b2 * g[c] * g[c];
        const float denom = std::sqrt(*v / s.bc2) + s.eps;
        p[c] += s.step_size * *m / denom;
      }
      return;
    case OptimizerKind::kSgd:
      for (int c = 0; c < w; ++c) p[c] = p[c] - s.step_size * (g[c] + s.wd * p[c]);
      return;
    case OptimizerKind::kAdagrad: {
      state[0] += ScalarAdagradMeanSquareSum(g, p, s.wd, w) * s.inv_width;
      const float denom = std::sqrt(state[0] + s.eps);
      for (int c = 0; c < w; ++c) p[c] = p[c] - s.step_size * (g[c] + s.wd * p[c]) / denom;
      return;
    }
  }
}

// Bitwise, except in a build with FMA (-march=native, CFPS_NATIVE): there GCC fuses a*b+c into
// one rounding wherever it likes (-ffp-contract=fast is its C++ default), and it fuses the SSE
// body and this scalar spelling differently, so the two agree only to an ulp or so.
void ExpectSameFloats(const float* got, const float* want, int n, const char* what) {
#if defined(__FMA__)
  for (int e = 0; e < n; ++e) {
    EXPECT_NEAR(got[e], want[e], 4e-7f * std::max(1.0f, std::fabs(want[e]))) << what << e;
  }
#else
  EXPECT_EQ(std::memcmp(got, want, n * sizeof(float)), 0) << what;
#endif
}

TEST(OptimizerRow, VectorizedUpdateMatchesTheScalarFormulaBitwise) {
  std::mt19937 rng(12345);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    OptimizerConfig config;
    config.kind = kind;
    for (int width : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 51, 65}) {
      SCOPED_TRACE(std::string(OptimizerName(kind)) + " width " + std::to_string(width));
      const int sw = StateFloatsPerRow(kind, width);
      std::vector<float> g(width), p(width), state(sw);
      for (float& x : g) x = normal(rng);
      for (float& x : p) x = normal(rng);
      for (float& x : state) x = std::fabs(normal(rng));  // v and G are never negative
      std::vector<float> p_ref = p, state_ref = state;
      // Offset copies: the result must not depend on the alignment of the row.
      std::vector<float> g_off(width + 1), p_off(width + 1), state_off(sw + 1);
      std::copy(g.begin(), g.end(), g_off.begin() + 1);
      std::copy(p.begin(), p.end(), p_off.begin() + 1);
      std::copy(state.begin(), state.end(), state_off.begin() + 1);
      for (int t = 1; t <= 3; ++t) {
        const PreparedStep step = PrepareStep(config, width, 1e-2 * t, 0.9 - 0.02 * t, t);
        UpdateRow(step, g.data(), p.data(), state.data());
        UpdateRow(step, g_off.data() + 1, p_off.data() + 1, state_off.data() + 1);
        ScalarUpdate(step, g.data(), p_ref.data(), state_ref.data());
      }
      ExpectSameFloats(p.data(), p_ref.data(), width, "row ");
      // The same code on a shifted copy: always bitwise, FMA or not.
      EXPECT_EQ(std::memcmp(p_off.data() + 1, p.data(), width * sizeof(float)), 0);
      if (sw > 0) {
        ExpectSameFloats(state.data(), state_ref.data(), sw, "state ");
        EXPECT_EQ(std::memcmp(state_off.data() + 1, state.data(), sw * sizeof(float)), 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(OptimizerNames, ParsesTheThreeNamesAndRoundTrips) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    OptimizerKind parsed =
        kind == OptimizerKind::kAdam ? OptimizerKind::kSgd : OptimizerKind::kAdam;
    ASSERT_TRUE(ParseOptimizerKind(OptimizerName(kind), &parsed).ok()) << OptimizerName(kind);
    EXPECT_EQ(parsed, kind);
  }
  EXPECT_STREQ(OptimizerName(OptimizerKind::kAdam), "adam");
  EXPECT_STREQ(OptimizerName(OptimizerKind::kSgd), "sgd");
  EXPECT_STREQ(OptimizerName(OptimizerKind::kAdagrad), "adagrad");
}

TEST(OptimizerNames, UnknownNameIsAnInvalidArgumentNamingTheFlag) {
  for (const char* bad : {"rmsprop", "Adam", "", "adam "}) {
    OptimizerKind kind = OptimizerKind::kSgd;
    const Status s = ParseOptimizerKind(bad, &kind);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find("--optimizer"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("'" + std::string(bad) + "'"), std::string::npos) << s.message();
    EXPECT_EQ(kind, OptimizerKind::kSgd);  // untouched on error
  }
}

TEST(OptimizerNames, StateFloatsPerRow) {
  EXPECT_EQ(StateFloatsPerRow(OptimizerKind::kAdam, 51), 102);
  EXPECT_EQ(StateFloatsPerRow(OptimizerKind::kSgd, 51), 0);
  EXPECT_EQ(StateFloatsPerRow(OptimizerKind::kAdagrad, 51), 1);
}

}  // namespace
}  // namespace cfps
