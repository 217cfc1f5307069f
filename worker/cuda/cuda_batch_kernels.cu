// The CUDA DotProductBias kernels (plan: cuda_batch_kernels.h; arithmetic: worker/kernels.h).
//
// Bitwise agreement with the CPU reference rests on doing the same IEEE operations in the same
// order: every multiply and add is an explicit round-to-nearest intrinsic (__fmul_rn, __fadd_rn,
// ...), which nvcc never contracts into an FMA (the library is also compiled with -fmad=false).
// The one difference left is expf (CUDA's is within 2 ulp, glibc's within 1), so a prediction
// may differ in its last bit and so may everything computed from it.

#include <cuda_runtime.h>
#include <mpi.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/cuda/cuda_batch_kernels.h"
#include "worker/cuda/cuda_errors.h"

#define CFPS_STR2(...) #__VA_ARGS__
#define CFPS_STR(...) CFPS_STR2(__VA_ARGS__)

namespace cfps::cuda {

// Errors (worker/cuda/cuda_errors.h).

[[noreturn]] void Fatal(int rank, int gpu, const std::string& gpu_name, const std::string& what) {
  std::fprintf(stderr, "cfps: error: rank %d, GPU %d%s%s%s: %s\n", rank, gpu,
               gpu_name.empty() ? "" : " (", gpu_name.c_str(), gpu_name.empty() ? "" : ")",
               what.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

std::string ErrorText(cudaError_t e) {
  return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
}

void CheckCuda(int rank, int gpu, const std::string& gpu_name, cudaError_t e, const char* expr,
               const char* file, int line) {
  if (e == cudaSuccess) return;
  Fatal(
      rank, gpu, gpu_name,
      std::string(expr) + " failed: " + ErrorText(e) + " at " + file + ":" + std::to_string(line));
}

std::string Megabytes(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

namespace {

constexpr int kWarp = 32;
constexpr int kBlock = 256;  // threads per block: 8 warps
constexpr int kWarpsPerBlock = kBlock / kWarp;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kGradBatch = 8;  // samples whose rows a warp loads before adding them in order

// ---------------------------------------------------------------------------------------------
// Kernels. Grid-stride loops over warps with 64-bit indices; every index into a row table is
// slot * width in int64.

struct ForwardArgs {
  int64_t n;
  int k;
  int64_t width;  // k + 1
  const int32_t* __restrict__ user_slot;
  const int32_t* __restrict__ item_slot;
  const float* __restrict__ rating;
  const float* __restrict__ urows;
  const float* __restrict__ irows;
  float lo, range, two_over_b;
  float* __restrict__ delta;   // nullptr: forward only (Evaluate)
  double* __restrict__ sqerr;  // err * err in double, per sample
  float* __restrict__ pred;    // nullptr unless requested
};

// One warp per sample. Lane t multiplies u[f] * v[f] for f = c + t; lanes 0..7 then add the
// products of their residue class f % 8 in increasing f, exactly the CPU's eight partial sums, and
// the three shuffles are the CPU's tree ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
__global__ void __launch_bounds__(kBlock) ForwardKernel(ForwardArgs a) {
  const int lane = threadIdx.x & (kWarp - 1);
  const int l = lane & 7;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x) / kWarp; i < a.n;
       i += warps) {
    const float* u = a.urows + static_cast<int64_t>(a.user_slot[i]) * a.width;
    const float* v = a.irows + static_cast<int64_t>(a.item_slot[i]) * a.width;
    float acc = 0.0f;
    for (int c = 0; c < a.k; c += kWarp) {
      const int f = c + lane;
      const float p = f < a.k ? __fmul_rn(u[f], v[f]) : 0.0f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float q = __shfl_sync(kFullMask, p, l + 8 * j);
        if (c + l + 8 * j < a.k) acc = __fadd_rn(acc, q);
      }
    }
    float s = __fadd_rn(acc, __shfl_down_sync(kFullMask, acc, 4));  // lanes 0..3: a[l] + a[l+4]
    s = __fadd_rn(s, __shfl_down_sync(kFullMask, s, 2));            // lanes 0..1: s0+s2, s1+s3
    const float dot = __fadd_rn(s, __shfl_down_sync(kFullMask, s, 1));
    if (lane == 0) {
      const float raw = __fadd_rn(dot, __fadd_rn(u[a.k], v[a.k]));
      const float sig = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-raw)));
      const float p = __fadd_rn(__fmul_rn(sig, a.range), a.lo);
      const float err = __fsub_rn(p, a.rating[i]);
      a.sqerr[i] = __dmul_rn(static_cast<double>(err), static_cast<double>(err));
      if (a.pred != nullptr) a.pred[i] = p;
      if (a.delta != nullptr) {
        a.delta[i] = __fmul_rn(__fmul_rn(__fmul_rn(__fmul_rn(a.two_over_b, err), a.range), sig),
                               __fsub_rn(1.0f, sig));
      }
    }
  }
}

