#pragma once
// The sharding map: row r of a table lives on shard r % S at local index r / S. A pure function of
// S, written into every checkpoint manifest, so a model can be re-sharded N -> M by moving rows.

#include <cstdint>

namespace cfps {

inline int ShardOf(int64_t row, int num_shards) { return static_cast<int>(row % num_shards); }
inline int64_t LocalIndex(int64_t row, int num_shards) { return row / num_shards; }
inline int64_t GlobalRow(int64_t local, int shard, int num_shards) {
  return local * num_shards + shard;
}
// Number of rows of a table of `rows` rows that shard `shard` owns.
inline int64_t RowsOnShard(int64_t rows, int shard, int num_shards) {
  return rows > shard ? (rows - shard + num_shards - 1) / num_shards : 0;
}

}  // namespace cfps
