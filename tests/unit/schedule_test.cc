// Tests of the learning-rate and momentum schedules (common/schedule.h) against the float64
// one-cycle definition in tests/data/golden/onecycle.json.

#include "common/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/golden_json.h"
#include "tests/unit/golden_util.h"

namespace cfps {
namespace {

using testing::GoldenOneCycle;
using testing::Json;
using testing::LoadGolden;

TEST(Schedule, DefaultsAreFastaiOneCycle) {
  const Json g = LoadGolden("onecycle.json");
  const Schedule golden = GoldenOneCycle(g);
  const Schedule defaults;
  EXPECT_EQ(defaults.kind, ScheduleKind::kOneCycle);
  EXPECT_EQ(defaults.lr_max, golden.lr_max);
  EXPECT_EQ(defaults.pct_start, golden.pct_start);
  EXPECT_EQ(defaults.div, golden.div);
  EXPECT_EQ(defaults.div_final, golden.div_final);
  EXPECT_EQ(defaults.mom_max, golden.mom_max);
  EXPECT_EQ(defaults.mom_min, golden.mom_min);
  EXPECT_EQ(g["moms"][2].number, g["moms"][0].number);  // momentum ends where it started
}

// The float64 section is the definition: all 100 steps to 1e-12 relative (in practice the
// values agree to the last bit or two).
TEST(Schedule, OneCycleMatchesGoldenFloat64) {
  const Json g = LoadGolden("onecycle.json");
  const Schedule s = GoldenOneCycle(g);
  const std::vector<double> lr = g["float64"]["lr"].Flat();
  const std::vector<double> mom = g["float64"]["mom"].Flat();
  ASSERT_EQ(lr.size(), 100u);
  ASSERT_EQ(mom.size(), 100u);
  for (int64_t step = 0; step < s.total_steps; ++step) {
    EXPECT_NEAR(s.Lr(step), lr[step], 1e-12 * lr[step]) << "step " << step;
    EXPECT_NEAR(s.Mom(step), mom[step], 1e-12 * mom[step]) << "step " << step;
  }
  EXPECT_EQ(s.Lr(0), g["lr_start"].number);
  EXPECT_EQ(s.Mom(0), g["moms"][0].number);
}

// pos == pct_start (step 25 of 100) belongs to the second phase: exactly lr_max and mom_min.
TEST(Schedule, PhaseBoundaryBelongsToTheSecondPhase) {
  Schedule s;
  s.total_steps = 100;
  EXPECT_EQ(s.Lr(25), s.lr_max);
  EXPECT_EQ(s.Mom(25), s.mom_min);
  EXPECT_LT(s.Lr(24), s.lr_max);
  EXPECT_LT(s.Lr(26), s.lr_max);
  EXPECT_GT(s.Mom(24), s.mom_min);
}

// The shape, for a length the golden file does not cover: warm up monotonically, anneal
// monotonically, never leave [end, lr_max].
TEST(Schedule, OneCycleIsMonotoneInEachPhase) {
  Schedule s;
  s.total_steps = 1001;
  const int64_t peak = 251;  // first step with pos >= 0.25
  for (int64_t t = 1; t < s.total_steps; ++t) {
    if (t < peak) {
      EXPECT_GT(s.Lr(t), s.Lr(t - 1)) << t;
      EXPECT_LT(s.Mom(t), s.Mom(t - 1)) << t;
    } else if (t > peak) {
      EXPECT_LT(s.Lr(t), s.Lr(t - 1)) << t;
      EXPECT_GT(s.Mom(t), s.Mom(t - 1)) << t;
    }
    EXPECT_LE(s.Lr(t), s.lr_max);
    EXPECT_GT(s.Lr(t), s.lr_max / s.div_final);
  }
}

// Past the planned length the schedule stays at its end values instead of warming up again.
TEST(Schedule, StepsPastTheEndStayAtTheEnd) {
  Schedule s;
  s.total_steps = 100;
  EXPECT_EQ(s.Lr(100), s.lr_max / s.div_final);
  EXPECT_EQ(s.Lr(12345), s.lr_max / s.div_final);
  EXPECT_EQ(s.Mom(100), s.mom_max);
  EXPECT_LT(s.Lr(99), s.Lr(98));
  EXPECT_GT(s.Lr(99), s.Lr(100));
}

TEST(Schedule, ConstantIsLrMaxAndMomentumPointNine) {
  Schedule s;
  s.kind = ScheduleKind::kConstant;
  s.lr_max = 3e-2;
  s.total_steps = 10;
  for (int64_t t : {0, 1, 5, 9, 10, 1000000}) {
    EXPECT_EQ(s.Lr(t), 3e-2) << t;
    EXPECT_EQ(s.Mom(t), 0.9) << t;
  }
}

}  // namespace
}  // namespace cfps