// Samples per gathered row: off[slot] .. off[slot+1] index sample[] (increasing sample index) and
// other[] (that sample's slot in the other table).
struct Csr {
  const int32_t* __restrict__ off;
  const int32_t* __restrict__ sample;
  const int32_t* __restrict__ other;
};

struct GradientArgs {
  int64_t user_rows, item_rows;
  // The table with fewer rows (more samples per row: the long chains, e.g. Zipf-popular items)
  // goes first, so that its warps start first.
  bool items_first;
  int k;
  int64_t width;
  Csr user, item;
  const float* __restrict__ delta;
  const float* __restrict__ urows;
  const float* __restrict__ irows;
  float* __restrict__ ugrad;
  float* __restrict__ igrad;
};

// One warp per gathered row (the rows of one table, then the other's); lane t owns columns
// col0 + 32*c + t (c < C). g[f] = sum over the row's samples, in increasing sample index, of
// delta * other_row[f] (f < k) or delta (f == k, the bias): the CPU's additions in the CPU's
// order. Lanes load 32 samples' (delta, other slot) at a time and the rows of kGradBatch samples
// before adding them, so several loads are in flight per warp.
template <int C>
__global__ void __launch_bounds__(kBlock) GradientKernel(GradientArgs a) {
  const int lane = threadIdx.x & (kWarp - 1);
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  const int64_t rows = a.user_rows + a.item_rows;
  for (int64_t r = (static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x) / kWarp; r < rows;
       r += warps) {
    const int64_t first_rows = a.items_first ? a.item_rows : a.user_rows;
    const bool in_first = r < first_rows;
    const bool user = in_first != a.items_first;
    const int64_t slot = in_first ? r : r - first_rows;
    const Csr csr = user ? a.user : a.item;
    const float* x_rows = user ? a.irows : a.urows;
    float* g = (user ? a.ugrad : a.igrad) + slot * a.width;
    const int32_t begin = csr.off[slot];
    const int32_t end = csr.off[slot + 1];
    for (int64_t col0 = 0; col0 < a.width; col0 += kWarp * C) {
      float acc[C];
#pragma unroll
      for (int c = 0; c < C; ++c) acc[c] = 0.0f;
      for (int32_t e0 = begin; e0 < end; e0 += kWarp) {
        const int m = min(kWarp, end - e0);  // the same in every lane
        float d = 0.0f;
        int32_t o = 0;
        if (lane < m) {
          d = a.delta[csr.sample[e0 + lane]];
          o = csr.other[e0 + lane];
        }
        for (int j0 = 0; j0 < m; j0 += kGradBatch) {
          float dj[kGradBatch];
          float xv[kGradBatch][C];
#pragma unroll
          for (int j = 0; j < kGradBatch; ++j) {
            dj[j] = __shfl_sync(kFullMask, d, j0 + j);
            const int32_t oj = __shfl_sync(kFullMask, o, j0 + j);
            const float* x = x_rows + static_cast<int64_t>(oj) * a.width;
#pragma unroll
            for (int c = 0; c < C; ++c) {
              const int64_t f = col0 + kWarp * c + lane;
              xv[j][c] = (j0 + j < m && f < a.k) ? x[f] : 1.0f;
            }
          }
#pragma unroll
          for (int j = 0; j < kGradBatch; ++j) {
            if (j0 + j < m) {
#pragma unroll
              for (int c = 0; c < C; ++c) acc[c] = __fadd_rn(acc[c], __fmul_rn(dj[j], xv[j][c]));
            }
          }
        }
      }
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int64_t f = col0 + kWarp * c + lane;
        if (f < a.width) g[f] = acc[c];
      }
    }
  }
}

size_t AlignUp(size_t x) { return (x + 255) / 256 * 256; }

