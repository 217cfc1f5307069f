// GPU tests (gpu_tests): the CUDA BatchKernels against the CPU reference on random batches, run
// to run determinism, an exhausted GPU, and whole trainings with --device cuda against --device
// cpu. Every test that needs a GPU skips (GTEST_SKIP) when none is visible, so the suite stays
// green on machines without one; the CPU-side tests at the top run everywhere.
//
// Random batches use a fresh seed every run, printed in the output; rerun one with
// CFPS_TEST_SEED=<seed>.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/device_memory.h"
#include "ps/optimizer.h"
#include "ps/shard.h"
#include "tests/unit/temp_dir.h"
#include "worker/batch_kernels.h"
#include "worker/kernels.h"
#ifdef CFPS_HAVE_CUDA
#include <cuda_runtime.h>

#include "worker/cuda/cuda_batch_kernels.h"
#include "worker/cuda/cuda_memory.h"
#include "worker/cuda/cuda_table.h"
#endif

namespace cfps {
namespace {

#define CFPS_SKIP_WITHOUT_GPU()                                          \
  do {                                                                   \
    std::string why_;                                                    \
    if (VisibleGpuCount(&why_) == 0) GTEST_SKIP() << "no GPU: " << why_; \
  } while (0)

uint64_t FreshSeed() {
  uint64_t seed;
  if (const char* env = std::getenv("CFPS_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  std::printf("[ seed     ] %s: CFPS_TEST_SEED=%llu\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(),
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// One worker's batch on gathered rows: slots with repeats (a few hot rows take a large share, as
// Zipf-popular items do), rows that no sample names, ratings in [lo, hi].
struct Batch {
  ModelDims dims;
  int64_t n = 0, user_rows = 0, item_rows = 0, global_batch = 0;
  std::vector<int32_t> user_slot, item_slot;
  std::vector<float> rating, urows, irows;
};

Batch RandomBatch(uint64_t seed, int k, int64_t n, int64_t user_rows, int64_t item_rows,
                  double lo = 0.0, double hi = 5.5) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.dims = ModelDims{k, lo, hi};
  b.n = n;
  b.user_rows = user_rows;
  b.item_rows = item_rows;
  // A slice of a larger global batch, or all of it.
  b.global_batch = std::max<int64_t>(1, n + static_cast<int64_t>(rng() % 3) * n);
  // Factors so that the dot product has a spread of about 1 whatever k is.
  std::normal_distribution<float> factor(0.0f, static_cast<float>(1.0 / std::sqrt(std::sqrt(k))));
  std::normal_distribution<float> bias(0.0f, 0.5f);
  std::uniform_real_distribution<double> uniform(lo, hi);
  auto slot = [&](int64_t rows) {
    // Half the samples go to the first few rows (hot), the rest anywhere.
    const int64_t hot = std::max<int64_t>(1, rows / 50);
    return static_cast<int32_t>(rng() % 2 ? rng() % hot : rng() % rows);
  };
  for (int64_t i = 0; i < n; ++i) {
    b.user_slot.push_back(slot(user_rows));
    b.item_slot.push_back(slot(item_rows));
    b.rating.push_back(static_cast<float>(uniform(rng)));
  }
  if (n >= 2) {  // the same (user, item) pair twice
    b.user_slot[n - 1] = b.user_slot[0];
    b.item_slot[n - 1] = b.item_slot[0];
  }
  for (auto* rows : {&b.urows, &b.irows}) {
    const int64_t count = rows == &b.urows ? user_rows : item_rows;
    rows->resize(static_cast<size_t>(count * (k + 1)));
    for (int64_t r = 0; r < count; ++r) {
      for (int f = 0; f < k; ++f) (*rows)[r * (k + 1) + f] = factor(rng);
      (*rows)[r * (k + 1) + k] = bias(rng);
    }
  }
  return b;
}

struct Output {
  double sse = 0;
  std::vector<float> ugrad, igrad, pred;
  double eval_sse = 0;
};

// ForwardBackward then Evaluate (with predictions). The gradient buffers start as NaN: the
// kernels must write every row, zeros where no sample names it.
Output RunBatch(BatchKernels* kernels, const Batch& b) {
  Output o;
  const size_t w = static_cast<size_t>(b.dims.k) + 1;
  o.ugrad.assign(static_cast<size_t>(b.user_rows) * w, std::numeric_limits<float>::quiet_NaN());
  o.igrad.assign(static_cast<size_t>(b.item_rows) * w, std::numeric_limits<float>::quiet_NaN());
  o.pred.assign(static_cast<size_t>(b.n), std::numeric_limits<float>::quiet_NaN());
  o.sse = kernels->ForwardBackward(b.dims, b.n, b.user_slot.data(), b.item_slot.data(),
                                   b.rating.data(), b.user_rows, b.urows.data(), b.item_rows,
                                   b.irows.data(), b.global_batch, o.ugrad.data(), o.igrad.data());
  o.eval_sse =
      kernels->Evaluate(b.dims, b.n, b.user_slot.data(), b.item_slot.data(), b.rating.data(),
                        b.user_rows, b.urows.data(), b.item_rows, b.irows.data(), o.pred.data());
  return o;
}

// The scale of every gradient element: sum over its samples of |delta| * |x| (double). A float
// sum of terms whose values differ by one ulp can differ by about 1e-7 of this scale, however
// much the terms cancel, so "1e-5 relative" is relative to it (and to |value| when larger).
void GradientScale(const Batch& b, std::vector<double>* uscale, std::vector<double>* iscale) {
  const int k = b.dims.k;
  const size_t w = static_cast<size_t>(k) + 1;
  uscale->assign(static_cast<size_t>(b.user_rows) * w, 0.0);
  iscale->assign(static_cast<size_t>(b.item_rows) * w, 0.0);
  const double range = b.dims.hi - b.dims.lo;
  for (int64_t i = 0; i < b.n; ++i) {
    const float* u = &b.urows[static_cast<size_t>(b.user_slot[i]) * w];
    const float* v = &b.irows[static_cast<size_t>(b.item_slot[i]) * w];
    double raw = u[k] + v[k];
    for (int f = 0; f < k; ++f) raw += static_cast<double>(u[f]) * v[f];
    const double s = 1.0 / (1.0 + std::exp(-raw));
    const double err = s * range + b.dims.lo - b.rating[i];
    const double delta =
        std::fabs(2.0 / static_cast<double>(b.global_batch) * err * range * s * (1 - s));
    double* gu = &(*uscale)[static_cast<size_t>(b.user_slot[i]) * w];
    double* gv = &(*iscale)[static_cast<size_t>(b.item_slot[i]) * w];
    for (int f = 0; f < k; ++f) {
      gu[f] += delta * std::fabs(v[f]);
      gv[f] += delta * std::fabs(u[f]);
    }
    gu[k] += delta;
    gv[k] += delta;
  }
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

size_t EqualBits(const std::vector<float>& a, const std::vector<float>& b) {
  size_t same = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    same += std::memcmp(&a[i], &b[i], sizeof(float)) == 0;
  }
  return same;
}

constexpr double kRel = 1e-5;

void ExpectClose(const Batch& b, const Output& gpu, const Output& cpu) {
  EXPECT_NEAR(gpu.sse, cpu.sse, kRel * std::fabs(cpu.sse)) << "sse";
  EXPECT_NEAR(gpu.eval_sse, cpu.eval_sse, kRel * std::fabs(cpu.eval_sse)) << "evaluate sse";
  EXPECT_EQ(cpu.sse, cpu.eval_sse);  // the reference's own contract
  int bad = 0;
  for (size_t i = 0; i < cpu.pred.size() && bad < 10; ++i) {
    if (!(std::fabs(gpu.pred[i] - cpu.pred[i]) <= kRel * std::fabs(cpu.pred[i]))) {
      ADD_FAILURE() << "prediction " << i << ": gpu " << gpu.pred[i] << " cpu " << cpu.pred[i];
      ++bad;
    }
  }
  std::vector<double> uscale, iscale;
  GradientScale(b, &uscale, &iscale);
  const std::vector<float>* got[2] = {&gpu.ugrad, &gpu.igrad};
  const std::vector<float>* want[2] = {&cpu.ugrad, &cpu.igrad};
  const std::vector<double>* scale[2] = {&uscale, &iscale};
  const size_t w = static_cast<size_t>(b.dims.k) + 1;
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(got[t]->size(), want[t]->size());
    for (size_t e = 0; e < want[t]->size() && bad < 20; ++e) {
      const double g = (*got[t])[e], c = (*want[t])[e];
      const double tol = kRel * std::max((*scale[t])[e], std::fabs(c));
      if (!(std::fabs(g - c) <= tol)) {  // also catches NaN: a row the GPU did not write
        ADD_FAILURE() << (t == 0 ? "user" : "item") << " row " << e / w << " column " << e % w
                      << ": gpu " << g << " cpu " << c << " (tolerance " << tol << ")";
        ++bad;
      }
    }
  }
  const size_t elements = cpu.ugrad.size() + cpu.igrad.size();
  std::printf(
      "[ bits     ] k=%d n=%lld: predictions %zu/%zu and gradient elements %zu/%zu "
      "bitwise equal to the CPU\n",
      b.dims.k, static_cast<long long>(b.n), EqualBits(gpu.pred, cpu.pred), cpu.pred.size(),
      EqualBits(gpu.ugrad, cpu.ugrad) + EqualBits(gpu.igrad, cpu.igrad), elements);
}

// ---------------------------------------------------------------------------------------------
// CPU side: run everywhere.

TEST(DeviceOption, ParsesTheThreeValues) {
  Device d = Device::kCpu;
  ASSERT_TRUE(ParseDevice("auto", &d).ok());
  EXPECT_EQ(d, Device::kAuto);
  ASSERT_TRUE(ParseDevice("cuda", &d).ok());
  EXPECT_EQ(d, Device::kCuda);
  ASSERT_TRUE(ParseDevice("cpu", &d).ok());
  EXPECT_EQ(d, Device::kCpu);
  const Status bad = ParseDevice("gpu", &d);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--device"), std::string::npos) << bad.message();
  EXPECT_EQ(d, Device::kCpu);
}

TEST(DeviceOption, BuildInfoNamesTheArchitecturesOfACudaBuild) {
  const std::string info = CudaBuildInfo();
#ifdef CFPS_HAVE_CUDA
  EXPECT_NE(info.find("cuda: built for sm_"), std::string::npos) << info;
#ifdef CFPS_HAVE_NCCL
  EXPECT_NE(info.find("NCCL exchange: built"), std::string::npos) << info;
#endif
#else
  EXPECT_NE(info.find("cuda: not built"), std::string::npos) << info;
  std::string why;
  EXPECT_EQ(VisibleGpuCount(&why), 0);
  EXPECT_NE(why.find("without CUDA"), std::string::npos) << why;
#endif
}

// The CPU implementation is the reference functions, bit for bit, and writes every row.
TEST(CpuBatchKernels, AreTheReferenceKernels) {
  const uint64_t seed = FreshSeed();
  auto cpu = MakeBatchKernels(Device::kCpu, -1, 0);
  EXPECT_EQ(cpu->Describe(), "cpu");
  for (int k : {1, 16, 50}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const Batch b = RandomBatch(seed + k, k, 300, 40, 25);
    const Output o = RunBatch(cpu.get(), b);
    std::vector<float> ugrad(o.ugrad.size(), 0.0f), igrad(o.igrad.size(), 0.0f),
        pred(o.pred.size());
    const double sse = ForwardBackward<float>(b.dims, b.n, b.user_slot.data(), b.item_slot.data(),
                                              b.rating.data(), b.urows.data(), b.irows.data(),
                                              b.global_batch, ugrad.data(), igrad.data());
    EXPECT_EQ(o.sse, sse);
    EXPECT_TRUE(SameBits(o.ugrad, ugrad));
    EXPECT_TRUE(SameBits(o.igrad, igrad));
    EXPECT_EQ(o.eval_sse,
              Evaluate<float>(b.dims, b.n, b.user_slot.data(), b.item_slot.data(), b.rating.data(),
                              b.urows.data(), b.irows.data(), pred.data()));
    EXPECT_TRUE(SameBits(o.pred, pred));
  }
}

// ---------------------------------------------------------------------------------------------
// GPU: skipped without one.

class CudaVsCpu : public ::testing::TestWithParam<int> {};

TEST_P(CudaVsCpu, ForwardLossAndRowGradientsMatchTheCpu) {
  CFPS_SKIP_WITHOUT_GPU();
  const int k = GetParam();
  const uint64_t seed = FreshSeed();
  auto gpu = MakeBatchKernels(Device::kCuda, 0, 0);
  auto cpu = MakeBatchKernels(Device::kCpu, -1, 0);
  struct Shape {
    int64_t n, user_rows, item_rows;
  };
  // One sample; a small batch; more rows than samples (unnamed rows), with either table the
  // larger (the gradient kernel orders the tables by size); a big batch with hot rows.
  for (const Shape& s : {Shape{1, 1, 1}, Shape{37, 50, 9}, Shape{1000, 1200, 300},
                         Shape{1000, 300, 1200}, Shape{20000, 5000, 800}}) {
    SCOPED_TRACE("k=" + std::to_string(k) + " n=" + std::to_string(s.n));
    const Batch b = RandomBatch(seed ^ (static_cast<uint64_t>(s.n) * 7919 + k), k, s.n, s.user_rows,
                                s.item_rows, k == 16 ? 1.0 : 0.0, 5.5);
    const Output want = RunBatch(cpu.get(), b);
    const Output got = RunBatch(gpu.get(), b);
    ExpectClose(b, got, want);
  }
}

INSTANTIATE_TEST_SUITE_P(K, CudaVsCpu, ::testing::Values(1, 16, 50, 64, 128));

TEST(Cuda, SameInputTwiceGivesTheSameBits) {
  CFPS_SKIP_WITHOUT_GPU();
  const uint64_t seed = FreshSeed();
  auto a = MakeBatchKernels(Device::kCuda, 0, 0);
  auto other = MakeBatchKernels(Device::kCuda, 0, 0);
  for (int k : {16, 64}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const Batch b = RandomBatch(seed + k, k, 30000, 6000, 900);
    const Output first = RunBatch(a.get(), b);
    // A bigger batch in between regrows the buffers.
    RunBatch(a.get(), RandomBatch(seed + 1000 + k, k, 60000, 9000, 1500));
    const Output second = RunBatch(a.get(), b);
    const Output third = RunBatch(other.get(), b);
    for (const Output* o : {&second, &third}) {
      EXPECT_EQ(std::memcmp(&o->sse, &first.sse, sizeof(double)), 0);
      EXPECT_EQ(std::memcmp(&o->eval_sse, &first.eval_sse, sizeof(double)), 0);
      EXPECT_TRUE(SameBits(o->ugrad, first.ugrad));
      EXPECT_TRUE(SameBits(o->igrad, first.igrad));
      EXPECT_TRUE(SameBits(o->pred, first.pred));
    }
  }
}

TEST(Cuda, EmptyBatchWritesZeroGradients) {
  CFPS_SKIP_WITHOUT_GPU();
  auto gpu = MakeBatchKernels(Device::kCuda, 0, 0);
  Batch b = RandomBatch(1, 8, 0, 3, 2);
  const Output o = RunBatch(gpu.get(), b);
  EXPECT_EQ(o.sse, 0.0);
  EXPECT_EQ(o.eval_sse, 0.0);
  for (float g : o.ugrad) EXPECT_EQ(g, 0.0f);
  for (float g : o.igrad) EXPECT_EQ(g, 0.0f);
}

#ifdef CFPS_HAVE_CUDA
// An exhausted GPU ends the process with one line naming the rank, the GPU and the size tried.
// (Runs in a re-executed child: the "threadsafe" death-test style does not fork a CUDA process.)
TEST(CudaDeathTest, OutOfMemoryIsOneClearLine) {
  CFPS_SKIP_WITHOUT_GPU();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto exhaust = [] {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(0) != cudaSuccess ||
        cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      std::exit(3);
    }
    // Leave about 64 MB free, then ask for a batch whose rows alone take 260 MB.
    void* hog = nullptr;
    size_t take = free_bytes > (size_t{64} << 20) ? free_bytes - (size_t{64} << 20) : 0;
    while (take > 0 && cudaMalloc(&hog, take) != cudaSuccess) {
      cudaGetLastError();
      take -= std::min(take, size_t{64} << 20);
    }
    auto gpu = MakeBatchKernels(Device::kCuda, 0, 0);
    const int k = 64;
    const int64_t rows = 1000000;
    std::vector<float> urows(static_cast<size_t>(rows) * (k + 1), 0.1f), irows(k + 1, 0.1f);
    std::vector<int32_t> slots(rows), zeros(rows, 0);
    for (int64_t i = 0; i < rows; ++i) slots[i] = static_cast<int32_t>(i);
    std::vector<float> rating(rows, 3.0f), ugrad(urows.size()), igrad(irows.size());
    gpu->ForwardBackward(ModelDims{k, 0.0, 5.5}, rows, slots.data(), zeros.data(), rating.data(),
                         rows, urows.data(), 1, irows.data(), rows, ugrad.data(), igrad.data());
    std::exit(0);
  };
  EXPECT_EXIT(
      exhaust(), ::testing::ExitedWithCode(1),
      "cfps: error: rank 0, GPU 0 \\(.*\\): out of GPU memory: cudaMalloc of [0-9.]+ MB for a "
      "batch of 1000000 samples");
}

// The shard rows of issue 5 in GPU memory: CudaTable's optimizer is the CPU's UpdateRow, bit for
// bit (the same IEEE operations in the same order, Adagrad's row sum in the CPU's lane order), over
// several steps on the same rows; Gather copies rows exactly; Upload and Download round-trip.
TEST(CudaTable, UpdateIsTheCpuOptimizerBitwiseAndGatherCopiesRows) {
  CFPS_SKIP_WITHOUT_GPU();
  const uint64_t seed = FreshSeed();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> positive(0.0f, 0.01f);
  const int64_t rows = 3000;
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdagrad}) {
    for (int width : {1, 2, 9, 51, 65, 129}) {
      SCOPED_TRACE(std::string(OptimizerName(kind)) + " width=" + std::to_string(width));
      OptimizerConfig oc;
      oc.kind = kind;
      oc.wd = 0.05;
      const int sw = StateFloatsPerRow(kind, width);
      std::vector<float> values(static_cast<size_t>(rows * width));
      std::vector<float> state(static_cast<size_t>(rows * sw));
      for (float& x : values) x = 0.1f * normal(rng);
      for (int64_t r = 0; r < rows; ++r) {
        for (int c = 0; c < sw; ++c) {
          // Adam: m of either sign, then v >= 0; Adagrad: G >= 0.
          const bool signed_part = kind == OptimizerKind::kAdam && c < width;
          state[static_cast<size_t>(r * sw + c)] =
              signed_part ? 0.01f * normal(rng) : positive(rng);
        }
      }
      cuda::CudaTable table(0, 0, rows, width, kind);
      table.Upload(values.data(), state.data());
      std::vector<int32_t> perm(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) perm[static_cast<size_t>(r)] = static_cast<int32_t>(r);
      for (int64_t t = 1; t <= 3; ++t) {
        const int64_t n = t == 1 ? 1 : 1000 + t;  // one row, then distinct rows in random order
        std::shuffle(perm.begin(), perm.end(), rng);
        std::vector<float> grads(static_cast<size_t>(n * width));
        for (float& g : grads) g = 0.1f * normal(rng);
        const PreparedStep step = PrepareStep(oc, width, 0.01 * static_cast<double>(t), 0.9, t);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t r = perm[static_cast<size_t>(j)];
          UpdateRow(step, grads.data() + j * width, values.data() + r * width,
                    state.data() + r * sw);
        }
        table.Update(step, perm.data(), grads.data(), n);
      }
      std::vector<float> got_values(values.size(), std::nanf("")), got_state(state.size());
      table.Download(got_values.data(), got_state.data());
      EXPECT_TRUE(SameBits(got_values, values));
      EXPECT_TRUE(SameBits(got_state, state));

      std::vector<int32_t> ids(777);
      for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(rows));
      std::vector<float> gathered(ids.size() * static_cast<size_t>(width), std::nanf(""));
      table.Gather(ids.data(), static_cast<int64_t>(ids.size()), gathered.data());
      std::vector<float> want;
      for (int32_t id : ids) {
        want.insert(want.end(), values.begin() + static_cast<int64_t>(id) * width,
                    values.begin() + static_cast<int64_t>(id + 1) * width);
      }
      EXPECT_TRUE(SameBits(gathered, want));
    }
  }
}

