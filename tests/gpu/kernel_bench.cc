// kernel_bench: the CUDA batch kernels on a synthetic stream of batches
// (tests/gpu/device_check.sh).
//
// Default: 25M ratings of the ML-25M shape (162,541 users, 59,047 items, Zipf item popularity and
// user activity from `cfps gen`'s generator), k = 64, batches of 65,536 in a shuffled order. Each
// batch is deduplicated and its rows gathered on the host as a worker does (RowGrouper), then run
// through CudaBatchKernels::ForwardBackward with CUDA events between the stages. Prints:
//   - the kernels alone (forward + gradient): ratings/s, and GB/s of the bytes they must move
//     (kernel_bytes: every gathered row read once per sample in each pass, indices, deltas,
//     gradient rows) against the card's peak memory bandwidth;
//   - the whole call (copies in and out included) and the host's dedup + gather;
//   - the CPU reference kernels on a few of the same batches, and the largest GPU/CPU difference.
// Everything is a measurement; nothing here asserts a speed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/synthetic.h"
#include "worker/batch.h"
#include "worker/batch_kernels.h"
#include "worker/cuda/cuda_batch_kernels.h"

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Args {
  int64_t users = 162541, items = 59047, ratings = 25000000, batch = 65536, batches = 0;
  int k = 64, gpu = 0, cpu_batches = 3;
  double peak_gbs = 0;  // 0: ask the runtime
  uint64_t seed = 42;
  bool cpu_only = false;  // the CPU kernels in the main loop (checks the harness without a GPU)
};

[[noreturn]] void Usage(const char* bad) {
  std::fprintf(stderr,
               "kernel_bench: bad argument '%s'\nusage: kernel_bench [--users N] [--items N] "
               "[--ratings N] [--k K] [--batch B] [--batches N (0: one epoch)] [--gpu G] "
               "[--cpu-batches N] [--peak-gbs X] [--seed S] [--cpu-only]\n",
               bad);
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--cpu-only") {
      a.cpu_only = true;
      continue;
    }
    if (i + 1 >= argc) Usage(argv[i]);
    char* end = nullptr;
    const char* value = argv[++i];
    const double v = std::strtod(value, &end);
    if (end == value || *end != '\0' || !(v >= 0)) Usage(value);
    if (name == "--users")
      a.users = static_cast<int64_t>(v);
    else if (name == "--items")
      a.items = static_cast<int64_t>(v);
    else if (name == "--ratings")
      a.ratings = static_cast<int64_t>(v);
    else if (name == "--k")
      a.k = static_cast<int>(v);
    else if (name == "--batch")
      a.batch = static_cast<int64_t>(v);
    else if (name == "--batches")
      a.batches = static_cast<int64_t>(v);
    else if (name == "--gpu")
      a.gpu = static_cast<int>(v);
    else if (name == "--cpu-batches")
      a.cpu_batches = static_cast<int>(v);
    else if (name == "--peak-gbs")
      a.peak_gbs = v;
    else if (name == "--seed")
      a.seed = static_cast<uint64_t>(v);
    else
      Usage(argv[i - 1]);
  }
  if (a.k < 1 || a.batch < 1 || a.users < 1 || a.items < 1 || a.ratings < 1) Usage("(zero)");
  return a;
}

// One batch as a worker sees it: slots into its unique rows, the rows gathered.
struct Gathered {
  std::vector<int32_t> users, items, user_slot, item_slot;
  std::vector<float> rating, urows, irows, ugrad, igrad;
  int64_t nu = 0, ni = 0;
};

