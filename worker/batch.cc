#include "worker/batch.h"

#include "common/huge_pages.h"
#include "common/random.h"
#include "common/status.h"

namespace cfps {

int64_t StepsPerEpoch(int64_t n_train, int64_t batch_size) {
  return (n_train + batch_size - 1) / batch_size;
}

void EpochOrder(uint64_t seed, int64_t epoch, int64_t n, std::vector<int32_t>* order) {
  ReserveHuge(order, static_cast<size_t>(n));
  order->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) (*order)[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  Rng rng(Hash4(seed, 0x65706f6368ULL /* "epoch" */, static_cast<uint64_t>(epoch), 0));
  Shuffle(order->data(), n, &rng);
}

Slice WorkerSlice(int64_t length, int worker, int num_workers) {
  return Slice{length * worker / num_workers, length * (worker + 1) / num_workers};
}

RowGrouper::RowGrouper(int64_t table_rows) : mark_(static_cast<size_t>(table_rows), -1) {}

void RowGrouper::Group(const int32_t* rows, int64_t n, int num_shards,
                       std::vector<int32_t>* slots) {
  first_seen_.clear();
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    if (r < 0) continue;
    CFPS_CHECK_LT(static_cast<size_t>(r), mark_.size());
    if (mark_[static_cast<size_t>(r)] < 0) {
      mark_[static_cast<size_t>(r)] = 0;
      first_seen_.push_back(r);
    }
  }
  const size_t n_unique = first_seen_.size();
  offsets_.assign(static_cast<size_t>(num_shards) + 1, 0);
  unique_.resize(n_unique);
  if (num_shards == 1) {
    unique_ = first_seen_;
    offsets_[1] = static_cast<int64_t>(n_unique);
  } else {
    // Stable counting sort by owning shard.
    for (int32_t r : first_seen_) ++offsets_[static_cast<size_t>(r % num_shards) + 1];
    for (int s = 0; s < num_shards; ++s) offsets_[s + 1] += offsets_[s];
    cursor_.assign(offsets_.begin(), offsets_.end() - 1);
    for (int32_t r : first_seen_) unique_[static_cast<size_t>(cursor_[r % num_shards]++)] = r;
  }
  for (size_t s = 0; s < n_unique; ++s)
    mark_[static_cast<size_t>(unique_[s])] = static_cast<int32_t>(s);
  slots->resize(static_cast<size_t>(n));
  const int32_t zero_slot = static_cast<int32_t>(n_unique);
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    (*slots)[static_cast<size_t>(i)] = r < 0 ? zero_slot : mark_[static_cast<size_t>(r)];
  }
  for (int32_t r : unique_) mark_[static_cast<size_t>(r)] = -1;
}

}  // namespace cfps