// Byte offsets of every array in the device allocation. The host's pinned staging buffer has the
// same layout up to `download_end`: [upload 1 | upload 2 | download], so each stage is one copy.
struct Layout {
  // upload 1: what the forward pass reads
  size_t user_slot = 0, item_slot = 0, rating = 0, urows = 0, irows = 0, upload1_end = 0;
  // upload 2: the CSR of samples per row
  size_t user_off = 0, item_off = 0, user_sample = 0, user_other = 0, item_sample = 0,
         item_other = 0, upload2_end = 0;
  // download: gradient rows, squared errors, predictions
  size_t ugrad = 0, igrad = 0, sqerr = 0, pred = 0, download_end = 0;
  // device only
  size_t delta = 0, device_end = 0;
};

class Cursor {
 public:
  size_t Take(size_t bytes) {
    const size_t at = at_;
    at_ = AlignUp(at_ + bytes);
    return at;
  }
  size_t at() const { return at_; }

 private:
  size_t at_ = 0;
};

// rows_on_device: the caller's rows and gradient rows are in device memory already (their arrays
// take no room here).
Layout Plan(int64_t n, int64_t user_rows, int64_t item_rows, int64_t width, bool backward,
            bool pred, bool rows_on_device = false) {
  const size_t sn = static_cast<size_t>(n);
  const size_t row_bytes = rows_on_device ? 0 : sizeof(float) * static_cast<size_t>(width);
  Layout l;
  Cursor c;
  l.user_slot = c.Take(sizeof(int32_t) * sn);
  l.item_slot = c.Take(sizeof(int32_t) * sn);
  l.rating = c.Take(sizeof(float) * sn);
  l.urows = c.Take(row_bytes * static_cast<size_t>(user_rows));
  l.irows = c.Take(row_bytes * static_cast<size_t>(item_rows));
  l.upload1_end = c.at();
  if (backward) {
    l.user_off = c.Take(sizeof(int32_t) * static_cast<size_t>(user_rows + 1));
    l.item_off = c.Take(sizeof(int32_t) * static_cast<size_t>(item_rows + 1));
    l.user_sample = c.Take(sizeof(int32_t) * sn);
    l.user_other = c.Take(sizeof(int32_t) * sn);
    l.item_sample = c.Take(sizeof(int32_t) * sn);
    l.item_other = c.Take(sizeof(int32_t) * sn);
  }
  l.upload2_end = c.at();
  if (backward) {
    l.ugrad = c.Take(row_bytes * static_cast<size_t>(user_rows));
    l.igrad = c.Take(row_bytes * static_cast<size_t>(item_rows));
  }
  l.sqerr = c.Take(sizeof(double) * sn);
  if (pred) l.pred = c.Take(sizeof(float) * sn);
  l.download_end = c.at();
  if (backward) l.delta = c.Take(sizeof(float) * sn);
  l.device_end = c.at();
  return l;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int DeviceCount(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // not sticky, but leave nothing behind
    if (why) *why = "cudaGetDeviceCount: " + ErrorText(e);
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA runtime sees no GPU";
  return count;
}

std::string DeviceDescription(int gpu) {
  cudaDeviceProp p;
  const cudaError_t e = cudaGetDeviceProperties(&p, gpu);
  char buf[512];
  if (e != cudaSuccess) {
    cudaGetLastError();
    std::snprintf(buf, sizeof(buf), "GPU %d (%s)", gpu, ErrorText(e).c_str());
  } else {
    std::snprintf(buf, sizeof(buf), "GPU %d (%s, %.1f GiB, sm_%d%d)", gpu, p.name,
                  static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), p.major,
                  p.minor);
  }
  return buf;
}

std::string Architectures() {
  // CMake's CUDA_ARCHITECTURES (';' made ','), as handed to nvcc: "80-real,90" is SASS for sm_80,
  // SASS and PTX for sm_90; "-virtual" is PTX only.
  const std::string cmake = CFPS_CUDA_ARCHITECTURES;
  std::string sass, ptx;
  bool numeric = !cmake.empty();
  size_t pos = 0;
  while (pos < cmake.size()) {
    size_t sep = cmake.find(',', pos);
    if (sep == std::string::npos) sep = cmake.size();
    const std::string item = cmake.substr(pos, sep - pos);
    const std::string num = item.substr(0, item.find('-'));
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) numeric = false;
    if (item.find("-virtual") == std::string::npos) sass += (sass.empty() ? "sm_" : ",sm_") + num;
    if (item.find("-real") == std::string::npos) {
      ptx += (ptx.empty() ? "compute_" : ",compute_") + num;
    }
    pos = sep + 1;
  }
  if (numeric) return sass + (ptx.empty() ? "" : " (+PTX " + ptx + ")");
    // "all", "all-major", ...: what nvcc itself says it compiled for ("800,900,...").
