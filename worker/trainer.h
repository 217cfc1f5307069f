#pragma once
// Trainer: the BSP step, run by every rank whatever its roles (server, worker or both).
//
// One training step (three AllToAllV rounds over all ranks; two with pre-pull, below):
//   1. request  worker -> every shard:  [int32 nu][int32 ni][nu local user ids][ni local item ids]
//               (the unique rows of the worker's slice that the shard owns; sent even when empty)
//   2. reply    shard -> worker:        nu user rows then ni item rows, (k+1) floats each
//   3. push     worker -> shard:        the gradient rows, same order as the request
// The shard keeps each worker's request until the push, so ids cross the wire once. It sums the
// pushed rows in increasing worker rank and runs the optimizer on exactly those rows with the lr
// and momentum of the global step. Evaluation uses rounds 1 and 2 only.
//
// Pre-pull (TrainConfig::prepull; in the cluster mode, where no rank both serves and trains): the
// request of step g+1 travels in the reply round of step g, the other way (workers to shards), so
// that the shards gather the rows of step g+1 while the workers compute step g. After the update
// of step g a shard copies again the rows of that gather which step g updated, and at step g+1
// sends the reply without a request round: the same rows, bit for bit, as a gather after the
// update, with the gather off the step's critical path. Two rounds per step (the reply of step g
// with the request of step g+1, and the push); an epoch's first step has its own request round
// (the epoch's order is drawn at its start), and its last requests nothing.
//
// The device-resident step (ExchangeStepOnDevice; a rank that serves a shard on a GPU and trains
// there, e.g. the single-node GPU mode): the same rounds, messages and bytes, with the rows of
// round 2 and the gradient rows of round 3 in device memory from the shard's gather to its
// optimizer (Exchange::AllToAllDevice moves them; over NCCL from GPU to GPU). Same bits as the
// host step (tested with host twins of the device, tests/mpi/trainer_test.cc).
//
// Counted per worker and step: bytes_pulled = sum over shards of (8 + 4*(nu+ni)) + 4*(k+1)*(nu+ni);
// bytes_pushed = 4*(k+1)*(nu+ni). With S shards: (U+I)*(4*(k+1)+4) + 8*S pulled for U unique users
// and I unique items, never one row per rating.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/buffer.h"
#include "common/dataset.h"
#include "common/device_memory.h"
#include "common/exchange.h"
#include "common/roles.h"
#include "common/schedule.h"
#include "common/thread_pool.h"
#include "ps/shard.h"
#include "worker/batch.h"
#include "worker/batch_kernels.h"
#include "worker/kernels.h"

