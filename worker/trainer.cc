#include "worker/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/sharding.h"
#include "common/status.h"
#include "worker/phase_kernels.h"
#ifdef CFPS_HAVE_CUDA
#include "worker/cuda/cuda_memory.h"
#include "worker/cuda/cuda_table.h"
#endif

namespace cfps {

namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
constexpr size_t kHeaderBytes = 2 * sizeof(int32_t);

// A request as BuildRequests writes it: int32 counts nu and ni, then nu local user ids and ni
// local item ids. Checks the buffer's size against its counts (it came over the wire).
struct Request {
  int32_t count[2];
  const int32_t* ids[2];
  size_t rows() const { return static_cast<size_t>(count[0]) + static_cast<size_t>(count[1]); }
};
Request ReadRequest(const Buffer& req) {
  CFPS_CHECK_GE(req.size(), kHeaderBytes);
  const int32_t* p = req.as<int32_t>();
  CFPS_CHECK(p[0] >= 0 && p[1] >= 0);
  Request r{{p[0], p[1]}, {nullptr, nullptr}};
  CFPS_CHECK_EQ(req.size(), kHeaderBytes + sizeof(int32_t) * r.rows());
  r.ids[0] = p + 2;
  r.ids[1] = p + 2 + p[0];
  return r;
}

// The batch's columns from the training ratings idx[0, n) (read in random order: prefetched);
// a null column is not written.
void GatherBatch(const RatingArrays& train, const int32_t* idx, int64_t n, int32_t* users,
                 int32_t* items, float* ratings) {
  train.Read([&](auto reader) {
    constexpr int64_t kAhead = 64;
    for (int64_t i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(reader.address(static_cast<size_t>(idx[i + kAhead])));
      const Rating r = reader(static_cast<size_t>(idx[i]));
      if (users) users[i] = r.user;
      if (items) items[i] = r.item;
      if (ratings) ratings[i] = r.rating;
    }
  });
}
}  // namespace

bool RunsFused(const TrainConfig& config, const Roles& roles) {
  // Not with CUDA kernels, nor with a shard on a device (the fused step works on the shard's host
  // rows in place); the one rank serves and trains.
  return config.fused_single_rank && roles.num_ranks() == 1 && config.device != Device::kCuda &&
         !config.shard_device;
}

bool PreparesAhead(const TrainConfig& config, const Roles& roles, int rank) {
  // The fused single-rank step has its own pipeline (FusedStep).
  return config.prepare_ahead && config.threads >= 2 && roles.trains(rank) &&
         !RunsFused(config, roles);
}

namespace {
// The pool of a worker that PreparesAhead: the caller, which runs the step, and its one helper,
// which prepares the next batch (Trainer::ahead_pool_).
constexpr int kAheadThreads = 2;
}  // namespace

int OrderThreads(const TrainConfig& config, const Roles& roles, int rank) {
  return PreparesAhead(config, roles, rank) ? kAheadThreads : std::max(1, config.threads);
}

bool PrePulls(const TrainConfig& config, const Roles& roles) {
  if (!config.prepull || roles.num_ranks() < 2) return false;
  for (int r = 0; r < roles.num_ranks(); ++r) {
    if (roles.serves(r) && roles.trains(r)) return false;
  }
  return true;
}

Trainer::Trainer(Exchange* exchange, const Roles& roles, const Dataset* data,
                 const TrainConfig& config)
    : exchange_(exchange),
      roles_(roles),
      data_(data),
      config_(config),
      rank_(exchange->rank()),
      worker_(roles.worker_of_rank(exchange->rank())),
      width_(config.dims.k + 1),
      steps_per_epoch_(StepsPerEpoch(static_cast<int64_t>(data->train.size()), config.batch_size)),
      user_groups_(roles.trains(exchange->rank()) ? data->users.size() : 0),
      item_groups_(roles.trains(exchange->rank()) ? data->items.size() : 0) {
  CFPS_CHECK_EQ(exchange->size(), roles.num_ranks());
  CFPS_CHECK(config.batch_size > 0 && config.dims.k > 0);
  schedule_.kind = config.schedule;
  schedule_.lr_max = config.lr;
  schedule_.total_steps = std::max<int64_t>(1, steps_per_epoch_ * config.epochs);
  const bool ahead = PreparesAhead(config, roles, rank_);
  pool_ = std::make_unique<ThreadPool>(std::max(1, config.threads - (ahead ? 1 : 0)));
  if (ahead) ahead_pool_ = std::make_unique<ThreadPool>(kAheadThreads);
  DeviceTableFactory device = config.shard_device;
#ifdef CFPS_HAVE_CUDA
  if (!device && config.device == Device::kCuda && roles.serves(rank_) && roles.trains(rank_)) {
    const int gpu = config.gpu, rank = rank_;
    device = [gpu, rank](int64_t rows, int width, OptimizerKind kind) {
      return std::make_unique<cuda::CudaTable>(gpu, rank, rows, width, kind);
    };
  }
#endif
  if (roles.serves(rank_)) {
    ModelShape shape;
    shape.rows[kUserTable] = data->users.size();
    shape.rows[kItemTable] = data->items.size();
    shape.k = config.dims.k;
    shard_ = std::make_unique<Shard>(roles.shard_of_rank(rank_), roles.num_shards(), shape,
                                     config.optimizer, config.seed, config.init_std, pool_.get(),
                                     device);
  }
  if (worker_ >= 0 && config.device == Device::kCuda) {
    kernels_ = MakeBatchKernels(Device::kCuda, config.gpu, rank_);
  }
  fused_ = RunsFused(config, roles);
  CFPS_CHECK(!fused_ || (!kernels_ && !shard_->on_device()));
  if (worker_ >= 0 && shard_ && shard_->on_device()) {
    if (config.step_memory) {
      device_memory_ = config.step_memory();
    } else if (kernels_) {
#ifdef CFPS_HAVE_CUDA
      device_memory_ = std::make_unique<cuda::CudaDeviceMemory>(config.gpu, rank_);
#endif
    }
    // Without kernels the CPU math reads the payload in place: only a twin in host memory.
    CFPS_CHECK(!device_memory_ || kernels_ || device_memory_->host_addressable());
  }
  prepull_ = PrePulls(config, roles);
  if (prepull_ && shard_) {
    for (int t = 0; t < 2; ++t)
      updated_at_[t].assign(static_cast<size_t>(shard_->local_rows(t)), 0);
  }
  const size_t n = static_cast<size_t>(roles.num_ranks());
  for (auto* v : {&send_, &requests_, &replies_, &pushes_, &next_requests_, &next_rows_}) {
    v->resize(n);
  }
}

