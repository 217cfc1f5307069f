// Regression tests for what the libFuzzer targets (tests/fuzz/) found. Each test names the target
// and says what happened before the fix.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/npy.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "ps/checkpoint.h"
#include "ps/shard.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

// One directory for the whole program, made before any test forks and removed at exit (forked
// children leave with _exit, which removes nothing).
const testing::TempDir g_temp_dir;

std::string TempPath(const std::string& name) { return g_temp_dir.path() + "/" + name; }

// A version 1.0 .npy file with this header dict and `payload` bytes of data.
std::string Npy(const std::string& dict, size_t payload) {
  std::string header = dict;
  const size_t total = 10 + header.size() + 1;
  header.append((total + 63) / 64 * 64 - total, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + std::string(payload, '\0');
}

std::string Dict(const std::string& shape, const char* fortran = "False") {
  return std::string("{'descr': '<f4', 'fortran_order': ") + fortran + ", 'shape': " + shape +
         ", }";
}

// ReadNpy on `bytes`: must fail (never throw, never trip UBSan) with a message naming the file.
void ExpectNpyRejected(const std::string& bytes, const std::string& why) {
  const std::string path = TempPath("bad.npy");
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  std::vector<float> data;
  std::vector<int64_t> shape;
  Status s = ReadNpy(path, &data, &shape);
  EXPECT_FALSE(s.ok()) << why;
  EXPECT_NE(s.message().find("bad.npy"), std::string::npos) << s.message();
}

// fuzz_npy, first input (the numpy scalar of the seed corpus): shape () was accepted with no
// dimensions and one element, against the header's promise of 1 or 2 dimensions; callers index
// shape[0].
TEST(FuzzRegressionNpy, ScalarShapeIsRejected) { ExpectNpyRejected(Npy(Dict("()"), 4), "0-d"); }

// fuzz_npy: a shape entry that is not a number reached std::stoll, whose std::invalid_argument
// (or std::out_of_range for 20 digits) escaped ReadNpy and terminated the process.
TEST(FuzzRegressionNpy, NonNumericShapeIsAnErrorNotAnException) {
  ExpectNpyRejected(Npy(Dict("(a,)"), 0), "letters");
  ExpectNpyRejected(Npy(Dict("(99999999999999999999,)"), 0), "out of int64 range");
  ExpectNpyRejected(Npy(Dict("(2 3)"), 24), "no comma");
  ExpectNpyRejected(Npy(Dict("(2,"), 8), "unclosed");
}

// fuzz_npy: negative dimensions were accepted when their product matched the data ((-1, -4) with
// 16 bytes gave shape [-1, -4]), and large ones overflowed the int64 product (undefined behaviour:
// UBSan "signed integer overflow: 4611686018427387904 * 4").
TEST(FuzzRegressionNpy, NegativeAndHugeDimensions) {
  ExpectNpyRejected(Npy(Dict("(-1, -4)"), 16), "negative dims");
  ExpectNpyRejected(Npy(Dict("(-2,)"), 0), "negative dim");
  ExpectNpyRejected(Npy(Dict("(4611686018427387904, 4)"), 0), "product overflows");
  ExpectNpyRejected(Npy(Dict("(9223372036854775807, 9223372036854775807)"), 4), "overflow");
}

// fuzz_npy: Fortran-order arrays were read as C order (a transposed matrix, silently) and 3-d
// arrays were accepted.
TEST(FuzzRegressionNpy, FortranOrderAndThreeDimensionsAreRejected) {
  ExpectNpyRejected(Npy(Dict("(2, 3)", "True"), 24), "fortran order");
  ExpectNpyRejected(Npy(Dict("(1, 2, 3)"), 24), "3-d");
  ExpectNpyRejected(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16), "f8");
  ExpectNpyRejected(Npy("{'fortran_order': False, 'shape': (2,), }", 8), "no descr");
}

