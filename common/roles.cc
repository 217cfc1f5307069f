#include "common/roles.h"

namespace cfps {

Status Roles::Make(int num_ranks, int ps, Roles* out) {
  if (ps < 0) return Status::InvalidArgument("--ps must be >= 0, got " + std::to_string(ps));
  if (num_ranks > 1 && ps >= num_ranks) {
    return Status::InvalidArgument("--ps " + std::to_string(ps) + " leaves no worker among " +
                                   std::to_string(num_ranks) +
                                   " ranks: use --ps < the number of ranks (or --ps 0: every "
                                   "rank serves and trains)");
  }
  Roles r;
  r.num_ranks_ = num_ranks;
  r.shard_of_rank_.assign(static_cast<size_t>(num_ranks), -1);
  r.worker_of_rank_.assign(static_cast<size_t>(num_ranks), -1);
  const bool all_serve = ps == 0 || num_ranks == 1;
  for (int rank = 0; rank < num_ranks; ++rank) {
    if (all_serve || rank < ps) {
      r.shard_of_rank_[static_cast<size_t>(rank)] = static_cast<int>(r.shard_ranks_.size());
      r.shard_ranks_.push_back(rank);
    }
    if (all_serve || rank >= ps) {
      r.worker_of_rank_[static_cast<size_t>(rank)] = static_cast<int>(r.worker_ranks_.size());
      r.worker_ranks_.push_back(rank);
    }
  }
  *out = std::move(r);
  return Status::OK();
}

std::string Roles::Describe(int rank) const {
  if (serves(rank) && trains(rank)) return "server+worker";
  return serves(rank) ? "server" : "worker";
}

}  // namespace cfps
