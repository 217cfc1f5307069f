#pragma once
// The collective side of checkpoints: every server writes its shard in parallel, rank 0 writes the
// vocabularies, then the MANIFEST, then renames LATEST, then prunes old checkpoints. Loading maps
// the rows of N old shards onto the M shards of this run (row r goes to r % M), so a model moves
// between any cluster shapes. Every function here is collective and returns the same Status on
// every rank (AgreeOnStatus).

#include <cstdint>
#include <string>

#include "common/dataset.h"
#include "common/exchange.h"
#include "common/roles.h"
#include "launch/options.h"
#include "ps/checkpoint.h"
#include "worker/trainer.h"

namespace cfps {

class Checkpointer {
 public:
  Checkpointer(Exchange* exchange, const Roles& roles, Trainer* trainer, const Dataset* data,
               const TrainOptions* options, uint64_t run_id);

  // Writes the checkpoint of global step `step` into options->checkpoint_dir.
  Status Save(int64_t step);
  // Checks that the checkpoint at `path` fits this run and loads it into this rank's shard.
  Status Load(const std::string& path, int64_t* step);

  uint64_t run_id() const { return run_id_; }
  std::string StepDir(int64_t step) const;

 private:
  Status SaveSteps(int64_t step);
  Status CheckCompatible(const CheckpointMeta& meta, const std::string& step_dir) const;
  CheckpointMeta Describe(int64_t step) const;
  Status Prune() const;

  Exchange* exchange_;
  Roles roles_;
  Trainer* trainer_;
  const Dataset* data_;
  const TrainOptions* options_;
  uint64_t run_id_;
  int64_t last_bytes_ = 0;  // shard bytes of the last checkpoint written
};

// A run id that differs between runs (random; identical on every rank). Collective.
uint64_t NewRunId(Exchange* exchange);

}  // namespace cfps