namespace cfps {

struct TrainConfig {
  ModelDims dims;
  int epochs = 5;
  int64_t batch_size = 64;
  OptimizerConfig optimizer;
  ScheduleKind schedule = ScheduleKind::kOneCycle;
  double lr = 5e-3;
  uint64_t seed = 42;
  // --order blocked: the rating matrix cut into order_blocks x order_blocks tiles visited one after
  // the other (worker/batch.h, BlockedEpochOrder); 1: the plain random order (--order random).
  int order_blocks = 1;
  double init_std = 0.01;
  int64_t eval_batch = 16384;  // validation ratings per worker per evaluation round
  int threads = 1;             // threads of this rank for the phases of a step (>= 1)
  // Phases of fewer samples run on the calling thread alone (tests set 1 to split everything).
  int64_t min_parallel_samples = 512;
  // With one rank (it serves the only shard and is the only worker), run the step on the shard's
  // own rows: no pull copies, no push copies. Same bits as the exchange path (tested); false forces
  // the exchange path, for that test.
  bool fused_single_rank = true;
  // Where a worker rank computes (worker/batch_kernels.h): kCpu (the phases above) or kCuda on
  // GPU `gpu`, resolved from --device by ChooseDevice. Ranks that only serve ignore it.
  Device device = Device::kCpu;
  int gpu = -1;
  // A worker of the exchange path with 2 or more threads reads, dedups and groups the batch of
  // step g+1 on one of them while the others run step g (its exchange and math). Same bits
  // (tested); false keeps it serial, for that test.
  bool prepare_ahead = true;
  // Pre-pull (see the top of this file) where the roles allow it (PrePulls). Same bits (tested);
  // false keeps the request of each step in its own step, for that test.
  bool prepull = true;
  // Where a rank that serves keeps its shard (ps/device_table.h): by default in host memory, or,
  // when it also trains with kCuda (the single-node GPU mode), in its GPU's memory with the
  // optimizer running there. A factory given here is used by every serving rank instead (tests:
  // a host-memory twin).
  DeviceTableFactory shard_device;
  // The device-resident step (ExchangeStepOnDevice): a rank that serves a shard on a device and
  // trains keeps the step's rows and gradient rows in that device's memory, and the exchange moves
  // them there (Exchange::AllToAllDevice: over NCCL from GPU to GPU). By default a CUDA rank's
  // GPU memory (with --device cuda and a shard on the GPU); a factory given here is used instead
  // on such ranks (tests: host-memory twins of both, tests/unit/host_device_table.h).
  std::function<std::unique_ptr<DeviceMemory>()> step_memory;
};

// Whether the job runs the fused single-rank step (TrainConfig::fused_single_rank, and a job of
// one rank whose shard is in host memory and whose math is on the CPU).
bool RunsFused(const TrainConfig& config, const Roles& roles);

// Whether `rank` prepares each step's batch during the step before it on a thread of its own
// (TrainConfig::prepare_ahead): then it keeps two batches more (launch/memory_plan.cc).
bool PreparesAhead(const TrainConfig& config, const Roles& roles, int rank);

// The threads that build `rank`'s epoch order (BlockedEpochOrder keeps a count per thread per
// tile: launch/memory_plan.cc): the preparing pool's when it PreparesAhead, else --threads.
int OrderThreads(const TrainConfig& config, const Roles& roles, int rank);

// Whether the job pre-pulls (TrainConfig::prepull, a job of several ranks none of which both
// serves and trains: there the shard's gather of the next step's rows runs beside the worker's
// math; a rank that does both would only do the gather earlier, and a refresh more). The same
// answer on every rank. Then a worker keeps one batch more, a shard one reply more.
bool PrePulls(const TrainConfig& config, const Roles& roles);

struct EpochMetrics {
  int epoch = 0;
  int64_t step = 0;          // global steps done so far
  double train_loss = 0;     // mean squared error over the epoch's training ratings
  double valid_mse = 0;      // NaN when there are no validation ratings (valid_count 0)
  double valid_rmse = 0;     // likewise
  double seconds = 0;        // the whole epoch, evaluation included
  double train_seconds = 0;  // the training steps only
  double ratings_per_s = 0;  // training ratings / train_seconds
  int64_t bytes_pulled = 0;  // over all workers, this epoch
  int64_t bytes_pushed = 0;
  int64_t valid_count = 0;
  int64_t valid_unknown = 0;
};

// Per-rank counters for tests and reports.
struct StepStats {
  int64_t steps = 0;
  int64_t bytes_pulled = 0;
  int64_t bytes_pushed = 0;
  int64_t rows_pulled = 0;
  int64_t batches_ahead = 0;  // batches this worker prepared during the step before theirs
};

class Trainer {
 public:
  // `data` must outlive the trainer and be identical on every rank. Collective.
  Trainer(Exchange* exchange, const Roles& roles, const Dataset* data, const TrainConfig& config);
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t total_steps() const { return schedule_.total_steps; }

  struct Hooks {
    // Rank 0, after each epoch.
    std::function<void(const EpochMetrics&)> on_epoch;
    // Every rank, after each step, with the global steps done and whether an epoch just ended;
    // may run collectives (every rank calls it identically). Returns true to stop training.
    std::function<bool(int64_t steps_done, bool epoch_end)> after_step;
  };
  // Runs the steps from global step `start_step` (0, or a checkpoint's step) to the end of the
  // last epoch. The data order and schedule are pure functions of the global step, so a run
  // resumed at step g continues exactly as if it had never stopped. Collective.
  // Returns the global steps done when it returned.
  int64_t Train(int64_t start_step, const Hooks& hooks);
  // Runs one global step (0-based across epochs) with the given epoch order. Collective.
  void Step(int64_t global_step, const std::vector<int32_t>& order);
  // Mean squared error over the validation set (sse, count) on every rank. Collective.
  void Evaluate(double* sse, int64_t* count);

  // Full tables on rank `root` (rows in global order, (k+1) floats each); empty elsewhere.
  void GatherModel(int root, std::vector<float>* users, std::vector<float>* items);

  Shard* shard() { return shard_.get(); }
  // Whether this rank runs the device-resident step (TrainConfig::step_memory).
  bool device_step() const { return device_memory_ != nullptr; }
  const StepStats& stats() const { return stats_; }
  double train_sse() const { return train_sse_; }

