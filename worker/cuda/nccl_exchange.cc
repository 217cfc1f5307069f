#include "worker/cuda/nccl_exchange.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/log.h"
#include "common/mpi_exchange.h"

namespace cfps {

namespace {

// The NCCL functions this exchange calls, from the library loaded at run time.
struct NcclApi {
  decltype(&ncclGetUniqueId) GetUniqueId = nullptr;
  decltype(&ncclCommInitRankConfig) CommInitRankConfig = nullptr;
  decltype(&ncclCommGetAsyncError) CommGetAsyncError = nullptr;
  decltype(&ncclCommAbort) CommAbort = nullptr;
  decltype(&ncclCommDestroy) CommDestroy = nullptr;
  decltype(&ncclGroupStart) GroupStart = nullptr;
  decltype(&ncclGroupEnd) GroupEnd = nullptr;
  decltype(&ncclSend) Send = nullptr;
  decltype(&ncclRecv) Recv = nullptr;
  decltype(&ncclGetErrorString) GetErrorString = nullptr;
};

Status LoadNccl(NcclApi* api) {
  void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) lib = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return Status::InvalidArgument(std::string("--exchange nccl: cannot load libnccl.so.2 (") +
                                   (why ? why : "not found") +
                                   "): install NCCL or add its directory to LD_LIBRARY_PATH");
  }
  bool ok = true;
  auto get = [&](auto* fn, const char* name) {
    *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(dlsym(lib, name));
    ok = ok && *fn != nullptr;
  };
  get(&api->GetUniqueId, "ncclGetUniqueId");
  get(&api->CommInitRankConfig, "ncclCommInitRankConfig");
  get(&api->CommGetAsyncError, "ncclCommGetAsyncError");
  get(&api->CommAbort, "ncclCommAbort");
  get(&api->CommDestroy, "ncclCommDestroy");
  get(&api->GroupStart, "ncclGroupStart");
  get(&api->GroupEnd, "ncclGroupEnd");
  get(&api->Send, "ncclSend");
  get(&api->Recv, "ncclRecv");
  get(&api->GetErrorString, "ncclGetErrorString");
  if (!ok) {
    return Status::InvalidArgument(
        "--exchange nccl: the NCCL library found lacks ncclCommInitRankConfig or another call "
        "this build needs (NCCL 2.14 or newer)");
  }
  return Status::OK();
}

class NcclExchange final : public Exchange {
 public:
  NcclExchange(MPI_Comm comm, int gpu) : control_(comm), gpu_(gpu) {}
  ~NcclExchange() override;
  NcclExchange(const NcclExchange&) = delete;
  NcclExchange& operator=(const NcclExchange&) = delete;

  // Collective: loads NCCL, sets up the stream, creates the communicator.
  Status Init(double timeout_s);

  int rank() const override { return control_.rank(); }
  int size() const override { return control_.size(); }
  void AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) override;
  void AllToAllDevice(DeviceMemory* memory, const std::vector<DeviceSpan>& send,
                      const std::vector<DeviceSpan>& recv) override;
  void AllReduceSum(double* values, int n) override {
    OverMpi([&] { control_.AllReduceSum(values, n); });
  }
  void AllReduceMax(double* values, int n) override {
    OverMpi([&] { control_.AllReduceMax(values, n); });
  }
  void Broadcast(void* data, size_t bytes, int root) override {
    OverMpi([&] { control_.Broadcast(data, bytes, root); });
  }
  void Barrier() override {
    OverMpi([&] { control_.Barrier(); });
  }

 private:
  // The watchdog's settings and this rank's activity, handed to the MPI exchange before it waits.
  void SyncControl() {
    control_.SetActivity(activity_, activity_step_);
    control_.set_timeout(timeout_s_);
    if (rank_names_.size() != control_names_) {
      control_.set_rank_names(rank_names_);
      control_names_ = rank_names_.size();
    }
  }
  // A control collective over MPI, counted as MpiExchange counts it.
  template <typename F>
  void OverMpi(F&& f) {
    SyncControl();
    const TrafficCounters before = control_.counters();
    f();
    const TrafficCounters& after = control_.counters();
    counters_.bytes_sent += after.bytes_sent - before.bytes_sent;
    counters_.bytes_received += after.bytes_received - before.bytes_received;
    counters_.messages_sent += after.messages_sent - before.messages_sent;
    counters_.collectives += after.collectives - before.collectives;
  }
  // One line naming this rank and its GPU, then the job ends.
  [[noreturn]] void Fatal(const std::string& what);
  void CheckCuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess) Fatal(std::string(what) + ": " + cudaGetErrorString(e));
  }
  void CheckNccl(ncclResult_t r, const char* what) {
    if (r != ncclSuccess && r != ncclInProgress) {
      Fatal(std::string(what) + ": " + api_.GetErrorString(r));
    }
  }
  // Grows a device or pinned host buffer to `bytes` (contents not kept).
  void Reserve(char** buffer, size_t* capacity, size_t bytes, bool device);
  // send_bytes_[p] to every rank p != rank() over MPI; fills recv_bytes_ with what each sends.
  void ExchangeByteCounts();
  // Grouped ncclSend of send_bytes_[p] at send[p] and ncclRecv of recv_bytes_[p] at recv[p] for
  // every p != rank(), on the stream, then waits for it; counts them.
  void SendAndReceive(char* const* send, char* const* recv);
  // Waits for the stream: polls it and NCCL's asynchronous error, politely, under --timeout.
  void WaitStream(const char* what);
  // Waits until NCCL has issued the operations of a non-blocking group.
  void WaitIssued(const char* what);

  MpiExchange control_;
  int gpu_;
  NcclApi api_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  size_t control_names_ = 0;
  std::vector<Buffer> counts_send_, counts_recv_;
  std::vector<int64_t> send_bytes_, recv_bytes_, send_offset_, recv_offset_;
  std::vector<char*> send_at_, recv_at_;
  char* host_send_ = nullptr;
  char* host_recv_ = nullptr;
  char* device_send_ = nullptr;
  char* device_recv_ = nullptr;
  size_t host_send_capacity_ = 0, host_recv_capacity_ = 0;
  size_t device_send_capacity_ = 0, device_recv_capacity_ = 0;
};

