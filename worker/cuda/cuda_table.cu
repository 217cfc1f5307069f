// CudaTable (contract: cuda_table.h; the arithmetic it mirrors: ps/optimizer.cc).

#include <cuda_runtime.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "common/status.h"
#include "worker/cuda/cuda_errors.h"
#include "worker/cuda/cuda_table.h"

namespace cfps::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kBlock = 256;
constexpr int kWarpsPerBlock = kBlock / kWarp;
constexpr unsigned kFullMask = 0xffffffffu;

// The scalars of a PreparedStep (ps/optimizer.h), by value into the kernels.
struct StepArgs {
  int64_t width;
  float decay, b1, one_minus_b1, b2, one_minus_b2, step_size, bc2, eps, wd, inv_width;
};

StepArgs ArgsOf(const PreparedStep& s) {
  return StepArgs{s.width,     s.decay, s.b1,  s.one_minus_b1, s.b2,       s.one_minus_b2,
                  s.step_size, s.bc2,   s.eps, s.wd,           s.inv_width};
}

// out[j * width + c] = values[ids[j] * width + c]: one thread per element, grid-stride.
__global__ void __launch_bounds__(kBlock)
    GatherKernel(const float* __restrict__ values, int64_t width, const int32_t* __restrict__ ids,
                 int64_t n, float* __restrict__ out) {
  const int64_t total = n * width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; e < total;
       e += stride) {
    const int64_t j = e / width, c = e - j * width;
    out[e] = values[static_cast<int64_t>(ids[j]) * width + c];
  }
}

// Shard::AddGradients' arithmetic: sums row slots[j] = g row j when first[j], else sums row + g
// row j. Slots of one launch are distinct (one worker pushes a row once): no two threads write
// one element. One thread per element, grid-stride.
__global__ void __launch_bounds__(kBlock)
    AddToSumsKernel(int64_t width, const int32_t* __restrict__ slots,
                    const uint8_t* __restrict__ first, int64_t n, const float* __restrict__ grads,
                    float* __restrict__ sums) {
  const int64_t total = n * width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; e < total;
       e += stride) {
    const int64_t j = e / width, c = e - j * width;
    float* acc = sums + static_cast<int64_t>(slots[j]) * width + c;
    *acc = first[j] ? grads[e] : __fadd_rn(*acc, grads[e]);
  }
}

// UpdateSgd: gp = g + wd * p; p = p - lr * gp. One thread per element.
__global__ void __launch_bounds__(kBlock)
    SgdKernel(StepArgs s, const int32_t* __restrict__ ids, const float* __restrict__ grads,
              int64_t n, float* __restrict__ values) {
  const int64_t total = n * s.width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; e < total;
       e += stride) {
    const int64_t j = e / s.width, c = e - j * s.width;
    float* p = values + static_cast<int64_t>(ids[j]) * s.width + c;
    const float gp = __fadd_rn(grads[e], __fmul_rn(s.wd, *p));
    *p = __fsub_rn(*p, __fmul_rn(s.step_size, gp));
  }
}

// AdamElement: pc = p * decay; m = m * b1 + (1 - b1) * g; v = v * b2 + ((1 - b2) * g) * g;
// p = pc + (step_size * m) / (sqrt(v / bc2) + eps). State row: m[0, width) then v[0, width).
__global__ void __launch_bounds__(kBlock)
    AdamKernel(StepArgs s, const int32_t* __restrict__ ids, const float* __restrict__ grads,
               int64_t n, float* __restrict__ values, float* __restrict__ state) {
  const int64_t total = n * s.width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; e < total;
       e += stride) {
    const int64_t j = e / s.width, c = e - j * s.width;
    const int64_t row = ids[j];
    float* p = values + row * s.width + c;
    float* m = state + row * 2 * s.width + c;
    float* v = m + s.width;
    const float g = grads[e];
    const float pc = __fmul_rn(*p, s.decay);
    float mc = __fmul_rn(*m, s.b1);
    mc = __fadd_rn(mc, __fmul_rn(s.one_minus_b1, g));
    float vc = __fmul_rn(*v, s.b2);
    vc = __fadd_rn(vc, __fmul_rn(__fmul_rn(s.one_minus_b2, g), g));
    const float denom = __fadd_rn(__fsqrt_rn(__fdiv_rn(vc, s.bc2)), s.eps);
    *p = __fadd_rn(pc, __fdiv_rn(__fmul_rn(s.step_size, mc), denom));
    *m = mc;
    *v = vc;
  }
}