void Trainer::Pull(const int32_t* users, const int32_t* items, int64_t n) {
  if (worker_ >= 0) {
    const int num_shards = roles_.num_shards();
    user_groups_.Group(users, n, num_shards, &user_slot_);
    item_groups_.Group(items, n, num_shards, &item_slot_);
    user_unique_ = user_groups_.unique();
    item_unique_ = item_groups_.unique();
    user_offsets_ = user_groups_.offsets();
    item_offsets_ = item_groups_.offsets();
  }
  PullGrouped();
}

void Trainer::PullGrouped() {
  RequestRows();
  ReceiveRows();
}

void Trainer::RequestRows() {
  RequestRowIds();
  if (shard_) Serve(requests_, &send_);
}

void Trainer::RequestRowIds() {
  if (worker_ >= 0) {
    BuildRequests(user_unique_, user_offsets_, item_unique_, item_offsets_, &send_);
  }
  exchange_->SetActivity(evaluating_ ? "evaluation: ids" : "pull: ids", current_step_);
  exchange_->AllToAllV(&send_, &requests_);
}

void Trainer::CountPull() {
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(width_);
  for (int s = 0; s < roles_.num_shards(); ++s) {
    const size_t rows = static_cast<size_t>(user_offsets_[s + 1] - user_offsets_[s] +
                                            item_offsets_[s + 1] - item_offsets_[s]);
    stats_.bytes_pulled +=
        static_cast<int64_t>(kHeaderBytes + sizeof(int32_t) * rows + rows * row_bytes);
    stats_.bytes_pushed += static_cast<int64_t>(rows * row_bytes);
    stats_.rows_pulled += static_cast<int64_t>(rows);
  }
}

void Trainer::BuildRequests(const std::vector<int32_t>& user_unique,
                            const std::vector<int64_t>& user_offsets,
                            const std::vector<int32_t>& item_unique,
                            const std::vector<int64_t>& item_offsets, std::vector<Buffer>* send) {
  const int num_shards = roles_.num_shards();
  const auto& uoff = user_offsets;
  const auto& ioff = item_offsets;
  for (int s = 0; s < num_shards; ++s) {
    const int32_t nu = static_cast<int32_t>(uoff[s + 1] - uoff[s]);
    const int32_t ni = static_cast<int32_t>(ioff[s + 1] - ioff[s]);
    Buffer& b = (*send)[static_cast<size_t>(roles_.shard_rank(s))];
    b.resize(kHeaderBytes + sizeof(int32_t) * static_cast<size_t>(nu + ni));
    int32_t* p = b.as<int32_t>();
    p[0] = nu;
    p[1] = ni;
    int32_t* ids = p + 2;
    for (int32_t j = 0; j < nu; ++j) {
      ids[j] = static_cast<int32_t>(LocalIndex(user_unique[uoff[s] + j], num_shards));
    }
    ids += nu;
    for (int32_t j = 0; j < ni; ++j) {
      ids[j] = static_cast<int32_t>(LocalIndex(item_unique[ioff[s] + j], num_shards));
    }
  }
}

void Trainer::ReceiveRows() {
  const int num_shards = roles_.num_shards();
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(width_);
  exchange_->SetActivity(evaluating_ ? "evaluation: rows" : "pull: rows", current_step_);
  exchange_->AllToAllV(&send_, &replies_);
  if (worker_ >= 0 && num_shards == 1 && !evaluating_) {
    // Training ids are all known: no zero row is needed, and the reply is already in slot order.
    const Buffer& b = replies_[static_cast<size_t>(roles_.shard_rank(0))];
    const size_t nu = user_unique_.size();
    const size_t ni = item_unique_.size();
    CFPS_CHECK_EQ(b.size(), (nu + ni) * row_bytes);
    urow_base_ = b.as<float>();
    irow_base_ = b.as<float>() + nu * static_cast<size_t>(width_);
  } else if (worker_ >= 0) {
    const int64_t nu_all = static_cast<int64_t>(user_unique_.size());
    const int64_t ni_all = static_cast<int64_t>(item_unique_.size());
    // One extra zero row per table: the slot of ids unknown in training.
    urows_.resize(static_cast<size_t>((nu_all + 1) * width_));
    irows_.resize(static_cast<size_t>((ni_all + 1) * width_));
    std::fill_n(urows_.data() + nu_all * width_, width_, 0.0f);
    std::fill_n(irows_.data() + ni_all * width_, width_, 0.0f);
    const auto& uoff = user_offsets_;
    const auto& ioff = item_offsets_;
    for (int s = 0; s < num_shards; ++s) {
      const Buffer& b = replies_[static_cast<size_t>(roles_.shard_rank(s))];
      const size_t nu = static_cast<size_t>(uoff[s + 1] - uoff[s]);
      const size_t ni = static_cast<size_t>(ioff[s + 1] - ioff[s]);
      CFPS_CHECK_EQ(b.size(), (nu + ni) * row_bytes);
      if (nu) std::memcpy(urows_.data() + uoff[s] * width_, b.data(), nu * row_bytes);
      if (ni)
        std::memcpy(irows_.data() + ioff[s] * width_, b.data() + nu * row_bytes, ni * row_bytes);
    }
    urow_base_ = urows_.data();
    irow_base_ = irows_.data();
  }
}

void Trainer::Serve(const std::vector<Buffer>& requests, std::vector<Buffer>* replies) {
  const size_t width = static_cast<size_t>(width_);
  for (size_t src = 0; src < requests.size(); ++src) {
    const Buffer& req = requests[src];
    if (req.empty()) continue;
    const Request r = ReadRequest(req);
    Buffer& out = (*replies)[src];
    out.resize(sizeof(float) * width * r.rows());
    float* rows = out.as<float>();
    shard_->Gather(kUserTable, r.ids[0], r.count[0], rows);
    shard_->Gather(kItemTable, r.ids[1], r.count[1],
                   rows + static_cast<size_t>(r.count[0]) * width);
  }
}

