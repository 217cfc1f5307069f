#include "common/mpi_exchange.h"

#include <sys/prctl.h>
#include <sched.h>
#include <time.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/status.h"

namespace cfps {

namespace {
constexpr int kAllToAllTag = 7001;

void CheckMpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    internal::CheckFailed(__FILE__, __LINE__, std::string(what) + ": " + std::string(text, len));
  }
}
}  // namespace

void ReduceTimerSlack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); }

void PoliteWait::Reset() { started_ = false; }

void PoliteWait::Idle() {
  auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    start_ = now;
    sleep_us_ = config_.min_sleep_us;
    return;
  }
  double waited_us = std::chrono::duration<double, std::micro>(now - start_).count();
  if (waited_us < config_.spin_us) return;
  if (waited_us < config_.yield_us) {
    sched_yield();
    return;
  }
  timespec ts{0, static_cast<long>(sleep_us_ * 1000.0)};
  nanosleep(&ts, nullptr);
  sleep_us_ = std::min(sleep_us_ * 2.0, config_.max_sleep_us);
}

MpiExchange::MpiExchange(MPI_Comm comm) {
  CheckMpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  ReduceTimerSlack();
  // Tuning knobs for experiments and unusual machines (README.md, "Waiting").
  if (const char* v = std::getenv("CFPS_WAIT_SPIN_US")) wait_config_.spin_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_YIELD_US")) wait_config_.yield_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_MIN_SLEEP_US")) wait_config_.min_sleep_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_MAX_SLEEP_US")) wait_config_.max_sleep_us = std::atof(v);
}

MpiExchange::~MpiExchange() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiExchange::WaitAll(std::vector<MPI_Request>* requests) {
  PoliteWait wait(wait_config_);
  for (;;) {
    int done = 0;
    CheckMpi(MPI_Testall(static_cast<int>(requests->size()), requests->data(), &done,
                         MPI_STATUSES_IGNORE),
             "MPI_Testall");
    if (done) return;
    wait.Idle();
  }
}

void MpiExchange::WaitOne(MPI_Request* request) {
  PoliteWait wait(wait_config_);
  for (;;) {
    int done = 0;
    CheckMpi(MPI_Test(request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    wait.Idle();
  }
}

void MpiExchange::AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) {
  send->resize(static_cast<size_t>(size_));
  recv->resize(static_cast<size_t>(size_));
  ++counters_.collectives;
  requests_.clear();
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    Buffer& b = (*send)[static_cast<size_t>(p)];
    CFPS_CHECK_LT(b.size(), static_cast<size_t>(INT_MAX));
    requests_.emplace_back();
    CheckMpi(MPI_Isend(b.data(), static_cast<int>(b.size()), MPI_BYTE, p, kAllToAllTag, comm_,
                       &requests_.back()),
             "MPI_Isend");
    counters_.bytes_sent += static_cast<int64_t>(b.size());
    ++counters_.messages_sent;
  }
  (*recv)[static_cast<size_t>(rank_)].swap((*send)[static_cast<size_t>(rank_)]);
  (*send)[static_cast<size_t>(rank_)].clear();

  // Match each source's message as it arrives; the probe tells its size.
  pending_.assign(static_cast<size_t>(size_), 1);
  pending_[static_cast<size_t>(rank_)] = 0;
  int remaining = size_ - 1;
  PoliteWait wait(wait_config_);
  while (remaining > 0) {
    bool progress = false;
    for (int p = 0; p < size_; ++p) {
      if (!pending_[static_cast<size_t>(p)]) continue;
      int flag = 0;
      MPI_Message message;
      MPI_Status status;
      CheckMpi(MPI_Improbe(p, kAllToAllTag, comm_, &flag, &message, &status), "MPI_Improbe");
      if (!flag) continue;
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      Buffer& b = (*recv)[static_cast<size_t>(p)];
      b.resize(static_cast<size_t>(count));
      MPI_Request request;
      CheckMpi(MPI_Imrecv(b.data(), count, MPI_BYTE, &message, &request), "MPI_Imrecv");
      WaitOne(&request);
      counters_.bytes_received += count;
      pending_[static_cast<size_t>(p)] = 0;
      --remaining;
      progress = true;
    }
    if (progress) {
      wait.Reset();
    } else {
      wait.Idle();
    }
  }
  WaitAll(&requests_);
  for (int p = 0; p < size_; ++p) (*send)[static_cast<size_t>(p)].clear();
}

void MpiExchange::AllReduceSum(double* values, int n) {
  ++counters_.collectives;
  MPI_Request request;
  CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, comm_, &request),
           "MPI_Iallreduce");
  WaitOne(&request);
}

void MpiExchange::AllReduceMax(double* values, int n) {
  ++counters_.collectives;
  MPI_Request request;
  CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, comm_, &request),
           "MPI_Iallreduce");
  WaitOne(&request);
}

void MpiExchange::Broadcast(void* data, size_t bytes, int root) {
  ++counters_.collectives;
  CFPS_CHECK_LT(bytes, static_cast<size_t>(INT_MAX));
  MPI_Request request;
  CheckMpi(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_, &request),
           "MPI_Ibcast");
  WaitOne(&request);
}

void MpiExchange::Barrier() {
  ++counters_.collectives;
  MPI_Request request;
  CheckMpi(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  WaitOne(&request);
}

}  // namespace cfps
