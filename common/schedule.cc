#include "common/schedule.h"

#include <cmath>

#include "common/status.h"

namespace cfps {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Written in exactly the order of the golden definition (tests/data/golden/onecycle.json) so that
// the double result matches it to the last bit or two.
double SchedCos(double start, double end, double x) {
  return start + ((1.0 + std::cos(kPi * (1.0 - x))) * (end - start)) / 2.0;
}

// One-cycle value for 0-based `step`. The point pos == pct_start belongs to the second phase (its
// value is exactly `middle`). Steps at or past total_steps stay at `end` instead of letting the
// cosine climb back up: a run that overshoots its planned length must not warm up again.
double OneCycle(const Schedule& s, int64_t step, double start, double middle, double end) {
  CFPS_CHECK_GE(step, 0);
  CFPS_CHECK_GE(s.total_steps, 1);
  if (step >= s.total_steps) return end;
  const double pos = static_cast<double>(step) / static_cast<double>(s.total_steps);
  if (pos < s.pct_start) return SchedCos(start, middle, pos / s.pct_start);
  return SchedCos(middle, end, (pos - s.pct_start) / (1.0 - s.pct_start));
}

}  // namespace

double Schedule::Lr(int64_t step) const {
  if (kind == ScheduleKind::kConstant) return lr_max;
  return OneCycle(*this, step, lr_max / div, lr_max, lr_max / div_final);
}

double Schedule::Mom(int64_t step) const {
  if (kind == ScheduleKind::kConstant) return 0.9;
  return OneCycle(*this, step, mom_max, mom_min, mom_max);
}

}  // namespace cfps
