#pragma once
// What the golden-file tests (schedule, kernels, optimizer) share beyond reading the JSON
// (tests/unit/golden_json.h): the one-cycle schedule a file describes, and a golden batch's ids
// turned into the unique rows and per-sample slots a worker gathers.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/schedule.h"
#include "tests/unit/golden_json.h"

namespace cfps::testing {

// A schedule section {"lr_max", "total_steps", "pct_start", "div", "div_final", "moms": [max,
// min, max]}: onecycle.json's root, adam_steps.json's ["optimizer"]["schedule"].
inline Schedule GoldenOneCycle(const Json& section) {
  Schedule s;
  s.kind = ScheduleKind::kOneCycle;
  s.lr_max = section["lr_max"].number;
  s.total_steps = static_cast<int64_t>(section["total_steps"].number);
  s.pct_start = section["pct_start"].number;
  s.div = section["div"].number;
  s.div_final = section["div_final"].number;
  s.mom_max = section["moms"][0].number;
  s.mom_min = section["moms"][1].number;
  return s;
}

// The distinct ids of a batch in ascending order: the rows a worker gathers.
inline std::vector<int32_t> UniqueSorted(std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// The slot of each sample's id among `unique_ids` (UniqueSorted of the samples).
inline std::vector<int32_t> SlotsOf(const std::vector<int32_t>& samples,
                                    const std::vector<int32_t>& unique_ids) {
  std::vector<int32_t> slots;
  slots.reserve(samples.size());
  for (int32_t id : samples) {
    slots.push_back(static_cast<int32_t>(
        std::lower_bound(unique_ids.begin(), unique_ids.end(), id) - unique_ids.begin()));
  }
  return slots;
}

}  // namespace cfps::testing