#ifdef __CUDA_ARCH_LIST__
  return "compute_" + std::string(CFPS_STR(__CUDA_ARCH_LIST__)) + " (CUDA_ARCHITECTURES " + cmake +
         ")";
#else
  return "CUDA_ARCHITECTURES " + cmake;
#endif
}

double PeakMemoryBandwidthGBs(int gpu, std::string* how) {
  // cudaDeviceProp::memoryClockRate is gone in CUDA 13; the attributes remain.
  int clock_khz = 0, bus_bits = 0;
  const cudaError_t e1 = cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, gpu);
  const cudaError_t e2 = cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, gpu);
  if (e1 != cudaSuccess || e2 != cudaSuccess || clock_khz <= 0 || bus_bits <= 0) {
    cudaGetLastError();
    if (how) *how = "the runtime reports no memory clock / bus width";
    return 0.0;
  }
  if (how) {
    *how = "2 x " + std::to_string(clock_khz / 1000) + " MHz x " + std::to_string(bus_bits) +
           " bit (cudaDevAttrMemoryClockRate, cudaDevAttrGlobalMemoryBusWidth)";
  }
  return 2.0 * static_cast<double>(clock_khz) * 1e3 * static_cast<double>(bus_bits) / 8.0 / 1e9;
}

// ---------------------------------------------------------------------------------------------

struct CudaBatchKernels::Impl {
  int gpu = 0;
  int rank = 0;
  std::string name;
  int max_blocks = 1;
  cudaStream_t stream = nullptr;
  cudaEvent_t ev[6] = {};
  char* device = nullptr;
  size_t device_capacity = 0;
  char* host = nullptr;  // pinned
  size_t host_capacity = 0;
  std::vector<int32_t> cursor;  // CSR fill positions

  [[noreturn]] void Fail(const std::string& what) const { Fatal(rank, gpu, name, what); }

  void Check(cudaError_t e, const char* expr, const char* file, int line) const {
    CheckCuda(rank, gpu, name, e, expr, file, line);
  }

  // Grows the device allocation and the pinned staging buffer (contents are not kept: every call
  // rewrites what it uses, and the stream is idle between calls).
  void Reserve(const Layout& l, int64_t n, int64_t user_rows, int64_t item_rows, int k);

  int Blocks(int64_t warps) const {
    const int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(blocks, max_blocks)));
  }
};

#define CFPS_CUDA_CHECK(impl, expr) (impl)->Check((expr), #expr, __FILE__, __LINE__)

void CudaBatchKernels::Impl::Reserve(const Layout& l, int64_t n, int64_t user_rows,
                                     int64_t item_rows, int k) {
  auto describe = [&](size_t bytes) {
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "%s for a batch of %" PRId64 " samples, %" PRId64 " user rows and %" PRId64
                  " item rows at k=%d",
                  Megabytes(bytes).c_str(), n, user_rows, item_rows, k);
    return std::string(buf);
  };
  if (l.device_end > device_capacity) {
    if (device != nullptr) CFPS_CUDA_CHECK(this, cudaFree(device));
    device = nullptr;
    device_capacity = 0;
    // A quarter of headroom, so that batches that vary in size do not reallocate every step.
    size_t want = l.device_end + l.device_end / 4;
    cudaError_t e = cudaMalloc(&device, want);
    if (e != cudaSuccess) {
      cudaGetLastError();
      want = l.device_end;
      e = cudaMalloc(&device, want);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      Fail("out of GPU memory: cudaMalloc of " + describe(want) + " failed: " + ErrorText(e) +
           "; " + Megabytes(free_bytes) + " free of " + Megabytes(total_bytes) +
           " (try a smaller --batch-size)");
    }
    device_capacity = want;
  }
  if (l.download_end > host_capacity) {
    if (host != nullptr) CFPS_CUDA_CHECK(this, cudaFreeHost(host));
    host = nullptr;
    host_capacity = 0;
    size_t want = l.download_end + l.download_end / 4;
    cudaError_t e = cudaMallocHost(&host, want);
    if (e != cudaSuccess) {
      cudaGetLastError();
      want = l.download_end;
      e = cudaMallocHost(&host, want);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      Fail("out of pinned host memory: cudaMallocHost of " + describe(want) +
           " failed: " + ErrorText(e) + " (try a smaller --batch-size)");
    }
    host_capacity = want;
  }
}

