#pragma once
// Roles are a property of the rank, not of the transport. With P ranks and --ps S:
//   S > 0 and P > 1: ranks 0..S-1 serve shards 0..S-1, ranks S..P-1 are workers 0..W-1 (cluster).
//   S == 0, or P == 1: every rank serves shard r and is worker r (single process, or all-serve).

#include <string>
#include <vector>

#include "common/status.h"

namespace cfps {

class Roles {
 public:
  // InvalidArgument (naming --ps) when S >= P on more than one rank, or S < 0.
  static Status Make(int num_ranks, int ps, Roles* out);

  int num_ranks() const { return num_ranks_; }
  int num_shards() const { return static_cast<int>(shard_ranks_.size()); }
  int num_workers() const { return static_cast<int>(worker_ranks_.size()); }
  int shard_rank(int shard) const { return shard_ranks_[static_cast<size_t>(shard)]; }
  int worker_rank(int worker) const { return worker_ranks_[static_cast<size_t>(worker)]; }
  // -1 when the rank does not have that role.
  int shard_of_rank(int rank) const { return shard_of_rank_[static_cast<size_t>(rank)]; }
  int worker_of_rank(int rank) const { return worker_of_rank_[static_cast<size_t>(rank)]; }
  bool serves(int rank) const { return shard_of_rank(rank) >= 0; }
  bool trains(int rank) const { return worker_of_rank(rank) >= 0; }
  // "server", "worker" or "server+worker".
  std::string Describe(int rank) const;

 private:
  int num_ranks_ = 1;
  std::vector<int> shard_ranks_, worker_ranks_, shard_of_rank_, worker_of_rank_;
};

}  // namespace cfps