void Trainer::Step(int64_t global_step, const std::vector<int32_t>& order) {
  if (fused_) {
    FusedStep(global_step, order);
    return;
  }
  int64_t begin, length;
  BatchOfStep(global_step, &begin, &length);
  current_step_ = global_step;
  if (worker_ >= 0) {
    PreparedBatch& b = BatchOf(global_step, order);
    // The batch's vectors change places with the previous step's, whose capacity b keeps.
    batch_users_.swap(b.users);
    batch_items_.swap(b.items);
    batch_ratings_.swap(b.ratings);
    user_slot_.swap(b.user_slot);
    item_slot_.swap(b.item_slot);
    user_unique_.swap(b.user_unique);
    item_unique_.swap(b.item_unique);
    user_offsets_.swap(b.user_offsets);
    item_offsets_.swap(b.item_offsets);
    b.step = -1;
    // Pre-pull sends the next step's request in this step: its batch is read now, unless the
    // helper read it during the step before (then the helper reads the one after it).
    if (PrePullsNext(global_step)) BatchOf(global_step + 1, order);
  }
  // The groupers are the helper's until the step ends.
  RunPreparingNext(
      ahead_pool_.get(), global_step, order,
      [&] {
        if (device_memory_) {
          ExchangeStepOnDevice(global_step, length);
        } else {
          ExchangeStep(global_step, length);
        }
      },
      prepull_ ? 2 : 1);
}

Trainer::PreparedBatch& Trainer::BatchOf(int64_t global_step, const std::vector<int32_t>& order) {
  PreparedBatch& b = prepared_[global_step & 1];
  if (b.step != global_step || b.order != order.data()) {
    PrepareBatch(global_step, order, &b);
  } else {
    ++stats_.batches_ahead;
  }
  return b;
}

template <typename F>
void Trainer::RunPreparingNext(ThreadPool* pool, int64_t global_step,
                               const std::vector<int32_t>& order, F&& step, int64_t ahead) {
  // Not across an epoch's end: the next epoch's order is not drawn yet.
  const int64_t next = global_step + ahead;
  if (pool != nullptr && pool->size() == 2 && next < EpochEnd(global_step)) {
    pool->Run([&](int t) {
      if (t == 0) {
        step();
      } else {
        PrepareBatch(next, order, &prepared_[next & 1]);
      }
    });
  } else {
    step();
  }
}

void Trainer::ExchangeStep(int64_t global_step, int64_t length) {
  const int num_shards = roles_.num_shards();
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(width_);
  const int64_t n = static_cast<int64_t>(batch_users_.size());
  const int64_t next = global_step + 1;
  const bool prepull = PrePullsNext(global_step);
  if (prepulled_step_ == global_step) {
    // Requested in the step before, gathered during its math and refreshed after its update.
    if (shard_) {
      send_.swap(next_rows_);
      requests_.swap(next_requests_);
    }
  } else {
    RequestRows();
  }
  prepulled_step_ = -1;
  if (prepull && worker_ >= 0) {
    // The next step's request rides on the reply round the other way: here a worker sends only
    // to shards, and a shard only to workers.
    const PreparedBatch& b = prepared_[next & 1];
    CFPS_CHECK_EQ(b.step, next);
    BuildRequests(b.user_unique, b.user_offsets, b.item_unique, b.item_offsets, &send_);
  }
  ReceiveRows();
  if (prepull) {
    // The shards gather the next step's rows while the workers compute below.
    if (shard_) {
      next_requests_.swap(replies_);
      Serve(next_requests_, &next_rows_);
    }
    prepulled_step_ = next;
  }

  if (worker_ >= 0) {
    const int64_t nu_all = static_cast<int64_t>(user_unique_.size());
    const int64_t ni_all = static_cast<int64_t>(item_unique_.size());
    // With one shard the gradient rows are written straight into the push (slot order is its
    // order); with several they are cut per shard below.
    float* ugrad;
    float* igrad;
    if (num_shards == 1) {
      Buffer& b = send_[static_cast<size_t>(roles_.shard_rank(0))];
      b.resize(static_cast<size_t>(nu_all + ni_all) * row_bytes);
      ugrad = b.as<float>();
      igrad = ugrad + nu_all * width_;
    } else {
      ugrad_.resize(static_cast<size_t>(nu_all * width_));  // every row is written
      igrad_.resize(static_cast<size_t>(ni_all * width_));
      ugrad = ugrad_.data();
      igrad = igrad_.data();
    }
    if (kernels_) {
      train_sse_ += kernels_->ForwardBackward(config_.dims, n, user_slot_.data(), item_slot_.data(),
                                              batch_ratings_.data(), nu_all, urow_base_, ni_all,
                                              irow_base_, length, ugrad, igrad);
    } else {
      train_sse_ += ComputeGradients(n, length, ugrad, igrad);
    }
    const auto& uoff = user_offsets_;
    const auto& ioff = item_offsets_;
    for (int s = 0; s < num_shards; ++s) {
      const size_t nu = static_cast<size_t>(uoff[s + 1] - uoff[s]);
      const size_t ni = static_cast<size_t>(ioff[s + 1] - ioff[s]);
      if (num_shards > 1) {
        Buffer& b = send_[static_cast<size_t>(roles_.shard_rank(s))];
        b.resize((nu + ni) * row_bytes);
        if (nu) std::memcpy(b.data(), ugrad_.data() + uoff[s] * width_, nu * row_bytes);
        if (ni) {
          std::memcpy(b.data() + nu * row_bytes, igrad_.data() + ioff[s] * width_, ni * row_bytes);
        }
      }
    }
    CountPull();
  }
  exchange_->SetActivity("push: gradients", global_step);
  exchange_->AllToAllV(&send_, &pushes_);

  if (shard_) {
    pushed_.assign(requests_.size(), nullptr);
    for (size_t src = 0; src < requests_.size(); ++src) {
      if (requests_[src].empty()) continue;
      CFPS_CHECK_EQ(pushes_[src].size(), row_bytes * ReadRequest(requests_[src]).rows());
      pushed_[src] = pushes_[src].as<float>();
    }
    ApplyPushes(global_step, /*on_device=*/false);
    if (prepull) RefreshPrepulled(global_step);
  }
  ++stats_.steps;
}

