#include "ps/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <sstream>

#include "common/file_util.h"
#include "common/sharding.h"

namespace cfps {

namespace {

constexpr char kManifestHeader[] = "cfps checkpoint v1";
// Every field of a MANIFEST; each appears exactly once (the file lines aside).
constexpr const char* kManifestFields[] = {
    "run_id", "step",  "steps_per_epoch", "shards",  "factors",    "optimizer", "state_width",
    "users",  "items", "train_ratings",   "seed",    "batch_size", "workers",   "epochs",
    "lr",     "wd",    "schedule",        "y_range", "created"};

// Reads the next whitespace-separated token of a MANIFEST line into `value`: all of it ("0.5.5" is
// not 0.5 followed by .5).
template <typename T>
bool Field(std::istream& line, T* value) {
  std::string token;
  if (!(line >> token)) return false;
  std::istringstream in(token);
  return static_cast<bool>(in >> *value) && in.peek() == std::char_traits<char>::eof();
}

// A FILE* with a large buffer, closed on scope exit.
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Status OpenForRead(const std::string& path, File* file, uint64_t* size) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IOError("cannot open '" + path + "': " + std::strerror(errno));
  file->reset(f);
  // A 1 MiB buffer, or the file's size when smaller (vocabularies, small shards).
  struct stat st;
  const bool small = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20);
  std::setvbuf(f, nullptr, _IOFBF, small ? std::max<size_t>(st.st_size, BUFSIZ) : 1 << 20);
  if (std::fseek(f, 0, SEEK_END) != 0) return Status::IOError("cannot seek '" + path + "'");
  *size = static_cast<uint64_t>(std::ftell(f));
  std::rewind(f);
  return Status::OK();
}

Status ReadExact(FILE* f, void* dst, size_t n, const std::string& path) {
  if (n && std::fread(dst, 1, n, f) != n) {
    return Status::Corruption("'" + path + "' is truncated");
  }
  return Status::OK();
}

const CheckpointFile* FindFile(const CheckpointMeta& meta, const std::string& name) {
  for (const CheckpointFile& f : meta.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

uint64_t ShardBodyBytes(int64_t local_users, int64_t local_items, int width, int state_width) {
  return static_cast<uint64_t>(local_users + local_items) * sizeof(float) *
         static_cast<uint64_t>(width + state_width);
}

// Reads and checks the header of shard `shard` of the checkpoint; fills its local row counts.
Status ReadShardHeader(FILE* f, const std::string& path, uint64_t file_size,
                       const CheckpointMeta& meta, int shard, int64_t local_rows[2],
                       uint32_t* body_crc = nullptr) {
  char h[kShardHeaderBytes];
  if (file_size < kShardHeaderBytes) {
    return Status::Corruption("'" + path + "' is truncated: " + std::to_string(file_size) +
                              " bytes, shorter than the header");
  }
  CFPS_RETURN_IF_ERROR(ReadExact(f, h, sizeof(h), path));
  auto bad = [&](const std::string& why) { return Status::Corruption("'" + path + "': " + why); };
  if (std::memcmp(h, kShardMagic, 8) != 0) return bad("not a cfps shard file (bad magic)");
  if (GetField<uint32_t>(h, 8) != kShardFormatVersion) {
    return bad("shard format version " + std::to_string(GetField<uint32_t>(h, 8)) +
               ", this cfps reads version " + std::to_string(kShardFormatVersion));
  }
  if (GetField<uint32_t>(h, 124) != Crc32(0, h, 124)) return bad("header checksum mismatch");
  if (GetField<uint64_t>(h, 16) != meta.run_id) {
    return bad("belongs to another run (run id " + std::to_string(GetField<uint64_t>(h, 16)) +
               ", the MANIFEST says " + std::to_string(meta.run_id) + ")");
  }
  if (GetField<int64_t>(h, 24) != meta.step) {
    return bad("is from step " + std::to_string(GetField<int64_t>(h, 24)) + ", the MANIFEST says " +
               std::to_string(meta.step));
  }
  if (static_cast<int>(GetField<uint32_t>(h, 32)) != shard ||
      static_cast<int>(GetField<uint32_t>(h, 36)) != meta.num_shards) {
    return bad("is shard " + std::to_string(GetField<uint32_t>(h, 32)) + " of " +
               std::to_string(GetField<uint32_t>(h, 36)) + ", expected " + std::to_string(shard) +
               " of " + std::to_string(meta.num_shards));
  }
  if (static_cast<int>(GetField<uint32_t>(h, 40)) != meta.k) {
    return bad("has k=" + std::to_string(GetField<uint32_t>(h, 40)) +
               ", the MANIFEST says k=" + std::to_string(meta.k));
  }
  if (static_cast<int>(GetField<uint32_t>(h, 44)) != static_cast<int>(meta.optimizer) ||
      static_cast<int>(GetField<uint32_t>(h, 48)) != meta.state_width) {
    return bad("optimizer state does not match the MANIFEST");
  }
  if (GetField<int64_t>(h, 56) != meta.users || GetField<int64_t>(h, 64) != meta.items) {
    return bad("table sizes do not match the MANIFEST");
  }
  if (body_crc) *body_crc = GetField<uint32_t>(h, 120);
  local_rows[0] = GetField<int64_t>(h, 72);
  local_rows[1] = GetField<int64_t>(h, 80);
  if (local_rows[0] != RowsOnShard(meta.users, shard, meta.num_shards) ||
      local_rows[1] != RowsOnShard(meta.items, shard, meta.num_shards)) {
    return bad("local row counts do not match the sharding");
  }
  const uint64_t want = kShardHeaderBytes +
                        ShardBodyBytes(local_rows[0], local_rows[1], meta.k + 1, meta.state_width);
  if (file_size != want) {
    return bad(std::string(file_size < want ? "is truncated" : "is too long") + ": " +
               std::to_string(file_size) + " bytes, expected " + std::to_string(want));
  }
  return Status::OK();
}

}  // namespace

std::string StepDirName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step-%09" PRId64, step);
  return buf;
}