// Host vector <-> GPU buffer of a CudaDeviceMemory.
DeviceBuffer Upload(cuda::CudaDeviceMemory* memory, const std::vector<float>& v) {
  DeviceBuffer b;
  b.Reserve(memory, std::max<size_t>(1, v.size()) * sizeof(float), "a test's rows");
  if (!v.empty()) memory->CopyFromHost(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}
std::vector<float> Download(cuda::CudaDeviceMemory* memory, DeviceBuffer* b, size_t floats) {
  std::vector<float> v(floats, std::nanf(""));
  if (floats) memory->CopyToHost(v.data(), b->data(), floats * sizeof(float));
  return v;
}

// The device-resident step's kernels (issue 5: rows and gradient rows stay in GPU memory): the
// forward/backward on rows in GPU memory is ForwardBackward bit for bit; CudaTable's gather into
// GPU memory, its update from gradient rows there, and its sums of several workers' pushes (rows
// shared and not, the sums growing between pushes) give the CPU shard's bits.
TEST(CudaDeviceStep, ForwardBackwardOnDeviceIsForwardBackward) {
  CFPS_SKIP_WITHOUT_GPU();
  const uint64_t seed = FreshSeed();
  auto kernels = MakeBatchKernels(Device::kCuda, 0, 0);
  cuda::CudaDeviceMemory memory(0, 0);
  for (int k : {1, 16, 64, 128}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const Batch b = RandomBatch(seed + k, k, 20000, 4000, 700);
    const Output want = RunBatch(kernels.get(), b);
    const size_t w = static_cast<size_t>(k) + 1;
    DeviceBuffer urows = Upload(&memory, b.urows), irows = Upload(&memory, b.irows);
    DeviceBuffer ugrad, igrad;
    ugrad.Reserve(&memory, static_cast<size_t>(b.user_rows) * w * sizeof(float) + 4, "ugrad");
    igrad.Reserve(&memory, static_cast<size_t>(b.item_rows) * w * sizeof(float) + 4, "igrad");
    const double sse = kernels->ForwardBackwardOnDevice(
        b.dims, b.n, b.user_slot.data(), b.item_slot.data(), b.rating.data(), b.user_rows,
        urows.as<float>(), b.item_rows, irows.as<float>(), b.global_batch, ugrad.as<float>(),
        igrad.as<float>());
    EXPECT_EQ(std::memcmp(&sse, &want.sse, sizeof(double)), 0);
    EXPECT_TRUE(SameBits(Download(&memory, &ugrad, want.ugrad.size()), want.ugrad));
    EXPECT_TRUE(SameBits(Download(&memory, &igrad, want.igrad.size()), want.igrad));
  }
  EXPECT_EQ(memory.allocated_bytes(), 0u);
}

TEST(CudaDeviceStep, TableCallsOnGpuRowsGiveTheCpuShardsBits) {
  CFPS_SKIP_WITHOUT_GPU();
  const uint64_t seed = FreshSeed();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 5000;
  cuda::CudaDeviceMemory memory(0, 0);
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdagrad}) {
    for (int width : {1, 17, 65}) {
      SCOPED_TRACE(std::string(OptimizerName(kind)) + " width=" + std::to_string(width));
      OptimizerConfig oc;
      oc.kind = kind;
      oc.wd = 0.05;
      ModelShape shape;
      shape.rows[0] = rows;
      shape.rows[1] = 7;
      shape.k = width - 1;
      Shard cpu(0, 1, shape, oc, seed, 0.1);
      Shard gpu(0, 1, shape, oc, seed, 0.1, nullptr, [](int64_t r, int wd, OptimizerKind kd) {
        return std::make_unique<cuda::CudaTable>(0, 0, r, wd, kd);
      });
      std::vector<int32_t> perm(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) perm[static_cast<size_t>(r)] = static_cast<int32_t>(r);
      for (int64_t t = 1; t <= 4; ++t) {
        const PreparedStep step = PrepareStep(oc, width, 0.01 * static_cast<double>(t), 0.9, t);
        const int workers = t % 2 == 1 ? 3 : 1;
        for (int src = 0; src < workers; ++src) {
          // Each worker: up to 1,500 distinct rows of the first 2,500 (so workers share rows),
          // in random order; the first worker pushes few rows, so the sums grow later.
          std::shuffle(perm.begin(), perm.begin() + 2500, rng);
          const int64_t n = src == 0 ? 40 : 1500;
          std::vector<float> g(static_cast<size_t>(n * width));
          for (float& x : g) x = 0.1f * normal(rng);
          DeviceBuffer dg = Upload(&memory, g);
          if (workers == 1) {
            const int32_t* ids[2] = {perm.data(), perm.data()};
            const float* host[2] = {g.data(), g.data()};
            const float* dev[2] = {dg.as<float>(), dg.as<float>()};
            const int64_t count[2] = {n, 0};
            cpu.UpdateTables(step, ids, host, count);
            gpu.UpdateTablesOnDevice(step, ids, dev, count);
          } else {
            cpu.AddGradients(kUserTable, perm.data(), n, g.data());
            gpu.AddGradientsOnDevice(kUserTable, perm.data(), n, dg.as<float>());
          }
        }
        if (workers > 1) {
          cpu.ApplyStep(step);
          gpu.ApplyStep(step);
        }
      }
      const Shard& c = cpu;
      const Shard& d = gpu;
      EXPECT_TRUE(SameBits(d.values(kUserTable), c.values(kUserTable)));
      EXPECT_TRUE(SameBits(d.states(kUserTable), c.states(kUserTable)));
      std::vector<int32_t> ids(999);
      for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(rows));
      std::vector<float> want(ids.size() * static_cast<size_t>(width));
      cpu.Gather(kUserTable, ids.data(), static_cast<int64_t>(ids.size()), want.data());
      DeviceBuffer out;
      out.Reserve(&memory, want.size() * sizeof(float), "gathered rows");
      gpu.GatherOnDevice(kUserTable, ids.data(), static_cast<int64_t>(ids.size()), out.as<float>());
      EXPECT_TRUE(SameBits(Download(&memory, &out, want.size()), want));
    }
  }
}
#endif