CudaBatchKernels::CudaBatchKernels(int gpu, int rank) : impl_(std::make_unique<Impl>()) {
  Impl* m = impl_.get();
  m->gpu = gpu;
  m->rank = rank;
  CFPS_CUDA_CHECK(m, cudaSetDevice(gpu));
  cudaDeviceProp p;
  CFPS_CUDA_CHECK(m, cudaGetDeviceProperties(&p, gpu));
  m->name = p.name;
  // Enough resident warps to fill the GPU several times over; grid-stride loops do the rest.
  m->max_blocks = std::max(1, p.multiProcessorCount * 32);
  CFPS_CUDA_CHECK(m, cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
  for (cudaEvent_t& e : m->ev) CFPS_CUDA_CHECK(m, cudaEventCreate(&e));
}

CudaBatchKernels::~CudaBatchKernels() {
  // No error checks: at process exit the runtime may already be shutting down.
  Impl* m = impl_.get();
  cudaSetDevice(m->gpu);
  if (m->stream) cudaStreamSynchronize(m->stream);
  for (cudaEvent_t e : m->ev) {
    if (e) cudaEventDestroy(e);
  }
  if (m->device) cudaFree(m->device);
  if (m->host) cudaFreeHost(m->host);
  if (m->stream) cudaStreamDestroy(m->stream);
  cudaGetLastError();
}

std::string CudaBatchKernels::Describe() const { return "cuda " + DeviceDescription(impl_->gpu); }

size_t CudaBatchKernels::device_bytes() const { return impl_->device_capacity; }

namespace {

double Milliseconds(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  if (cudaEventElapsedTime(&ms, a, b) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  return ms;
}

double WallMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// Counts the samples of every slot into off[1 .. rows] (off[0] = 0) and checks every slot's range.
void CountSlots(const int32_t* slot, int64_t n, int64_t rows, const char* table, int32_t* off) {
  std::memset(off, 0, sizeof(int32_t) * static_cast<size_t>(rows + 1));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = slot[i];
    if (s < 0 || s >= rows) {
      internal::CheckFailed(__FILE__, __LINE__,
                            std::string(table) + " slot " + std::to_string(s) + " of sample " +
                                std::to_string(i) + " is outside the " + std::to_string(rows) +
                                " gathered rows");
    }
    ++off[s + 1];
  }
}

// Prefix sums of the counts, then every sample appended to its slot's list in increasing index,
// with the other table's slot next to it.
void FillCsr(const int32_t* slot, const int32_t* other_slot, int64_t n, int64_t rows, int32_t* off,
             int32_t* sample, int32_t* other, std::vector<int32_t>* cursor) {
  for (int64_t r = 0; r < rows; ++r) off[r + 1] += off[r];
  cursor->assign(off, off + rows);
  int32_t* pos = cursor->data();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t e = pos[slot[i]]++;
    sample[e] = static_cast<int32_t>(i);
    other[e] = other_slot[i];
  }
}

void CheckShape(const ModelDims& dims, int64_t n, int64_t user_rows, int64_t item_rows) {
  CFPS_CHECK_GE(dims.k, 1);
  CFPS_CHECK_GE(n, 0);
  // Sample indices and CSR offsets are int32 on the device; slots are int32 already.
  CFPS_CHECK_LE(n, static_cast<int64_t>(std::numeric_limits<int32_t>::max()));
  CFPS_CHECK_GE(user_rows, 0);
  CFPS_CHECK_GE(item_rows, 0);
  const int64_t width = dims.k + 1;
  const int64_t max_rows = static_cast<int64_t>(std::numeric_limits<int64_t>::max() / 8) / width;
  CFPS_CHECK_LE(user_rows, max_rows);
  CFPS_CHECK_LE(item_rows, max_rows);
}

template <int C>
void LaunchGradient(int blocks, cudaStream_t stream, const GradientArgs& args) {
  GradientKernel<C><<<blocks, kBlock, 0, stream>>>(args);
}

}  // namespace

double CudaBatchKernels::ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                         const int32_t* item_slot, const float* rating,
                                         int64_t user_rows, const float* urows, int64_t item_rows,
                                         const float* irows, int64_t global_batch, float* ugrad,
                                         float* igrad) {
  return Run(dims, n, user_slot, item_slot, rating, user_rows, urows, item_rows, irows,
             global_batch, ugrad, igrad, /*rows_on_device=*/false);
}