void Trainer::ExchangeStepOnDevice(int64_t global_step, int64_t length) {
  // Set up at construction on a rank that serves and trains, which never pre-pulls.
  CFPS_CHECK(shard_ && worker_ >= 0 && !prepull_);
  DeviceMemory* memory = device_memory_.get();
  const size_t ranks = static_cast<size_t>(roles_.num_ranks());
  const int num_shards = roles_.num_shards();
  const size_t width = static_cast<size_t>(width_);
  const size_t row_bytes = sizeof(float) * width;
  const int64_t n = static_cast<int64_t>(batch_users_.size());
  const size_t nu_all = user_unique_.size(), ni_all = item_unique_.size();
  const size_t batch_bytes = (nu_all + ni_all) * row_bytes;
  const auto& uoff = user_offsets_;
  const auto& ioff = item_offsets_;

  // 1. The requests, on the host, as in every mode.
  RequestRowIds();

  // Where each rank's payload sits in a buffer laid out in rank order: as a shard, a requester's
  // rows and its pushed gradient rows take the same room; as a worker, a shard's pulled rows and
  // the gradient rows pushed to it.
  request_at_.assign(ranks + 1, 0);
  shard_at_.assign(ranks + 1, 0);
  for (size_t p = 0; p < ranks; ++p) {
    request_at_[p + 1] = request_at_[p];
    if (!requests_[p].empty()) request_at_[p + 1] += ReadRequest(requests_[p]).rows() * row_bytes;
  }
  for (int s = 0; s < num_shards; ++s) {  // shard ranks are in shard order
    const size_t rank = static_cast<size_t>(roles_.shard_rank(s));
    shard_at_[rank + 1] =
        static_cast<size_t>(uoff[s + 1] - uoff[s] + ioff[s + 1] - ioff[s]) * row_bytes;
  }
  for (size_t p = 0; p < ranks; ++p) shard_at_[p + 1] += shard_at_[p];
  auto spans = [&](const std::vector<size_t>& at, DeviceBuffer* b, const char* what,
                   std::vector<DeviceSpan>* out) {
    if (at[ranks] > 0) b->Reserve(memory, at[ranks], what);
    out->resize(ranks);
    for (size_t p = 0; p < ranks; ++p) (*out)[p] = DeviceSpan{b->data() + at[p], at[p + 1] - at[p]};
  };

  // 2. The shard gathers each requester's rows into device memory; the worker receives each
  // shard's rows into its span.
  spans(request_at_, &served_rows_, "the rows a shard serves", &device_send_);
  for (size_t p = 0; p < ranks; ++p) {
    if (requests_[p].empty()) continue;
    const Request r = ReadRequest(requests_[p]);
    float* rows = static_cast<float*>(device_send_[p].data);
    shard_->GatherOnDevice(kUserTable, r.ids[0], r.count[0], rows);
    shard_->GatherOnDevice(kItemTable, r.ids[1], r.count[1],
                           rows + static_cast<size_t>(r.count[0]) * width);
  }
  spans(shard_at_, &pulled_rows_, "the pulled rows", &device_recv_);
  exchange_->SetActivity("pull: rows", current_step_);
  exchange_->AllToAllDevice(memory, device_send_, device_recv_);

  // 3. The math on the device's rows: users' rows then items' in slot order, gradient rows
  // likewise. With one shard the pulled rows are in that order and the gradient rows are the
  // push; with several, both are copied shard by shard on the device.
  spans(shard_at_, num_shards == 1 ? &step_grads_ : &push_rows_, "the gradient rows",
        &device_send_);
  if (batch_bytes > 0) {
    float* urows = pulled_rows_.as<float>();
    if (num_shards > 1) {
      step_rows_.Reserve(memory, batch_bytes, "the pulled rows in slot order");
      step_grads_.Reserve(memory, batch_bytes, "the gradient rows");
      urows = step_rows_.as<float>();
      for (int s = 0; s < num_shards; ++s) {
        const size_t nu = static_cast<size_t>(uoff[s + 1] - uoff[s]);
        const size_t ni = static_cast<size_t>(ioff[s + 1] - ioff[s]);
        const char* from =
            pulled_rows_.data() + shard_at_[static_cast<size_t>(roles_.shard_rank(s))];
        if (nu) memory->CopyOnDevice(urows + uoff[s] * width_, from, nu * row_bytes);
        if (ni) {
          memory->CopyOnDevice(urows + (nu_all + static_cast<size_t>(ioff[s])) * width,
                               from + nu * row_bytes, ni * row_bytes);
        }
      }
    }
    float* irows = urows + nu_all * width;
    float* ugrad = step_grads_.as<float>();
    float* igrad = ugrad + nu_all * width;
    const int64_t nu = static_cast<int64_t>(nu_all), ni = static_cast<int64_t>(ni_all);
    if (kernels_) {
      train_sse_ += kernels_->ForwardBackwardOnDevice(config_.dims, n, user_slot_.data(),
                                                      item_slot_.data(), batch_ratings_.data(), nu,
                                                      urows, ni, irows, length, ugrad, igrad);
    } else {  // the twin in host memory (checked at construction)
      urow_base_ = urows;
      irow_base_ = irows;
      train_sse_ += ComputeGradients(n, length, ugrad, igrad);
    }
    for (int s = 0; num_shards > 1 && s < num_shards; ++s) {
      const size_t su = static_cast<size_t>(uoff[s + 1] - uoff[s]);
      const size_t si = static_cast<size_t>(ioff[s + 1] - ioff[s]);
      char* to = static_cast<char*>(device_send_[static_cast<size_t>(roles_.shard_rank(s))].data);
      if (su) memory->CopyOnDevice(to, ugrad + uoff[s] * width_, su * row_bytes);
      if (si) memory->CopyOnDevice(to + su * row_bytes, igrad + ioff[s] * width_, si * row_bytes);
    }
  }
  CountPull();

  // 4. The push, from device to device; the shard sums the rows in worker order and updates.
  spans(request_at_, &pushed_rows_, "the pushed gradient rows a shard receives", &device_recv_);
  exchange_->SetActivity("push: gradients", global_step);
  exchange_->AllToAllDevice(memory, device_send_, device_recv_);
  pushed_.assign(ranks, nullptr);
  for (size_t p = 0; p < ranks; ++p) pushed_[p] = static_cast<const float*>(device_recv_[p].data);
  ApplyPushes(global_step, /*on_device=*/true);
  ++stats_.steps;
}

