// libFuzzer target: cfps::ParseManifest, the reader of a checkpoint's MANIFEST (ps/checkpoint.cc),
// which `cfps train --resume`, `cfps inspect` and `cfps export` call through OpenCheckpoint.
//
// The input is a MANIFEST (the seed corpus holds real ones, written by `cfps train
// --checkpoint-dir`). It is parsed as given, which exercises the checksum check; and when its
// manifest_crc line is missing or wrong, parsed a second time with the correct checksum put in its
// place, so the fuzzer reaches the field checks without having to solve a CRC-32.
//
// On success the parsed manifest must hold what its readers rely on: positive shard count and
// factors, the file list of its shard count, every field named exactly once (a repeated field is
// ambiguous, a missing one would silently stay at its default; order_blocks may be absent, as in
// the MANIFESTs written before --order blocked existed), nothing on a line left unread
// (checked with strtoll/strtod, an independent reader), and formatting it again gives a MANIFEST
// that parses back to the same values. A rejection must name the file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ps/checkpoint.h"
#include "ps/optimizer.h"
#include "tests/fuzz/fuzz_file.h"

namespace {

constexpr char kPath[] = "fuzz/MANIFEST";

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

bool Same(const cfps::CheckpointMeta& a, const cfps::CheckpointMeta& b) {
  if (a.files.size() != b.files.size()) return false;
  for (size_t i = 0; i < a.files.size(); ++i) {
    if (a.files[i].name != b.files[i].name || a.files[i].size != b.files[i].size ||
        a.files[i].crc != b.files[i].crc) {
      return false;
    }
  }
  return a.run_id == b.run_id && a.step == b.step && a.steps_per_epoch == b.steps_per_epoch &&
         a.num_shards == b.num_shards && a.k == b.k && a.optimizer == b.optimizer &&
         a.state_width == b.state_width && a.users == b.users && a.items == b.items &&
         a.train_ratings == b.train_ratings && a.seed == b.seed && a.batch_size == b.batch_size &&
         a.workers == b.workers && a.epochs == b.epochs && SameBits(a.lr, b.lr) &&
         SameBits(a.wd, b.wd) && SameBits(a.y_lo, b.y_lo) && SameBits(a.y_hi, b.y_hi) &&
         a.schedule == b.schedule && a.created == b.created;
}

// Is the token one number, as strtoll / strtoull / strtod read it (an independent reader)?
bool WholeInteger(const std::string& t) {
  char* end = nullptr;
  if (t.empty()) return false;
  if (t[0] == '-') {
    (void)std::strtoll(t.c_str(), &end, 10);
  } else {
    (void)std::strtoull(t.c_str(), &end, 10);
  }
  return *end == '\0';
}
bool WholeReal(const std::string& t) {
  char* end = nullptr;
  (void)std::strtod(t.c_str(), &end);
  return !t.empty() && *end == '\0';
}

// The text with its manifest_crc line replaced by (or, when it has none, followed by) the right
// one.
std::string WithCorrectCrc(const std::string& text) {
  std::string body = text;
  const size_t pos = text.rfind("manifest_crc ");
  if (pos != std::string::npos && (pos == 0 || text[pos - 1] == '\n')) {
    body = text.substr(0, pos);
  } else if (!body.empty() && body.back() != '\n') {
    body.push_back('\n');
  }
  return body + "manifest_crc " + std::to_string(cfps::Crc32(0, body.data(), body.size())) + "\n";
}

void Check(const std::string& text) {
  cfps::CheckpointMeta meta;
  cfps::Status s = cfps::ParseManifest(text, kPath, &meta);
  if (!s.ok()) {
    CFPS_FUZZ_ASSERT(s.message().find(kPath) != std::string::npos);
    return;
  }
  CFPS_FUZZ_ASSERT(meta.num_shards > 0 && meta.k > 0 && meta.step >= 0);
  CFPS_FUZZ_ASSERT(meta.users >= 0 && meta.items >= 0 && meta.steps_per_epoch > 0);
  CFPS_FUZZ_ASSERT(meta.state_width == cfps::StateFloatsPerRow(meta.optimizer, meta.k + 1));
  CFPS_FUZZ_ASSERT(meta.files.size() == static_cast<size_t>(meta.num_shards) + 2);
  CFPS_FUZZ_ASSERT(meta.files[0].name == "users.tsv" && meta.files[1].name == "items.tsv");
  for (int s = 0; s < meta.num_shards; ++s) {
    CFPS_FUZZ_ASSERT(meta.files[static_cast<size_t>(s) + 2].name ==
                     cfps::ShardFileName(s, meta.num_shards));
  }

  // Every field exactly once (file lines aside). The first line is the format line.
  std::map<std::string, int> count;
  std::istringstream in(text.substr(0, text.rfind("manifest_crc ")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    std::vector<std::string> values;
    ls >> key;
    for (std::string v; ls >> v;) values.push_back(v);
    if (key != "file") ++count[key];
    // Nothing on the line was left unread: as many values as the key takes, each a whole number
    // where the key takes one.
    if (key == "file") {
      CFPS_FUZZ_ASSERT(values.size() == 3 && WholeInteger(values[1]) && WholeInteger(values[2]));
    } else if (key == "y_range") {
      CFPS_FUZZ_ASSERT(values.size() == 2 && WholeReal(values[0]) && WholeReal(values[1]));
    } else {
      CFPS_FUZZ_ASSERT(values.size() == 1);
      if (key == "lr" || key == "wd") {
        CFPS_FUZZ_ASSERT(WholeReal(values[0]));
      } else if (key != "optimizer" && key != "schedule" && key != "created") {
        CFPS_FUZZ_ASSERT(WholeInteger(values[0]));
      }
    }
  }
  // The 19 fields every MANIFEST has, and order_blocks when it was written (--order blocked).
  CFPS_FUZZ_ASSERT(count.size() == 19 + count.count("order_blocks"));
  for (const auto& kv : count) CFPS_FUZZ_ASSERT(kv.second == 1);

  // Formatting it again gives a MANIFEST that reads back to the same values.
  const std::string again = cfps::FormatManifest(meta);
  cfps::CheckpointMeta meta2;
  CFPS_FUZZ_ASSERT(cfps::ParseManifest(again, kPath, &meta2).ok());
  CFPS_FUZZ_ASSERT(Same(meta, meta2));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Check(text);
  const std::string fixed = WithCorrectCrc(text);
  if (fixed != text) Check(fixed);
  return 0;
}