// What is still accepted: 1-d, 2-d, empty arrays, and the version 2.0 header (4-byte length) that
// numpy writes when a header outgrows 64 KiB.
TEST(FuzzRegressionNpy, ValidFilesStillRead) {
  const std::string path = TempPath("good.npy");
  std::vector<float> data;
  std::vector<int64_t> shape;
  ASSERT_TRUE(WriteFileAtomic(path, Npy(Dict("(0, 5)"), 0)).ok());
  ASSERT_TRUE(ReadNpy(path, &data, &shape).ok());
  EXPECT_EQ(shape, (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(data.empty());
  ASSERT_TRUE(WriteFileAtomic(path, Npy(Dict("(3,)"), 12)).ok());
  ASSERT_TRUE(ReadNpy(path, &data, &shape).ok());
  EXPECT_EQ(shape, (std::vector<int64_t>{3}));
  // Version 2.0: "\x93NUMPY\x02\x00" and a 4-byte little-endian header length.
  std::string v1 = Npy(Dict("(2, 2)"), 16);
  std::string v2 = v1.substr(0, 6) + std::string("\x02\x00", 2);
  const uint32_t len = static_cast<unsigned char>(v1[8]) | static_cast<unsigned char>(v1[9]) << 8;
  for (int b = 0; b < 4; ++b) v2.push_back(static_cast<char>((len + 2) >> (8 * b) & 0xff));
  v2 += v1.substr(10, len - 1) + "  \n" + v1.substr(10 + len);
  ASSERT_TRUE(WriteFileAtomic(path, v2).ok());
  Status s = ReadNpy(path, &data, &shape);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2}));
}

// Parses every placeholder case below and exits with the number that were (wrongly) accepted.
[[noreturn]] void ParsePlaceholdersAndExit() {
  alarm(10);
  int accepted = 0;
  const char* const kConfigs[] = {"epochs = %value%\n", "x%canonical_option% = 1\n",
                                  "data = d\nps = %canonical_option%%value%%prefix%\n"};
  TrainOptions options;
  std::string help;
  for (const char* config : kConfigs) {
    const std::string path = TempPath("placeholder.ini");
    if (!WriteFileAtomic(path, std::string(config)).ok()) _exit(100);
    const char* argv[] = {"train", "--config", path.c_str()};
    if (ParseTrainOptions(3, argv, &options, &help).ok()) ++accepted;
  }
  const char* train_argv[] = {"train", "--data", "d", "--epochs", "%value%"};
  if (ParseTrainOptions(5, train_argv, &options, &help).ok()) ++accepted;
  const char* unknown_argv[] = {"train", "--%canonical_option%"};
  if (ParseTrainOptions(2, unknown_argv, &options, &help).ok()) ++accepted;
  const char* gen_argv[] = {"gen", "--out", "x", "--users", "%value%"};
  GenOptions gen;
  std::string out;
  if (ParseGenOptions(5, gen_argv, &gen, &out, &help).ok()) ++accepted;
  _exit(accepted);
}

// fuzz_config, in its first minute: an option name or value containing its own Boost placeholder
// ("epochs = %value%", an INI key "x%canonical_option%") never returned: Boost 1.74's
// error_with_option_name::what() replaces "%value%" by the value until no "%value%" is left. The
// same held on the command line (`cfps train --epochs %value%`, `cfps gen --users %value%`). The
// parses run in a child that SIGALRM kills after 10 s, so a regression fails instead of hanging.
TEST(FuzzRegressionConfig, PlaceholderInANameOrValueDoesNotHang) {
  EXPECT_EXIT(ParsePlaceholdersAndExit(), ::testing::ExitedWithCode(0), "");
}

// Runs the other subcommands' option parsers on placeholder text and exits with the number that
// did not answer with a usage error (exit status 2).
[[noreturn]] void RunCommandsWithPlaceholdersAndExit() {
  alarm(10);
  int wrong = 0;
  const char* const recommend_unknown[] = {"recommend", "--%canonical_option%"};
  const char* const recommend_value[] = {"recommend", "--model", "m", "--top", "%value%"};
  const char* const inspect_unknown[] = {"inspect", "--%canonical_option%"};
  const char* const export_unknown[] = {"export", "--%canonical_option%"};
  const char* const plot_unknown[] = {"plot", "--%canonical_option%"};
  if (RunRecommend(2, recommend_unknown) != 2) ++wrong;
  if (RunRecommend(5, recommend_value) != 2) ++wrong;
  if (RunInspect(2, inspect_unknown) != 2) ++wrong;
  if (RunExport(2, export_unknown) != 2) ++wrong;
  if (RunPlot(2, plot_unknown) != 2) ++wrong;
  _exit(wrong);
}

// The same Boost hang in the parsers of the other subcommands, which call e.what() themselves:
// `cfps recommend --top %value%`, `cfps recommend --%canonical_option%`, `cfps inspect
// --%canonical_option%` and `cfps export --%canonical_option%` never returned.
TEST(FuzzRegressionConfig, OtherCommandsDoNotHangOnPlaceholders) {
  EXPECT_EXIT(RunCommandsWithPlaceholdersAndExit(), ::testing::ExitedWithCode(0), "");
}