// ---------------------------------------------------------------------------------------------
// Whole trainings through the cfps executable (real files, real mpirun).

std::string Shell(const std::string& command, int* rc) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, got);
  const int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// valid_mse of the last line of a --metrics-out file.
double LastValidMse(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  const std::string key = "\"valid_mse\": ";
  const size_t at = last.find(key);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(last.c_str() + at + key.size(), nullptr);
}

void TrainBothWays(const std::string& launcher, const std::string& extra) {
  testing::TempDir dir;
  const std::string cfps = CFPS_BINARY;
  const std::string data = dir.path() + "/ml100k_shape.data";
  int rc = 0;
  std::string out = Shell(cfps + " gen --out " + data, &rc);
  ASSERT_EQ(rc, 0) << out;
  double mse[2];
  const char* devices[2] = {"cpu", "cuda"};
  for (int d = 0; d < 2; ++d) {
    const std::string metrics = dir.path() + "/" + devices[d] + ".jsonl";
    const std::string command = launcher + cfps + " train --data " + data +
                                " --epochs 3 --batch-size 256 --device " + devices[d] +
                                " --metrics-out " + metrics + extra;
    out = Shell(command, &rc);
    ASSERT_EQ(rc, 0) << command << "\n" << out;
    if (d == 1) {
      EXPECT_NE(out.find("device: CUDA kernels on"), std::string::npos) << out;
    } else {
      EXPECT_EQ(out.find("device: CUDA"), std::string::npos) << out;
    }
    mse[d] = LastValidMse(metrics);
    std::printf("[ train    ] %s--device %s: valid MSE %.9f\n", launcher.c_str(), devices[d],
                mse[d]);
  }
  ASSERT_TRUE(std::isfinite(mse[0]) && std::isfinite(mse[1]));
  EXPECT_GT(mse[0], 0.3);  // a real fit of noisy ratings, not an empty validation set
  EXPECT_NEAR(mse[1], mse[0], 1e-4);
}

TEST(CudaTraining, SingleProcessMatchesCpu) {
  CFPS_SKIP_WITHOUT_GPU();
  TrainBothWays("", "");
}

TEST(CudaTraining, ServerAndTwoWorkersMatchCpu) {
  CFPS_SKIP_WITHOUT_GPU();
  TrainBothWays(std::string(CFPS_MPIEXEC) + " -n 3 ", " --ps 1");
}

}  // namespace
}  // namespace cfps
