#include "launch/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::TempDir;

Status Parse(std::vector<const char*> args, TrainOptions* o, std::string* help) {
  args.insert(args.begin(), "train");
  return ParseTrainOptions(static_cast<int>(args.size()), args.data(), o, help);
}

TEST(OptionsTest, DefaultsAreFastais) {
  TrainOptions o;
  std::string help;
  ASSERT_TRUE(Parse({"--data", "x.data"}, &o, &help).ok());
  EXPECT_TRUE(help.empty());
  EXPECT_EQ(o.train.dims.k, 50);
  EXPECT_EQ(o.train.dims.lo, 0.0);
  EXPECT_EQ(o.train.dims.hi, 5.5);
  EXPECT_EQ(o.train.epochs, 5);
  EXPECT_EQ(o.train.batch_size, 64);
  EXPECT_EQ(o.train.lr, 5e-3);
  EXPECT_EQ(o.train.optimizer.wd, 0.1);
  EXPECT_EQ(o.train.optimizer.kind, OptimizerKind::kAdam);
  EXPECT_EQ(o.train.schedule, ScheduleKind::kOneCycle);
  EXPECT_EQ(o.data.valid_pct, 0.2);
  EXPECT_EQ(o.data.seed, 42u);
  EXPECT_EQ(o.ps, 1);
  EXPECT_EQ(o.exchange, "auto");
  for (const char* e : {"mpi", "nccl", "auto"}) {
    ASSERT_TRUE(Parse({"--data", "x.data", "--exchange", e}, &o, &help).ok()) << e;
    EXPECT_EQ(o.exchange, e);
  }
}

TEST(OptionsTest, ParsesEveryOption) {
  TrainOptions o;
  std::string help;
  // clang-format off
  ASSERT_TRUE(Parse({"--data", "r.csv", "--format", "csv", "--factors", "8", "--y-range", "1",
                     "5", "--epochs", "2", "--batch-size", "1024", "--lr", "0.1", "--wd", "0",
                     "--optimizer", "adagrad", "--schedule", "constant", "--ps", "2", "--seed",
                     "7", "--metrics-out", "m.jsonl", "--export", "out", "--skip-bad-lines"},
                    &o, &help)
                  .ok());
  // clang-format on
  EXPECT_EQ(o.data.read.format, RatingsFormat::kCsv);
  EXPECT_EQ(o.train.dims.k, 8);
  EXPECT_EQ(o.train.dims.lo, 1.0);
  EXPECT_EQ(o.data.read.max_rating, 5.0);
  EXPECT_EQ(o.train.batch_size, 1024);
  EXPECT_EQ(o.train.optimizer.kind, OptimizerKind::kAdagrad);
  EXPECT_EQ(o.train.schedule, ScheduleKind::kConstant);
  EXPECT_EQ(o.ps, 2);
  EXPECT_EQ(o.train.seed, 7u);
  EXPECT_TRUE(o.data.read.skip_bad_lines);
  EXPECT_EQ(o.export_dir, "out");
}

TEST(OptionsTest, ConfigFileAndCommandLineWins) {
  const TempDir dir;
  const std::string ini =
      dir.Write("train.ini", "data = from_config.data\nfactors = 12\ny-range = 1 5\nepochs = 9\n");
  TrainOptions o;
  std::string help;
  ASSERT_TRUE(Parse({"--config", ini.c_str(), "--epochs", "3"}, &o, &help).ok());
  EXPECT_EQ(o.data.data, "from_config.data");
  EXPECT_EQ(o.train.dims.k, 12);
  EXPECT_EQ(o.train.dims.lo, 1.0);
  EXPECT_EQ(o.train.epochs, 3);
  dir.Write("train.ini", "bogus = 1\n");
  Status s = Parse({"--config", ini.c_str()}, &o, &help);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bogus"), std::string::npos);
  s = Parse({"--config", "/nonexistent/x.ini"}, &o, &help);
  EXPECT_NE(s.message().find("/nonexistent/x.ini"), std::string::npos);
}