double CudaBatchKernels::ForwardBackwardOnDevice(const ModelDims& dims, int64_t n,
                                                 const int32_t* user_slot, const int32_t* item_slot,
                                                 const float* rating, int64_t user_rows,
                                                 const float* urows, int64_t item_rows,
                                                 const float* irows, int64_t global_batch,
                                                 float* ugrad, float* igrad) {
  return Run(dims, n, user_slot, item_slot, rating, user_rows, urows, item_rows, irows,
             global_batch, ugrad, igrad, /*rows_on_device=*/true);
}

double CudaBatchKernels::Run(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                             const int32_t* item_slot, const float* rating, int64_t user_rows,
                             const float* urows, int64_t item_rows, const float* irows,
                             int64_t global_batch, float* ugrad, float* igrad,
                             bool rows_on_device) {
  CheckShape(dims, n, user_rows, item_rows);
  CFPS_CHECK_GE(global_batch, n);
  CFPS_CHECK_GE(global_batch, 1);
  const double t0 = WallMs();
  const int k = dims.k;
  const int64_t width = k + 1;
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(width);
  last_ = CallTiming();
  Impl* m = impl_.get();
  if (n == 0) {
    if (rows_on_device) {
      CFPS_CUDA_CHECK(m, cudaSetDevice(m->gpu));
      if (user_rows) {
        CFPS_CUDA_CHECK(
            m, cudaMemsetAsync(ugrad, 0, row_bytes * static_cast<size_t>(user_rows), m->stream));
      }
      if (item_rows) {
        CFPS_CUDA_CHECK(
            m, cudaMemsetAsync(igrad, 0, row_bytes * static_cast<size_t>(item_rows), m->stream));
      }
      CFPS_CUDA_CHECK(m, cudaStreamSynchronize(m->stream));
      return 0.0;
    }
    if (user_rows) std::memset(ugrad, 0, row_bytes * static_cast<size_t>(user_rows));
    if (item_rows) std::memset(igrad, 0, row_bytes * static_cast<size_t>(item_rows));
    return 0.0;
  }
  CFPS_CUDA_CHECK(m, cudaSetDevice(m->gpu));
  const Layout l =
      Plan(n, user_rows, item_rows, width, /*backward=*/true, /*pred=*/false, rows_on_device);
  m->Reserve(l, n, user_rows, item_rows, k);
  char* h = m->host;
  char* d = m->device;
  const size_t sn = static_cast<size_t>(n);

  // 1. Counts per row (and the range of every slot) before the GPU reads a row.
  CountSlots(user_slot, n, user_rows, "user", reinterpret_cast<int32_t*>(h + l.user_off));
  CountSlots(item_slot, n, item_rows, "item", reinterpret_cast<int32_t*>(h + l.item_off));

  // 2. Upload what the forward pass reads; run it.
  std::memcpy(h + l.user_slot, user_slot, sizeof(int32_t) * sn);
  std::memcpy(h + l.item_slot, item_slot, sizeof(int32_t) * sn);
  std::memcpy(h + l.rating, rating, sizeof(float) * sn);
  if (!rows_on_device) {
    if (user_rows) std::memcpy(h + l.urows, urows, row_bytes * static_cast<size_t>(user_rows));
    if (item_rows) std::memcpy(h + l.irows, irows, row_bytes * static_cast<size_t>(item_rows));
  }
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[0], m->stream));
  CFPS_CUDA_CHECK(m, cudaMemcpyAsync(d, h, l.upload1_end, cudaMemcpyHostToDevice, m->stream));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[1], m->stream));
  ForwardArgs fa;
  fa.n = n;
  fa.k = k;
  fa.width = width;
  fa.user_slot = reinterpret_cast<const int32_t*>(d + l.user_slot);
  fa.item_slot = reinterpret_cast<const int32_t*>(d + l.item_slot);
  fa.rating = reinterpret_cast<const float*>(d + l.rating);
  fa.urows = rows_on_device ? urows : reinterpret_cast<const float*>(d + l.urows);
  fa.irows = rows_on_device ? irows : reinterpret_cast<const float*>(d + l.irows);
  fa.lo = static_cast<float>(dims.lo);
  fa.range = static_cast<float>(dims.hi - dims.lo);
  fa.two_over_b = static_cast<float>(2.0 / static_cast<double>(global_batch));
  fa.delta = reinterpret_cast<float*>(d + l.delta);
  fa.sqerr = reinterpret_cast<double*>(d + l.sqerr);
  fa.pred = nullptr;
  ForwardKernel<<<m->Blocks(n), kBlock, 0, m->stream>>>(fa);
  CFPS_CUDA_CHECK(m, cudaGetLastError());
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[2], m->stream));

  // 3. While the GPU copies and computes: the CSR of samples per row; upload it; reduce.
  FillCsr(user_slot, item_slot, n, user_rows, reinterpret_cast<int32_t*>(h + l.user_off),
          reinterpret_cast<int32_t*>(h + l.user_sample),
          reinterpret_cast<int32_t*>(h + l.user_other), &m->cursor);
  FillCsr(item_slot, user_slot, n, item_rows, reinterpret_cast<int32_t*>(h + l.item_off),
          reinterpret_cast<int32_t*>(h + l.item_sample),
          reinterpret_cast<int32_t*>(h + l.item_other), &m->cursor);
  CFPS_CUDA_CHECK(
      m, cudaMemcpyAsync(d + l.upload1_end, h + l.upload1_end, l.upload2_end - l.upload1_end,
                         cudaMemcpyHostToDevice, m->stream));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[3], m->stream));
  GradientArgs ga;
  ga.user_rows = user_rows;
  ga.item_rows = item_rows;
  ga.items_first = item_rows < user_rows;
  ga.k = k;
  ga.width = width;
  ga.user = Csr{reinterpret_cast<const int32_t*>(d + l.user_off),
                reinterpret_cast<const int32_t*>(d + l.user_sample),
                reinterpret_cast<const int32_t*>(d + l.user_other)};
  ga.item = Csr{reinterpret_cast<const int32_t*>(d + l.item_off),
                reinterpret_cast<const int32_t*>(d + l.item_sample),
                reinterpret_cast<const int32_t*>(d + l.item_other)};
  ga.delta = fa.delta;
  ga.urows = fa.urows;
  ga.irows = fa.irows;
  ga.ugrad = rows_on_device ? ugrad : reinterpret_cast<float*>(d + l.ugrad);
  ga.igrad = rows_on_device ? igrad : reinterpret_cast<float*>(d + l.igrad);
  if (user_rows + item_rows > 0) {
    const int blocks = m->Blocks(user_rows + item_rows);
    if (width <= kWarp) {
      LaunchGradient<1>(blocks, m->stream, ga);
    } else if (width <= 2 * kWarp) {
      LaunchGradient<2>(blocks, m->stream, ga);
    } else if (width <= 3 * kWarp) {
      LaunchGradient<3>(blocks, m->stream, ga);
    } else {
      LaunchGradient<4>(blocks, m->stream, ga);  // several column passes when k+1 > 128
    }
    CFPS_CUDA_CHECK(m, cudaGetLastError());
  }
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[4], m->stream));

  // 4. Gradients and squared errors back (one copy: they are adjacent; only the squared errors
  // when the gradient rows stay on the device), then wait.
  CFPS_CUDA_CHECK(m, cudaMemcpyAsync(h + l.ugrad, d + l.ugrad, l.download_end - l.ugrad,
                                     cudaMemcpyDeviceToHost, m->stream));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[5], m->stream));
  CFPS_CUDA_CHECK(m, cudaStreamSynchronize(m->stream));
  if (!rows_on_device) {
    if (user_rows) std::memcpy(ugrad, h + l.ugrad, row_bytes * static_cast<size_t>(user_rows));
    if (item_rows) std::memcpy(igrad, h + l.igrad, row_bytes * static_cast<size_t>(item_rows));
  }
  const double* sq = reinterpret_cast<const double*>(h + l.sqerr);
  double sse = 0.0;
  for (int64_t i = 0; i < n; ++i) sse += sq[i];

  const int64_t rows = user_rows + item_rows;
  last_.h2d_bytes = static_cast<int64_t>(l.upload2_end);
  last_.d2h_bytes = static_cast<int64_t>(l.download_end - l.ugrad);
  last_.kernel_bytes = n * (3 * 4 + 2 * static_cast<int64_t>(row_bytes) + 4 + 8) +  // forward
                       2 * n * (3 * 4 + static_cast<int64_t>(row_bytes)) +  // gradient reads
                       rows * static_cast<int64_t>(row_bytes) +
                       (rows + 2) * 4;  // rows out, offsets
  if (timing_) {
    last_.upload_ms = Milliseconds(m->ev[0], m->ev[1]) + Milliseconds(m->ev[2], m->ev[3]);
    last_.forward_ms = Milliseconds(m->ev[1], m->ev[2]);
    last_.gradient_ms = Milliseconds(m->ev[3], m->ev[4]);
    last_.download_ms = Milliseconds(m->ev[4], m->ev[5]);
  }
  last_.host_ms = WallMs() - t0;
  return sse;
}

