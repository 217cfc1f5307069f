#include "common/mpi_exchange.h"

#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "common/status.h"

namespace cfps {

namespace {
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

double PoliteWait::waited_seconds() const {
  if (!started_) return 0.0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

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
  last_heard_.assign(static_cast<size_t>(size_), "nothing yet");
  last_heard_step_.assign(static_cast<size_t>(size_), -1);
  ReduceTimerSlack();
  // Tuning knobs for experiments and unusual machines (README.md, "Waiting").
  if (const char* v = std::getenv("CFPS_WAIT_SPIN_US")) wait_config_.spin_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_YIELD_US")) wait_config_.yield_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_MIN_SLEEP_US"))
    wait_config_.min_sleep_us = std::atof(v);
  if (const char* v = std::getenv("CFPS_WAIT_MAX_SLEEP_US"))
    wait_config_.max_sleep_us = std::atof(v);
}

MpiExchange::~MpiExchange() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiExchange::WaitSends(const char* what) {
  PoliteWait wait(wait_config_);
  for (;;) {
    int done = 0;
    CheckMpi(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done,
                         MPI_STATUSES_IGNORE),
             "MPI_Testall");
    if (done) return;
    wait.Idle();
    if (Expired(wait)) {
      // MPI_Request_get_status leaves the requests as they are.
      missing_.clear();
      for (size_t i = 0; i < requests_.size(); ++i) {
        int complete = 0;
        MPI_Request_get_status(requests_[i], &complete, MPI_STATUS_IGNORE);
        if (!complete) missing_.push_back(send_peers_[i]);
      }
      TimedOut(wait.waited_seconds(), what, missing_, "this rank's message not yet taken by");
    }
  }
}

void MpiExchange::WaitTransfer(MPI_Request* request, int source) {
  PoliteWait wait(wait_config_);
  for (;;) {
    int done = 0;
    CheckMpi(MPI_Test(request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    wait.Idle();
    if (Expired(wait)) {
      TimedOut(wait.waited_seconds(), "a message transfer", {source}, "unfinished from");
    }
  }
}

void MpiExchange::TimedOut(double waited, const char* what, const std::vector<int>& missing,
                           const char* label) {
  // The log prefix names this rank and its role ("cfps train[rank 1 worker]: error: ...").
  std::string text =
      "waited " + std::to_string(static_cast<int>(waited)) + " s (--timeout " +
      std::to_string(static_cast<int>(timeout_s_)) + ") in " + what + " at " +
      (activity_step_ >= 0 ? "step " + std::to_string(activity_step_) + " (" + activity_ + ")"
                           : std::string(activity_));
  if (!missing.empty()) {
    text += std::string("; ") + label;
    for (size_t j = 0; j < missing.size(); ++j) {
      const int p = missing[j];
      text += std::string(j ? ";" : "") + " " + RankName(p) + ", last heard at " +
              (last_heard_step_[p] >= 0
                   ? "step " + std::to_string(last_heard_step_[p]) + " (" + last_heard_[p] + ")"
                   : std::string(last_heard_[p]));
    }
  }
  text +=
      ". Aborting the job: a rank is stopped, hung or unreachable (check that process and "
      "its host; if steps are legitimately this slow, raise --timeout, or 0 to wait forever)";
  LogError(text);
  MPI_Abort(comm_, 3);
  std::abort();
}

void MpiExchange::AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) {
  ExchangeBuffers(send, recv, "an all-to-all");
}

void MpiExchange::ExchangeBuffers(std::vector<Buffer>* send, std::vector<Buffer>* recv,
                                  const char* what) {
  send->resize(static_cast<size_t>(size_));
  recv->resize(static_cast<size_t>(size_));
  ++counters_.collectives;
  requests_.clear();
  send_peers_.clear();
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    Buffer& b = (*send)[static_cast<size_t>(p)];
    CFPS_CHECK_LT(b.size(), static_cast<size_t>(INT_MAX));
    requests_.emplace_back();
    send_peers_.push_back(p);
    CheckMpi(MPI_Isend(b.data(), static_cast<int>(b.size()), MPI_BYTE, p, kTag, comm_,
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
      CheckMpi(MPI_Improbe(p, kTag, comm_, &flag, &message, &status), "MPI_Improbe");
      if (!flag) continue;
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      Buffer& b = (*recv)[static_cast<size_t>(p)];
      b.resize(static_cast<size_t>(count));
      MPI_Request request;
      CheckMpi(MPI_Imrecv(b.data(), count, MPI_BYTE, &message, &request), "MPI_Imrecv");
      WaitTransfer(&request, p);
      counters_.bytes_received += count;
      pending_[static_cast<size_t>(p)] = 0;
      last_heard_[static_cast<size_t>(p)] = activity_;
      last_heard_step_[static_cast<size_t>(p)] = activity_step_;
      --remaining;
      progress = true;
    }
    if (progress) {
      wait.Reset();
    } else {
      wait.Idle();
      if (Expired(wait)) {
        missing_.clear();
        for (int p = 0; p < size_; ++p) {
          if (pending_[static_cast<size_t>(p)]) missing_.push_back(p);
        }
        TimedOut(wait.waited_seconds(), what, missing_, "no message from");
      }
    }
  }
  WaitSends(what);
  for (int p = 0; p < size_; ++p) (*send)[static_cast<size_t>(p)].clear();
}

// The collectives run on the same polled point-to-point exchange as AllToAllV (every rank sends
// its values to every rank): the watchdog then knows exactly which ranks did not arrive, the
// waits stay polite, and sums are taken in rank order, the same on every rank and every run.
void MpiExchange::Collective(const void* data, size_t bytes, bool send_to_all, const char* what) {
  coll_send_.resize(static_cast<size_t>(size_));
  for (int p = 0; p < size_; ++p) {
    Buffer& b = coll_send_[static_cast<size_t>(p)];
    b.clear();
    if (send_to_all) b.append(data, bytes);
  }
  ExchangeBuffers(&coll_send_, &coll_recv_, what);
}

void MpiExchange::AllReduceSum(double* values, int n) {
  Collective(values, sizeof(double) * static_cast<size_t>(n), true, "an allreduce");
  for (int i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int p = 0; p < size_; ++p) sum += coll_recv_[static_cast<size_t>(p)].as<double>()[i];
    values[i] = sum;
  }
}

void MpiExchange::AllReduceMax(double* values, int n) {
  Collective(values, sizeof(double) * static_cast<size_t>(n), true, "an allreduce");
  for (int i = 0; i < n; ++i) {
    double best = coll_recv_[0].as<double>()[i];
    for (int p = 1; p < size_; ++p)
      best = std::max(best, coll_recv_[static_cast<size_t>(p)].as<double>()[i]);
    values[i] = best;
  }
}

void MpiExchange::Broadcast(void* data, size_t bytes, int root) {
  Collective(data, bytes, rank_ == root, "a broadcast");
  const Buffer& b = coll_recv_[static_cast<size_t>(root)];
  CFPS_CHECK_EQ(b.size(), bytes);
  if (rank_ != root && bytes) std::memcpy(data, b.data(), bytes);
}

void MpiExchange::Barrier() { Collective(nullptr, 0, false, "a barrier"); }

}  // namespace cfps
