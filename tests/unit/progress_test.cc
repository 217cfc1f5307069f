// Progress within an epoch (launch/progress.h): the layouts, when lines are printed, and the
// running loss from the workers' summed squared errors.
#include "launch/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "common/log.h"

namespace cfps {
namespace {

// Everything written to a tmpfile.
std::string Contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

TEST(ProgressMode, Parses) {
  ProgressMode m = ProgressMode::kNone;
  EXPECT_TRUE(ParseProgressMode("bar", &m).ok());
  EXPECT_EQ(m, ProgressMode::kBar);
  EXPECT_TRUE(ParseProgressMode("lines", &m).ok());
  EXPECT_EQ(m, ProgressMode::kLines);
  EXPECT_TRUE(ParseProgressMode("none", &m).ok());
  EXPECT_EQ(m, ProgressMode::kNone);
  EXPECT_TRUE(ParseProgressMode("auto", &m).ok());
  EXPECT_EQ(m, ProgressMode::kAuto);
  Status s = ParseProgressMode("fancy", &m);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "--progress must be one of auto, bar, lines, none; got 'fancy'");
}

// The epoch table's time column and the bar's clocks: fastai's format_time. The table had its own
// copy that printed 75 minutes as "75:00".
TEST(FormatDuration, MinutesThenHoursAsFastai) {
  EXPECT_EQ(FormatDuration(0), "00:00");
  EXPECT_EQ(FormatDuration(59.4), "00:59");
  EXPECT_EQ(FormatDuration(59.5), "01:00");
  EXPECT_EQ(FormatDuration(3599.4), "59:59");
  EXPECT_EQ(FormatDuration(75 * 60), "1:15:00");
  EXPECT_EQ(FormatDuration(10 * 3600 + 61), "10:01:01");
  EXPECT_EQ(FormatDuration(-1), "--:--");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "--:--");
}

TEST(FormatProgress, BarAndLines) {
  ProgressSnapshot s;
  s.epoch = 2;
  s.step = 512;
  s.steps = 1563;
  s.elapsed = 3.2;
  s.ratings_per_s = 4.53e6;
  s.loss = 1.02344;
  // 512/1563 = 32.8%: 6 of 20 cells filled; 3.2 s for 512 steps leaves 6.57 s.
  EXPECT_EQ(FormatProgress(s, true, false),
            "epoch 2 |######--------------|  32% 512/1563 [00:03<00:07, 4.53e+06 ratings/s, "
            "loss 1.0234]");
  EXPECT_EQ(FormatProgress(s, false, false),
            "epoch 2  32%  512/1563 steps  00:03<00:07  4.53e+06 ratings/s  loss 1.0234");
  s.loss = -1;  // not known yet
  s.step = 1563;
  s.elapsed = 3725;
  EXPECT_EQ(FormatProgress(s, false, false),
            "epoch 2 100%  1563/1563 steps  1:02:05<00:00  4.53e+06 ratings/s  loss -");
  EXPECT_NE(FormatProgress(s, true, true).find("\u2588"), std::string::npos);
}

// lines: one line at each 10% of the epoch (not at 100%: the epoch table follows), each with the
// loss from the last reduction; epoch 1 starts over.
TEST(Progress, LinesAtEveryTenthWithTheRunningLoss) {
  SetLogProgram("cfps train");
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  // 100 steps of 10 ratings (the last one 5): 995 ratings an epoch.
  Progress p(ProgressMode::kLines, /*tty=*/false, f, 100, 10, 995);
  double now = 0;
  p.MarkStart(now);
  for (int64_t g = 1; g <= 200; ++g) {
    now += 0.01;
    const bool sync = g % 16 == 0 || g % 100 == 0;
    // sse grows by 2 per rating: loss 2.0 in epoch 0, 0.5 per rating in epoch 1.
    const int64_t in_epoch = (g - 1) % 100 + 1;
    const double per = g <= 100 ? 2.0 : 0.5;
    p.Step(g, now, sync ? per * static_cast<double>(std::min<int64_t>(in_epoch * 10, 995)) : -1);
    if (g == 100) {
      p.EndEpoch();
      p.MarkStart(now);
    }
  }
  const std::vector<std::string> lines = Lines(Contents(f));
  std::fclose(f);
  ResetLogIdentity();
  ASSERT_EQ(lines.size(), 18u);
  EXPECT_EQ(lines[0],
            "cfps train: epoch 0  10%  10/100 steps  00:00<00:01  1e+03 ratings/s  loss -");
  EXPECT_EQ(lines[1],
            "cfps train: epoch 0  20%  20/100 steps  00:00<00:01  1e+03 ratings/s  loss 2.0000");
  EXPECT_EQ(lines[8].substr(0, 36), "cfps train: epoch 0  90%  90/100 ste");
  EXPECT_EQ(lines[9].substr(0, 36), "cfps train: epoch 1  10%  10/100 ste");
  EXPECT_NE(lines[17].find("loss 0.5000"), std::string::npos) << lines[17];
}