TEST(OptionsTest, BadValuesNameTheOption) {
  struct Case {
    std::vector<const char*> args;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {{"--data", "x", "--factors", "0"}, "--factors"},
      {{"--data", "x", "--factors", "-3"}, "--factors"},
      {{"--data", "x", "--factors", "2147483647"}, "--factors must be at most 268435456"},
      {{"--data", "x", "--batch-size", "0"}, "--batch-size"},
      {{"--data", "x", "--optimizer", "rmsprop"}, "--optimizer"},
      {{"--data", "x", "--format", "xml"}, "--format"},
      {{"--data", "x", "--schedule", "step"}, "--schedule"},
      {{"--data", "x", "--exchange", "gloo"}, "--exchange: unknown exchange 'gloo'"},
      {{"--data", "x", "--y-range", "5", "1"}, "--y-range"},
      {{"--data", "x", "--y-range", "5"}, "--y-range"},
      {{"--data", "x", "--valid-pct", "1.5"}, "--valid-pct"},
      {{"--data", "x", "--lr", "-1"}, "--lr"},
      {{"--data", "x", "--frobnicate"}, "frobnicate"},
      {{"--data", "x", "--epochs", "many"}, "epochs"},
      {{}, "--data"},
  };
  for (const Case& c : cases) {
    TrainOptions o;
    std::string help;
    Status s = Parse(c.args, &o, &help);
    EXPECT_FALSE(s.ok()) << c.needle;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
}

TEST(OptionsTest, AStrayWordIsAnErrorNotIgnored) {
  // Boost drops words that no option takes: `cfps gen --out f.data 1000` wrote the default size.
  const std::vector<std::vector<const char*>> train_cases = {
      {"--data", "x", "u.data"},
      {"stray", "--data", "x"},
      {"--data", "x", "--epochs", "3", "4"},
  };
  const char* const words[] = {"u.data", "stray", "4"};
  for (size_t c = 0; c < train_cases.size(); ++c) {
    TrainOptions o;
    std::string help;
    Status s = Parse(train_cases[c], &o, &help);
    ASSERT_FALSE(s.ok()) << words[c];
    EXPECT_EQ(s.message(), std::string("unexpected argument '") + words[c] + "'");
  }
  const char* gen_argv[] = {"gen", "--out", "f.data", "1000"};
  GenOptions gen;
  std::string out, help;
  Status s = ParseGenOptions(4, gen_argv, &gen, &out, &help);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "unexpected argument '1000'");

  // Values that look like words or negative numbers still belong to their options.
  TrainOptions o;
  std::string train_help;
  ASSERT_TRUE(Parse({"--data", "x", "--seed", "7", "--y-range", "0", "5.5", "--epochs", "2"}, &o,
                    &train_help)
                  .ok());
  EXPECT_EQ(o.train.seed, 7u);
  EXPECT_EQ(o.train.epochs, 2);
  EXPECT_DOUBLE_EQ(o.train.dims.hi, 5.5);
}

TEST(OptionsTest, OrderAndBlocks) {
  TrainOptions o;
  std::string help;
  ASSERT_TRUE(Parse({"--data", "x"}, &o, &help).ok());
  EXPECT_FALSE(o.blocked_order);
  EXPECT_EQ(o.blocks, 0);
  ASSERT_TRUE(Parse({"--data", "x", "--order", "blocked"}, &o, &help).ok());
  EXPECT_TRUE(o.blocked_order);
  EXPECT_EQ(o.blocks, 0);
  ASSERT_TRUE(Parse({"--data", "x", "--order", "blocked", "--blocks", "32"}, &o, &help).ok());
  EXPECT_EQ(o.blocks, 32);
  Status s = Parse({"--data", "x", "--order", "tiles"}, &o, &help);
  EXPECT_EQ(s.message(), "--order must be random or blocked, got 'tiles'");
  s = Parse({"--data", "x", "--blocks", "8"}, &o, &help);
  EXPECT_EQ(s.message(),
            "--blocks 8 applies to --order blocked only (this run has --order random)");
  s = Parse({"--data", "x", "--order", "blocked", "--blocks", "1025"}, &o, &help);
  EXPECT_EQ(s.message(), "--blocks must be 0 (automatic) or 1..1024, got 1025");
}

TEST(OptionsTest, ParseYRangeTakesTwoTokensOrOne) {
  const struct {
    std::vector<std::string> tokens;
    double lo, hi;
  } good[] = {
      {{"1", "5"}, 1, 5}, {{"0.5 4.5"}, 0.5, 4.5}, {{"-1,1e1"}, -1, 10}, {{" 0 ", "5.5 "}, 0, 5.5}};
  for (const auto& c : good) {
    double lo = -7, hi = -7;
    ASSERT_TRUE(ParseYRange(c.tokens, &lo, &hi).ok()) << c.tokens[0];
    EXPECT_EQ(lo, c.lo);
    EXPECT_EQ(hi, c.hi);
  }
  // Errors quote what was given and leave the outputs alone.
  const struct {
    std::vector<std::string> tokens;
    const char* error;
  } bad[] = {
      {{"5", "1"}, "--y-range needs finite LO < HI, got '5 1'"},
      {{"2,2"}, "--y-range needs finite LO < HI, got '2,2'"},
      {{"5"}, "--y-range takes two numbers LO HI, got '5'"},
      {{"1", "2", "3"}, "--y-range takes two numbers LO HI, got '1 2 3'"},
      {{"1", "x"}, "--y-range takes two numbers LO HI, got '1 x'"},
      {{}, "--y-range takes two numbers LO HI, got ''"},
  };
  for (const auto& c : bad) {
    double lo = -7, hi = -7;
    Status s = ParseYRange(c.tokens, &lo, &hi);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << c.error;
    EXPECT_EQ(s.ToString(), c.error);
    EXPECT_EQ(lo, -7);
    EXPECT_EQ(hi, -7);
  }
  for (const char* not_finite : {"nan", "inf", "1e999"}) {
    double lo = -7, hi = -7;
    Status s = ParseYRange({"0", not_finite}, &lo, &hi);
    EXPECT_FALSE(s.ok()) << not_finite;
    EXPECT_NE(s.ToString().find("--y-range"), std::string::npos) << s.ToString();
  }
}

TEST(OptionsTest, HelpListsEveryOption) {
  TrainOptions o;
  std::string help;
  ASSERT_TRUE(Parse({"--help"}, &o, &help).ok());
  for (const char* name :
       {"--data", "--format", "--valid-data", "--valid-pct", "--seed", "--factors", "--y-range",
        "--epochs", "--batch-size", "--lr", "--wd", "--optimizer", "--schedule", "--ps",
        "--metrics-out", "--export", "--config", "--skip-bad-lines"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace cfps
