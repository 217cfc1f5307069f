#include "worker/batch.h"

#include <algorithm>
#include <cmath>

#include "common/huge_pages.h"
#include "common/random.h"
#include "common/status.h"
#include "common/thread_pool.h"

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

void BlockedEpochOrder(uint64_t seed, int64_t epoch, const RatingArrays& ratings, int64_t users,
                       int64_t items, int blocks, std::vector<int32_t>* order, ThreadPool* pool,
                       TileCounts* counts) {
  CFPS_CHECK_GE(blocks, 1);
  const int64_t n = static_cast<int64_t>(ratings.size());
  if (blocks == 1) {
    EpochOrder(seed, epoch, n, order);
    return;
  }
  ReserveHuge(order, static_cast<size_t>(n));
  order->resize(static_cast<size_t>(n));
  // Row -> its range, per table: tile = user range * blocks + item range.
  auto ranges = [blocks](int64_t rows) {
    std::vector<int32_t> range(static_cast<size_t>(rows));
    const int64_t per = (rows + blocks - 1) / blocks;
    for (int64_t r = 0; r < rows; ++r)
      range[static_cast<size_t>(r)] = static_cast<int32_t>(r / per);
    return range;
  };
  const std::vector<int32_t> user_range = ranges(users), item_range = ranges(items);
  const size_t tiles = static_cast<size_t>(blocks) * static_cast<size_t>(blocks);
  auto tile_of = [&](const Rating& r) {
    CFPS_CHECK(r.user >= 0 && r.user < users && r.item >= 0 && r.item < items);
    return static_cast<size_t>(user_range[static_cast<size_t>(r.user)]) *
               static_cast<size_t>(blocks) +
           static_cast<size_t>(item_range[static_cast<size_t>(r.item)]);
  };
  // A counting sort of the ratings by tile, the tiles laid out in the epoch's visiting order.
  // With a pool, part p of P counts and places the p-th range of the ratings; within a tile part
  // p's ratings follow part p-1's, so the result is the one-part sort's (file order in a tile).
  if (n < (int64_t{1} << 16)) pool = nullptr;  // not worth a fork-join
  const int parts = pool != nullptr ? pool->size() : 1;
  std::vector<std::vector<int64_t>> count;
  if (counts != nullptr && counts->ratings == &ratings && counts->n == static_cast<size_t>(n) &&
      counts->users == users && counts->items == items && counts->blocks == blocks &&
      counts->parts == parts) {
    count = counts->count;
  } else {
    count.assign(static_cast<size_t>(parts), std::vector<int64_t>(tiles, 0));
    RunOn(pool, [&](int p) {
      int64_t begin, end;
      SplitRange(n, p, parts, &begin, &end);
      std::vector<int64_t>& mine = count[static_cast<size_t>(p)];
      ratings.Read([&](auto reader) {
        for (int64_t k = begin; k < end; ++k) ++mine[tile_of(reader(static_cast<size_t>(k)))];
      });
    });
    if (counts != nullptr) {
      counts->ratings = &ratings;
      counts->n = static_cast<size_t>(n);
      counts->users = users;
      counts->items = items;
      counts->blocks = blocks;
      counts->parts = parts;
      counts->count = count;
      ++counts->passes;
    }
  }
  std::vector<int32_t> visit(tiles);
  for (size_t t = 0; t < tiles; ++t) visit[t] = static_cast<int32_t>(t);
  Rng tile_rng(Hash4(seed, 0x74696c6573ULL /* "tiles" */, static_cast<uint64_t>(epoch), 0));
  Shuffle(visit.data(), static_cast<int64_t>(tiles), &tile_rng);
  std::vector<int64_t> start(tiles), size(tiles, 0);
  for (const std::vector<int64_t>& c : count) {
    for (size_t t = 0; t < tiles; ++t) size[t] += c[t];
  }
  int64_t at = 0;
  for (int32_t t : visit) {
    start[static_cast<size_t>(t)] = at;
    at += size[static_cast<size_t>(t)];
  }
  // Part p's first position in each tile: the tile's start plus the earlier parts' counts.
  for (size_t t = 0; t < tiles; ++t) {
    int64_t next = start[t];
    for (std::vector<int64_t>& c : count) {
      const int64_t mine = c[t];
      c[t] = next;
      next += mine;
    }
  }
  RunOn(pool, [&](int p) {
    int64_t begin, end;
    SplitRange(n, p, parts, &begin, &end);
    std::vector<int64_t>& next = count[static_cast<size_t>(p)];
    ratings.Read([&](auto reader) {
      for (int64_t k = begin; k < end; ++k) {
        (*order)[static_cast<size_t>(next[tile_of(reader(static_cast<size_t>(k)))]++)] =
            static_cast<int32_t>(k);
      }
    });
  });
  // Each tile shuffled with its own generator; part p takes the p-th share of the ratings, by
  // whole tiles.
  RunOn(pool, [&](int p) {
    int64_t seen = 0;
    for (size_t t = 0; t < tiles; ++t) {
      const int64_t owner =
          std::min<int64_t>(parts - 1, (seen + size[t] / 2) * parts / std::max<int64_t>(n, 1));
      seen += size[t];
      if (owner != p) continue;
      Rng rng(Hash4(seed, 0x74696c65ULL /* "tile" */, static_cast<uint64_t>(epoch), t));
      Shuffle(order->data() + start[t], size[t], &rng);
    }
  });
}

int AutoBlocks(int64_t users, int64_t items, int64_t row_bytes, int64_t ratings,
               int64_t batch_size) {
  constexpr double kTileBytes = 2.0 * (1 << 20);
  const double table_bytes = static_cast<double>(users + items) * static_cast<double>(row_bytes);
  int blocks = static_cast<int>(std::ceil(table_bytes / kTileBytes));
  const double most = std::sqrt(static_cast<double>(ratings) /
                                (4.0 * static_cast<double>(std::max<int64_t>(1, batch_size))));
  blocks = std::min(blocks, static_cast<int>(most));
  return std::max(1, std::min(blocks, 256));
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