std::string ShardFileName(int shard, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "shard-%05d-of-%05d.bin", shard, num_shards);
  return buf;
}

std::string FormatManifest(const CheckpointMeta& m) {
  std::ostringstream os;
  os.precision(17);
  os << kManifestHeader << "\n"
     << "run_id " << m.run_id << "\n"
     << "step " << m.step << "\n"
     << "steps_per_epoch " << m.steps_per_epoch << "\n"
     << "shards " << m.num_shards << "\n"
     << "factors " << m.k << "\n"
     << "optimizer " << OptimizerName(m.optimizer) << "\n"
     << "state_width " << m.state_width << "\n"
     << "users " << m.users << "\n"
     << "items " << m.items << "\n"
     << "train_ratings " << m.train_ratings << "\n"
     << "seed " << m.seed << "\n"
     << "batch_size " << m.batch_size << "\n"
     << "order_blocks " << m.order_blocks << "\n"
     << "workers " << m.workers << "\n"
     << "epochs " << m.epochs << "\n"
     << "lr " << m.lr << "\n"
     << "wd " << m.wd << "\n"
     << "schedule " << m.schedule << "\n"
     << "y_range " << m.y_lo << " " << m.y_hi << "\n"
     << "created " << m.created << "\n";
  for (const CheckpointFile& f : m.files) {
    os << "file " << f.name << " " << f.size << " " << f.crc << "\n";
  }
  std::string body = os.str();
  return body + "manifest_crc " + std::to_string(Crc32(0, body.data(), body.size())) + "\n";
}