void Trainer::ApplyPushes(int64_t global_step, bool on_device) {
  const size_t width = static_cast<size_t>(width_);
  const PreparedStep step = PrepareStep(config_.optimizer, width_, schedule_.Lr(global_step),
                                        schedule_.Mom(global_step), global_step + 1);
  ThreadPool* pool = PhaseThreads(config_.batch_size) > 1 ? pool_.get() : nullptr;
  int sources = 0;
  size_t only = 0;
  for (size_t src = 0; src < requests_.size(); ++src) {
    if (!requests_[src].empty()) {
      ++sources;
      only = src;
    }
  }
  if (sources == 1) {
    // The sum of one push is that push: the optimizer straight on its rows (the same bits as
    // AddGradients then ApplyStep).
    const Request r = ReadRequest(requests_[only]);
    const float* const rows[2] = {pushed_[only],
                                  pushed_[only] + static_cast<size_t>(r.count[0]) * width};
    const int64_t count[2] = {r.count[0], r.count[1]};
    if (on_device) {
      shard_->UpdateTablesOnDevice(step, r.ids, rows, count);
    } else {
      shard_->UpdateTables(step, r.ids, rows, count, pool);
    }
    return;
  }
  // Sources in increasing rank are workers in increasing worker index.
  for (size_t src = 0; src < requests_.size(); ++src) {
    if (requests_[src].empty()) continue;
    const Request r = ReadRequest(requests_[src]);
    const float* items = pushed_[src] + static_cast<size_t>(r.count[0]) * width;
    if (on_device) {
      shard_->AddGradientsOnDevice(kUserTable, r.ids[0], r.count[0], pushed_[src]);
      shard_->AddGradientsOnDevice(kItemTable, r.ids[1], r.count[1], items);
    } else {
      shard_->AddGradients(kUserTable, r.ids[0], r.count[0], pushed_[src]);
      shard_->AddGradients(kItemTable, r.ids[1], r.count[1], items);
    }
  }
  shard_->ApplyStep(step, pool);
}

void Trainer::RefreshPrepulled(int64_t global_step) {
  const uint32_t mark = static_cast<uint32_t>(global_step) + 1;
  for (const Buffer& req : requests_) {
    if (req.empty()) continue;
    const Request r = ReadRequest(req);
    for (int t = 0; t < 2; ++t) {
      uint32_t* at = updated_at_[t].data();
      for (int32_t j = 0; j < r.count[t]; ++j) at[r.ids[t][j]] = mark;
    }
  }
  const size_t width = static_cast<size_t>(width_);
  for (size_t src = 0; src < next_requests_.size(); ++src) {
    const Buffer& req = next_requests_[src];
    if (req.empty()) continue;
    const Request r = ReadRequest(req);
    float* rows = next_rows_[src].as<float>();
    for (int t = 0; t < 2; ++t) {
      const int32_t* ids = r.ids[t];
      const uint32_t* at = updated_at_[t].data();
      refresh_ids_.clear();
      refresh_at_.clear();
      for (int32_t j = 0; j < r.count[t]; ++j) {
        if (at[ids[j]] == mark) {
          refresh_ids_.push_back(ids[j]);
          refresh_at_.push_back(j);
        }
      }
      const size_t m = refresh_ids_.size();
      if (m) {
        refresh_rows_.resize(m * width);
        shard_->Gather(t, refresh_ids_.data(), static_cast<int64_t>(m), refresh_rows_.data());
        for (size_t i = 0; i < m; ++i) {
          std::memcpy(rows + static_cast<size_t>(refresh_at_[i]) * width,
                      refresh_rows_.data() + i * width, sizeof(float) * width);
        }
      }
      rows += static_cast<size_t>(r.count[t]) * width;
    }
  }
}

namespace {
// count[s] = samples in slot s (s < num_slots), then the balanced split of the slots.
void SplitSlots(const std::vector<int32_t>& slot_of, int64_t n, int64_t num_slots, int parts,
                std::vector<int32_t>* count, std::vector<int32_t>* bounds) {
  count->assign(static_cast<size_t>(num_slots) + 1, 0);  // + the zero slot of unknown ids
  for (int64_t i = 0; i < n; ++i) ++(*count)[static_cast<size_t>(slot_of[static_cast<size_t>(i)])];
  bounds->resize(static_cast<size_t>(parts) + 1);
  BalancedSlotRanges(count->data(), static_cast<int32_t>(num_slots), parts, bounds->data());
}
}  // namespace

double Trainer::ComputeGradients(int64_t n, int64_t global_batch, float* ugrad, float* igrad) {
  const int threads = PhaseThreads(n);
  const int k = config_.dims.k;
  const int64_t nu = static_cast<int64_t>(user_unique_.size());
  const int64_t ni = static_cast<int64_t>(item_unique_.size());
  err_.resize(static_cast<size_t>(n));
  delta_.resize(static_cast<size_t>(n));
  const SampleRows rows{urow_base_, irow_base_, user_slot_.data(), item_slot_.data()};
  if (threads == 1 && roles_.num_shards() == 1) {
    // One pass, as the fused step's: with one shard the slots are numbered by first appearance
    // (RowGrouper), which ForwardReduce needs. Same bits as the phases below.
    ForwardReduce(config_.dims, rows, user_slot_.data(), item_slot_.data(), batch_ratings_.data(),
                  n, global_batch, err_.data(), ugrad, igrad);
    return SumSquares(err_.data(), n);
  }
  SplitSlots(user_slot_, n, nu, threads, &ucount_, &ubounds_);
  SplitSlots(item_slot_, n, ni, threads, &icount_, &ibounds_);
  RunPhase(threads, [&](int t) {
    int64_t begin, end;
    SplitRange(n, t, threads, &begin, &end);
    ForwardDeltas(config_.dims, rows, batch_ratings_.data(), global_batch, begin, end, err_.data(),
                  delta_.data());
  });
  const double sse = SumSquares(err_.data(), n);
  RunPhase(threads, [&](int t) {
    ReduceRows(k, n, user_slot_.data(), delta_.data(), irow_base_, item_slot_.data(),
               ubounds_[static_cast<size_t>(t)], ubounds_[static_cast<size_t>(t) + 1], ugrad);
    ReduceRows(k, n, item_slot_.data(), delta_.data(), urow_base_, user_slot_.data(),
               ibounds_[static_cast<size_t>(t)], ibounds_[static_cast<size_t>(t) + 1], igrad);
  });
  return sse;
}