NcclExchange::~NcclExchange() {
  if (comm_ != nullptr) api_.CommDestroy(comm_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  cudaFree(device_send_);
  cudaFree(device_recv_);
  cudaFreeHost(host_send_);
  cudaFreeHost(host_recv_);
}

Status NcclExchange::Init(double timeout_s) {
  set_timeout(timeout_s);
  const std::string where =
      "rank " + std::to_string(rank()) + " (GPU " + std::to_string(gpu_) + ")";
  Status local = LoadNccl(&api_);
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (local.ok()) {
    cudaError_t e = cudaSetDevice(gpu_);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
      local = Status::InvalidArgument("--exchange nccl: " + where + ": " + cudaGetErrorString(e));
    }
  }
  if (local.ok() && rank() == 0) {
    const ncclResult_t r = api_.GetUniqueId(&id);
    if (r != ncclSuccess) {
      local = Status::InvalidArgument("--exchange nccl: ncclGetUniqueId: " +
                                      std::string(api_.GetErrorString(r)));
    }
  }
  CFPS_RETURN_IF_ERROR(AgreeOnStatus(&control_, local));
  control_.Broadcast(&id, sizeof(id), 0);

  // Non-blocking initialisation, polled under the timeout: a rank that never joins does not
  // hang the others forever.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r = api_.CommInitRankConfig(&comm_, size(), id, rank(), &config);
  PoliteWait wait;
  while (r == ncclInProgress) {
    wait.Idle();
    if (timeout_s > 0 && wait.waited_seconds() > timeout_s) break;
    if (api_.CommGetAsyncError(comm_, &r) != ncclSuccess) r = ncclInternalError;
  }
  if (r == ncclInProgress) {
    local = Status::InvalidArgument("--exchange nccl: " + where +
                                    ": NCCL's initialisation did not finish within --timeout");
  } else if (r != ncclSuccess) {
    local = Status::InvalidArgument("--exchange nccl: " + where +
                                    ": ncclCommInitRank: " + api_.GetErrorString(r) +
                                    " (NCCL needs one GPU per rank: run one rank per GPU)");
  }
  if (!local.ok() && comm_ != nullptr) {
    api_.CommAbort(comm_);
    comm_ = nullptr;
  }
  return AgreeOnStatus(&control_, local);
}

void NcclExchange::Fatal(const std::string& what) {
  LogError("GPU " + std::to_string(gpu_) + ": " + what + " (NCCL exchange, at " +
           (activity_step_ >= 0 ? "step " + std::to_string(activity_step_) + ", " : "") +
           activity_ + "). Aborting the job");
  if (comm_ != nullptr) api_.CommAbort(comm_);
  comm_ = nullptr;
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::abort();
}

void NcclExchange::Reserve(char** buffer, size_t* capacity, size_t bytes, bool device) {
  if (bytes <= *capacity) return;
  const size_t grown = std::max(bytes, *capacity + *capacity / 2);
  if (device) {
    cudaFree(*buffer);
  } else {
    cudaFreeHost(*buffer);
  }
  *buffer = nullptr;
  *capacity = 0;
  const cudaError_t e = device ? cudaMalloc(reinterpret_cast<void**>(buffer), grown)
                               : cudaMallocHost(reinterpret_cast<void**>(buffer), grown);
  if (e != cudaSuccess) {
    Fatal("cannot allocate " + std::to_string(grown / 1000000.0) + " MB of " +
          (device ? "GPU" : "pinned host") + " memory for the exchange: " + cudaGetErrorString(e));
  }
  *capacity = grown;
}

