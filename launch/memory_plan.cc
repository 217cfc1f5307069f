#include "launch/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/sharding.h"
#include "ps/optimizer.h"

namespace cfps {

namespace {

std::string Mb(double bytes) {
  char buf[32];
  if (bytes < 1e6) {
    std::snprintf(buf, sizeof(buf), "%.0f KB", bytes / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MB", bytes / 1e6);
  }
  return buf;
}

double VocabBytes(const Vocab& v) {
  double bytes = 0;
  for (int64_t r = 0; r < v.size(); ++r) {
    // The name, its std::string, and the hash table entry that finds it.
    bytes += static_cast<double>(v.Name(static_cast<int32_t>(r)).size()) + 32 + 24;
  }
  return bytes;
}

double ProcField(const char* file, const char* key) {
  std::ifstream in(file);
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      std::istringstream is(line.substr(prefix.size()));
      double kb = 0;
      is >> kb;
      return kb * 1024.0;
    }
  }
  return 0;
}

}  // namespace

MemoryPlan PlanMemory(const Roles& roles, int rank, const Dataset& data,
                      const TrainConfig& config) {
  MemoryPlan p;
  const double width = config.dims.k + 1;
  const double state_width = StateFloatsPerRow(config.optimizer.kind, config.dims.k + 1);
  const int64_t rows[2] = {data.users.size(), data.items.size()};
  if (roles.serves(rank)) {
    const int s = roles.shard_of_rank(rank), num_shards = roles.num_shards();
    double local_rows = 0;
    for (int64_t r : rows) {
      const double local = static_cast<double>(RowsOnShard(r, s, num_shards));
      local_rows += local;
      p.shard_rows += local * width * 4;
      p.shard_state += local * state_width * 4;
      p.shard_aggregation += local * 4;  // slot of each row while a step aggregates
    }
    // Summed gradient rows of one step: at most the batch's rows per table.
    const double touched = std::min<double>(2.0 * static_cast<double>(config.batch_size),
                                            static_cast<double>(rows[0] + rows[1]));
    p.shard_aggregation += touched * (width * 4 + 4);
    if (PrePulls(config, roles)) {
      // The reply to the next step's requests, and per table row the step that last updated it.
      p.shard_aggregation += touched * (width * 4 + 4) + local_rows * 4;
    }
  }
  p.data = static_cast<double>(data.train.bytes() + data.valid.bytes()) + VocabBytes(data.users) +
           VocabBytes(data.items);
  p.loading =
      static_cast<double>(data.split_bytes) + VocabBytes(data.users) + VocabBytes(data.items);
  if (roles.trains(rank)) {
    p.order = static_cast<double>(data.train.size()) * 4;
    if (config.order_blocks > 1) {
      // BlockedEpochOrder: row -> range; per tile its start, size and place in the visit, and a
      // count per thread of the pool that sorts (OrderThreads) twice: the trainer keeps the
      // counts for the run (TileCounts) and each epoch turns a copy of them into positions.
      const double tiles = static_cast<double>(config.order_blocks) * config.order_blocks;
      const int sorters = OrderThreads(config, roles, rank);
      p.order += static_cast<double>(data.users.size() + data.items.size()) * 4 +
                 tiles * (20 + 2 * 8 * sorters);
    }
    const int64_t largest_slice =  // of a global batch, among the workers
        (config.batch_size + roles.num_workers() - 1) / roles.num_workers();
    const double slice = static_cast<double>(largest_slice);
    const double samples = std::max(slice, static_cast<double>(config.eval_batch));
    // Per sample: user, item, two slots, rating, error, delta. Per table, the batch's rows (at
    // most one per sample, at most the table, plus the zero row): the pulled row and its
    // gradient. Per table row: the dedup mark.
    p.buffers = samples * 4 * 7;
    // A single-rank job keeps the next step's batch too (user, item, rating, two slots and the
    // unique rows of each table), read while this step computes.
    if (roles.num_ranks() == 1) p.buffers += static_cast<double>(config.batch_size) * 4 * 7;
    // A worker that prepares ahead or pre-pulls holds two batches besides the one in use (the
    // next, and the previous one's vectors kept for their capacity).
    if (PreparesAhead(config, roles, rank) || PrePulls(config, roles)) {
      p.buffers += 2 * slice * 4 * 7;
    }
    for (int64_t r : rows) {
      p.buffers += (std::min(samples, static_cast<double>(r)) + 1) * width * 4 * 2;
      p.buffers += static_cast<double>(r) * 4;
    }
  }
  return p;
}

std::string DescribePlan(const MemoryPlan& p) {
  std::string s;
  auto add = [&](const char* what, double bytes) {
    if (bytes <= 0) return;
    if (!s.empty()) s += " + ";
    s += std::string(what) + " " + Mb(bytes);
  };
  add("shard rows", p.shard_rows);
  add("optimizer state", p.shard_state);
  add("aggregation", p.shard_aggregation);
  add("data", p.data);
  add("epoch order", p.order);
  add("step buffers", p.buffers);
  s += " = " + Mb(p.total());
  if (p.loading > p.total()) s += "; loading (the split) " + Mb(p.loading);
  return s;
}

double CurrentRssBytes() { return ProcField("/proc/self/status", "VmRSS"); }
double AvailableMemoryBytes() { return ProcField("/proc/meminfo", "MemAvailable"); }

}  // namespace cfps
