#pragma once
// Learning-rate and momentum schedules: pure functions of the global step, computed in double
// where they are used (on the shard that runs the optimizer).
//
// one-cycle, as fastai's fit_one_cycle (defaults: pct_start 0.25, div 25, div_final 1e5,
// moms 0.95 -> 0.85 -> 0.95):
//   sched_cos(a, b, x) = a + (1 + cos(pi * (1 - x))) * (b - a) / 2
//   pos = s / total_steps  (s = 0-based step; the step that consumes batch s uses pos = s / T)
//   pos <  pct_start: x = pos / pct_start,                      from (start, middle)
//   pos >= pct_start: x = (pos - pct_start) / (1 - pct_start),  from (middle, end)
//   lr:  start = lr_max / div, middle = lr_max, end = lr_max / div_final
//   mom: start = mom_max, middle = mom_min, end = mom_max
// Steps at or past total_steps keep the end values (lr_max / div_final, mom_max).
// constant: lr = lr_max, mom = 0.9 (fastai's Adam default).

#include <cstdint>

namespace cfps {

enum class ScheduleKind { kOneCycle, kConstant };

struct Schedule {
  ScheduleKind kind = ScheduleKind::kOneCycle;
  double lr_max = 5e-3;
  int64_t total_steps = 1;
  double pct_start = 0.25;
  double div = 25.0;
  double div_final = 1e5;
  double mom_max = 0.95;
  double mom_min = 0.85;

  double Lr(int64_t step) const;  // step is 0-based
  double Mom(int64_t step) const;
};

}  // namespace cfps