 private:
  // Worker side of rounds 1-2 for the rows of `users`/`items` (n samples): fills user_slot_,
  // item_slot_ and the pulled rows urow_base_, irow_base_ (slot order). Those are urows_ and
  // irows_, plus a zero row each for unknown ids, except in training with one shard: then they
  // point into the shard's reply itself (no copy; valid until the next exchange). Shard side
  // answers. Every rank calls it (n = 0 when not a worker).
  void Pull(const int32_t* users, const int32_t* items, int64_t n);
  // Pull for rows already grouped: user_slot_/item_slot_ and the grouped unique rows below.
  void PullGrouped();
  // The request round of the grouped unique rows in user_unique_ etc. (into the shards'
  // requests_), and the shards' replies put in send_.
  void RequestRows();
  // Its first half: the requests only (round 1), without the shard's gather.
  void RequestRowIds();
  // A worker's counts of the step's pull and push (StepStats), from the grouped unique rows.
  void CountPull();
  // A worker's request for grouped unique rows (user_unique/item_unique cut by the offsets): one
  // per shard rank, into send.
  void BuildRequests(const std::vector<int32_t>& user_unique,
                     const std::vector<int64_t>& user_offsets,
                     const std::vector<int32_t>& item_unique,
                     const std::vector<int64_t>& item_offsets, std::vector<Buffer>* send);
  // The reply round (the shards' send_ holds their rows; with pre-pull the workers' send_ holds
  // the next step's requests, which the shards receive into replies_) and the worker's view of
  // the rows.
  void ReceiveRows();
  // Shard side: the rows each request asks for, into replies[source].
  void Serve(const std::vector<Buffer>& requests, std::vector<Buffer>* replies);
  // Shard side of pre-pull, after the update of global_step: the rows of next_rows_ that this
  // step's requests (requests_) updated are copied again from the shard.
  void RefreshPrepulled(int64_t global_step);
  // The whole step of a single-rank job on the shard's rows (see fused_single_rank). With two
  // threads and sgd or adagrad, one computes step g while the other prepares the batch of step g+1
  // (PrepareBatch); with Adam on two threads, or with more threads, FusedStepPhased splits every
  // phase among them.
  void FusedStep(int64_t global_step, const std::vector<int32_t>& order);
  void FusedStepPhased(int64_t global_step, const std::vector<int32_t>& order);
  // Thread t's share of the records idx[0..n) into batch_users_, batch_items_, batch_ratings_.
  void GatherShare(const int32_t* idx, int64_t n, int t, int threads);
  // This worker's slice of a step's batch, read from the training ratings and deduplicated, its
  // unique rows grouped by shard (RowGrouper): ready for the exchange or the fused math.
  struct PreparedBatch {
    int64_t step = -1;
    const int32_t* order = nullptr;  // the epoch order it was read with
    std::vector<int32_t> users, items, user_slot, item_slot, user_unique, item_unique;
    std::vector<int64_t> user_offsets, item_offsets;
    std::vector<float> ratings;
  };
  void PrepareBatch(int64_t global_step, const std::vector<int32_t>& order, PreparedBatch* b);
  // The prepared batch of a step: the one prepared during the step before, or prepared now.
  PreparedBatch& BatchOf(int64_t global_step, const std::vector<int32_t>& order);
  // step() on the calling thread while the pool's other thread (a pool of 2) prepares the batch
  // of step global_step + ahead (2 when pre-pulling: the next one is read before the step), when
  // that step is in this epoch; else step() alone.
  template <typename F>
  void RunPreparingNext(ThreadPool* pool, int64_t global_step, const std::vector<int32_t>& order,
                        F&& step, int64_t ahead = 1);
  // The exchange path's step after its batch is in place (the worker's slice, grouped), and, when
  // pre-pulling, the batch of the next step prepared.
  void ExchangeStep(int64_t global_step, int64_t length);
  // ExchangeStep with the payload in device_memory_: the same rounds and bytes (requests on the
  // host; rows and gradient rows in device memory, moved with AllToAllDevice); the shard gathers
  // into it, the kernels read and write it, the shard sums and updates from it. No pre-pull (a
  // rank that serves and trains never pre-pulls).
  void ExchangeStepOnDevice(int64_t global_step, int64_t length);
  // The first global step after global_step's epoch.
  int64_t EpochEnd(int64_t global_step) const {
    return (global_step / steps_per_epoch_ + 1) * steps_per_epoch_;
  }
  // Whether step global_step sends the request of the next one (not across an epoch's end).
  bool PrePullsNext(int64_t global_step) const {
    return prepull_ && global_step + 1 < EpochEnd(global_step);
  }
  // [begin, begin + length) of the epoch order: the global batch of a step.
  void BatchOfStep(int64_t global_step, int64_t* begin, int64_t* length) const;
  // A fused step's traffic counted as the exchange path with one shard would count it.
  void CountFusedStep(int64_t rows_touched);
  // The worker's forward and backward on the pulled rows, over the pool, into one gradient row
  // per unique user (ugrad) and item (igrad); returns the slice's SSE.
  double ComputeGradients(int64_t n, int64_t global_batch, float* ugrad, float* igrad);
  // The shard side of the push: pushed_[src] holds the gradient rows of requests_[src], in host
  // memory or (on_device) in the device memory of the shard's table. Several workers' rows are
  // summed in worker order (Shard::AddGradients), then the optimizer runs (Shard::ApplyStep); one
  // worker's go straight to the optimizer (the sum of one is that row: the same bits).
  void ApplyPushes(int64_t global_step, bool on_device);

