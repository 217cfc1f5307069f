#pragma once
// Exchange: the one interface that carries the BSP step between ranks. A fixed group of ranks
// 0..size()-1 calls the same collectives in the same order (every call is collective).
//
//  - AllToAllV: every rank hands one buffer per destination rank (possibly empty) and receives one
//    buffer per source rank. Sizes need not be known by the receiver in advance. The send buffers
//    are consumed: on return they are empty or hold unspecified bytes, but stay reusable, so a
//    caller that keeps its buffers across steps allocates nothing in the steady state.
//  - AllToAllDevice: the same round for a payload in device memory whose sizes both ends know
//    (the pulled rows and the pushed gradient rows of the device-resident step, issue 5).
//  - AllReduceSum / AllReduceMax of doubles, Broadcast of bytes, Barrier: for metrics and control.
//
// Implementations: MpiExchange (host memory, any number of ranks; common/mpi_exchange.h) and
// LocalExchange (one rank, no MPI traffic; below). Waiting ranks must not burn a core: the MPI
// implementation polls non-blocking calls with a short spin and then sleeps (see PoliteWait).
// Not thread-safe: one thread per rank drives its exchange.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/buffer.h"
#include "common/device_memory.h"
#include "common/status.h"

namespace cfps {

// Bytes this rank moved to and from *other* ranks (self-messages are not counted).
// Bytes of device memory (common/device_memory.h) to or from one peer.
struct DeviceSpan {
  void* data = nullptr;
  size_t bytes = 0;
};

struct TrafficCounters {
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t messages_sent = 0;
  int64_t collectives = 0;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // send->size() and recv->size() are resized to size(). (*recv)[p] receives what rank p sent.
  virtual void AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) = 0;
  // send[p] goes to rank p and lands in what rank p gave as its recv[this rank]; recv[p].bytes
  // must be what p sends (a mismatch is a bug: CFPS_CHECK), send[rank()] is copied on the device
  // into recv[rank()]. Both vectors have size() spans. On the wire and in the counters it is one
  // AllToAllV of the same bytes, so ranks whose payload is in host memory may take part with
  // AllToAllV. This default stages the spans through host Buffers; NcclExchange sends them from
  // GPU to GPU.
  virtual void AllToAllDevice(DeviceMemory* memory, const std::vector<DeviceSpan>& send,
                              const std::vector<DeviceSpan>& recv);
  virtual void AllReduceSum(double* values, int n) = 0;
  virtual void AllReduceMax(double* values, int n) = 0;
  virtual void Broadcast(void* data, size_t bytes, int root) = 0;
  virtual void Barrier() = 0;

  const TrafficCounters& counters() const { return counters_; }

  // What this rank is doing, for the watchdog's message ("step 1234: rows"). `what` must be a
  // string literal (it is kept, not copied). Cheap: called several times per step.
  void SetActivity(const char* what, int64_t step) {
    activity_ = what;
    activity_step_ = step;
  }
  // The watchdog: a wait longer than `seconds` (0: never) aborts the whole job with one line that
  // names this rank, the ranks that did not arrive and what they were last heard doing.
  void set_timeout(double seconds) { timeout_s_ = seconds; }
  // Role of every rank ("server", "worker", ...), used in the watchdog's message.
  void set_rank_names(std::vector<std::string> names) { rank_names_ = std::move(names); }

 protected:
  std::string RankName(int rank) const;
  TrafficCounters counters_;
  const char* activity_ = "start-up";
  int64_t activity_step_ = -1;
  double timeout_s_ = 0;
  std::vector<std::string> rank_names_;

 private:
  std::vector<Buffer> device_send_, device_recv_;  // AllToAllDevice's host staging
};

// The exchange of a single process that serves and trains: every message is to itself.
class LocalExchange final : public Exchange {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void AllToAllV(std::vector<Buffer>* send, std::vector<Buffer>* recv) override {
    send->resize(1);
    recv->resize(1);
    (*recv)[0].swap((*send)[0]);
    (*send)[0].clear();
    ++counters_.collectives;
  }
  void AllReduceSum(double*, int) override { ++counters_.collectives; }
  void AllReduceMax(double*, int) override { ++counters_.collectives; }
  void Broadcast(void*, size_t, int) override { ++counters_.collectives; }
  void Barrier() override { ++counters_.collectives; }
};

}  // namespace cfps

namespace cfps {

// Agrees on an outcome across ranks (collective). Returns OK on every rank when every rank passed
// OK; otherwise every rank returns the error of the lowest failing rank, prefixed with that rank
// when it is not rank 0 of a multi-rank job. Ranks that read the same file fail the same way, so
// rank 0 can print the one line for all.
Status AgreeOnStatus(Exchange* exchange, const Status& local);

}  // namespace cfps