// UpdateAdagrad, one warp per row: G += mean of (g + wd * p)^2 over the row, its sum taken as
// the CPU takes it (lane l of 8 adds the squares of the columns c with c % 8 == l in increasing c,
// then ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))); then p = p - (lr * gp) / sqrt(G + eps).
__global__ void __launch_bounds__(kBlock)
    AdagradKernel(StepArgs s, const int32_t* __restrict__ ids, const float* __restrict__ grads,
                  int64_t n, float* __restrict__ values, float* __restrict__ state) {
  const int lane = threadIdx.x & (kWarp - 1);
  const int l = lane & 7;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t j = (static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x) / kWarp; j < n;
       j += warps) {
    const int64_t row = ids[j];
    float* p = values + row * s.width;
    const float* g = grads + j * s.width;
    float acc = 0.0f;
    for (int64_t c0 = 0; c0 < s.width; c0 += kWarp) {
      const int64_t f = c0 + lane;
      float sq = 0.0f;
      if (f < s.width) {
        const float x = __fadd_rn(g[f], __fmul_rn(s.wd, p[f]));
        sq = __fmul_rn(x, x);
      }
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float y = __shfl_sync(kFullMask, sq, l + 8 * q);
        if (c0 + l + 8 * q < s.width) acc = __fadd_rn(acc, y);
      }
    }
    float t = __fadd_rn(acc, __shfl_down_sync(kFullMask, acc, 4));  // lanes 0..3
    t = __fadd_rn(t, __shfl_down_sync(kFullMask, t, 2));            // lanes 0..1
    t = __fadd_rn(t, __shfl_down_sync(kFullMask, t, 1));            // lane 0
    const float sum = __shfl_sync(kFullMask, t, 0);
    const float big_g = __fadd_rn(state[row], __fmul_rn(sum, s.inv_width));
    const float denom = __fsqrt_rn(__fadd_rn(big_g, s.eps));
    __syncwarp();
    if (lane == 0) state[row] = big_g;
    for (int64_t f = lane; f < s.width; f += kWarp) {
      const float gp = __fadd_rn(g[f], __fmul_rn(s.wd, p[f]));
      p[f] = __fsub_rn(p[f], __fdiv_rn(__fmul_rn(s.step_size, gp), denom));
    }
  }
}

}  // namespace

struct CudaTable::Impl {
  int gpu = 0;
  int rank = 0;
  std::string name;
  int max_blocks = 1;
  cudaStream_t stream = nullptr;
  float* values = nullptr;
  float* state = nullptr;
  int32_t* ids = nullptr;  // staging of a call's ids
  float* io = nullptr;     // staging of a call's gradient rows or gathered rows
  size_t ids_capacity = 0, io_capacity = 0;
  int32_t* slots = nullptr;  // AddToSums: n slots then n first-seen flags (bytes)
  size_t slots_capacity = 0;
  float* sums = nullptr;  // the step's sums of pushed gradient rows (AddToSums)
  size_t sums_capacity = 0;

