// Tests of the CPU DotProductBias kernels (worker/kernels.h): against PyTorch's golden values in
// float32 and float64, against central finite differences in double on random shapes, against a
// scalar spelling of the documented summation order (bitwise), and for determinism and the
// global-batch scaling of a worker's slice.

#include "worker/kernels.h"

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

#include "tests/unit/golden_json.h"
#include "tests/unit/golden_util.h"

namespace cfps {
namespace {

using testing::Json;
using testing::LoadGolden;
using testing::SlotsOf;
using testing::UniqueSorted;

// ---------------------------------------------------------------------------------------------
// Gathering a golden batch the way a worker does: the unique rows of the batch in ascending
// order, each [factors..., bias] (width k+1), and a (user slot, item slot) per sample.

std::vector<int32_t> ToInt(const std::vector<double>& v) { return {v.begin(), v.end()}; }

template <typename T>
std::vector<T> GatherRows(const std::vector<double>& factors, const std::vector<double>& bias,
                          int k, const std::vector<int32_t>& ids) {
  std::vector<T> rows;
  for (int32_t id : ids) {
    for (int f = 0; f < k; ++f) rows.push_back(static_cast<T>(factors[id * k + f]));
    rows.push_back(static_cast<T>(bias[id]));
  }
  return rows;
}

template <typename T>
struct GoldenBatch {
  ModelDims dims;
  std::vector<int32_t> user_ids, item_ids, user_slot, item_slot;
  std::vector<float> rating;
  std::vector<T> urows, irows;
  int64_t n() const { return static_cast<int64_t>(rating.size()); }
};

template <typename T>
GoldenBatch<T> GatherGolden(const Json& fb) {
  GoldenBatch<T> b;
  b.dims.k = static_cast<int>(fb["k"].number);
  b.dims.lo = fb["y_range"][0].number;
  b.dims.hi = fb["y_range"][1].number;
  const Json& params = fb["params"];
  const std::vector<int32_t> users = ToInt(fb["batch"]["users"].Flat());
  const std::vector<int32_t> items = ToInt(fb["batch"]["items"].Flat());
  for (double r : fb["batch"]["ratings"].Flat()) b.rating.push_back(static_cast<float>(r));
  b.user_ids = UniqueSorted(users);
  b.item_ids = UniqueSorted(items);
  b.user_slot = SlotsOf(users, b.user_ids);
  b.item_slot = SlotsOf(items, b.item_ids);
  b.urows = GatherRows<T>(params["user_factors"].Flat(), params["user_bias"].Flat(), b.dims.k,
                          b.user_ids);
  b.irows = GatherRows<T>(params["item_factors"].Flat(), params["item_bias"].Flat(), b.dims.k,
                          b.item_ids);
  return b;
}

// row_grad entries are [row, [g_0, ..., g_k]] in ascending row order: exactly our slots.
template <typename T>
void ExpectRowGrads(const Json& want, const std::vector<int32_t>& ids, const std::vector<T>& grad,
                    int k, double tol, const char* table) {
  ASSERT_EQ(want.size(), ids.size()) << table;
  for (size_t j = 0; j < ids.size(); ++j) {
    EXPECT_EQ(want[j][0].number, ids[j]) << table;
    const std::vector<double> g = want[j][1].Flat();
    ASSERT_EQ(g.size(), static_cast<size_t>(k + 1));
    for (int c = 0; c <= k; ++c) {
      EXPECT_NEAR(grad[j * (k + 1) + c], g[c], tol) << table << " row " << ids[j] << " col " << c;
    }
  }
}

template <typename T>
void CheckAgainstGolden(const char* section, double pred_tol, double loss_tol, double grad_tol) {
  const Json fb = LoadGolden("forward_backward.json");
  const Json& want = fb[section];
  const GoldenBatch<T> b = GatherGolden<T>(fb);
  const int k = b.dims.k;
  std::vector<T> ugrad(b.urows.size()), igrad(b.irows.size()), pred(b.n());
  const double sse =
      ForwardBackward<T>(b.dims, b.n(), b.user_slot.data(), b.item_slot.data(), b.rating.data(),
                         b.urows.data(), b.irows.data(), b.n(), ugrad.data(), igrad.data());
  EXPECT_NEAR(sse / b.n(), want["loss"].number, loss_tol);
  EXPECT_EQ(Evaluate<T>(b.dims, b.n(), b.user_slot.data(), b.item_slot.data(), b.rating.data(),
                        b.urows.data(), b.irows.data(), pred.data()),
            sse);
  const std::vector<double> want_pred = want["pred"].Flat();
  ASSERT_EQ(want_pred.size(), pred.size());
  for (size_t i = 0; i < pred.size(); ++i) EXPECT_NEAR(pred[i], want_pred[i], pred_tol) << i;
  ExpectRowGrads(want["row_grad"]["user"], b.user_ids, ugrad, k, grad_tol, "user");
  ExpectRowGrads(want["row_grad"]["item"], b.item_ids, igrad, k, grad_tol, "item");
}

// A float32 implementation may differ from PyTorch's float32 in summation order and FMA use;
// the file's float32-vs-float64 gaps (about 3e-7) are the scale of such differences.
TEST(KernelsGolden, Float32MatchesPyTorch) {
  const Json fb = LoadGolden("forward_backward.json");
  const Json& gap = fb["max_abs_diff_float32_vs_float64"];
  CheckAgainstGolden<float>("float32", 4 * gap["pred"].number, 4 * gap["loss"].number,
                            4 * gap["grad"].number);
}

TEST(KernelsGolden, Float64MatchesPyTorch) {
  CheckAgainstGolden<double>("float64", 1e-12, 1e-12, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Random problems: rows are gathered rows (slots index them directly), with repeated users, items
// and (user, item) pairs.

struct RandomProblem {
  ModelDims dims;
  int64_t n = 0;
  std::vector<int32_t> user_slot, item_slot;
  std::vector<float> rating;
  std::vector<double> urows, irows;
};

RandomProblem MakeProblem(uint64_t seed, int k, int n_users, int n_items, int64_t n, double lo,
                          double hi, double stddev = 0.5) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, stddev);
  std::uniform_real_distribution<double> uniform(lo, hi);
  RandomProblem p;
  p.dims = ModelDims{k, lo, hi};
  p.n = n;
  for (int64_t i = 0; i < n; ++i) {
    p.user_slot.push_back(static_cast<int32_t>(rng() % n_users));
    p.item_slot.push_back(static_cast<int32_t>(rng() % n_items));
    p.rating.push_back(static_cast<float>(uniform(rng)));
  }
  if (n >= 2) {  // the same (user, item) pair twice, as in the golden batch
    p.user_slot[n - 1] = p.user_slot[0];
    p.item_slot[n - 1] = p.item_slot[0];
  }
  p.urows.resize(static_cast<size_t>(n_users) * (k + 1));
  p.irows.resize(static_cast<size_t>(n_items) * (k + 1));
  for (double& x : p.urows) x = normal(rng);
  for (double& x : p.irows) x = normal(rng);
  return p;
}

template <typename T>
std::vector<T> Cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// The outputs of one ForwardBackward call on a problem, in precision T.
template <typename T>
struct Result {
  double sse = 0;
  std::vector<T> ugrad, igrad;
};

template <typename T>
Result<T> RunForwardBackward(const RandomProblem& p, const std::vector<T>& urows,
                             const std::vector<T>& irows, int64_t global_batch, int64_t begin = 0,
                             int64_t end = -1) {
  if (end < 0) end = p.n;
  Result<T> r;
  r.ugrad.assign(urows.size(), T{0});
  r.igrad.assign(irows.size(), T{0});
  r.sse = ForwardBackward<T>(p.dims, end - begin, p.user_slot.data() + begin,
                             p.item_slot.data() + begin, p.rating.data() + begin, urows.data(),
                             irows.data(), global_batch, r.ugrad.data(), r.igrad.data());
  return r;
}

template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

class FiniteDifferenceTest : public ::testing::TestWithParam<int> {};

// Central differences of the double loss SSE/global_batch (h = 1e-6) against every gradient
// component of every gathered row, for two y_ranges and with a slice of a larger global batch.
TEST_P(FiniteDifferenceTest, GradientMatchesCentralDifferences) {
  const int k = GetParam();
  struct Case {
    double lo, hi;
    int64_t extra_global;
  };
  for (const Case& c : {Case{0.0, 5.5, 0}, Case{1.0, 5.0, 7}}) {
    const uint64_t seed = 1000 + 10 * k + static_cast<uint64_t>(c.extra_global);
    SCOPED_TRACE("k=" + std::to_string(k) + " seed=" + std::to_string(seed));
    RandomProblem p = MakeProblem(seed, k, /*n_users=*/6, /*n_items=*/5, /*n=*/24, c.lo, c.hi);
    const int64_t global_batch = p.n + c.extra_global;
    const Result<double> r = RunForwardBackward(p, p.urows, p.irows, global_batch);
    const auto loss = [&]() {
      return Evaluate<double>(p.dims, p.n, p.user_slot.data(), p.item_slot.data(), p.rating.data(),
                              p.urows.data(), p.irows.data(), nullptr) /
             static_cast<double>(global_batch);
    };
    constexpr double kH = 1e-6;
    double worst = 0;
    for (int table = 0; table < 2; ++table) {
      std::vector<double>& rows = table == 0 ? p.urows : p.irows;
      const std::vector<double>& grad = table == 0 ? r.ugrad : r.igrad;
      for (size_t e = 0; e < rows.size(); ++e) {
        const double saved = rows[e];
        const double plus = saved + kH, minus = saved - kH;
        rows[e] = plus;
        const double loss_plus = loss();
        rows[e] = minus;
        const double loss_minus = loss();
        rows[e] = saved;
        const double fd = (loss_plus - loss_minus) / (plus - minus);
        // 1e-6 relative, plus room for the rounding of the difference (about 1e-16 * L / h).
        const double tol = 1e-6 * std::fabs(grad[e]) + 5e-9;
        EXPECT_NEAR(fd, grad[e], tol) << (table == 0 ? "user" : "item") << " element " << e;
        worst = std::max(worst, std::fabs(fd - grad[e]) / tol);
      }
    }
    EXPECT_LT(worst, 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(K, FiniteDifferenceTest, ::testing::Values(1, 3, 16, 50));

// ---------------------------------------------------------------------------------------------
// The order documented in worker/kernels.h, spelled one scalar at a time. The kernel must give
// exactly these bits: this is what a faster path (SIMD width, CUDA) has to reproduce.

template <typename T>
T DocumentedDot(const T* a, const T* b, int k) {
  T lane[8] = {};
  for (int f = 0; f < k; ++f) lane[f % 8] += a[f] * b[f];
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

template <typename T>
Result<T> DocumentedForwardBackward(const RandomProblem& p, const std::vector<T>& urows,
                                    const std::vector<T>& irows, int64_t global_batch) {
  const int k = p.dims.k;
  const T lo = static_cast<T>(p.dims.lo), range = static_cast<T>(p.dims.hi - p.dims.lo);
  const T two_over_b = static_cast<T>(2.0 / static_cast<double>(global_batch));
  Result<T> r;
  r.ugrad.assign(urows.size(), T{0});
  r.igrad.assign(irows.size(), T{0});
  for (int64_t i = 0; i < p.n; ++i) {
    const T* u = &urows[p.user_slot[i] * (k + 1)];
    const T* v = &irows[p.item_slot[i] * (k + 1)];
    T* gu = &r.ugrad[p.user_slot[i] * (k + 1)];
    T* gv = &r.igrad[p.item_slot[i] * (k + 1)];
    const T raw = DocumentedDot(u, v, k) + (u[k] + v[k]);
    const T s = T{1} / (T{1} + std::exp(-raw));
    const T err = (s * range + lo) - static_cast<T>(p.rating[i]);
    r.sse += static_cast<double>(err) * static_cast<double>(err);
    const T delta = two_over_b * err * range * s * (T{1} - s);
    for (int f = 0; f < k; ++f) gu[f] += delta * v[f];
    gu[k] += delta;
    for (int f = 0; f < k; ++f) gv[f] += delta * u[f];
    gv[k] += delta;
  }
  return r;
}

template <typename T>
void CheckDocumentedOrder() {
  for (int k : {1, 3, 7, 8, 9, 16, 50, 64}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const RandomProblem p =
        MakeProblem(77 + k, k, /*n_users=*/40, /*n_items=*/30, /*n=*/64, 0.0, 5.5);
    const std::vector<T> urows = Cast<T>(p.urows), irows = Cast<T>(p.irows);
    const Result<T> got = RunForwardBackward(p, urows, irows, 64);
    const Result<T> want = DocumentedForwardBackward(p, urows, irows, 64);
    EXPECT_EQ(got.sse, want.sse);
    EXPECT_TRUE(SameBits(got.ugrad, want.ugrad));
    EXPECT_TRUE(SameBits(got.igrad, want.igrad));
  }
}

TEST(KernelsOrder, FloatFollowsTheDocumentedOrderBitwise) { CheckDocumentedOrder<float>(); }
TEST(KernelsOrder, DoubleFollowsTheDocumentedOrderBitwise) { CheckDocumentedOrder<double>(); }

// Same inputs, same bits: twice in a row, and from copies at a different alignment (a vectorized
// loop that peeled for alignment would regroup the sums).
TEST(KernelsDeterminism, SameInputsGiveSameBits) {
  const RandomProblem p = MakeProblem(4242, 50, /*n_users=*/64, /*n_items=*/60, /*n=*/64, 0.0, 5.5);
  const std::vector<float> urows = Cast<float>(p.urows), irows = Cast<float>(p.irows);
  const Result<float> a = RunForwardBackward(p, urows, irows, 64);
  const Result<float> b = RunForwardBackward(p, urows, irows, 64);
  EXPECT_EQ(std::memcmp(&a.sse, &b.sse, sizeof(double)), 0);
  EXPECT_TRUE(SameBits(a.ugrad, b.ugrad));
  EXPECT_TRUE(SameBits(a.igrad, b.igrad));

  std::vector<float> ubuf(urows.size() + 1), ibuf(irows.size() + 3);
  std::copy(urows.begin(), urows.end(), ubuf.begin() + 1);
  std::copy(irows.begin(), irows.end(), ibuf.begin() + 3);
  std::vector<float> ugrad(ubuf.size(), 0.0f), igrad(ibuf.size(), 0.0f);
  const double sse = ForwardBackward<float>(p.dims, p.n, p.user_slot.data(), p.item_slot.data(),
                                            p.rating.data(), ubuf.data() + 1, ibuf.data() + 3, 64,
                                            ugrad.data() + 1, igrad.data() + 3);
  EXPECT_EQ(sse, a.sse);
  EXPECT_EQ(std::memcmp(ugrad.data() + 1, a.ugrad.data(), a.ugrad.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(igrad.data() + 3, a.igrad.data(), a.igrad.size() * sizeof(float)), 0);
}

// ---------------------------------------------------------------------------------------------

TEST(KernelsEvaluate, MatchesForwardBackwardAndStaysInsideTheRange) {
  for (const double lo : {0.0, 1.0}) {
    const double hi = 5.5;
    const RandomProblem p = MakeProblem(99, 16, /*n_users=*/10, /*n_items=*/12, /*n=*/50, lo, hi);
    const std::vector<float> urows = Cast<float>(p.urows), irows = Cast<float>(p.irows);
    std::vector<float> pred(p.n);
    const double sse = Evaluate<float>(p.dims, p.n, p.user_slot.data(), p.item_slot.data(),
                                       p.rating.data(), urows.data(), irows.data(), pred.data());
    EXPECT_EQ(sse, RunForwardBackward(p, urows, irows, p.n).sse);
    EXPECT_EQ(sse, Evaluate<float>(p.dims, p.n, p.user_slot.data(), p.item_slot.data(),
                                   p.rating.data(), urows.data(), irows.data(), nullptr));
    double want_sse = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      EXPECT_GT(pred[i], lo);
      EXPECT_LT(pred[i], hi);
      const float err = pred[i] - p.rating[i];  // the error in T, squared and summed in double
      want_sse += static_cast<double>(err) * static_cast<double>(err);
    }
    EXPECT_EQ(sse, want_sse);
  }
}

// A saturated sigmoid (|raw| ~ 200: exp overflows in float) gives a prediction at the edge of
// the range and a zero, finite gradient, never NaN.
TEST(KernelsEvaluate, SaturatedSigmoidIsFinite) {
  const ModelDims dims{2, 0.0, 5.5};
  const std::vector<float> urows = {10, 10, 0, -10, -10, 0};  // users 0 and 1
  const std::vector<float> irows = {10, 10, 0};               // item 0
  const std::vector<int32_t> user_slot = {0, 1}, item_slot = {0, 0};
  const std::vector<float> rating = {1.0f, 4.0f};
  std::vector<float> ugrad(6, 0.0f), igrad(3, 0.0f), pred(2);
  const double sse =
      ForwardBackward<float>(dims, 2, user_slot.data(), item_slot.data(), rating.data(),
                             urows.data(), irows.data(), 2, ugrad.data(), igrad.data());
  EXPECT_EQ(Evaluate<float>(dims, 2, user_slot.data(), item_slot.data(), rating.data(),
                            urows.data(), irows.data(), pred.data()),
            sse);
  EXPECT_EQ(pred[0], 5.5f);
  EXPECT_EQ(pred[1], 0.0f);
  EXPECT_DOUBLE_EQ(sse, 4.5 * 4.5 + 4.0 * 4.0);
  for (float g : ugrad) EXPECT_EQ(g, 0.0f);
  for (float g : igrad) EXPECT_EQ(g, 0.0f);
}

// A worker's slice of a global batch: gradients carry 1/global_batch, and the slices of all
// workers add up to the gradient of the whole batch.
TEST(KernelsSlice, SlicesOfAGlobalBatchAddUp) {
  const RandomProblem p = MakeProblem(7, 50, /*n_users=*/20, /*n_items=*/15, /*n=*/40, 0.0, 5.5);
  const Result<double> full = RunForwardBackward(p, p.urows, p.irows, p.n);
  const Result<double> first = RunForwardBackward(p, p.urows, p.irows, p.n, 0, 16);
  const Result<double> second = RunForwardBackward(p, p.urows, p.irows, p.n, 16, p.n);
  EXPECT_NEAR(first.sse + second.sse, full.sse, 1e-12 * full.sse);
  for (size_t e = 0; e < full.ugrad.size(); ++e) {
    EXPECT_NEAR(first.ugrad[e] + second.ugrad[e], full.ugrad[e], 1e-14);
  }
  for (size_t e = 0; e < full.igrad.size(); ++e) {
    EXPECT_NEAR(first.igrad[e] + second.igrad[e], full.igrad[e], 1e-14);
  }
}

TEST(KernelsSlice, GradientScalesWithOneOverGlobalBatch) {
  const RandomProblem p = MakeProblem(8, 50, /*n_users=*/20, /*n_items=*/15, /*n=*/32, 0.0, 5.5);
  const std::vector<float> urows = Cast<float>(p.urows), irows = Cast<float>(p.irows);
  const Result<float> own = RunForwardBackward(p, urows, irows, p.n);
  const Result<float> half = RunForwardBackward(p, urows, irows, 2 * p.n);
  const Result<float> third = RunForwardBackward(p, urows, irows, 3 * p.n);
  EXPECT_EQ(own.sse, half.sse);  // the SSE does not depend on the global batch
  EXPECT_EQ(own.sse, third.sse);
  for (int table = 0; table < 2; ++table) {
    const std::vector<float>& g = table == 0 ? own.ugrad : own.igrad;
    const std::vector<float>& g2 = table == 0 ? half.ugrad : half.igrad;
    const std::vector<float>& g3 = table == 0 ? third.ugrad : third.igrad;
    // A row's gradient is a sum with cancellation: size the float tolerance by the largest entry.
    float scale = 0;
    for (float x : g) scale = std::max(scale, std::fabs(x));
    for (size_t e = 0; e < g.size(); ++e) {
      EXPECT_EQ(g2[e], g[e] / 2);  // a factor of 2 is exact
      EXPECT_NEAR(g3[e], g[e] / 3.0, 1e-6 * scale);
    }
  }
}

}  // namespace
}  // namespace cfps
