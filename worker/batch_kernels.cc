#include "worker/batch_kernels.h"

#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/buffer.h"
#include "common/exchange.h"
#include "common/roles.h"
#ifdef CFPS_HAVE_CUDA
#include "worker/cuda/cuda_batch_kernels.h"
#endif

namespace cfps {

Status ParseDevice(const std::string& text, Device* out) {
  if (text == "auto") {
    *out = Device::kAuto;
  } else if (text == "cpu") {
    *out = Device::kCpu;
  } else if (text == "cuda") {
    *out = Device::kCuda;
  } else {
    return Status::InvalidArgument("--device must be auto, cpu or cuda, got '" + text + "'");
  }
  return Status::OK();
}

const char* DeviceName(Device device) {
  switch (device) {
    case Device::kAuto:
      return "auto";
    case Device::kCpu:
      return "cpu";
    case Device::kCuda:
      return "cuda";
  }
  return "?";
}

namespace {

// The reference kernels of worker/kernels.h behind the interface.
class CpuBatchKernels final : public BatchKernels {
 public:
  std::string Describe() const override { return "cpu"; }

  double ForwardBackward(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                         const int32_t* item_slot, const float* rating, int64_t user_rows,
                         const float* urows, int64_t item_rows, const float* irows,
                         int64_t global_batch, float* ugrad, float* igrad) override {
    const size_t width = static_cast<size_t>(dims.k) + 1;
    std::fill_n(ugrad, static_cast<size_t>(user_rows) * width, 0.0f);
    std::fill_n(igrad, static_cast<size_t>(item_rows) * width, 0.0f);
    return cfps::ForwardBackward<float>(dims, n, user_slot, item_slot, rating, urows, irows,
                                        global_batch, ugrad, igrad);
  }

  double ForwardBackwardOnDevice(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                                 const int32_t* item_slot, const float* rating, int64_t user_rows,
                                 const float* urows, int64_t item_rows, const float* irows,
                                 int64_t global_batch, float* ugrad, float* igrad) override {
    return ForwardBackward(dims, n, user_slot, item_slot, rating, user_rows, urows, item_rows,
                           irows, global_batch, ugrad, igrad);
  }

  double Evaluate(const ModelDims& dims, int64_t n, const int32_t* user_slot,
                  const int32_t* item_slot, const float* rating, int64_t /*user_rows*/,
                  const float* urows, int64_t /*item_rows*/, const float* irows,
                  float* pred) override {
    return cfps::Evaluate<float>(dims, n, user_slot, item_slot, rating, urows, irows, pred);
  }
};

std::string GpuDescription(int gpu) {
#ifdef CFPS_HAVE_CUDA
  return cuda::DeviceDescription(gpu);
#else
  return "GPU " + std::to_string(gpu);
#endif
}

}  // namespace

std::unique_ptr<BatchKernels> MakeBatchKernels(Device device, int gpu, int rank) {
  CFPS_CHECK(device != Device::kAuto);  // ChooseDevice resolves auto first
  if (device == Device::kCpu) return std::make_unique<CpuBatchKernels>();
#ifdef CFPS_HAVE_CUDA
  return std::make_unique<cuda::CudaBatchKernels>(gpu, rank);
#else
  (void)gpu;
  (void)rank;
  internal::CheckFailed(__FILE__, __LINE__, "CUDA kernels requested in a build without CUDA");
#endif
}

int VisibleGpuCount(std::string* why) {
#ifdef CFPS_HAVE_CUDA
  return cuda::DeviceCount(why);
#else
  if (why) *why = "this cfps was built without CUDA (no CUDA compiler at build time)";
  return 0;
#endif
}

std::string CudaBuildInfo() {
#ifdef CFPS_HAVE_CUDA
#ifdef CFPS_HAVE_NCCL
  return "cuda: built for " + cuda::Architectures() +
         "; NCCL exchange: built (libnccl.so.2 is loaded when --exchange asks for it)";
#else
  return "cuda: built for " + cuda::Architectures() + "; NCCL exchange: not built (no nccl.h)";
#endif
#else
  return "cuda: not built (no CUDA compiler at build time): CPU kernels only";
#endif
}

Status ChooseDevice(Exchange* exchange, const Roles& roles, Device requested, Device* device,
                    int* gpu, std::string* line) {
  const int rank = exchange->rank();
  const bool trains = roles.trains(rank);
  *device = Device::kCpu;
  *gpu = -1;
  line->clear();
  if (requested == Device::kCpu) return Status::OK();  // the same option on every rank

  // This rank's index among the worker ranks of its node.
  int local = std::max(0, roles.worker_of_rank(rank));
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized && exchange->size() > 1) {
    MPI_Comm node = MPI_COMM_NULL, node_workers = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_split(node, trains ? 1 : 0, rank, &node_workers);
    MPI_Comm_rank(node_workers, &local);
    MPI_Comm_free(&node_workers);
    MPI_Comm_free(&node);
  }

  Status status;
  std::string mine;
  if (trains) {
    std::string why;
    const int count = VisibleGpuCount(&why);
    if (count > 0) {
      *device = Device::kCuda;
      *gpu = local % count;
      mine = GpuDescription(*gpu);
    } else if (requested == Device::kCuda) {
      status = Status::InvalidArgument("--device cuda: rank " + std::to_string(rank) + " (" +
                                       roles.Describe(rank) + ") has no usable GPU: " + why);
    }
  }

  // Rank 0 learns which workers use which GPU.
  std::vector<Buffer> send(static_cast<size_t>(exchange->size())), recv;
  if (!mine.empty()) send[0].append(mine.data(), mine.size());
  exchange->AllToAllV(&send, &recv);
  if (rank == 0) {
    int on_gpu = 0;
    std::string list;
    for (int r = 0; r < exchange->size(); ++r) {
      const Buffer& b = recv[static_cast<size_t>(r)];
      if (b.empty()) continue;
      if (++on_gpu > 4) continue;
      list += (list.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " on " +
              std::string(b.data(), b.size());
    }
    if (on_gpu > 4) list += "; ...";
    if (on_gpu > 0) {
      *line = "device: CUDA kernels on " + std::to_string(on_gpu) + " of " +
              std::to_string(roles.num_workers()) + " worker" +
              (roles.num_workers() > 1 ? "s" : "") + " (" + list + ")";
      if (on_gpu < roles.num_workers()) *line += "; the other workers use the CPU";
    }
  }
  return status;
}

}  // namespace cfps
