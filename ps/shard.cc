#include "ps/shard.h"

#include <cstring>

#include "common/sharding.h"
#include "common/status.h"

namespace cfps {

Shard::Shard(int shard, int num_shards, const ModelShape& shape, const OptimizerConfig& optimizer,
             uint64_t seed, double init_std)
    : shard_(shard),
      num_shards_(num_shards),
      shape_(shape),
      optimizer_(optimizer),
      state_width_(StateFloatsPerRow(optimizer.kind, shape.width())) {
  CFPS_CHECK(num_shards > 0 && shard >= 0 && shard < num_shards);
  const int width = shape_.width();
  for (int t = 0; t < 2; ++t) {
    Table& table = tables_[t];
    table.local_rows = RowsOnShard(shape_.rows[t], shard, num_shards);
    table.values.resize(static_cast<size_t>(table.local_rows) * width);
    table.state.assign(static_cast<size_t>(table.local_rows) * state_width_, 0.0f);
    table.slot_of.assign(static_cast<size_t>(table.local_rows), -1);
    for (int64_t local = 0; local < table.local_rows; ++local) {
      int64_t global = GlobalRow(local, shard, num_shards);
      float* r = &table.values[static_cast<size_t>(local) * width];
      for (int c = 0; c < width; ++c) r[c] = InitValue(seed, t, global, c, init_std);
    }
  }
}

void Shard::Gather(int table, const int32_t* local_ids, int64_t n, float* out) const {
  const Table& tb = tables_[table];
  const size_t width = static_cast<size_t>(shape_.width());
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = local_ids[i];
    CFPS_CHECK(id >= 0 && id < tb.local_rows);
    std::memcpy(out + static_cast<size_t>(i) * width, &tb.values[static_cast<size_t>(id) * width],
                width * sizeof(float));
  }
}

void Shard::AddGradients(int table, const int32_t* local_ids, int64_t n, const float* grads) {
  Table& tb = tables_[table];
  const size_t width = static_cast<size_t>(shape_.width());
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = local_ids[i];
    CFPS_CHECK(id >= 0 && id < tb.local_rows);
    const float* g = grads + static_cast<size_t>(i) * width;
    int32_t slot = tb.slot_of[static_cast<size_t>(id)];
    if (slot < 0) {
      slot = static_cast<int32_t>(tb.touched.size());
      tb.slot_of[static_cast<size_t>(id)] = slot;
      tb.touched.push_back(id);
      tb.grad_sum.resize(tb.touched.size() * width);
      std::memcpy(&tb.grad_sum[static_cast<size_t>(slot) * width], g, width * sizeof(float));
    } else {
      float* acc = &tb.grad_sum[static_cast<size_t>(slot) * width];
      for (size_t c = 0; c < width; ++c) acc[c] += g[c];
    }
  }
}

void Shard::ApplyStep(const PreparedStep& step) {
  const size_t width = static_cast<size_t>(shape_.width());
  for (Table& tb : tables_) {
    for (size_t s = 0; s < tb.touched.size(); ++s) {
      int32_t id = tb.touched[s];
      UpdateRow(step, &tb.grad_sum[s * width], &tb.values[static_cast<size_t>(id) * width],
                tb.state.data() + static_cast<size_t>(id) * state_width_);
      tb.slot_of[static_cast<size_t>(id)] = -1;
    }
    tb.touched.clear();
  }
}

}  // namespace cfps