  Exchange* exchange_;
  Roles roles_;
  const Dataset* data_;
  TrainConfig config_;
  Schedule schedule_;
  int rank_;
  int worker_ = -1;  // worker index, -1 when not a worker
  int width_;
  int64_t steps_per_epoch_;
  std::unique_ptr<Shard> shard_;
  // The CUDA kernels of a worker with --device cuda (then no fused step); nullptr: the CPU phases.
  std::unique_ptr<BatchKernels> kernels_;
  // The device-resident step's memory and buffers (TrainConfig::step_memory); null: host payload.
  std::unique_ptr<DeviceMemory> device_memory_;
  DeviceBuffer served_rows_, pulled_rows_, step_rows_, step_grads_, push_rows_, pushed_rows_;
  std::vector<DeviceSpan> device_send_, device_recv_;
  // Byte offsets, by rank, of the requesters' payloads (as a shard) and the shards' (as a worker).
  std::vector<size_t> request_at_, shard_at_;

  // Worker state, reused every step. The grouped unique rows of the batch in use (RowGrouper's
  // unique() and offsets(), kept apart from the groupers, which prepare the next batch).
  RowGrouper user_groups_, item_groups_;
  std::vector<int32_t> user_unique_, item_unique_;
  std::vector<int64_t> user_offsets_, item_offsets_;
  std::vector<int32_t> user_slot_, item_slot_, batch_users_, batch_items_;
  std::vector<float> batch_ratings_;
  // The step whose records FusedStepPhased read into the batch's vectors ahead, during the step
  // before it, and the epoch order it read them from; -1 when none.
  int64_t gathered_step_ = -1;
  const int32_t* gathered_order_ = nullptr;
  TileCounts tile_counts_;  // of the blocked order, the same every epoch
  std::vector<float> urows_, irows_, ugrad_, igrad_;
  const float* urow_base_ = nullptr;
  const float* irow_base_ = nullptr;
  std::vector<Buffer> send_, requests_, replies_, pushes_;
  std::vector<const float*> pushed_;  // ApplyPushes' rows of each source
  // Pre-pull: a shard's requests of the next step and its reply to them, gathered during this
  // step; prepulled_step_ is that step, -1 when none.
  bool prepull_ = false;
  std::vector<Buffer> next_requests_, next_rows_;
  int64_t prepulled_step_ = -1;
  // Shard side: per table and local row, 1 + the last global step whose update it was in
  // (RefreshPrepulled; a stale equal value only costs a needless copy); the ids to copy again.
  std::vector<uint32_t> updated_at_[2];
  std::vector<int32_t> refresh_ids_, refresh_at_;
  std::vector<float> refresh_rows_;

  // Threads for a phase of n samples or rows: the pool for big phases, the caller alone for small
  // ones (a fork-join costs microseconds; a batch of 64 takes about ten). Same bits either way.
  int PhaseThreads(int64_t n) const {
    return n >= config_.min_parallel_samples ? pool_->size() : 1;
  }
  template <typename F>
  void RunPhase(int threads, F&& fn) {
    if (threads == 1) {
      fn(0);
    } else {
      pool_->Run(fn);
    }
  }
  std::unique_ptr<ThreadPool> pool_;
  // Prepares the next batch beside the step (PreparesAhead): the caller runs the step, its one
  // helper PrepareBatch; pool_ then has the other threads.
  std::unique_ptr<ThreadPool> ahead_pool_;
  bool fused_ = false;
  PreparedBatch prepared_[2];  // of even and odd steps
  std::vector<float> err_, delta_;
  std::vector<int32_t> ucount_, icount_, ubounds_, ibounds_;

  StepStats stats_;
  int64_t current_step_ = 0;  // for the watchdog's message
  bool evaluating_ = false;
  double train_sse_ = 0;  // this worker's sum of squared errors since the last epoch start
};

}  // namespace cfps