void NcclExchange::WaitIssued(const char* what) {
  PoliteWait wait;
  for (;;) {
    ncclResult_t state = ncclSuccess;
    CheckNccl(api_.CommGetAsyncError(comm_, &state), what);
    if (state == ncclSuccess) return;
    CheckNccl(state, what);
    wait.Idle();
    if (timeout_s_ > 0 && wait.waited_seconds() > timeout_s_) {
      Fatal(std::string(what) + " was not issued within --timeout " +
            std::to_string(static_cast<int>(timeout_s_)) + " s");
    }
  }
}

void NcclExchange::WaitStream(const char* what) {
  PoliteWait wait;
  for (;;) {
    const cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaSuccess) return;
    if (e != cudaErrorNotReady) CheckCuda(e, what);
    ncclResult_t state = ncclSuccess;
    CheckNccl(api_.CommGetAsyncError(comm_, &state), what);
    CheckNccl(state, what);
    wait.Idle();
    if (timeout_s_ > 0 && wait.waited_seconds() > timeout_s_) {
      Fatal(std::string(what) + " did not finish within --timeout " +
            std::to_string(static_cast<int>(timeout_s_)) +
            " s (every rank had sent its byte counts, so the GPUs or their links are stuck)");
    }
  }
}

void NcclExchange::ExchangeByteCounts() {
  const int n = size(), me = rank();
  counts_send_.resize(static_cast<size_t>(n));
  recv_bytes_.assign(static_cast<size_t>(n), 0);
  for (int p = 0; p < n; ++p) {
    Buffer& b = counts_send_[static_cast<size_t>(p)];
    b.clear();
    if (p != me) b.append(&send_bytes_[static_cast<size_t>(p)], sizeof(int64_t));
  }
  // Over MPI: the watchdog names any rank that does not arrive.
  SyncControl();
  control_.AllToAllV(&counts_send_, &counts_recv_);
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    const Buffer& c = counts_recv_[static_cast<size_t>(p)];
    CFPS_CHECK_EQ(c.size(), sizeof(int64_t));
    std::memcpy(&recv_bytes_[static_cast<size_t>(p)], c.data(), sizeof(int64_t));
  }
}

void NcclExchange::SendAndReceive(char* const* send, char* const* recv) {
  const int n = size(), me = rank();
  int64_t total_send = 0, total_recv = 0;
  CheckNccl(api_.GroupStart(), "ncclGroupStart");
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    const size_t out = static_cast<size_t>(send_bytes_[static_cast<size_t>(p)]);
    const size_t in = static_cast<size_t>(recv_bytes_[static_cast<size_t>(p)]);
    if (out > 0) CheckNccl(api_.Send(send[p], out, ncclUint8, p, comm_, stream_), "ncclSend");
    if (in > 0) CheckNccl(api_.Recv(recv[p], in, ncclUint8, p, comm_, stream_), "ncclRecv");
    total_send += static_cast<int64_t>(out);
    total_recv += static_cast<int64_t>(in);
    ++counters_.messages_sent;
  }
  CheckNccl(api_.GroupEnd(), "ncclGroupEnd");
  WaitIssued("an all-to-all over NCCL");
  WaitStream("an all-to-all over NCCL");
  counters_.bytes_sent += total_send;
  counters_.bytes_received += total_recv;
}

