// libFuzzer target: the checkpoint shard file reader (ps/checkpoint.cc: the header checks and the
// body reads), through the three public entry points that open shard files, as cfps calls them:
// LoadShardRows (`cfps train --resume`, onto 1..4 shards), VerifyFile (`cfps inspect`, `export`
// and resume) and StreamRows (`cfps export`, one-shard checkpoints).
//
// The input is a shard file (the seed corpus holds real ones, written by `cfps train
// --checkpoint-dir`). The readers take a step directory and derive the file name from the shard
// index and count, so the target keeps one temporary directory whose shard-SSSSS-of-NNNNN.bin is
// a symlink to the in-memory fuzz file (fuzz_file.h): no file is written per input.
//
// The MANIFEST it is checked against is the one the header itself describes (same run id, step,
// shard count, k, optimizer, table sizes; the file list's size and CRC of this file), kept only if
// ParseManifest accepts it, i.e. if a real MANIFEST could say so. Two reserved header bytes steer
// the target: byte 88 % 16 picks one field of the MANIFEST to disagree with the file (0: none),
// byte 89 % 4 + 1 is the shard count to load onto. The input is read as given (checksum paths),
// and when its checksums are wrong also with both CRC-32s fixed, so that the fuzzer gets past
// them to the checks behind.
//
// Properties: a rejection names the file; a file LoadShardRows accepts also passes VerifyFile
// against the same MANIFEST entry, and the rows it loaded are the file's rows, bit for bit; rows
// that StreamRows hands out are the file's rows in global order.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/file_util.h"
#include "common/sharding.h"
#include "ps/checkpoint.h"
#include "ps/optimizer.h"
#include "ps/shard.h"
#include "tests/fuzz/fuzz_file.h"