Status ParseManifest(const std::string& text, const std::string& path, CheckpointMeta* out) {
  auto bad = [&](const std::string& why) { return Status::Corruption("'" + path + "': " + why); };
  const size_t crc_pos = text.rfind("manifest_crc ");
  if (text.compare(0, sizeof(kManifestHeader) - 1, kManifestHeader) != 0) {
    return bad("not a cfps checkpoint MANIFEST (or from another version)");
  }
  if (crc_pos == std::string::npos || (crc_pos > 0 && text[crc_pos - 1] != '\n')) {
    return bad("no manifest_crc line (truncated?)");
  }
  const std::string body = text.substr(0, crc_pos);
  unsigned long long crc = 0;
  if (std::sscanf(text.c_str() + crc_pos, "manifest_crc %llu", &crc) != 1 ||
      crc != Crc32(0, body.data(), body.size())) {
    return bad("checksum mismatch");
  }
  CheckpointMeta m;
  std::istringstream in(body);
  std::string line;
  std::getline(in, line);
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    bool ok = true;
    if (key == "run_id")
      ok = Field(ls, &m.run_id);
    else if (key == "step")
      ok = Field(ls, &m.step);
    else if (key == "steps_per_epoch")
      ok = Field(ls, &m.steps_per_epoch);
    else if (key == "shards")
      ok = Field(ls, &m.num_shards);
    else if (key == "factors")
      ok = Field(ls, &m.k);
    else if (key == "optimizer") {
      std::string name;
      ok = Field(ls, &name) && ParseOptimizerKind(name, &m.optimizer).ok();
    } else if (key == "state_width")
      ok = Field(ls, &m.state_width);
    else if (key == "users")
      ok = Field(ls, &m.users);
    else if (key == "items")
      ok = Field(ls, &m.items);
    else if (key == "train_ratings")
      ok = Field(ls, &m.train_ratings);
    else if (key == "seed")
      ok = Field(ls, &m.seed);
    else if (key == "batch_size")
      ok = Field(ls, &m.batch_size);
    else if (key == "order_blocks")  // optional: written since --order blocked
      ok = Field(ls, &m.order_blocks) && m.order_blocks >= 1;
    else if (key == "workers")
      ok = Field(ls, &m.workers);
    else if (key == "epochs")
      ok = Field(ls, &m.epochs);
    else if (key == "lr")
      ok = Field(ls, &m.lr);
    else if (key == "wd")
      ok = Field(ls, &m.wd);
    else if (key == "schedule")
      ok = Field(ls, &m.schedule);
    else if (key == "y_range")
      ok = Field(ls, &m.y_lo) && Field(ls, &m.y_hi);
    else if (key == "created")
      ok = Field(ls, &m.created);
    else if (key == "file") {
      CheckpointFile f;
      ok = Field(ls, &f.name) && Field(ls, &f.size) && Field(ls, &f.crc) &&
           f.name.find('/') == std::string::npos;
      m.files.push_back(f);
    } else {
      return bad("unknown key '" + key + "'");
    }
    // The whole line is read: "step 4x" or "step 4 5" is not step 4.
    if (!ok || !(ls >> std::ws).eof()) return bad("malformed line '" + line + "'");
    if (key != "file" && !seen.insert(key).second) return bad("field '" + key + "' appears twice");
  }
  for (const char* field : kManifestFields) {
    if (!seen.count(field)) return bad("missing field '" + std::string(field) + "'");
  }
  // A row is k+1 floats and at most 2(k+1) of optimizer state: k is bounded so that these sizes are
  // ints, and the tables' bytes must be an int64 (shard sizes and offsets are computed from them).
  int64_t rows = 0, bytes = 0;
  if (m.num_shards <= 0 || m.k <= 0 || m.k > std::numeric_limits<int>::max() / 3 - 1 ||
      m.users < 0 || m.items < 0 || m.step < 0 ||
      m.state_width != StateFloatsPerRow(m.optimizer, m.k + 1) || m.steps_per_epoch <= 0 ||
      __builtin_add_overflow(m.users, m.items, &rows) ||
      __builtin_mul_overflow(rows, int64_t{4} * (m.k + 1 + m.state_width), &bytes)) {
    return bad("inconsistent values");
  }
  if (m.files.size() != static_cast<size_t>(m.num_shards) + 2 || m.files[0].name != "users.tsv" ||
      m.files[1].name != "items.tsv") {
    return bad("file list does not match " + std::to_string(m.num_shards) + " shards");
  }
  for (int s = 0; s < m.num_shards; ++s) {
    if (m.files[static_cast<size_t>(s) + 2].name != ShardFileName(s, m.num_shards)) {
      return bad("file list does not match " + std::to_string(m.num_shards) + " shards");
    }
  }
  *out = m;
  return Status::OK();
}

std::vector<std::pair<int64_t, bool>> ListCheckpointSteps(const std::string& dir) {
  std::vector<std::pair<int64_t, bool>> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("step-", 0) != 0 || name.size() < 6) continue;
      char* end = nullptr;
      const long long step = std::strtoll(name.c_str() + 5, &end, 10);
      if (*end != '\0' || StepDirName(step) != name) continue;
      struct stat st;
      const bool complete = stat(JoinPath(JoinPath(dir, name), "MANIFEST").c_str(), &st) == 0;
      out.emplace_back(step, complete);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status OpenCheckpoint(const std::string& path, std::string* step_dir, CheckpointMeta* meta) {
  std::string dir = path;
  const auto steps = ListCheckpointSteps(path);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->second) {
      dir = JoinPath(path, StepDirName(it->first));
      break;
    }
  }
  std::string text;
  const std::string manifest = JoinPath(dir, "MANIFEST");
  Status s = ReadFile(manifest, &text);
  if (!s.ok()) {
    return Status::NotFound("no complete checkpoint in '" + path + "' (" + s.message() +
                            "): expected a checkpoint directory or a step directory with a "
                            "MANIFEST");
  }
  CFPS_RETURN_IF_ERROR(ParseManifest(text, manifest, meta));
  *step_dir = dir;
  return Status::OK();
}