  [[noreturn]] void Fail(const std::string& what) const { Fatal(rank, gpu, name, what); }
  void Check(cudaError_t e, const char* expr, int line) const {
    CheckCuda(rank, gpu, name, e, expr, __FILE__, line);
  }
  void* Alloc(size_t bytes, const std::string& what) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      Fail("out of GPU memory: cudaMalloc of " + Megabytes(bytes) + " for " + what +
           " failed: " + ErrorText(e));
    }
    return p;
  }
  // Staging for n ids and n rows of `width` floats (a quarter of headroom; contents not kept).
  void Reserve(int64_t n, int64_t width) {
    const size_t want_ids = sizeof(int32_t) * static_cast<size_t>(n);
    const size_t want_io = sizeof(float) * static_cast<size_t>(n * width);
    if (want_ids > ids_capacity) {
      if (ids) Check(cudaFree(ids), "cudaFree(ids)", __LINE__);
      ids_capacity = want_ids + want_ids / 4;
      ids = static_cast<int32_t*>(Alloc(ids_capacity, "the ids of " + std::to_string(n) + " rows"));
    }
    if (want_io > io_capacity) {
      if (io) Check(cudaFree(io), "cudaFree(io)", __LINE__);
      io_capacity = want_io + want_io / 4;
      io = static_cast<float*>(Alloc(io_capacity, std::to_string(n) + " rows"));
    }
  }
  int Blocks(int64_t threads) const {
    const int64_t blocks = (threads + kBlock - 1) / kBlock;
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(blocks, max_blocks)));
  }
  // After a kernel launch: launch errors now, execution errors at the synchronize.
  void Finish(const char* what) {
    Check(cudaGetLastError(), what, __LINE__);
    Check(cudaStreamSynchronize(stream), what, __LINE__);
  }
};

#define CFPS_TABLE_CHECK(expr) impl_->Check((expr), #expr, __LINE__)