void Trainer::BatchOfStep(int64_t global_step, int64_t* begin, int64_t* length) const {
  const int64_t n_train = static_cast<int64_t>(data_->train.size());
  *begin = (global_step % steps_per_epoch_) * config_.batch_size;
  *length = std::min(config_.batch_size, n_train - *begin);
}

void Trainer::CountFusedStep(int64_t rows_touched) {
  // The counts of the exchange path with one shard, so that metrics do not depend on the path.
  const int64_t row_bytes = static_cast<int64_t>(sizeof(float)) * width_;
  stats_.bytes_pulled += static_cast<int64_t>(kHeaderBytes) +
                         static_cast<int64_t>(sizeof(int32_t)) * rows_touched +
                         rows_touched * row_bytes;
  stats_.bytes_pushed += rows_touched * row_bytes;
  stats_.rows_pulled += rows_touched;
  ++stats_.steps;
}

void Trainer::PrepareBatch(int64_t global_step, const std::vector<int32_t>& order,
                           PreparedBatch* b) {
  int64_t begin, length;
  BatchOfStep(global_step, &begin, &length);
  const Slice slice = WorkerSlice(length, worker_, roles_.num_workers());
  const int64_t n = slice.size();
  const size_t size = static_cast<size_t>(n);
  b->users.resize(size);
  b->items.resize(size);
  b->ratings.resize(size);
  GatherBatch(data_->train, order.data() + begin + slice.begin, n, b->users.data(), b->items.data(),
              b->ratings.data());
  const int num_shards = roles_.num_shards();
  user_groups_.Group(b->users.data(), n, num_shards, &b->user_slot);
  item_groups_.Group(b->items.data(), n, num_shards, &b->item_slot);
  b->user_unique = user_groups_.unique();
  b->item_unique = item_groups_.unique();
  b->user_offsets = user_groups_.offsets();
  b->item_offsets = item_groups_.offsets();
  b->step = global_step;
  b->order = order.data();
}

void Trainer::FusedStep(int64_t global_step, const std::vector<int32_t>& order) {
  int64_t begin, n;
  BatchOfStep(global_step, &begin, &n);
  const int threads = PhaseThreads(n);
  // Measured at the ML-25M shape, batch 1024, 2 cores (medians of 8 and 6 interleaved runs): sgd
  // 7.0e6 -> 8.3e6 ratings/s pipelined, adagrad even, adam 4.7e6 -> 3.1e6: Adam's update (three
  // arrays per row) needs both threads, while a light update is cheaper on the thread whose cache
  // holds the rows than split across cores.
  if (threads > 2 || (threads == 2 && shard_->state_width() > 1)) {
    FusedStepPhased(global_step, order);
    return;
  }
  current_step_ = global_step;
  PreparedBatch& b = BatchOf(global_step, order);
  const int64_t nu = static_cast<int64_t>(b.user_unique.size());
  const int64_t ni = static_cast<int64_t>(b.item_unique.size());
  err_.resize(static_cast<size_t>(n));
  ugrad_.resize(static_cast<size_t>(nu * width_));
  igrad_.resize(static_cast<size_t>(ni * width_));

  // Forward and gradients in one pass over the shard's own rows (one shard: local row = global
  // row), then the optimizer on exactly the rows of the batch.
  const PreparedStep step = PrepareStep(config_.optimizer, width_, schedule_.Lr(global_step),
                                        schedule_.Mom(global_step), global_step + 1);
  const int32_t* const ids[2] = {b.user_unique.data(), b.item_unique.data()};
  const float* const grads[2] = {ugrad_.data(), igrad_.data()};
  const int64_t counts[2] = {nu, ni};
  auto compute = [&] {
    const SampleRows rows{shard_->values(kUserTable).data(), shard_->values(kItemTable).data(),
                          b.users.data(), b.items.data()};
    ForwardReduce(config_.dims, rows, b.user_slot.data(), b.item_slot.data(), b.ratings.data(), n,
                  n, err_.data(), ugrad_.data(), igrad_.data());
    shard_->UpdateTables(step, ids, grads, counts, nullptr);
  };
  // The next step's batch on the other thread (threads is 1 or 2 here).
  RunPreparingNext(threads == 2 ? pool_.get() : nullptr, global_step, order, compute);
  train_sse_ += SumSquares(err_.data(), n);

  CountFusedStep(nu + ni);
}

void Trainer::GatherShare(const int32_t* idx, int64_t n, int t, int threads) {
  int64_t b, e;
  SplitRange(n, t, threads, &b, &e);
  GatherBatch(data_->train, idx + b, e - b, batch_users_.data() + b, batch_items_.data() + b,
              batch_ratings_.data() + b);
}

