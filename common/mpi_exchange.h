#pragma once
// MpiExchange: the Exchange over an MPI communicator, in host memory. Used by the cluster mode and
// as the CPU fallback of every mode.
//
// AllToAllV posts an MPI_Isend to every other rank (empty messages included: they carry the
// "nothing for you this step" and cost one small message), then matches incoming messages with
// MPI_Improbe so receivers learn the sizes without a separate round of counts. Every wait polls
// with a short spin and then sleeps with a growing backoff (PoliteWait): Open MPI's blocking calls
// spin at 100% CPU, and on a machine with fewer cores than ranks a spinning server starves the
// workers it is waiting for.
//
// Owns nothing global: MPI_Init/MPI_Finalize belong to main(). Copying is disabled because the
// object holds a duplicated communicator.

#include <mpi.h>

#include <chrono>
#include <vector>

#include "common/exchange.h"

namespace cfps {

// How a rank waits for a message: poll for spin_us, then poll with sched_yield() between polls
// until yield_us (on an oversubscribed machine this hands the core to the rank that has work),
// then sleep between polls from min_sleep_us doubling to max_sleep_us. Sleeping is the last
// resort: a nanosleep costs 40-100 us on a VM, far more than a training step at batch 64.
class PoliteWait {
 public:
  struct Config {
    double spin_us = 50;
    double yield_us = 20000;
    double min_sleep_us = 50;
    double max_sleep_us = 1000;
  };
  PoliteWait() : PoliteWait(Config()) {}
  explicit PoliteWait(const Config& config) : config_(config) {}
  void Reset();
  // Called after a poll that made no progress.
  void Idle();
  // Seconds since the first Idle() after the last Reset() (0 before).
  double waited_seconds() const;

 private:
  Config config_;
  std::chrono::steady_clock::time_point start_;
  double sleep_us_ = 0;
  bool started_ = false;
};

class MpiExchange final : public Exchange {
 public:
  // Duplicates `comm` so the exchange's messages never meet anyone else's.
  explicit MpiExchange(MPI_Comm comm);
  ~MpiExchange() override;
  MpiExchange(const MpiExchange&) = delete;
  MpiExchange& operator=(const MpiExchange&) = delete;

  // The tag of every message on the duplicated communicator.
  static constexpr int kTag = 7001;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) override;
  void AllReduceSum(double* values, int n) override;
  void AllReduceMax(double* values, int n) override;
  void Broadcast(void* data, size_t bytes, int root) override;
  void Barrier() override;

  void set_wait_config(const PoliteWait::Config& config) { wait_config_ = config; }

 private:
  // AllToAllV, with `what` naming it in the watchdog's message.
  void ExchangeBuffers(std::vector<Buffer>* send, std::vector<Buffer>* recv, const char* what);
  // Every rank sends `bytes` of `data` to every rank (or nothing, when !send_to_all); what each
  // rank sent lands in coll_recv_.
  void Collective(const void* data, size_t bytes, bool send_to_all, const char* what);
  // Waits for the sends in requests_ (to the ranks in send_peers_); on a timeout the watchdog's
  // message names the ranks that have not taken theirs.
  void WaitSends(const char* what);
  // Waits for the rest of a message from rank `source`.
  void WaitTransfer(MPI_Request* request, int source);
  // Whether `wait` has lasted longer than the watchdog allows (never with no timeout).
  bool Expired(const PoliteWait& wait) const {
    return timeout_s_ > 0 && wait.waited_seconds() > timeout_s_;
  }
  // Logs one line naming `what` was waited for and, after `label`, the ranks in `missing` with
  // what each was last heard doing; then aborts the job.
  [[noreturn]] void TimedOut(double waited, const char* what, const std::vector<int>& missing,
                             const char* label);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  PoliteWait::Config wait_config_;
  std::vector<MPI_Request> requests_;
  std::vector<int> send_peers_;  // the destination of each of requests_
  std::vector<char> pending_;
  std::vector<int> missing_;
  std::vector<Buffer> coll_send_, coll_recv_;
  // Per peer: the activity and step this rank was in when it last received from that peer.
  std::vector<const char*> last_heard_;
  std::vector<int64_t> last_heard_step_;
};

// Makes slow sleeps short: the default 50 us timer slack would turn every 2 us nap into 50 us.
void ReduceTimerSlack();

}  // namespace cfps