// A MANIFEST as `cfps train --checkpoint-dir` writes it (one shard, Adam, k = 3).
CheckpointMeta SmallMeta() {
  CheckpointMeta m;
  m.run_id = 2692056657476053627ull;
  m.step = 4;
  m.steps_per_epoch = 4;
  m.num_shards = 1;
  m.k = 3;
  m.optimizer = OptimizerKind::kAdam;
  m.state_width = 8;
  m.users = 12;
  m.items = 9;
  m.train_ratings = 64;
  m.seed = 42;
  m.batch_size = 16;
  m.workers = 1;
  m.epochs = 1;
  m.lr = 0.005;
  m.wd = 0.1;
  m.y_lo = 0;
  m.y_hi = 5.5;
  m.schedule = "one-cycle";
  m.created = "2026-11-28T11:45:17Z";
  m.files = {{"users.tsv", 53, 1862256980u},
             {"items.tsv", 36, 1299653796u},
             {"shard-00000-of-00001.bin", 1136, 3291632542u}};
  return m;
}

// `text` with `from` replaced by `to` (once), and its manifest_crc line recomputed: a MANIFEST
// whose checksum is right, so only the field checks can refuse it.
std::string EditManifest(const std::string& text, const std::string& from, const std::string& to) {
  std::string body = text.substr(0, text.rfind("manifest_crc "));
  const size_t at = body.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) body.replace(at, from.size(), to);
  return body + "manifest_crc " + std::to_string(Crc32(0, body.data(), body.size())) + "\n";
}