double CudaBatchKernels::Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                  const int32_t* item_slot, const float* rating, int64_t user_rows,
                                  const float* urows, int64_t item_rows, const float* irows,
                                  float* pred) {
  CheckShape(dims, n, user_rows, item_rows);
  const double t0 = WallMs();
  last_ = CallTiming();
  if (n == 0) return 0.0;
  const int k = dims.k;
  const int64_t width = k + 1;
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(width);
  Impl* m = impl_.get();
  CFPS_CUDA_CHECK(m, cudaSetDevice(m->gpu));
  const Layout l = Plan(n, user_rows, item_rows, width, /*backward=*/false, pred != nullptr);
  m->Reserve(l, n, user_rows, item_rows, k);
  char* h = m->host;
  char* d = m->device;
  const size_t sn = static_cast<size_t>(n);
  // The range check of every slot (the counts themselves are not needed here).
  m->cursor.resize(static_cast<size_t>(std::max(user_rows, item_rows) + 1));
  CountSlots(user_slot, n, user_rows, "user", m->cursor.data());
  CountSlots(item_slot, n, item_rows, "item", m->cursor.data());
  std::memcpy(h + l.user_slot, user_slot, sizeof(int32_t) * sn);
  std::memcpy(h + l.item_slot, item_slot, sizeof(int32_t) * sn);
  std::memcpy(h + l.rating, rating, sizeof(float) * sn);
  if (user_rows) std::memcpy(h + l.urows, urows, row_bytes * static_cast<size_t>(user_rows));
  if (item_rows) std::memcpy(h + l.irows, irows, row_bytes * static_cast<size_t>(item_rows));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[0], m->stream));
  CFPS_CUDA_CHECK(m, cudaMemcpyAsync(d, h, l.upload1_end, cudaMemcpyHostToDevice, m->stream));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[1], m->stream));
  ForwardArgs fa;
  fa.n = n;
  fa.k = k;
  fa.width = width;
  fa.user_slot = reinterpret_cast<const int32_t*>(d + l.user_slot);
  fa.item_slot = reinterpret_cast<const int32_t*>(d + l.item_slot);
  fa.rating = reinterpret_cast<const float*>(d + l.rating);
  fa.urows = reinterpret_cast<const float*>(d + l.urows);
  fa.irows = reinterpret_cast<const float*>(d + l.irows);
  fa.lo = static_cast<float>(dims.lo);
  fa.range = static_cast<float>(dims.hi - dims.lo);
  fa.two_over_b = 0.0f;
  fa.delta = nullptr;
  fa.sqerr = reinterpret_cast<double*>(d + l.sqerr);
  fa.pred = pred != nullptr ? reinterpret_cast<float*>(d + l.pred) : nullptr;
  ForwardKernel<<<m->Blocks(n), kBlock, 0, m->stream>>>(fa);
  CFPS_CUDA_CHECK(m, cudaGetLastError());
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[2], m->stream));
  CFPS_CUDA_CHECK(m, cudaMemcpyAsync(h + l.sqerr, d + l.sqerr, l.download_end - l.sqerr,
                                     cudaMemcpyDeviceToHost, m->stream));
  if (timing_) CFPS_CUDA_CHECK(m, cudaEventRecord(m->ev[3], m->stream));
  CFPS_CUDA_CHECK(m, cudaStreamSynchronize(m->stream));
  const double* sq = reinterpret_cast<const double*>(h + l.sqerr);
  double sse = 0.0;
  for (int64_t i = 0; i < n; ++i) sse += sq[i];
  if (pred != nullptr) std::memcpy(pred, h + l.pred, sizeof(float) * sn);
  last_.h2d_bytes = static_cast<int64_t>(l.upload1_end);
  last_.d2h_bytes = static_cast<int64_t>(l.download_end - l.sqerr);
  last_.kernel_bytes = n * (3 * 4 + 2 * static_cast<int64_t>(row_bytes) + 8 + (pred ? 4 : 0));
  if (timing_) {
    last_.upload_ms = Milliseconds(m->ev[0], m->ev[1]);
    last_.forward_ms = Milliseconds(m->ev[1], m->ev[2]);
    last_.download_ms = Milliseconds(m->ev[2], m->ev[3]);
  }
  last_.host_ms = WallMs() - t0;
  return sse;
}

}  // namespace cfps::cuda