void Trainer::FusedStepPhased(int64_t global_step, const std::vector<int32_t>& order) {
  int64_t begin, n;
  BatchOfStep(global_step, &begin, &n);
  const int threads = PhaseThreads(n);
  const int k = config_.dims.k;
  current_step_ = global_step;
  batch_users_.resize(static_cast<size_t>(n));
  batch_items_.resize(static_cast<size_t>(n));
  batch_ratings_.resize(static_cast<size_t>(n));
  err_.resize(static_cast<size_t>(n));
  delta_.resize(static_cast<size_t>(n));
  const int32_t* idx = order.data() + begin;

  // The batch's records: read during the previous step's last phase, unless this step starts an
  // epoch or a call, or comes with another order than the one they were read from.
  if (gathered_step_ != global_step || gathered_order_ != order.data()) {
    RunPhase(threads, [&](int t) { GatherShare(idx, n, t, threads); });
  }
  gathered_step_ = -1;

  // Phase 2's split. In the blocked order with two threads: one table each, every sample (the two
  // tables' sums take the same work, the tile's rows sit in both cores' caches, and no thread scans
  // samples it skips). Otherwise each thread the samples of its range of slots of both tables:
  // slots are numbered by first appearance, so in the random order mostly the samples whose rows
  // its own forward share just read (a row the other core read costs a transfer between the cores).
  const bool by_table = threads == 2 && config_.order_blocks > 1;

  // Phase 1: the dedup, one table per thread, then each thread's share of the forward, on the
  // shard's own rows (one shard: local row = global row). The slots wait for phase 2.
  const float* utable = shard_->values(kUserTable).data();
  const float* itable = shard_->values(kItemTable).data();
  const SampleRows rows{utable, itable, batch_users_.data(), batch_items_.data()};
  RunPhase(threads, [&](int t) {
    if (t == 0) {
      user_groups_.Group(batch_users_.data(), n, 1, &user_slot_);
      const auto nu = static_cast<int32_t>(user_groups_.num_unique());
      if (by_table) {
        ubounds_.assign({0, nu, nu});  // all the users' slots to thread 0
      } else {
        SplitSlots(user_slot_, n, nu, threads, &ucount_, &ubounds_);
      }
    }
    if (t == (threads > 1 ? 1 : 0)) {
      item_groups_.Group(batch_items_.data(), n, 1, &item_slot_);
      const auto ni = static_cast<int32_t>(item_groups_.num_unique());
      if (by_table) {
        ibounds_.assign({0, 0, ni});  // all the items' slots to thread 1
      } else {
        SplitSlots(item_slot_, n, ni, threads, &icount_, &ibounds_);
      }
    }
    int64_t b, e;
    SplitRange(n, t, threads, &b, &e);
    ForwardDeltas(config_.dims, rows, batch_ratings_.data(), n, b, e, err_.data(), delta_.data());
  });
  train_sse_ += SumSquares(err_.data(), n);
  const int64_t nu = user_groups_.num_unique();
  const int64_t ni = item_groups_.num_unique();
  ugrad_.resize(static_cast<size_t>(nu * width_));
  igrad_.resize(static_cast<size_t>(ni * width_));

  // Phase 2: one gradient row per unique row; phase 3: the optimizer on exactly those rows.
  RunPhase(threads, [&](int t) {
    ReduceRows(k, n, user_slot_.data(), delta_.data(), itable, batch_items_.data(),
               ubounds_[static_cast<size_t>(t)], ubounds_[static_cast<size_t>(t) + 1],
               ugrad_.data());
    ReduceRows(k, n, item_slot_.data(), delta_.data(), utable, batch_users_.data(),
               ibounds_[static_cast<size_t>(t)], ibounds_[static_cast<size_t>(t) + 1],
               igrad_.data());
  });
  const PreparedStep step = PrepareStep(config_.optimizer, width_, schedule_.Lr(global_step),
                                        schedule_.Mom(global_step), global_step + 1);
  // After its rows, each thread reads its share of the next step's records in the same phase:
  // they are random reads of the data, a cache miss each, which this way are read once (not once
  // per table's thread) and cost no fork-join of their own. This step's records are read no more.
  const int64_t next = global_step + 1;
  int64_t next_begin = 0, next_n = 0;
  if (next < EpochEnd(global_step)) BatchOfStep(next, &next_begin, &next_n);
  if (next_n > 0) {
    batch_users_.resize(static_cast<size_t>(next_n));
    batch_items_.resize(static_cast<size_t>(next_n));
    batch_ratings_.resize(static_cast<size_t>(next_n));
  }
  RunPhase(threads, [&](int t) {
    int64_t ub, ue, ib, ie;
    SplitRange(nu, t, threads, &ub, &ue);
    SplitRange(ni, t, threads, &ib, &ie);
    shard_->UpdateRows(kUserTable, step, user_groups_.unique().data(), ugrad_.data(), ub, ue);
    shard_->UpdateRows(kItemTable, step, item_groups_.unique().data(), igrad_.data(), ib, ie);
    if (next_n > 0) GatherShare(order.data() + next_begin, next_n, t, threads);
  });
  if (next_n > 0) {
    gathered_step_ = next;
    gathered_order_ = order.data();
  }

  CountFusedStep(nu + ni);
}

void Trainer::Evaluate(double* sse, int64_t* count) {
  const int64_t n = static_cast<int64_t>(data_->valid.size());
  const int num_workers = roles_.num_workers();
  const int64_t longest = (n + num_workers - 1) / num_workers;
  const int64_t rounds = (longest + config_.eval_batch - 1) / config_.eval_batch;
  evaluating_ = true;
  gathered_step_ = -1;  // the records below take the batch's vectors
  double local[2] = {0.0, 0.0};
  Slice slice;
  if (worker_ >= 0) slice = WorkerSlice(n, worker_, num_workers);
  for (int64_t r = 0; r < rounds; ++r) {
    int64_t begin = 0, m = 0;
    if (worker_ >= 0) {
      begin = std::min(slice.end, slice.begin + r * config_.eval_batch);
      m = std::min(slice.end, begin + config_.eval_batch) - begin;
    }
    batch_users_.resize(static_cast<size_t>(m));
    batch_items_.resize(static_cast<size_t>(m));
    batch_ratings_.resize(static_cast<size_t>(m));
    if (m > 0) {
      data_->valid.Read([&](auto valid) {
        for (int64_t i = 0; i < m; ++i) {
          const Rating v = valid(static_cast<size_t>(begin + i));
          batch_users_[static_cast<size_t>(i)] = v.user;
          batch_items_[static_cast<size_t>(i)] = v.item;
          batch_ratings_[static_cast<size_t>(i)] = v.rating;
        }
      });
    }
    if (fused_) {
      // One rank: predict from the shard's own rows (one shard: local row = global row).
      err_.resize(static_cast<size_t>(m));
      const SampleRows rows{shard_->values(kUserTable).data(), shard_->values(kItemTable).data(),
                            batch_users_.data(), batch_items_.data()};
      const int threads = PhaseThreads(m);
      RunPhase(threads, [&](int t) {
        int64_t b, e;
        SplitRange(m, t, threads, &b, &e);
        PredictionErrors(config_.dims, rows, batch_ratings_.data(), b, e, err_.data());
      });
      local[0] += SumSquares(err_.data(), m);
      local[1] += static_cast<double>(m);
      continue;
    }
    Pull(batch_users_.data(), batch_items_.data(), m);
    if (worker_ >= 0 && m > 0) {
      const float* rating = batch_ratings_.data();
      if (kernels_) {  // rows: the unique ones plus the zero row of unknown ids (Pull)
        local[0] += kernels_->Evaluate(config_.dims, m, user_slot_.data(), item_slot_.data(),
                                       rating, static_cast<int64_t>(user_unique_.size()) + 1,
                                       urows_.data(), static_cast<int64_t>(item_unique_.size()) + 1,
                                       irows_.data(), nullptr);
      } else {
        local[0] +=
            cfps::Evaluate<float>(config_.dims, m, user_slot_.data(), item_slot_.data(), rating,
                                  urows_.data(), irows_.data(), static_cast<float*>(nullptr));
      }
      local[1] += static_cast<double>(m);
    }
  }
  exchange_->SetActivity("evaluation: sums", current_step_);
  exchange_->AllReduceSum(local, 2);
  evaluating_ = false;
  *sse = local[0];
  *count = static_cast<int64_t>(local[1]);
}