CudaTable::CudaTable(int gpu, int rank, int64_t rows, int width, OptimizerKind kind)
    : impl_(std::make_unique<Impl>()),
      rows_(rows),
      width_(width),
      state_width_(StateFloatsPerRow(kind, width)) {
  CFPS_CHECK_GE(rows, 0);
  CFPS_CHECK_GE(width, 1);
  Impl* m = impl_.get();
  m->gpu = gpu;
  m->rank = rank;
  CFPS_TABLE_CHECK(cudaSetDevice(gpu));
  cudaDeviceProp p;
  CFPS_TABLE_CHECK(cudaGetDeviceProperties(&p, gpu));
  m->name = p.name;
  m->max_blocks = std::max(1, p.multiProcessorCount * 32);
  CFPS_TABLE_CHECK(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
  const size_t values_bytes = sizeof(float) * static_cast<size_t>(rows) * width;
  const size_t state_bytes = sizeof(float) * static_cast<size_t>(rows) * state_width_;
  char what[128];
  std::snprintf(what, sizeof(what), "a table of %" PRId64 " rows of %d floats", rows, width);
  if (values_bytes) {
    m->values = static_cast<float*>(m->Alloc(values_bytes, what));
    CFPS_TABLE_CHECK(cudaMemsetAsync(m->values, 0, values_bytes, m->stream));
  }
  if (state_bytes) {
    m->state =
        static_cast<float*>(m->Alloc(state_bytes, std::string("the optimizer state of ") + what));
    CFPS_TABLE_CHECK(cudaMemsetAsync(m->state, 0, state_bytes, m->stream));
  }
  CFPS_TABLE_CHECK(cudaStreamSynchronize(m->stream));
}

CudaTable::~CudaTable() {
  // No error checks: at process exit the runtime may already be shutting down.
  Impl* m = impl_.get();
  cudaSetDevice(m->gpu);
  if (m->stream) cudaStreamSynchronize(m->stream);
  for (void* p :
       {static_cast<void*>(m->values), static_cast<void*>(m->state), static_cast<void*>(m->ids),
        static_cast<void*>(m->io), static_cast<void*>(m->slots), static_cast<void*>(m->sums)}) {
    if (p) cudaFree(p);
  }
  if (m->stream) cudaStreamDestroy(m->stream);
  cudaGetLastError();
}

void CudaTable::Upload(const float* values, const float* state) {
  CFPS_TABLE_CHECK(cudaSetDevice(impl_->gpu));
  const size_t values_bytes = sizeof(float) * static_cast<size_t>(rows_) * width_;
  const size_t state_bytes = sizeof(float) * static_cast<size_t>(rows_) * state_width_;
  if (values_bytes) {
    CFPS_TABLE_CHECK(cudaMemcpyAsync(impl_->values, values, values_bytes, cudaMemcpyHostToDevice,
                                     impl_->stream));
  }
  if (state_bytes) {
    CFPS_CHECK(state != nullptr);
    CFPS_TABLE_CHECK(
        cudaMemcpyAsync(impl_->state, state, state_bytes, cudaMemcpyHostToDevice, impl_->stream));
  }
  CFPS_TABLE_CHECK(cudaStreamSynchronize(impl_->stream));
}

void CudaTable::Download(float* values, float* state) const {
  CFPS_TABLE_CHECK(cudaSetDevice(impl_->gpu));
  const size_t values_bytes = sizeof(float) * static_cast<size_t>(rows_) * width_;
  const size_t state_bytes = sizeof(float) * static_cast<size_t>(rows_) * state_width_;
  if (values_bytes) {
    CFPS_TABLE_CHECK(cudaMemcpyAsync(values, impl_->values, values_bytes, cudaMemcpyDeviceToHost,
                                     impl_->stream));
  }
  if (state_bytes) {
    CFPS_CHECK(state != nullptr);
    CFPS_TABLE_CHECK(
        cudaMemcpyAsync(state, impl_->state, state_bytes, cudaMemcpyDeviceToHost, impl_->stream));
  }
  CFPS_TABLE_CHECK(cudaStreamSynchronize(impl_->stream));
}

void CudaTable::StageIds(const int32_t* ids, int64_t n, bool rows_staged) {
  for (int64_t j = 0; j < n; ++j) CFPS_CHECK(ids[j] >= 0 && ids[j] < rows_);
  Impl* m = impl_.get();
  CFPS_TABLE_CHECK(cudaSetDevice(m->gpu));
  m->Reserve(n, rows_staged ? width_ : 0);
  CFPS_TABLE_CHECK(cudaMemcpyAsync(m->ids, ids, sizeof(int32_t) * static_cast<size_t>(n),
                                   cudaMemcpyHostToDevice, m->stream));
}

void CudaTable::Gather(const int32_t* ids, int64_t n, float* out) {
  if (n <= 0) return;
  StageIds(ids, n);
  Impl* m = impl_.get();
  GatherKernel<<<m->Blocks(n * width_), kBlock, 0, m->stream>>>(m->values, width_, m->ids, n,
                                                                m->io);
  CFPS_TABLE_CHECK(cudaGetLastError());
  CFPS_TABLE_CHECK(cudaMemcpyAsync(out, m->io, sizeof(float) * static_cast<size_t>(n * width_),
                                   cudaMemcpyDeviceToHost, m->stream));
  m->Finish("GatherKernel");
}

void CudaTable::Update(const PreparedStep& step, const int32_t* ids, const float* grads,
                       int64_t n) {
  if (n <= 0) return;
  StageIds(ids, n);
  Impl* m = impl_.get();
  CFPS_TABLE_CHECK(cudaMemcpyAsync(m->io, grads, sizeof(float) * static_cast<size_t>(n * width_),
                                   cudaMemcpyHostToDevice, m->stream));
  RunOptimizer(step, n, m->io);
}

void CudaTable::RunOptimizer(const PreparedStep& step, int64_t n, const float* device_grads) {
  CFPS_CHECK_EQ(step.width, width_);
  CFPS_CHECK_EQ(StateFloatsPerRow(step.kind, step.width), state_width_);
  Impl* m = impl_.get();
  const StepArgs a = ArgsOf(step);
  switch (step.kind) {
    case OptimizerKind::kSgd:
      SgdKernel<<<m->Blocks(n * width_), kBlock, 0, m->stream>>>(a, m->ids, device_grads, n,
                                                                 m->values);
      m->Finish("SgdKernel");
      return;
    case OptimizerKind::kAdam:
      AdamKernel<<<m->Blocks(n * width_), kBlock, 0, m->stream>>>(a, m->ids, device_grads, n,
                                                                  m->values, m->state);
      m->Finish("AdamKernel");
      return;
    case OptimizerKind::kAdagrad:
      AdagradKernel<<<m->Blocks(n * kWarp), kBlock, 0, m->stream>>>(a, m->ids, device_grads, n,
                                                                    m->values, m->state);
      m->Finish("AdagradKernel");
      return;
  }
}

void CudaTable::GatherToDevice(const int32_t* ids, int64_t n, float* device_out) {
  if (n <= 0) return;
  StageIds(ids, n, /*rows_staged=*/false);
  Impl* m = impl_.get();
  GatherKernel<<<m->Blocks(n * width_), kBlock, 0, m->stream>>>(m->values, width_, m->ids, n,
                                                                device_out);
  m->Finish("GatherKernel");
}

void CudaTable::UpdateFromDevice(const PreparedStep& step, const int32_t* ids,
                                 const float* device_grads, int64_t n) {
  if (n <= 0) return;
  StageIds(ids, n, /*rows_staged=*/false);
  RunOptimizer(step, n, device_grads);
}

void CudaTable::AddToSums(const int32_t* slots, const uint8_t* first, int64_t n,
                          const float* device_grads) {
  if (n <= 0) return;
  Impl* m = impl_.get();
  CFPS_TABLE_CHECK(cudaSetDevice(m->gpu));
  int64_t rows = 0;
  for (int64_t j = 0; j < n; ++j) {
    CFPS_CHECK_GE(slots[j], 0);
    rows = std::max<int64_t>(rows, static_cast<int64_t>(slots[j]) + 1);
  }
  const size_t slot_bytes = sizeof(int32_t) * static_cast<size_t>(n);
  const size_t want_slots = slot_bytes + static_cast<size_t>(n);
  if (want_slots > m->slots_capacity) {
    if (m->slots) CFPS_TABLE_CHECK(cudaFree(m->slots));
    m->slots = nullptr;
    m->slots_capacity = want_slots + want_slots / 4;
    m->slots = static_cast<int32_t*>(
        m->Alloc(m->slots_capacity, "the aggregation slots of " + std::to_string(n) + " rows"));
  }
  const size_t want_sums = sizeof(float) * static_cast<size_t>(rows * width_);
  if (want_sums > m->sums_capacity) {  // grows keeping the rows summed so far
    const size_t grown = want_sums + want_sums / 4;
    float* sums = static_cast<float*>(
        m->Alloc(grown, "the sums of " + std::to_string(rows) + " pushed gradient rows"));
    if (m->sums) {
      CFPS_TABLE_CHECK(
          cudaMemcpyAsync(sums, m->sums, m->sums_capacity, cudaMemcpyDeviceToDevice, m->stream));
      CFPS_TABLE_CHECK(cudaStreamSynchronize(m->stream));
      CFPS_TABLE_CHECK(cudaFree(m->sums));
    }
    m->sums = sums;
    m->sums_capacity = grown;
  }
  uint8_t* first_on_device = reinterpret_cast<uint8_t*>(m->slots) + slot_bytes;
  CFPS_TABLE_CHECK(cudaMemcpyAsync(m->slots, slots, slot_bytes, cudaMemcpyHostToDevice, m->stream));
  CFPS_TABLE_CHECK(cudaMemcpyAsync(first_on_device, first, static_cast<size_t>(n),
                                   cudaMemcpyHostToDevice, m->stream));
  AddToSumsKernel<<<m->Blocks(n * width_), kBlock, 0, m->stream>>>(
      width_, m->slots, first_on_device, n, device_grads, m->sums);
  m->Finish("AddToSumsKernel");
}

void CudaTable::UpdateFromSums(const PreparedStep& step, const int32_t* ids, int64_t n) {
  if (n <= 0) return;
  CFPS_CHECK_LE(sizeof(float) * static_cast<size_t>(n * width_), impl_->sums_capacity);
  StageIds(ids, n, /*rows_staged=*/false);
  RunOptimizer(step, n, impl_->sums);
}

size_t CudaTable::sums_bytes() const { return impl_->sums_capacity; }

}  // namespace cfps::cuda
