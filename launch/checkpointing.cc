#include "launch/checkpointing.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "common/random.h"
#include "common/sharding.h"

namespace cfps {

namespace {

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* ScheduleName(ScheduleKind kind) {
  return kind == ScheduleKind::kOneCycle ? "one-cycle" : "constant";
}

Status FileEntry(const std::string& dir, const std::string& name, CheckpointFile* entry) {
  std::string bytes;
  CFPS_RETURN_IF_ERROR(ReadFile(JoinPath(dir, name), &bytes));
  entry->name = name;
  entry->size = bytes.size();
  entry->crc = Crc32(0, bytes.data(), bytes.size());
  return Status::OK();
}

// Removes a step directory (files only one level deep, as cfps writes them).
void RemoveStepDir(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") unlink(JoinPath(dir, name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

}  // namespace

uint64_t NewRunId(Exchange* exchange) {
  double id[2] = {0, 0};
  if (exchange->rank() == 0) {
    uint64_t r = 0;
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    urandom.read(reinterpret_cast<char*>(&r), sizeof(r));
    r ^= Mix64(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count() ^
                                     getpid()));
    // 2 x 32 bits travel exactly in doubles.
    id[0] = static_cast<double>(r >> 32);
    id[1] = static_cast<double>(r & 0xffffffffULL);
  }
  exchange->Broadcast(id, sizeof(id), 0);
  return (static_cast<uint64_t>(id[0]) << 32) | static_cast<uint64_t>(id[1]);
}

Checkpointer::Checkpointer(Exchange* exchange, const Roles& roles, Trainer* trainer,
                           const Dataset* data, const TrainOptions* options, uint64_t run_id)
    : exchange_(exchange),
      roles_(roles),
      trainer_(trainer),
      data_(data),
      options_(options),
      run_id_(run_id) {}

std::string Checkpointer::StepDir(int64_t step) const {
  return JoinPath(options_->checkpoint_dir, StepDirName(step));
}

CheckpointMeta Checkpointer::Describe(int64_t step) const {
  const TrainConfig& c = options_->train;
  CheckpointMeta m;
  m.run_id = run_id_;
  m.step = step;
  m.steps_per_epoch = trainer_->steps_per_epoch();
  m.num_shards = roles_.num_shards();
  m.k = c.dims.k;
  m.optimizer = c.optimizer.kind;
  m.state_width = StateFloatsPerRow(c.optimizer.kind, c.dims.k + 1);
  m.users = data_->users.size();
  m.items = data_->items.size();
  m.train_ratings = static_cast<int64_t>(data_->train.size());
  m.seed = c.seed;
  m.batch_size = c.batch_size;
  m.order_blocks = c.order_blocks;
  m.workers = roles_.num_workers();
  m.epochs = c.epochs;
  m.lr = c.lr;
  m.wd = c.optimizer.wd;
  m.y_lo = c.dims.lo;
  m.y_hi = c.dims.hi;
  m.schedule = ScheduleName(c.schedule);
  m.created = UtcNow();
  return m;
}

Status Checkpointer::Save(int64_t step) {
  const auto start = std::chrono::steady_clock::now();
  Status s = SaveSteps(step);
  if (s.ok() && exchange_->rank() == 0) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("cfps: checkpoint %s: %.1f MB in %.2f s\n", StepDir(step).c_str(),
                static_cast<double>(last_bytes_) / 1e6, secs);
    std::fflush(stdout);
  }
  if (!s.ok()) {
    const auto steps = ListCheckpointSteps(options_->checkpoint_dir);
    std::string previous = "no complete checkpoint";
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      if (it->second && it->first != step) {
        previous = StepDirName(it->first);
        break;
      }
    }
    return Status::IOError("checkpoint of step " + std::to_string(step) + " not written (" +
                           s.message() + "); LATEST is unchanged: " + previous);
  }
  return s;
}

