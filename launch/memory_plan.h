#pragma once
// The memory plan of a rank: what cfps train will hold, computed from the shapes before the big
// allocations, printed by rank 0 before training, compared with the available memory (a plan
// that does not fit is refused before it can fail half-way), and reported next to each rank's
// peak RSS at the end.

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/dataset.h"
#include "common/roles.h"
#include "worker/trainer.h"

namespace cfps {

struct MemoryPlan {
  // Server side: the shard's rows, the optimizer state, the aggregation tables.
  double shard_rows = 0, shard_state = 0, shard_aggregation = 0;
  // Every rank holds the data set (records and vocabularies); workers add the epoch order and
  // the buffers of a step and of an evaluation round.
  double data = 0, order = 0, buffers = 0;
  // While loading, before any of the above: the vocabularies and the random split's arrays.
  double loading = 0;
  double total() const {
    return shard_rows + shard_state + shard_aggregation + data + order + buffers;
  }
  // What the peak RSS should be (above the process baseline): training or loading, the larger.
  double peak() const { return std::max(total(), loading); }
};

MemoryPlan PlanMemory(const Roles& roles, int rank, const Dataset& data, const TrainConfig& config);

// "rows 57.6 MB + optimizer state 0 B + ... = 420 MB"
std::string DescribePlan(const MemoryPlan& plan);

// Bytes of this process's resident set now (VmRSS), and MemAvailable of the machine (0 when
// /proc cannot tell).
double CurrentRssBytes();
double AvailableMemoryBytes();

}  // namespace cfps