void NcclExchange::AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) {
  const int n = size(), me = rank();
  send->resize(static_cast<size_t>(n));
  recv->resize(static_cast<size_t>(n));
  ++counters_.collectives;

  send_bytes_.assign(static_cast<size_t>(n), 0);
  for (int p = 0; p < n; ++p) {
    if (p != me) {
      send_bytes_[static_cast<size_t>(p)] =
          static_cast<int64_t>((*send)[static_cast<size_t>(p)].size());
    }
  }
  ExchangeByteCounts();
  send_offset_.assign(static_cast<size_t>(n), 0);
  recv_offset_.assign(static_cast<size_t>(n), 0);
  size_t total_send = 0, total_recv = 0;
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    send_offset_[static_cast<size_t>(p)] = static_cast<int64_t>(total_send);
    recv_offset_[static_cast<size_t>(p)] = static_cast<int64_t>(total_recv);
    total_send += static_cast<size_t>(send_bytes_[static_cast<size_t>(p)]);
    total_recv += static_cast<size_t>(recv_bytes_[static_cast<size_t>(p)]);
  }

  // The payload: host -> GPU, GPU -> GPU over NCCL, GPU -> host, one stream.
  if (total_send + total_recv > 0) {
    Reserve(&host_send_, &host_send_capacity_, total_send, false);
    Reserve(&host_recv_, &host_recv_capacity_, total_recv, false);
    Reserve(&device_send_, &device_send_capacity_, total_send, true);
    Reserve(&device_recv_, &device_recv_capacity_, total_recv, true);
    send_at_.assign(static_cast<size_t>(n), nullptr);
    recv_at_.assign(static_cast<size_t>(n), nullptr);
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      send_at_[static_cast<size_t>(p)] = device_send_ + send_offset_[static_cast<size_t>(p)];
      recv_at_[static_cast<size_t>(p)] = device_recv_ + recv_offset_[static_cast<size_t>(p)];
      if (send_bytes_[static_cast<size_t>(p)] == 0) continue;
      std::memcpy(host_send_ + send_offset_[static_cast<size_t>(p)],
                  (*send)[static_cast<size_t>(p)].data(),
                  static_cast<size_t>(send_bytes_[static_cast<size_t>(p)]));
    }
    if (total_send > 0) {
      CheckCuda(
          cudaMemcpyAsync(device_send_, host_send_, total_send, cudaMemcpyHostToDevice, stream_),
          "copying an all-to-all to the GPU");
    }
    SendAndReceive(send_at_.data(), recv_at_.data());
    if (total_recv > 0) {
      CheckCuda(
          cudaMemcpyAsync(host_recv_, device_recv_, total_recv, cudaMemcpyDeviceToHost, stream_),
          "copying an all-to-all from the GPU");
      WaitStream("copying an all-to-all from the GPU");
    }
  } else {
    counters_.messages_sent += n - 1;
  }

  (*recv)[static_cast<size_t>(me)].swap((*send)[static_cast<size_t>(me)]);
  for (int p = 0; p < n; ++p) {
    (*send)[static_cast<size_t>(p)].clear();
    if (p == me) continue;
    Buffer& b = (*recv)[static_cast<size_t>(p)];
    b.clear();
    const size_t bytes = static_cast<size_t>(recv_bytes_[static_cast<size_t>(p)]);
    if (bytes > 0) b.append(host_recv_ + recv_offset_[static_cast<size_t>(p)], bytes);
  }
}

void NcclExchange::AllToAllDevice(DeviceMemory* memory, const std::vector<DeviceSpan>& send,
                                  const std::vector<DeviceSpan>& recv) {
  const int n = size(), me = rank();
  CFPS_CHECK_EQ(send.size(), static_cast<size_t>(n));
  CFPS_CHECK_EQ(recv.size(), static_cast<size_t>(n));
  ++counters_.collectives;
  const DeviceSpan& self = send[static_cast<size_t>(me)];
  CFPS_CHECK_EQ(self.bytes, recv[static_cast<size_t>(me)].bytes);
  if (self.bytes > 0)
    memory->CopyOnDevice(recv[static_cast<size_t>(me)].data, self.data, self.bytes);
  send_bytes_.assign(static_cast<size_t>(n), 0);
  send_at_.assign(static_cast<size_t>(n), nullptr);
  recv_at_.assign(static_cast<size_t>(n), nullptr);
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    send_bytes_[static_cast<size_t>(p)] = static_cast<int64_t>(send[static_cast<size_t>(p)].bytes);
    send_at_[static_cast<size_t>(p)] = static_cast<char*>(send[static_cast<size_t>(p)].data);
    recv_at_[static_cast<size_t>(p)] = static_cast<char*>(recv[static_cast<size_t>(p)].data);
  }
  ExchangeByteCounts();
  for (int p = 0; p < n; ++p) {  // both ends know the sizes: a mismatch is a bug
    if (p != me) {
      CFPS_CHECK_EQ(recv_bytes_[static_cast<size_t>(p)],
                    static_cast<int64_t>(recv[static_cast<size_t>(p)].bytes));
    }
  }
  // The payload goes from GPU to GPU: the spans are in this rank's GPU memory.
  CheckCuda(cudaSetDevice(gpu_), "cudaSetDevice");
  SendAndReceive(send_at_.data(), recv_at_.data());
}

}  // namespace

Status MakeNcclExchange(MPI_Comm comm, int gpu, double timeout_s, std::unique_ptr<Exchange>* out) {
  auto exchange = std::make_unique<NcclExchange>(comm, gpu);
  CFPS_RETURN_IF_ERROR(exchange->Init(timeout_s));
  *out = std::move(exchange);
  return Status::OK();
}

}  // namespace cfps