// ParseManifest on `text` must fail, naming the file, and say `why`.
void ExpectManifestRejected(const std::string& text, const std::string& why) {
  CheckpointMeta m;
  Status s = ParseManifest(text, "ckpt/step-000000004/MANIFEST", &m);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_NE(s.message().find("ckpt/step-000000004/MANIFEST"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
}

TEST(FuzzRegressionManifest, TheWrittenManifestStillParses) {
  CheckpointMeta m;
  const std::string text = FormatManifest(SmallMeta());
  ASSERT_TRUE(ParseManifest(text, "MANIFEST", &m).ok());
  EXPECT_EQ(m.run_id, 2692056657476053627ull);
  EXPECT_EQ(m.k, 3);
  EXPECT_EQ(m.y_hi, 5.5);
  // An edit that keeps it well formed is accepted once the checksum is right.
  ASSERT_TRUE(ParseManifest(EditManifest(text, "seed 42\n", "seed 7\n"), "MANIFEST", &m).ok());
  EXPECT_EQ(m.seed, 7u);
}

// order_blocks (--order blocked) came after the first MANIFESTs: it is written, read back, and a
// MANIFEST without it is a random-order run; a value below 1 or a second line is refused.
TEST(FuzzRegressionManifest, OrderBlocksIsOptionalAndChecked) {
  CheckpointMeta m = SmallMeta();
  m.order_blocks = 28;
  const std::string text = FormatManifest(m);
  ASSERT_NE(text.find("order_blocks 28\n"), std::string::npos);
  CheckpointMeta back;
  ASSERT_TRUE(ParseManifest(text, "MANIFEST", &back).ok());
  EXPECT_EQ(back.order_blocks, 28);
  ASSERT_TRUE(ParseManifest(EditManifest(text, "order_blocks 28\n", ""), "MANIFEST", &back).ok());
  EXPECT_EQ(back.order_blocks, 1);
  ExpectManifestRejected(EditManifest(text, "order_blocks 28\n", "order_blocks 0\n"),
                         "malformed line 'order_blocks 0'");
  ExpectManifestRejected(
      EditManifest(text, "order_blocks 28\n", "order_blocks 28\norder_blocks 28\n"),
      "field 'order_blocks' appears twice");
}

// fuzz_checkpoint_manifest, in its first minute: a MANIFEST with one field twice ("schedule") and
// another missing ("seed") was accepted, since only the number of lines was counted: the missing
// seed silently read as 0.
TEST(FuzzRegressionManifest, RepeatedOrMissingFieldIsRejected) {
  const std::string text = FormatManifest(SmallMeta());
  ExpectManifestRejected(EditManifest(text, "seed 42\n", "schedule one-cycle\n"),
                         "field 'schedule' appears twice");
  ExpectManifestRejected(EditManifest(text, "seed 42\n", ""), "missing field 'seed'");
}

// fuzz_checkpoint_manifest: what followed a number on its line was ignored: "run_id
// 2692056657476053&27" read as run id 2692056657476053, "train_ratings 64y_range" as 64, "step 4
// 5" as 4; and "y_range 0.5.5" read as the range (0.5, 0.5).
TEST(FuzzRegressionManifest, TrailingOrRunTogetherValuesAreRejected) {
  const std::string text = FormatManifest(SmallMeta());
  ExpectManifestRejected(
      EditManifest(text, "run_id 2692056657476053627\n", "run_id 2692056657476053&27\n"),
      "malformed line 'run_id 2692056657476053&27'");
  ExpectManifestRejected(EditManifest(text, "train_ratings 64\n", "train_ratings 64y_range\n"),
                         "malformed line");
  ExpectManifestRejected(EditManifest(text, "step 4\n", "step 4 5\n"), "malformed line");
  ExpectManifestRejected(EditManifest(text, "y_range 0 5.5\n", "y_range 0.5.5\n"),
                         "malformed line 'y_range 0.5.5'");
  ExpectManifestRejected(
      EditManifest(text, "file users.tsv 53 1862256980\n", "file users.tsv 53 1862256980 9\n"),
      "malformed line");
}

// fuzz_checkpoint_shard (whose MANIFEST check runs ParseManifest): "factors 2147483647" overflowed
// computing the row width k+1 (UBSan: "signed integer overflow: 2147483647 + 1"). Table sizes
// whose bytes overflow int64 (users + items of 2^62 each) were accepted as well, and the shard
// reader computed the body size from them; both are now "inconsistent values".
TEST(FuzzRegressionManifest, SizesThatOverflowAreRejected) {
  const std::string text = FormatManifest(SmallMeta());
  const std::string max_int = std::to_string(std::numeric_limits<int>::max());
  ExpectManifestRejected(EditManifest(text, "factors 3\n", "factors " + max_int + "\n"),
                         "inconsistent values");
  // The largest k whose row and Adam state still fit an int, with a consistent state width.
  CheckpointMeta big = SmallMeta();
  big.k = std::numeric_limits<int>::max() / 3 - 1;
  big.state_width = 2 * (big.k + 1);
  CheckpointMeta m;
  EXPECT_TRUE(ParseManifest(FormatManifest(big), "MANIFEST", &m).ok());
  big.k += 1;
  big.state_width = 2 * (big.k + 1);
  ExpectManifestRejected(FormatManifest(big), "inconsistent values");
  big = SmallMeta();
  big.users = big.items = int64_t{1} << 62;
  ExpectManifestRejected(FormatManifest(big), "inconsistent values");
}

// fuzz_checkpoint_shard, in the 10-million-execution campaign: a consistent checkpoint (MANIFEST,
// header and sizes agree) with empty tables and k = 715,827,881 made StreamRows (`cfps export`)
// allocate its one-row buffer of k + 1 floats, 2.8 GB, before reading anything: libFuzzer's
// out-of-memory, a bad_alloc or an OOM kill outside it. The buffer now exists only for a table
// with rows, which the file sizes (checked against the header) then bound.
TEST(FuzzRegressionShard, EmptyTablesWithAHugeKAllocateNothing) {
  CheckpointMeta m = SmallMeta();
  m.k = std::numeric_limits<int>::max() / 3 - 1;
  m.optimizer = OptimizerKind::kSgd;
  m.state_width = 0;
  m.users = m.items = 0;
  ModelShape shape;
  shape.k = m.k;
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  const Shard empty(0, 1, shape, sgd, 42);
  const std::string dir = TempPath("empty_huge_k");
  ASSERT_TRUE(MakeDirs(dir).ok());
  CheckpointFile entry;
  ASSERT_TRUE(
      WriteShardFile(dir + "/" + ShardFileName(0, 1), empty, m.run_id, m.step, &entry).ok());
  m.files = {entry};
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  int calls = 0;
  const Status s = StreamRows(dir, m, [&](int, int64_t, const float*) {
    ++calls;
    return Status::OK();
  });
  getrusage(RUSAGE_SELF, &after);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(calls, 0);
  // ru_maxrss is in KiB: the 2.8 GB buffer (zero-filled, so touched) would raise it by 2.7e6.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024);
}

}  // namespace
}  // namespace cfps