Status Checkpointer::SaveSteps(int64_t step) {
  exchange_->SetActivity("writing a checkpoint", step);
  const int rank = exchange_->rank();
  const std::string dir = StepDir(step);
  Status s;
  if (rank == 0) {
    s = MakeDirs(options_->checkpoint_dir);
    if (s.ok()) s = MakeDirs(dir);
    // A MANIFEST left from an earlier run at the same step is removed first: the directory is
    // incomplete until the new one is written.
    if (s.ok()) unlink(JoinPath(dir, "MANIFEST").c_str());
  }
  CFPS_RETURN_IF_ERROR(AgreeOnStatus(exchange_, s));

  const int num_shards = roles_.num_shards();
  std::vector<double> entries(2 * static_cast<size_t>(num_shards), 0.0);
  if (Shard* shard = trainer_->shard()) {
    CheckpointFile entry;
    s = WriteShardFile(JoinPath(dir, ShardFileName(shard->shard(), num_shards)), *shard, run_id_,
                       step, &entry);
    entries[2 * static_cast<size_t>(shard->shard())] = static_cast<double>(entry.size);
    entries[2 * static_cast<size_t>(shard->shard()) + 1] = static_cast<double>(entry.crc);
  }
  CFPS_RETURN_IF_ERROR(AgreeOnStatus(exchange_, s));
  exchange_->AllReduceSum(entries.data(), static_cast<int>(entries.size()));
  last_bytes_ = 0;
  for (int shard = 0; shard < num_shards; ++shard) {
    last_bytes_ += static_cast<int64_t>(entries[2 * static_cast<size_t>(shard)]);
  }

  if (const char* delay = std::getenv("CFPS_FAULT_DELAY_CHECKPOINT_MS")) {
    // Fault injection for the crash tests: widens the window between the shard files and the
    // MANIFEST, where a killed job must leave an incomplete (never loaded) step directory.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
  }
  if (rank == 0) {
    CheckpointMeta meta = Describe(step);
    meta.files.resize(2);
    s = data_->users.WriteTsv(JoinPath(dir, "users.tsv"));
    if (s.ok()) s = data_->items.WriteTsv(JoinPath(dir, "items.tsv"));
    if (s.ok()) s = FileEntry(dir, "users.tsv", &meta.files[0]);
    if (s.ok()) s = FileEntry(dir, "items.tsv", &meta.files[1]);
    for (int shard = 0; shard < num_shards && s.ok(); ++shard) {
      CheckpointFile f;
      f.name = ShardFileName(shard, num_shards);
      f.size = static_cast<uint64_t>(entries[2 * static_cast<size_t>(shard)]);
      f.crc = static_cast<uint32_t>(entries[2 * static_cast<size_t>(shard) + 1]);
      meta.files.push_back(f);
    }
    if (s.ok()) s = WriteFileAtomic(JoinPath(dir, "MANIFEST"), FormatManifest(meta));
    if (s.ok()) {
      s = WriteFileAtomic(JoinPath(options_->checkpoint_dir, "LATEST"), StepDirName(step) + "\n");
    }
    if (s.ok()) s = Prune();
  }
  return AgreeOnStatus(exchange_, s);
}

Status Checkpointer::Prune() const {
  const auto steps = ListCheckpointSteps(options_->checkpoint_dir);
  int64_t newest_complete = -1;
  int complete_seen = 0;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (!it->second) continue;
    if (newest_complete < 0) newest_complete = it->first;
    if (++complete_seen > options_->keep) RemoveStepDir(StepDir(it->first));
  }
  // Incomplete directories older than the newest complete checkpoint are leftovers of crashes.
  for (const auto& [step, complete] : steps) {
    if (!complete && step < newest_complete) RemoveStepDir(StepDir(step));
  }
  return Status::OK();
}

