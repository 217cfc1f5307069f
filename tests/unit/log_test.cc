// The log helper (common/log.h): who says it, one line whatever the message holds.
#include "common/log.h"

#include <gtest/gtest.h>

#include <string>

#include "common/status.h"

namespace cfps {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { ResetLogIdentity(); }
};

TEST_F(LogTest, OneProcessHasNoRank) {
  SetLogProgram("cfps train");
  SetLogRank(0, 1);
  SetLogRole("server+worker");
  EXPECT_EQ(LogPrefix(), "cfps train");
  EXPECT_EQ(FormatLogLine("error", "--data: cannot open 'x'"),
            "cfps train: error: --data: cannot open 'x'");
}

TEST_F(LogTest, UnderMpirunEveryLineNamesRankAndRole) {
  SetLogProgram("cfps train");
  SetLogRank(2, 4);
  EXPECT_EQ(LogPrefix(), "cfps train[rank 2]");  // before the roles are known
  SetLogRole("worker");
  EXPECT_EQ(FormatLogLine("warning", "w"), "cfps train[rank 2 worker]: warning: w");
  SetLogRank(0, 4);
  SetLogRole("server");
  EXPECT_EQ(FormatLogLine("error", "e"), "cfps train[rank 0 server]: error: e");
}

TEST_F(LogTest, DefaultIsCfps) { EXPECT_EQ(FormatLogLine("error", "x"), "cfps: error: x"); }

TEST_F(LogTest, MessagesStayOnOneLine) {
  EXPECT_EQ(OneLine("a\nb\r\nc\td"), "a\\nb\\r\\nc\\td");
  EXPECT_EQ(OneLine(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(OneLine("\x1b[31mred\x7f"), "\\x1b[31mred\\x7f");
  EXPECT_EQ(OneLine("back\\slash"), "back\\slash");
  // Valid UTF-8 is kept; latin-1 bytes and broken sequences are escaped.
  EXPECT_EQ(OneLine("caf\xc3\xa9 \xe2\x96\x88 \xf0\x9f\x8e\xac"),
            "caf\xc3\xa9 \xe2\x96\x88 \xf0\x9f\x8e\xac");
  EXPECT_EQ(OneLine("caf\xe9"), "caf\\xe9");
  EXPECT_EQ(OneLine("\xe2\x96"), "\\xe2\\x96");                    // truncated sequence
  EXPECT_EQ(OneLine("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(OneLine("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(OneLine("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(FormatLogLine("error", "x\ny").find('\n'), std::string::npos);
}

// The line goes to stderr in one piece, ending in exactly one newline.
TEST_F(LogTest, LogErrorWritesOneLineToStderr) {
  SetLogProgram("cfps gen");
  ::testing::internal::CaptureStderr();
  LogError("first\nsecond");
  LogWarning("third");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "cfps gen: error: first\\nsecond\ncfps gen: warning: third\n");
}

// A broken invariant names file:line, says it is a bug, carries the rank, and aborts.
TEST_F(LogTest, CheckFailureIsOneLineWithTheRank) {
  SetLogProgram("cfps train");
  SetLogRank(1, 3);
  SetLogRole("worker");
  const int two = 2;
  EXPECT_DEATH(CFPS_CHECK_EQ(two, 3),
               "^cfps train\\[rank 1 worker\\]: internal error: .*log_test\\.cc:[0-9]+: check "
               "failed: two == 3 \\(2 vs 3\\) \\(a bug in cfps, not in the input: please report "
               "this line\\)\n$");
}

}  // namespace
}  // namespace cfps
