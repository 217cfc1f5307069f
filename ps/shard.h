#pragma once
// Shard: the rows of both tables that one server owns (row r of a table lives here when
// r % S == shard, at local index r / S), their optimizer state, and the aggregation of the
// gradients the workers push.
//
// A row is k factors followed by its bias (k+1 floats). Rows start at normal(0, init_std) values
// that depend only on (seed, table, global row, column), so the initial model does not depend on S.
//
// One BSP step on the shard: Gather() the rows each worker asked for; then, for every worker in
// increasing worker rank, AddGradients() the rows it pushed (each worker pushes each row at most
// once); then ApplyStep() sums nothing more and runs the optimizer on exactly the rows that were
// pushed. A row's gradient is the first worker's row, plus the next worker's, ... in worker order:
// the arithmetic does not depend on S. Not thread-safe.
//
// On a device (a DeviceTableFactory given): both tables' rows and optimizer state live in the
// device's memory after construction, Gather and the optimizer run there, and the host vectors
// below are a mirror: every accessor of rows or state first brings the mirror up to date, and the
// non-const ones let the caller write it (a checkpoint being loaded), which the next device
// operation uploads. The aggregation of pushed gradients stays on the host, unless the gradient
// rows are in the device's memory (the device-resident step, *OnDevice below): then the host keeps
// only the slots, and the sums are made and read on the device, with the same additions.

#include <cstdint>
#include <vector>

#include "common/random.h"
#include "common/thread_pool.h"
#include "ps/device_table.h"
#include "ps/optimizer.h"

namespace cfps {

struct ModelShape {
  int64_t rows[2] = {0, 0};  // indexed by TableId: users, items
  int k = 50;
  int width() const { return k + 1; }
};

class Shard {
 public:
  // The initial rows are computed on the pool's threads when one is given (the same bits).
  Shard(int shard, int num_shards, const ModelShape& shape, const OptimizerConfig& optimizer,
        uint64_t seed, double init_std = 0.01, ThreadPool* pool = nullptr,
        const DeviceTableFactory& device = nullptr);

  int shard() const { return shard_; }
  int num_shards() const { return num_shards_; }
  const ModelShape& shape() const { return shape_; }
  const OptimizerConfig& optimizer() const { return optimizer_; }
  int64_t local_rows(int table) const { return tables_[table].local_rows; }
  int state_width() const { return state_width_; }

  bool on_device() const { return tables_[0].device != nullptr; }
  float* row(int table, int64_t local) {
    ForWrite(table);
    return &tables_[table].values[Offset(table, local)];
  }
  const float* row(int table, int64_t local) const {
    ForRead(table);
    return &tables_[table].values[Offset(table, local)];
  }
  float* state(int table, int64_t local) {
    ForWrite(table);
    return tables_[table].state.data() + static_cast<size_t>(local) * state_width_;
  }
  std::vector<float>& values(int table) {
    ForWrite(table);
    return tables_[table].values;
  }
  std::vector<float>& states(int table) {
    ForWrite(table);
    return tables_[table].state;
  }
  const std::vector<float>& values(int table) const {
    ForRead(table);
    return tables_[table].values;
  }
  const std::vector<float>& states(int table) const {
    ForRead(table);
    return tables_[table].state;
  }

  // Copies rows local_ids[0..n) (each < local_rows) to out, n * width floats.
  void Gather(int table, const int32_t* local_ids, int64_t n, float* out) const;

  // Adds one worker's gradient rows (n * width floats, one per distinct local id).
  void AddGradients(int table, const int32_t* local_ids, int64_t n, const float* grads);
  // Runs the optimizer on every row that received gradients since the last ApplyStep, the rows
  // split among the pool's threads (each row is updated by one thread: same bits for any split).
  void ApplyStep(const PreparedStep& step, ThreadPool* pool = nullptr);
  // Runs the optimizer directly on rows local_ids[first..last) with gradient rows grads (one per
  // id, width floats each), bypassing the aggregation: the single-rank step, whose one worker's
  // gradient is the whole sum. Ids must be distinct.
  void UpdateRows(int table, const PreparedStep& step, const int32_t* local_ids, const float* grads,
                  int64_t first, int64_t last);
  // UpdateRows on all n[t] rows of both tables, split among the pool's threads as ApplyStep
  // splits them (ApplyStep is this on the aggregated rows): a step with one pushing worker.
  void UpdateTables(const PreparedStep& step, const int32_t* const local_ids[2],
                    const float* const grads[2], const int64_t n[2], ThreadPool* pool = nullptr);
  // The device-resident step (common/device_memory.h; on a device only): the same operations
  // with the rows and gradient rows in the memory of the shard's device, the ids on the host. A
  // step's AddGradients calls are all of one kind (host or device); ApplyStep runs on the sums
  // where they are.
  void GatherOnDevice(int table, const int32_t* local_ids, int64_t n, float* device_out) const;
  void AddGradientsOnDevice(int table, const int32_t* local_ids, int64_t n,
                            const float* device_grads);
  void UpdateTablesOnDevice(const PreparedStep& step, const int32_t* const local_ids[2],
                            const float* const device_grads[2], const int64_t n[2]);
  // Rows touched in the step being aggregated (for counting and tests).
  int64_t pending_rows(int table) const {
    return static_cast<int64_t>(tables_[table].touched.size());
  }

 private:
  struct Table {
    int64_t local_rows = 0;
    std::vector<float> values;     // local_rows * width
    std::vector<float> state;      // local_rows * state_width
    std::vector<int32_t> slot_of;  // local row -> aggregation slot, -1 when untouched this step
    std::vector<int32_t> touched;  // aggregation slot -> local row
    std::vector<float> grad_sum;   // aggregation slot -> summed gradient row (touched.size() used)
    // The step's sums are on the device (AddGradientsOnDevice); the slots and first-seen flags of
    // its last call, handed to the device table.
    bool sums_on_device = false;
    std::vector<int32_t> call_slots;
    std::vector<uint8_t> call_first;
    // On a device: the table there, and which copy is behind the other.
    std::unique_ptr<DeviceTable> device;
    bool host_behind = false;    // the device updated rows the mirror has not seen
    bool device_behind = false;  // the mirror was handed out for writing
  };
  // The mirror of a device table brought up to date before it is read, or also marked as ahead
  // of the device before it is handed out for writing; and the device brought up to date before
  // it works. No-ops without a device.
  void ForRead(int table) const;
  void ForWrite(int table);
  void ForDevice(int table) const;
  // The aggregation slot of local row `id` in this step, made when the step first meets the row
  // (*first).
  static int32_t SlotOf(Table* tb, int32_t id, bool* first);
  size_t Offset(int table, int64_t local) const {
    (void)table;
    return static_cast<size_t>(local) * static_cast<size_t>(shape_.width());
  }

  int shard_;
  int num_shards_;
  ModelShape shape_;
  OptimizerConfig optimizer_;
  int state_width_;
  // mutable: on a device the host vectors are a cache of the device's rows, refreshed by const
  // accessors.
  mutable Table tables_[2];
};

}  // namespace cfps