int64_t Trainer::Train(int64_t start_step, const Hooks& hooks) {
  std::vector<int32_t> order;
  const int64_t n_train = static_cast<int64_t>(data_->train.size());
  int64_t step = start_step;
  prepulled_step_ = -1;  // a pre-pull left by an earlier call was read with another order
  gathered_step_ = -1;   // and so were records gathered ahead
  for (int epoch = static_cast<int>(start_step / steps_per_epoch_); epoch < config_.epochs;
       ++epoch) {
    const double t0 = Now();
    if (worker_ >= 0) {
      BlockedEpochOrder(config_.seed, epoch, data_->train,
                        static_cast<int64_t>(data_->users.size()),
                        static_cast<int64_t>(data_->items.size()), config_.order_blocks, &order,
                        ahead_pool_ ? ahead_pool_.get() : pool_.get(), &tile_counts_);
    }
    train_sse_ = 0;
    const StepStats before = stats_;
    const int64_t first = step;
    const int64_t end = (epoch + 1) * steps_per_epoch_;
    bool stop = false;
    while (step < end && !stop) {
      Step(step, order);
      ++step;
      if (hooks.after_step) stop = hooks.after_step(step, step == end);
    }
    if (step < end) return step;  // stopped mid-epoch: no evaluation, no epoch line
    const double t1 = Now();
    double valid_sse = 0;
    int64_t valid_count = 0;
    Evaluate(&valid_sse, &valid_count);
    const double t2 = Now();
    double sums[3] = {train_sse_, static_cast<double>(stats_.bytes_pulled - before.bytes_pulled),
                      static_cast<double>(stats_.bytes_pushed - before.bytes_pushed)};
    exchange_->AllReduceSum(sums, 3);
    double times[2] = {t1 - t0, t2 - t0};
    exchange_->AllReduceMax(times, 2);
    if (rank_ == 0 && hooks.on_epoch) {
      // Ratings trained in this epoch (fewer than n_train when it resumed mid-epoch).
      const double trained = static_cast<double>(
          std::min(n_train, (step - epoch * steps_per_epoch_) * config_.batch_size) -
          std::min(n_train, (first - epoch * steps_per_epoch_) * config_.batch_size));
      EpochMetrics m;
      m.epoch = epoch;
      m.step = step;
      m.train_loss = trained > 0 ? sums[0] / trained : 0.0;
      m.valid_count = valid_count;
      m.valid_unknown = data_->valid_unknown;
      m.valid_mse = valid_count ? valid_sse / static_cast<double>(valid_count)
                                : std::numeric_limits<double>::quiet_NaN();
      m.valid_rmse = std::sqrt(m.valid_mse);
      m.train_seconds = times[0];
      m.seconds = times[1];
      m.ratings_per_s = times[0] > 0 ? trained / times[0] : 0.0;
      m.bytes_pulled = static_cast<int64_t>(sums[1]);
      m.bytes_pushed = static_cast<int64_t>(sums[2]);
      hooks.on_epoch(m);
    }
    if (stop) return step;
  }
  return step;
}

void Trainer::GatherModel(int root, std::vector<float>* users, std::vector<float>* items) {
  const size_t width = static_cast<size_t>(width_);
  if (shard_) {
    const Shard& shard = *shard_;  // reads only: a shard on a device stays current there
    Buffer& b = send_[static_cast<size_t>(root)];
    const size_t lu = static_cast<size_t>(shard_->local_rows(kUserTable));
    const size_t li = static_cast<size_t>(shard_->local_rows(kItemTable));
    b.resize(sizeof(float) * width * (lu + li));
    if (lu) std::memcpy(b.data(), shard.values(kUserTable).data(), sizeof(float) * width * lu);
    if (li) {
      std::memcpy(b.data() + sizeof(float) * width * lu, shard.values(kItemTable).data(),
                  sizeof(float) * width * li);
    }
  }
  exchange_->SetActivity("gathering the model for export", current_step_);
  exchange_->AllToAllV(&send_, &replies_);
  users->clear();
  items->clear();
  if (rank_ != root) return;
  const int num_shards = roles_.num_shards();
  const int64_t rows[2] = {data_->users.size(), data_->items.size()};
  std::vector<float>* out[2] = {users, items};
  for (int t = 0; t < 2; ++t) out[t]->resize(static_cast<size_t>(rows[t]) * width);
  for (int s = 0; s < num_shards; ++s) {
    const Buffer& b = replies_[static_cast<size_t>(roles_.shard_rank(s))];
    const float* src = b.as<float>();
    for (int t = 0; t < 2; ++t) {
      const int64_t local_rows = RowsOnShard(rows[t], s, num_shards);
      for (int64_t local = 0; local < local_rows; ++local, src += width) {
        std::memcpy(out[t]->data() + GlobalRow(local, s, num_shards) * width, src,
                    sizeof(float) * width);
      }
    }
    CFPS_CHECK(src == b.as<float>() + b.size() / sizeof(float));
  }
}

}  // namespace cfps