void Gather(const cfps::SyntheticRatings& data, const std::vector<int32_t>& order, int64_t begin,
            int64_t n, const std::vector<float>& user_table, const std::vector<float>& item_table,
            int width, cfps::RowGrouper* ug, cfps::RowGrouper* ig, Gathered* g) {
  g->users.resize(static_cast<size_t>(n));
  g->items.resize(static_cast<size_t>(n));
  g->rating.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const size_t r = static_cast<size_t>(order[static_cast<size_t>(begin + i)]);
    g->users[static_cast<size_t>(i)] = data.user[r];
    g->items[static_cast<size_t>(i)] = data.item[r];
    g->rating[static_cast<size_t>(i)] = static_cast<float>(data.rating[r]);
  }
  ug->Group(g->users.data(), n, 1, &g->user_slot);
  ig->Group(g->items.data(), n, 1, &g->item_slot);
  g->nu = ug->num_unique();
  g->ni = ig->num_unique();
  const size_t w = static_cast<size_t>(width);
  g->urows.resize(static_cast<size_t>(g->nu) * w);
  g->irows.resize(static_cast<size_t>(g->ni) * w);
  for (int64_t s = 0; s < g->nu; ++s) {
    std::memcpy(&g->urows[static_cast<size_t>(s) * w],
                &user_table[static_cast<size_t>(ug->unique()[static_cast<size_t>(s)]) * w],
                sizeof(float) * w);
  }
  for (int64_t s = 0; s < g->ni; ++s) {
    std::memcpy(&g->irows[static_cast<size_t>(s) * w],
                &item_table[static_cast<size_t>(ig->unique()[static_cast<size_t>(s)]) * w],
                sizeof(float) * w);
  }
  g->ugrad.resize(g->urows.size());
  g->igrad.resize(g->irows.size());
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::string why;
  const int gpus = cfps::cuda::DeviceCount(&why);
  if (gpus <= a.gpu && !a.cpu_only) {
    std::fprintf(stderr, "kernel_bench: GPU %d is not visible (%d visible%s%s)\n", a.gpu, gpus,
                 why.empty() ? "" : ": ", why.c_str());
    return 1;
  }
  std::string how = "--peak-gbs";
  double peak = a.peak_gbs;
  if (a.cpu_only) {
    std::printf("device: none (--cpu-only: the CPU kernels run the main loop)\n");
  } else {
    if (peak <= 0) peak = cfps::cuda::PeakMemoryBandwidthGBs(a.gpu, &how);
    std::printf("device: %s; peak memory bandwidth %.0f GB/s (%s)\n",
                cfps::cuda::DeviceDescription(a.gpu).c_str(), peak, how.c_str());
  }
  std::printf("build: %s\n", cfps::CudaBuildInfo().c_str());

  double t = Now();
  cfps::GenOptions gen;
  gen.users = a.users;
  gen.items = a.items;
  gen.ratings = a.ratings;
  gen.seed = a.seed;
  cfps::SyntheticRatings data;
  cfps::Status s = cfps::GenerateSynthetic(gen, &data);
  if (!s.ok()) {
    std::fprintf(stderr, "kernel_bench: %s\n", s.ToString().c_str());
    return 2;
  }
  const int64_t n_all = static_cast<int64_t>(data.size());
  std::vector<int32_t> order;
  cfps::EpochOrder(a.seed, 0, n_all, &order);
  const int width = a.k + 1;
  std::vector<float> user_table(static_cast<size_t>(a.users) * width),
      item_table(static_cast<size_t>(a.items) * width);
  cfps::Rng rng(a.seed);
  for (float& x : user_table) x = static_cast<float>(0.3 * rng.Normal());
  for (float& x : item_table) x = static_cast<float>(0.3 * rng.Normal());
  std::printf(
      "data: %lld ratings, %lld users, %lld items (Zipf items), k=%d, batch %lld: "
      "generated in %.1f s\n",
      static_cast<long long>(n_all), static_cast<long long>(a.users),
      static_cast<long long>(a.items), a.k, static_cast<long long>(a.batch), Now() - t);

  std::unique_ptr<cfps::cuda::CudaBatchKernels> cuda;
  if (!a.cpu_only) {
    cuda = std::make_unique<cfps::cuda::CudaBatchKernels>(a.gpu, 0);
    cuda->set_timing(true);
  }
  auto cpu = cfps::MakeBatchKernels(cfps::Device::kCpu, -1, 0);
  cfps::BatchKernels& gpu = cuda ? static_cast<cfps::BatchKernels&>(*cuda) : *cpu;
  const cfps::cuda::CallTiming no_timing;
  cfps::RowGrouper ug(a.users), ig(a.items);
  const cfps::ModelDims dims{a.k, 0.0, 5.5};
  const int64_t steps = cfps::StepsPerEpoch(n_all, a.batch);
  const int64_t batches = a.batches > 0 ? std::min(a.batches, steps) : steps;
  Gathered g;

  // Warm-up (allocations, first launches), not counted.
  for (int64_t b = 0; b < std::min<int64_t>(3, batches); ++b) {
    const int64_t begin = b * a.batch, n = std::min(a.batch, n_all - begin);
    Gather(data, order, begin, n, user_table, item_table, width, &ug, &ig, &g);
    gpu.ForwardBackward(dims, n, g.user_slot.data(), g.item_slot.data(), g.rating.data(), g.nu,
                        g.urows.data(), g.ni, g.irows.data(), n, g.ugrad.data(), g.igrad.data());
  }

  double host_prep = 0, call = 0, upload = 0, forward = 0, gradient = 0, download = 0;
  double kernel_bytes = 0, h2d = 0, d2h = 0, rows = 0, ratings = 0;
  std::vector<double> kernel_ms;
  const double wall0 = Now();
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t begin = b * a.batch, n = std::min(a.batch, n_all - begin);
    const double t0 = Now();
    Gather(data, order, begin, n, user_table, item_table, width, &ug, &ig, &g);
    const double t1 = Now();
    gpu.ForwardBackward(dims, n, g.user_slot.data(), g.item_slot.data(), g.rating.data(), g.nu,
                        g.urows.data(), g.ni, g.irows.data(), n, g.ugrad.data(), g.igrad.data());
    const double t2 = Now();
    const cfps::cuda::CallTiming& ct = cuda ? cuda->last_timing() : no_timing;
    host_prep += t1 - t0;
    call += t2 - t1;
    upload += ct.upload_ms;
    forward += ct.forward_ms;
    gradient += ct.gradient_ms;
    download += ct.download_ms;
    kernel_ms.push_back(ct.forward_ms + ct.gradient_ms);
    kernel_bytes += static_cast<double>(ct.kernel_bytes);
    h2d += static_cast<double>(ct.h2d_bytes);
    d2h += static_cast<double>(ct.d2h_bytes);
    rows += static_cast<double>(g.nu + g.ni);
    ratings += static_cast<double>(n);
  }
  const double wall = Now() - wall0;
  std::sort(kernel_ms.begin(), kernel_ms.end());
  // Without a GPU (--cpu-only) the whole call stands in for the kernels.
  const double kernel_s = cuda ? (forward + gradient) / 1e3 : call;
  const double kernel_gbs = kernel_bytes / kernel_s / 1e9;
  const double nb = static_cast<double>(batches);
  std::printf("batches: %lld, %.0f unique rows and %.0f kernel bytes per batch (%.0f per rating)\n",
              static_cast<long long>(batches), rows / nb, kernel_bytes / nb,
              kernel_bytes / ratings);
  std::printf(
      "kernels: forward %.3f ms + gradient %.3f ms per batch (median total %.3f ms): "
      "%.3g ratings/s, %.0f GB/s = %.1f%% of peak %.0f GB/s\n",
      forward / nb, gradient / nb, kernel_ms[kernel_ms.size() / 2], ratings / kernel_s, kernel_gbs,
      peak > 0 ? 100.0 * kernel_gbs / peak : 0.0, peak);
  std::printf(
      "copies: host->device %.3f ms (%.1f MB, %.1f GB/s incl. waiting for the host's CSR), "
      "device->host %.3f ms (%.1f MB) per batch\n",
      upload / nb, h2d / nb / 1e6, h2d / (upload / 1e3) / 1e9, download / nb, d2h / nb / 1e6);
  std::printf("whole call (staging, copies, kernels, sync): %.3f ms per batch, %.3g ratings/s\n",
              1e3 * call / nb, ratings / call);
  std::printf(
      "host dedup + gather: %.3f ms per batch; end to end on one host thread: %.3g "
      "ratings/s\n",
      1e3 * host_prep / nb, ratings / wall);

  // The CPU reference on the first batches, and the largest GPU/CPU difference.
  double cpu_s = 0, cpu_ratings = 0, worst = 0, sse_gap = 0;
  std::vector<float> cg, ci;
  for (int64_t b = 0; b < std::min<int64_t>(a.cpu_batches, batches); ++b) {
    const int64_t begin = b * a.batch, n = std::min(a.batch, n_all - begin);
    Gather(data, order, begin, n, user_table, item_table, width, &ug, &ig, &g);
    const double gs = gpu.ForwardBackward(dims, n, g.user_slot.data(), g.item_slot.data(),
                                          g.rating.data(), g.nu, g.urows.data(), g.ni,
                                          g.irows.data(), n, g.ugrad.data(), g.igrad.data());
    cg.resize(g.ugrad.size());
    ci.resize(g.igrad.size());
    const double t0 = Now();
    const double cs =
        cpu->ForwardBackward(dims, n, g.user_slot.data(), g.item_slot.data(), g.rating.data(), g.nu,
                             g.urows.data(), g.ni, g.irows.data(), n, cg.data(), ci.data());
    cpu_s += Now() - t0;
    cpu_ratings += static_cast<double>(n);
    sse_gap = std::max(sse_gap, std::fabs(gs - cs) / std::max(1e-300, std::fabs(cs)));
    double scale = 0;
    for (float x : cg) scale = std::max(scale, static_cast<double>(std::fabs(x)));
    for (float x : ci) scale = std::max(scale, static_cast<double>(std::fabs(x)));
    for (size_t e = 0; e < cg.size(); ++e)
      worst = std::max(worst, std::fabs(cg[e] - g.ugrad[e]) / scale);
    for (size_t e = 0; e < ci.size(); ++e)
      worst = std::max(worst, std::fabs(ci[e] - g.igrad[e]) / scale);
  }
  if (cpu_ratings > 0) {
    std::printf(
        "cpu reference kernels (one thread): %.3g ratings/s; GPU vs CPU on %d batches: "
        "SSE %.2g relative, gradients %.2g of the largest element\n",
        cpu_ratings / cpu_s, a.cpu_batches, sse_gap, worst);
  }
  std::printf(
      "RESULT k=%d batch=%lld kernel_ratings_per_s=%.4g kernel_gb_per_s=%.1f "
      "peak_gb_per_s=%.0f pct_of_peak=%.1f call_ratings_per_s=%.4g\n",
      a.k, static_cast<long long>(a.batch), ratings / kernel_s, kernel_gbs, peak,
      peak > 0 ? 100.0 * kernel_gbs / peak : 0.0, ratings / call);
  return 0;
}