Status Checkpointer::CheckCompatible(const CheckpointMeta& m, const std::string& step_dir) const {
  const TrainConfig& c = options_->train;
  const std::string where = "checkpoint '" + step_dir + "'";
  auto differs = [&](const std::string& option, const std::string& theirs,
                     const std::string& ours) {
    return Status::InvalidArgument(where + " was trained with " + option + " " + theirs +
                                   ", this run has " + option + " " + ours +
                                   ": resume with the same value");
  };
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  if (m.k != c.dims.k) return differs("--factors", std::to_string(m.k), std::to_string(c.dims.k));
  if (m.optimizer != c.optimizer.kind) {
    return differs("--optimizer", OptimizerName(m.optimizer), OptimizerName(c.optimizer.kind));
  }
  if (m.seed != c.seed) return differs("--seed", std::to_string(m.seed), std::to_string(c.seed));
  if (m.batch_size != c.batch_size) {
    return differs("--batch-size", std::to_string(m.batch_size), std::to_string(c.batch_size));
  }
  if (m.order_blocks != c.order_blocks) {
    auto name = [](int blocks) {
      return blocks == 1 ? std::string("random (or blocked with 1 x 1 tiles)")
                         : "blocked with " + std::to_string(blocks) + " x " +
                               std::to_string(blocks) + " tiles";
    };
    return differs("--order", name(m.order_blocks), name(c.order_blocks));
  }
  if (m.epochs != c.epochs) {
    return differs("--epochs", std::to_string(m.epochs), std::to_string(c.epochs));
  }
  if (m.lr != c.lr) return differs("--lr", num(m.lr), num(c.lr));
  if (m.wd != c.optimizer.wd) return differs("--wd", num(m.wd), num(c.optimizer.wd));
  if (m.schedule != ScheduleName(c.schedule)) {
    return differs("--schedule", m.schedule, ScheduleName(c.schedule));
  }
  if (m.y_lo != c.dims.lo || m.y_hi != c.dims.hi) {
    return differs("--y-range", num(m.y_lo) + " " + num(m.y_hi),
                   num(c.dims.lo) + " " + num(c.dims.hi));
  }
  if (m.users != data_->users.size() || m.items != data_->items.size() ||
      m.train_ratings != static_cast<int64_t>(data_->train.size()) ||
      m.steps_per_epoch != trainer_->steps_per_epoch()) {
    return Status::InvalidArgument(
        where + " was trained on other data (" + std::to_string(m.users) + " users, " +
        std::to_string(m.items) + " items, " + std::to_string(m.train_ratings) +
        " training ratings; this run has " + std::to_string(data_->users.size()) + ", " +
        std::to_string(data_->items.size()) + ", " + std::to_string(data_->train.size()) + ")");
  }
  return Status::OK();
}

Status Checkpointer::Load(const std::string& path, int64_t* step) {
  exchange_->SetActivity("loading a checkpoint", -1);
  std::string step_dir;
  CheckpointMeta meta;
  Status s = OpenCheckpoint(path, &step_dir, &meta);
  if (s.ok()) s = CheckCompatible(meta, step_dir);
  if (s.ok() && exchange_->rank() == 0) {
    // The vocabularies must be the ones this run built from its data, row for row.
    for (int t = 0; t < 2 && s.ok(); ++t) {
      s = VerifyFile(step_dir, meta.files[static_cast<size_t>(t)]);
      Vocab saved;
      if (s.ok())
        s = Vocab::ReadTsv(JoinPath(step_dir, meta.files[static_cast<size_t>(t)].name), &saved);
      const Vocab& ours = t == 0 ? data_->users : data_->items;
      if (s.ok() && saved.names() != ours.names()) {
        s = Status::InvalidArgument("checkpoint '" + step_dir + "' was trained on other data (" +
                                    meta.files[static_cast<size_t>(t)].name +
                                    " differs from this run's vocabulary)");
      }
    }
  }
  CFPS_RETURN_IF_ERROR(AgreeOnStatus(exchange_, s).WithContext("--resume"));
  if (Shard* shard = trainer_->shard()) {
    // Old shard o holds rows r = o (mod N); this shard needs r = s (mod M): both hold for some r
    // exactly when o = s (mod gcd(N, M)).
    const int g = std::gcd(meta.num_shards, shard->num_shards());
    for (int old = 0; old < meta.num_shards && s.ok(); ++old) {
      if ((old - shard->shard()) % g != 0) continue;
      s = LoadShardRows(step_dir, meta, old, shard);
    }
  }
  CFPS_RETURN_IF_ERROR(AgreeOnStatus(exchange_, s).WithContext("--resume"));
  *step = meta.step;
  run_id_ = meta.run_id;
  return Status::OK();
}

}  // namespace cfps