namespace {

using cfps::CheckpointFile;
using cfps::CheckpointMeta;
using cfps::kShardHeaderBytes;

template <typename T>
T Get(const std::string& b, size_t offset) {
  T value;
  std::memcpy(&value, b.data() + offset, sizeof(T));
  return value;
}
template <typename T>
void Put(std::string* b, size_t offset, T value) {
  std::memcpy(&(*b)[offset], &value, sizeof(T));
}

// A temporary step directory holding one symlink, renamed as the reader under test needs.
class StepDir {
 public:
  // Under $TMPDIR (run.sh points it into the build directory: a crash leaves the directory
  // behind, a clean exit removes it).
  StepDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/cfps_fuzz_ckpt_XXXXXX";
    if (!::mkdtemp(&tmpl[0])) std::abort();
    dir_ = tmpl;
  }
  ~StepDir() {
    if (!name_.empty()) ::unlink(cfps::JoinPath(dir_, name_).c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& dir() const { return dir_; }
  // Makes dir/name the fuzz file.
  void Point(const std::string& name, const std::string& target) {
    if (name == name_) return;
    if (!name_.empty()) ::unlink(cfps::JoinPath(dir_, name_).c_str());
    if (::symlink(target.c_str(), cfps::JoinPath(dir_, name).c_str()) != 0) std::abort();
    name_ = name;
  }

 private:
  std::string dir_, name_;
};

StepDir* TheDir() {
  static StepDir dir;  // destroyed at exit: the directory does not outlive a clean run
  return &dir;
}

// The shard's part of a MANIFEST, as the header describes it.
struct Described {
  CheckpointMeta meta;
  uint32_t shard = 0;
  CheckpointFile entry;
  bool valid = false;  // ParseManifest would accept this MANIFEST
};

Described Describe(const std::string& b) {
  Described d;
  CheckpointMeta& m = d.meta;
  m.steps_per_epoch = 1;
  m.schedule = "one-cycle";
  m.created = "2026-01-01T00:00:00Z";
  d.entry.name = cfps::ShardFileName(0, 1);
  d.entry.size = b.size();
  d.entry.crc = cfps::Crc32(0, b.data() + std::min<size_t>(b.size(), kShardHeaderBytes),
                            b.size() - std::min<size_t>(b.size(), kShardHeaderBytes));
  if (b.size() < kShardHeaderBytes) return d;
  m.run_id = Get<uint64_t>(b, 16);
  m.step = Get<int64_t>(b, 24);
  d.shard = Get<uint32_t>(b, 32);
  m.num_shards = static_cast<int>(Get<uint32_t>(b, 36));
  m.k = static_cast<int>(Get<uint32_t>(b, 40));
  const uint32_t opt = Get<uint32_t>(b, 44);
  if (opt > 2) return d;  // no MANIFEST names such an optimizer
  m.optimizer = static_cast<cfps::OptimizerKind>(opt);
  m.state_width = static_cast<int>(Get<uint32_t>(b, 48));
  m.users = Get<int64_t>(b, 56);
  m.items = Get<int64_t>(b, 64);
  if (m.num_shards <= 0 || d.shard >= static_cast<uint32_t>(m.num_shards)) return d;
  // Would a MANIFEST with these values be accepted? (Its file list depends only on the shard
  // count, so a one-shard list stands in for a long one.)
  // The answer depends only on these fields; it is cached, as formatting and parsing took a third
  // of the time of an input.
  static std::map<std::tuple<bool, int, int, int, int64_t, int64_t>, bool> accepted;
  const auto key = std::make_tuple(m.step >= 0, m.k, static_cast<int>(m.optimizer), m.state_width,
                                   m.users, m.items);
  auto it = accepted.find(key);
  if (it == accepted.end()) {
    CheckpointMeta one = m;
    one.num_shards = 1;
    one.files = {{"users.tsv", 0, 0}, {"items.tsv", 0, 0}, {cfps::ShardFileName(0, 1), 0, 0}};
    CheckpointMeta parsed;
    if (accepted.size() > (1 << 16)) accepted.clear();
    it = accepted
             .emplace(key, cfps::ParseManifest(cfps::FormatManifest(one), "MANIFEST", &parsed).ok())
             .first;
  }
  if (!it->second) return d;
  d.entry.name = cfps::ShardFileName(static_cast<int>(d.shard), m.num_shards);
  m.files = {{"users.tsv", 0, 0}, {"items.tsv", 0, 0}, d.entry};
  d.valid = true;
  return d;
}

// Makes both checksums right.
std::string FixCrcs(std::string b) {
  Put<uint32_t>(&b, 120,
                cfps::Crc32(0, b.data() + kShardHeaderBytes, b.size() - kShardHeaderBytes));
  Put<uint32_t>(&b, 124, cfps::Crc32(0, b.data(), 124));
  return b;
}

void ExpectNamesFile(const cfps::Status& s) {
  CFPS_FUZZ_ASSERT(!s.message().empty());
  CFPS_FUZZ_ASSERT(s.message().find(TheDir()->dir()) != std::string::npos);
}

// The file's floats for table t, part 0 (values) or 1 (optimizer state), of a valid header.
const char* Part(const std::string& b, const CheckpointMeta& m, int64_t local_users, int t,
                 int part) {
  const int64_t width = m.k + 1, sw = m.state_width;
  int64_t offset = kShardHeaderBytes;
  if (t == 1) offset += local_users * (width + sw) * 4;
  if (part == 1) offset += (t == 0 ? local_users : Get<int64_t>(b, 80)) * width * 4;
  return b.data() + offset;
}

void Check(const std::string& b) {
  StepDir* dir = TheDir();
  const std::string& file =
      cfps::fuzz::TheFile().Set(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  Described d = Describe(b);
  CheckpointMeta& m = d.meta;
  int old_shard = static_cast<int>(d.shard);
  int new_shards = 1;
  if (b.size() >= kShardHeaderBytes) {
    new_shards = 1 + static_cast<uint8_t>(b[89]) % 4;
    const int mismatch = static_cast<uint8_t>(b[88]) % 16;
    if (mismatch == 8) d.entry.size += 1;
    if (mismatch == 9) d.entry.crc ^= 1;
    if (d.valid) {
      switch (mismatch) {
        case 1:
          m.run_id += 1;
          break;
        case 2:
          m.step = m.step == 0 ? 1 : m.step - 1;
          break;
        case 3:
          old_shard = m.num_shards > 1 ? (old_shard + 1) % m.num_shards : old_shard;
          break;
        case 4:
          m.num_shards = m.num_shards > 1 ? m.num_shards - 1 : 2;
          break;
        case 5:
          m.k = m.k > 1 ? m.k - 1 : 2;
          break;
        case 6:
          m.users = m.users > 0 ? m.users - 1 : 1;
          break;
        case 7:
          m.items = m.items > 0 ? m.items - 1 : 1;
          break;
        case 10:
          m.state_width = m.state_width > 0 ? m.state_width - 1 : 1;
          break;
        default:
          break;
      }
      m.files[2] = d.entry;
      m.files[2].name = cfps::ShardFileName(old_shard, m.num_shards);
    }
  }

  dir->Point(d.entry.name, file);
  const cfps::Status verified = cfps::VerifyFile(dir->dir(), d.entry);
  if (!verified.ok()) ExpectNamesFile(verified);
  if (!d.valid) return;

  // Resume: load onto shard (old % new) of new_shards, if the model is small enough to allocate.
  const int64_t width = m.k + 1;
  if (m.k <= 64 && m.users <= 4096 && m.items <= 4096 &&
      (m.users + m.items) * (width + m.state_width) <= 8192) {
    cfps::ModelShape shape;
    shape.rows[0] = m.users;
    shape.rows[1] = m.items;
    shape.k = m.k;
    cfps::OptimizerConfig opt;
    opt.kind = m.optimizer;
    const int me = old_shard % new_shards;
    cfps::Shard shard(me, new_shards, shape, opt, /*seed=*/1);
    if (shard.state_width() == m.state_width) {
      dir->Point(cfps::ShardFileName(old_shard, m.num_shards), file);
      const cfps::Status loaded = cfps::LoadShardRows(dir->dir(), m, old_shard, &shard);
      if (!loaded.ok()) {
        ExpectNamesFile(loaded);
      } else {
        CFPS_FUZZ_ASSERT(verified.ok());
        const int64_t local_users = cfps::RowsOnShard(m.users, old_shard, m.num_shards);
        for (int t = 0; t < 2; ++t) {
          const int64_t n = cfps::RowsOnShard(t == 0 ? m.users : m.items, old_shard, m.num_shards);
          for (int64_t j = 0; j < n; ++j) {
            const int64_t global = cfps::GlobalRow(j, old_shard, m.num_shards);
            if (cfps::ShardOf(global, new_shards) != me) continue;
            const int64_t local = cfps::LocalIndex(global, new_shards);
            CFPS_FUZZ_ASSERT(std::memcmp(shard.row(t, local),
                                         Part(b, m, local_users, t, 0) + j * width * 4,
                                         static_cast<size_t>(width) * 4) == 0);
            if (m.state_width > 0) {
              CFPS_FUZZ_ASSERT(std::memcmp(shard.state(t, local),
                                           Part(b, m, local_users, t, 1) + j * m.state_width * 4,
                                           static_cast<size_t>(m.state_width) * 4) == 0);
            }
          }
        }
      }
    }
  }

  // Export of a one-shard checkpoint: every row, in order, as the file holds them.
  if (m.num_shards == 1 && old_shard == 0) {
    dir->Point(cfps::ShardFileName(0, 1), file);
    int64_t expect_row = 0;
    int expect_table = 0;
    const cfps::Status streamed = cfps::StreamRows(
        dir->dir(), m, [&](int t, int64_t row, const float* values) -> cfps::Status {
          if (t != expect_table) {
            CFPS_FUZZ_ASSERT(t == 1 && expect_row == m.users);
            expect_table = 1;
            expect_row = 0;
          }
          CFPS_FUZZ_ASSERT(row == expect_row);
          CFPS_FUZZ_ASSERT(std::memcmp(values, Part(b, m, m.users, t, 0) + row * width * 4,
                                       static_cast<size_t>(width) * 4) == 0);
          ++expect_row;
          return cfps::Status::OK();
        });
    if (!streamed.ok()) {
      ExpectNamesFile(streamed);
    } else {
      CFPS_FUZZ_ASSERT(expect_row == (expect_table == 0 ? m.users : m.items));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string b(reinterpret_cast<const char*>(data), size);
  Check(b);
  if (size >= kShardHeaderBytes) {
    const std::string fixed = FixCrcs(b);
    if (fixed != b) Check(fixed);
  }
  return 0;
}
