// Regression tests for what the libFuzzer targets (tests/fuzz/) found. Each test names the target
// and says what happened before the fix.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/npy.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace cfps {
namespace {

std::string TempPath(const std::string& name) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/cfps_fuzzreg_XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    return std::string(tmpl);
  }();
  return dir + "/" + name;
}

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

}  // namespace
}  // namespace cfps