// auto without a terminal: short epochs print nothing, long ones print lines.
TEST(Progress, AutoWithoutTerminalOnlyForLongEpochs) {
  for (double seconds_per_step : {0.001, 0.1}) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    Progress p(ProgressMode::kAuto, /*tty=*/false, f, 100, 10, 1000);
    double now = 0;
    p.MarkStart(now);
    for (int64_t g = 1; g <= 100; ++g) p.Step(g, now += seconds_per_step);
    const size_t lines = Lines(Contents(f)).size();
    std::fclose(f);
    // 0.1 s a step: a 10 s epoch, nine lines. 1 ms a step: 0.1 s, none.
    EXPECT_EQ(lines, seconds_per_step > 0.05 ? 9u : 0u) << seconds_per_step;
  }
}

// bar: redrawn in place, at most every 0.1 s and at the last step, erased by EndEpoch.
TEST(Progress, BarRedrawsInPlaceAndIsErased) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kAuto, /*tty=*/true, f, 50, 4, 200);
  double now = 0;
  p.MarkStart(now);
  for (int64_t g = 1; g <= 50; ++g)
    p.Step(g, now += 0.01, g % 16 == 0 || g == 50 ? 3.0 * 4 * g : -1);
  p.EndEpoch();
  const std::string out = Contents(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  // First step, every 0.1 s (10 steps) and the last: 1 + 4 + 1 draws, then the erase.
  size_t draws = 0;
  for (size_t pos = 0; (pos = out.find("\repoch 0 |", pos)) != std::string::npos; ++pos) ++draws;
  EXPECT_EQ(draws, 6u);
  EXPECT_NE(out.find("100% 50/50 [00:01<00:00, 400 ratings/s, loss 3.0000]\033[K"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
}

// A run resumed mid-epoch counts its percentage from the epoch start and its rate and loss from
// the steps it ran.
TEST(Progress, ResumedMidEpoch) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kLines, false, f, 100, 10, 1000);
  p.MarkStart(0);
  // Resumed after global step 145: epoch 1, step 45 of it.
  for (int64_t g = 146; g <= 200; ++g) {
    p.Step(g, 0.1 * static_cast<double>(g - 145), g == 160 ? 1.5 * 150 : -1);
  }
  const std::vector<std::string> lines = Lines(Contents(f));
  std::fclose(f);
  ASSERT_EQ(lines.size(), 5u);  // 50% .. 90%
  // 5 steps of 10 ratings in 0.5 s (shown rounded: 00:01), 50 steps left at that pace: 5 s;
  // then the loss from the 15 steps (150 ratings) of this run.
  EXPECT_NE(lines[0].find("epoch 1  50%  50/100 steps  00:01<00:05  100 ratings/s  loss -"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("60%  60/100 steps  00:02<00:04  100 ratings/s  loss 1.5000"),
            std::string::npos)
      << lines[1];
}

TEST(Progress, NoneWritesNothing) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kNone, true, f, 10, 1, 10);
  EXPECT_FALSE(p.enabled());
  for (int64_t g = 1; g <= 10; ++g) p.Step(g, static_cast<double>(g), 1.0);
  p.EndEpoch();
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace cfps
