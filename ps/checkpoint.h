#pragma once
// Checkpoint files (layout fixed by ../shared/DESIGN.md, "Checkpoints"):
//
//   DIR/step-000001250/shard-00001-of-00004.bin   rows + optimizer state of shard 1 of 4
//   DIR/step-000001250/users.tsv, items.tsv       the vocabularies ("row<TAB>raw_id")
//   DIR/step-000001250/MANIFEST                   written last: the run, the shape, every file's
//                                                 size and CRC-32, and its own CRC-32
//   DIR/LATEST                                    "step-000001250\n", renamed over atomically
//
// A step directory without a MANIFEST is incomplete and is never loaded. Every file is written to
// a temporary name, fsync'ed and renamed.
//
// Shard file (little-endian):
//   offset  size  field
//        0     8  magic "CFPSSHRD"
//        8     4  format version (kShardFormatVersion)
//       12     4  header bytes (kShardHeaderBytes = 128)
//       16     8  run id (random per training run; a shard of another run is refused)
//       24     8  step
//       32     4  shard index s          36  4  number of shards S
//       40     4  k                      44  4  optimizer (OptimizerKind)
//       48     4  state floats per row   52  4  reserved (0)
//       56     8  global rows, users     64  8  global rows, items
//       72     8  local rows, users      80  8  local rows, items
//       88    32  reserved (0)
//      120     4  CRC-32 of the body (everything after the header)
//      124     4  CRC-32 of bytes 0..123
//   then the body: for users then items, local_rows x (k+1) floats (rows, local order), then
//   local_rows x state floats.
// The MANIFEST records a shard's size and body CRC (a whole-file CRC would be blind to the body:
// a block followed by its own CRC-32 leaves the CRC register in a constant state).
// A row's global index is local * S + s: any shard count M can load the rows it owns (r % M).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/file_util.h"  // Crc32
#include "common/status.h"
#include "common/vocab.h"
#include "ps/shard.h"

namespace cfps {

constexpr uint32_t kShardFormatVersion = 1;
constexpr uint32_t kShardHeaderBytes = 128;
constexpr char kShardMagic[8] = {'C', 'F', 'P', 'S', 'S', 'H', 'R', 'D'};

struct CheckpointFile {
  std::string name;
  uint64_t size = 0;
  uint32_t crc = 0;
};

// What a MANIFEST records. The training options are those that fix the arithmetic of the
// continuation: resuming with other values is refused, naming the option.
struct CheckpointMeta {
  uint64_t run_id = 0;
  int64_t step = 0;  // global steps done
  int64_t steps_per_epoch = 0;
  int num_shards = 1;
  int k = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  int state_width = 0;
  int64_t users = 0, items = 0;
  int64_t train_ratings = 0;
  uint64_t seed = 0;
  int64_t batch_size = 0;
  int order_blocks = 1;  // --order blocked's B; 1: --order random (and MANIFESTs without the line)
  int workers = 0;
  int epochs = 0;
  double lr = 0, wd = 0, y_lo = 0, y_hi = 0;
  std::string schedule;
  std::string created;                // UTC, ISO 8601
  std::vector<CheckpointFile> files;  // users.tsv, items.tsv, then shard files in order
};

std::string StepDirName(int64_t step);                 // "step-000001250"
std::string ShardFileName(int shard, int num_shards);  // "shard-00001-of-00004.bin"

std::string FormatManifest(const CheckpointMeta& meta);
// `path` names the file in errors. Checks the manifest's own CRC and every field.
Status ParseManifest(const std::string& text, const std::string& path, CheckpointMeta* meta);

// Step directories under a checkpoint directory, in increasing step: (step, has a MANIFEST).
std::vector<std::pair<int64_t, bool>> ListCheckpointSteps(const std::string& dir);

// `path` is a checkpoint directory or a step directory. Fills the step directory and its parsed
// MANIFEST. In a checkpoint directory the newest step directory with a MANIFEST is taken (LATEST
// names it too, unless the writer died between the MANIFEST and the rename of LATEST); a step
// directory without a MANIFEST is never taken. No complete checkpoint is an error saying so.
Status OpenCheckpoint(const std::string& path, std::string* step_dir, CheckpointMeta* meta);

// Writes `shard` to `path` (atomically); fills size and CRC for the manifest.
Status WriteShardFile(const std::string& path, const Shard& shard, uint64_t run_id, int64_t step,
                      CheckpointFile* entry);

// Streams the shard file `old_shard` of the checkpoint `meta` and copies into `shard` every row
// (and its optimizer state) that `shard` owns. Verifies the header against the manifest, the
// size, and the CRC against the manifest's entry; any mismatch is a Corruption naming the file.
Status LoadShardRows(const std::string& step_dir, const CheckpointMeta& meta, int old_shard,
                     Shard* shard);

// Verifies one file of a step directory against its manifest entry: size and CRC-32 (for shard
// files: the header's own checksum, then the body's CRC against the header and the entry).
Status VerifyFile(const std::string& step_dir, const CheckpointFile& entry);

// Calls fn(table, global_row, row) for every row of every shard in global order per table,
// streaming shard files side by side: memory is one row per shard. Used by `cfps export`.
Status StreamRows(const std::string& step_dir, const CheckpointMeta& meta,
                  const std::function<Status(int table, int64_t row, const float* values)>& fn);

}  // namespace cfps
