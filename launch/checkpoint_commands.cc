// cfps inspect and cfps export: single-process tools over a checkpoint directory.
#include <boost/program_options.hpp>
#include <cstdio>
#include <sstream>
#include <string>

#include "common/export.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/npy.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "ps/checkpoint.h"

namespace po = boost::program_options;

namespace cfps {

namespace {}  // namespace

int RunInspect(int argc, const char* const* argv) {
  SetLogProgram("cfps inspect");
  std::string path;
  po::options_description desc("Options", 100);
  // clang-format off
  desc.add_options()
      ("checkpoint", po::value(&path), "checkpoint directory or step directory")
      ("help,h", "show this help");
  // clang-format on
  po::positional_options_description pos;
  pos.add("checkpoint", 1);
  po::variables_map vm;
  int rc = 0;
  if (!ParseCommandLineOrExit(
          argc, argv, "inspect",
          "cfps inspect: print a checkpoint's MANIFEST and verify every file's "
          "checksum\n\nusage: cfps inspect CKPT   (exit 0: sound; 1: damaged or "
          "incomplete)\n",
          desc, &pos, &vm, &rc)) {
    return rc;
  }
  if (path.empty()) {
    LogError("name a checkpoint directory (cfps inspect CKPT)");
    return 2;
  }
  std::string step_dir;
  CheckpointMeta m;
  Status s = OpenCheckpoint(path, &step_dir, &m);
  if (!s.ok()) {
    LogError(s.ToString());
    return 1;
  }
  std::printf("checkpoint  %s\n", step_dir.c_str());
  std::printf("created     %s\n", m.created.c_str());
  std::printf("run id      %llu\n", static_cast<unsigned long long>(m.run_id));
  std::printf("step        %lld (epoch %lld, step %lld of %lld in it)\n",
              static_cast<long long>(m.step), static_cast<long long>(m.step / m.steps_per_epoch),
              static_cast<long long>(m.step % m.steps_per_epoch),
              static_cast<long long>(m.steps_per_epoch));
  std::printf("shards      %d (written by %d workers)\n", m.num_shards, m.workers);
  std::printf("factors     %d (rows of %d floats)\n", m.k, m.k + 1);
  std::printf("rows        %lld users, %lld items\n", static_cast<long long>(m.users),
              static_cast<long long>(m.items));
  std::printf("optimizer   %s (%d state floats per row), lr %g, wd %g, %s schedule\n",
              OptimizerName(m.optimizer), m.state_width, m.lr, m.wd, m.schedule.c_str());
  std::printf("training    %lld ratings, batch %lld, %d epochs, seed %llu, y-range %g %g\n",
              static_cast<long long>(m.train_ratings), static_cast<long long>(m.batch_size),
              m.epochs, static_cast<unsigned long long>(m.seed), m.y_lo, m.y_hi);
  int bad = 0;
  for (const CheckpointFile& f : m.files) {
    Status v = VerifyFile(step_dir, f);
    std::printf("  %-28s %12llu bytes  crc32 %08x  %s\n", f.name.c_str(),
                static_cast<unsigned long long>(f.size), f.crc, v.ok() ? "ok" : "DAMAGED");
    if (!v.ok()) {
      LogError(v.ToString());
      ++bad;
    }
  }
  if (bad) {
    std::printf("%d of %zu files damaged: this checkpoint cannot be loaded\n", bad, m.files.size());
    return 1;
  }
  std::printf("all %zu files verified\n", m.files.size());
  return 0;
}

int RunExport(int argc, const char* const* argv) {
  SetLogProgram("cfps export");
  std::string path, out;
  po::options_description desc("Options", 100);
  // clang-format off
  desc.add_options()
      ("checkpoint", po::value(&path), "checkpoint directory or step directory")
      ("out", po::value(&out), "directory for the NumPy files and users.tsv / items.tsv")
      ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  int rc = 0;
  if (!ParseCommandLineOrExit(argc, argv, "export",
                              "cfps export: write a checkpoint's model in fastbook's NumPy layout, "
                              "streaming shard by shard\n\nusage: cfps export --checkpoint CKPT "
                              "--out DIR\n",
                              desc, nullptr, &vm, &rc)) {
    return rc;
  }
  if (path.empty() || out.empty()) {
    LogError("--checkpoint and --out are required (cfps export --checkpoint CKPT --out DIR)");
    return 2;
  }
  std::string step_dir;
  CheckpointMeta m;
  Status s = OpenCheckpoint(path, &step_dir, &m);
  // Verify everything before writing anything: a damaged checkpoint leaves no output.
  for (size_t i = 0; s.ok() && i < m.files.size(); ++i) s = VerifyFile(step_dir, m.files[i]);
  if (s.ok()) s = MakeDirs(out).WithContext("--out");
  if (s.ok()) {
    NpyStreamWriter factors[2], bias[2];
    const char* names[2] = {"user", "item"};
    const int64_t rows[2] = {m.users, m.items};
    for (int t = 0; t < 2 && s.ok(); ++t) {
      s = factors[t].Open(JoinPath(out, std::string(names[t]) + "_factors.npy"), rows[t], m.k);
      if (s.ok()) s = bias[t].Open(JoinPath(out, std::string(names[t]) + "_bias.npy"), rows[t], 0);
    }
    if (s.ok()) {
      s = StreamRows(step_dir, m, [&](int t, int64_t, const float* row) {
        CFPS_RETURN_IF_ERROR(factors[t].Append(row, m.k));
        return bias[t].Append(row + m.k, 1);
      });
    }
    for (int t = 0; t < 2 && s.ok(); ++t) {
      s = factors[t].Commit();
      if (s.ok()) s = bias[t].Commit();
    }
    for (const char* vocab : {"users.tsv", "items.tsv"}) {
      std::string bytes;
      if (s.ok()) s = ReadFile(JoinPath(step_dir, vocab), &bytes);
      if (s.ok()) s = WriteFileAtomic(JoinPath(out, vocab), bytes);
    }
  }
  if (!s.ok()) {
    LogError(s.ToString());
    return 1;
  }
  std::printf("cfps export: step %lld of %s -> %s (%lld users, %lld items, k=%d)\n",
              static_cast<long long>(m.step), step_dir.c_str(), out.c_str(),
              static_cast<long long>(m.users), static_cast<long long>(m.items), m.k);
  return 0;
}

}  // namespace cfps