Status WriteShardFile(const std::string& path, const Shard& shard, uint64_t run_id, int64_t step,
                      CheckpointFile* entry) {
  char h[kShardHeaderBytes] = {};
  std::memcpy(h, kShardMagic, 8);
  PutField<uint32_t>(h, 8, kShardFormatVersion);
  PutField<uint32_t>(h, 12, kShardHeaderBytes);
  PutField<uint64_t>(h, 16, run_id);
  PutField<int64_t>(h, 24, step);
  PutField<uint32_t>(h, 32, static_cast<uint32_t>(shard.shard()));
  PutField<uint32_t>(h, 36, static_cast<uint32_t>(shard.num_shards()));
  PutField<uint32_t>(h, 40, static_cast<uint32_t>(shard.shape().k));
  PutField<uint32_t>(h, 44, static_cast<uint32_t>(shard.optimizer().kind));
  PutField<uint32_t>(h, 48, static_cast<uint32_t>(shard.state_width()));
  PutField<int64_t>(h, 56, shard.shape().rows[kUserTable]);
  PutField<int64_t>(h, 64, shard.shape().rows[kItemTable]);
  PutField<int64_t>(h, 72, shard.local_rows(kUserTable));
  PutField<int64_t>(h, 80, shard.local_rows(kItemTable));
  uint32_t body_crc = 0;
  for (int t = 0; t < 2; ++t) {
    body_crc = Crc32(body_crc, shard.values(t).data(), shard.values(t).size() * sizeof(float));
    body_crc = Crc32(body_crc, shard.states(t).data(), shard.states(t).size() * sizeof(float));
  }
  PutField<uint32_t>(h, 120, body_crc);
  PutField<uint32_t>(h, 124, Crc32(0, h, 124));

  AtomicFileWriter out;
  CFPS_RETURN_IF_ERROR(out.Open(path));
  CFPS_RETURN_IF_ERROR(out.Append(h, sizeof(h)));
  for (int t = 0; t < 2; ++t) {
    for (const std::vector<float>* v : {&shard.values(t), &shard.states(t)}) {
      CFPS_RETURN_IF_ERROR(out.Append(v->data(), v->size() * sizeof(float)));
    }
  }
  const uint64_t size = out.bytes_written();
  CFPS_RETURN_IF_ERROR(out.Commit());
  entry->name = path.substr(path.find_last_of('/') + 1);
  entry->size = size;
  entry->crc = body_crc;
  return Status::OK();
}

Status LoadShardRows(const std::string& step_dir, const CheckpointMeta& meta, int old_shard,
                     Shard* shard) {
  const std::string name = ShardFileName(old_shard, meta.num_shards);
  const std::string path = JoinPath(step_dir, name);
  const CheckpointFile* entry = FindFile(meta, name);
  if (!entry) return Status::Corruption("'" + path + "' is not listed in the MANIFEST");
  File f;
  uint64_t size = 0;
  CFPS_RETURN_IF_ERROR(OpenForRead(path, &f, &size));
  int64_t local_rows[2];
  uint32_t header_body_crc = 0;
  CFPS_RETURN_IF_ERROR(
      ReadShardHeader(f.get(), path, size, meta, old_shard, local_rows, &header_body_crc));
  if (shard->shape().k != meta.k || shard->optimizer().kind != meta.optimizer ||
      shard->shape().rows[0] != meta.users || shard->shape().rows[1] != meta.items) {
    return Status::InvalidArgument("'" + path + "' does not fit the model being trained");
  }
  uint32_t body_crc = 0;
  const int width = meta.k + 1, sw = meta.state_width;
  const int new_shards = shard->num_shards(), me = shard->shard();
  std::vector<float> buf;
  for (int t = 0; t < 2; ++t) {
    // Values then states; both in local-row order of the old shard.
    for (int part = 0; part < 2; ++part) {
      const int per_row = part == 0 ? width : sw;
      if (per_row == 0) continue;
      const int64_t chunk_rows = std::max<int64_t>(1, (1 << 20) / (per_row * 4));
      for (int64_t begin = 0; begin < local_rows[t]; begin += chunk_rows) {
        const int64_t n = std::min(chunk_rows, local_rows[t] - begin);
        buf.resize(static_cast<size_t>(n * per_row));
        CFPS_RETURN_IF_ERROR(ReadExact(f.get(), buf.data(), buf.size() * 4, path));
        body_crc = Crc32(body_crc, buf.data(), buf.size() * 4);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t global = GlobalRow(begin + j, old_shard, meta.num_shards);
          if (ShardOf(global, new_shards) != me) continue;
          const int64_t local = LocalIndex(global, new_shards);
          float* dst = part == 0 ? shard->row(t, local) : shard->state(t, local);
          std::memcpy(dst, &buf[static_cast<size_t>(j * per_row)], sizeof(float) * per_row);
        }
      }
    }
  }
  if (body_crc != header_body_crc || body_crc != entry->crc || size != entry->size) {
    return Status::Corruption("'" + path + "': checksum mismatch (the file is damaged)");
  }
  return Status::OK();
}

Status VerifyFile(const std::string& step_dir, const CheckpointFile& entry) {
  const std::string path = JoinPath(step_dir, entry.name);
  File f;
  uint64_t size = 0;
  CFPS_RETURN_IF_ERROR(OpenForRead(path, &f, &size));
  if (size != entry.size) {
    return Status::Corruption("'" + path + "' has " + std::to_string(size) +
                              " bytes, the MANIFEST says " + std::to_string(entry.size) +
                              (size < entry.size ? " (truncated)" : ""));
  }
  const bool shard = entry.name.rfind("shard-", 0) == 0;
  uint32_t header_body_crc = 0;
  if (shard) {
    char h[kShardHeaderBytes];
    if (size < sizeof(h)) return Status::Corruption("'" + path + "' is truncated");
    CFPS_RETURN_IF_ERROR(ReadExact(f.get(), h, sizeof(h), path));
    if (std::memcmp(h, kShardMagic, 8) != 0 || GetField<uint32_t>(h, 124) != Crc32(0, h, 124)) {
      return Status::Corruption("'" + path + "': header checksum mismatch");
    }
    header_body_crc = GetField<uint32_t>(h, 120);
  }
  // No larger than the file: a 1 MiB zero-filled buffer per small file dominated `cfps inspect` of
  // many small shards (and the fuzz target, 60x).
  std::vector<char> buf(static_cast<size_t>(std::clamp<uint64_t>(size, 1, 1 << 20)));
  uint32_t crc = 0;
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n == 0) break;
    crc = Crc32(crc, buf.data(), n);
  }
  if (crc != entry.crc || (shard && crc != header_body_crc)) {
    return Status::Corruption("'" + path + "': checksum mismatch");
  }
  return Status::OK();
}

Status StreamRows(const std::string& step_dir, const CheckpointMeta& meta,
                  const std::function<Status(int, int64_t, const float*)>& fn) {
  const int S = meta.num_shards, width = meta.k + 1;
  // Each table is read with one stream per shard, positioned at that table's rows.
  for (int t = 0; t < 2; ++t) {
    std::vector<File> files(static_cast<size_t>(S));
    for (int s = 0; s < S; ++s) {
      const std::string path = JoinPath(step_dir, ShardFileName(s, S));
      uint64_t size = 0;
      CFPS_RETURN_IF_ERROR(OpenForRead(path, &files[static_cast<size_t>(s)], &size));
      int64_t local_rows[2];
      CFPS_RETURN_IF_ERROR(
          ReadShardHeader(files[static_cast<size_t>(s)].get(), path, size, meta, s, local_rows));
      if (t == 1) {
        const long skip = static_cast<long>(local_rows[0]) * (width + meta.state_width) * 4;
        std::fseek(files[static_cast<size_t>(s)].get(), skip, SEEK_CUR);
      }
    }
    const int64_t rows = t == 0 ? meta.users : meta.items;
    if (rows == 0) continue;
    // The files hold these rows (their sizes were checked): the buffer is no larger than they are.
    std::vector<float> row(static_cast<size_t>(width));
    for (int64_t r = 0; r < rows; ++r) {
      const int s = ShardOf(r, S);
      CFPS_RETURN_IF_ERROR(ReadExact(files[static_cast<size_t>(s)].get(), row.data(),
                                     row.size() * 4, JoinPath(step_dir, ShardFileName(s, S))));
      CFPS_RETURN_IF_ERROR(fn(t, r, row.data()));
    }
  }
  return Status::OK();
}

}  // namespace cfps
