#include "ps/shard.h"

#include <cstring>

#include "common/huge_pages.h"
#include "common/prefetch.h"
#include "common/sharding.h"
#include "common/status.h"

namespace cfps {

Shard::Shard(int shard, int num_shards, const ModelShape& shape, const OptimizerConfig& optimizer,
             uint64_t seed, double init_std, ThreadPool* pool, const DeviceTableFactory& device)
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
    ReserveHuge(&table.values, static_cast<size_t>(table.local_rows) * width);
    table.values.resize(static_cast<size_t>(table.local_rows) * width);
    ReserveHuge(&table.state, static_cast<size_t>(table.local_rows) * state_width_);
    table.state.assign(static_cast<size_t>(table.local_rows) * state_width_, 0.0f);
    table.slot_of.assign(static_cast<size_t>(table.local_rows), -1);
  }
  // An element depends only on (seed, table, global row, column): any split of the rows among
  // threads gives the same bits. (ML-25M shape, k=64: 14M elements, about a second on one core.)
  const int threads = pool ? pool->size() : 1;
  auto init = [&](int thread) {
    for (int t = 0; t < 2; ++t) {
      Table& table = tables_[t];
      int64_t first, last;
      SplitRange(table.local_rows, thread, threads, &first, &last);
      for (int64_t local = first; local < last; ++local) {
        const int64_t global = GlobalRow(local, shard, num_shards);
        float* r = &table.values[static_cast<size_t>(local) * width];
        for (int c = 0; c < width; ++c) r[c] = InitValue(seed, t, global, c, init_std);
      }
    }
  };
  RunOn(pool, init);
  if (device) {
    for (Table& table : tables_) {
      table.device = device(table.local_rows, width, optimizer.kind);
      CFPS_CHECK(table.device != nullptr);
      table.device->Upload(table.values.data(), state_width_ ? table.state.data() : nullptr);
    }
  }
}

void Shard::ForRead(int table) const {
  Table& tb = tables_[table];
  if (tb.device && tb.host_behind) {
    tb.device->Download(tb.values.data(), state_width_ ? tb.state.data() : nullptr);
    tb.host_behind = false;
  }
}

void Shard::ForWrite(int table) {
  ForRead(table);
  if (tables_[table].device) tables_[table].device_behind = true;
}

void Shard::ForDevice(int table) const {
  Table& tb = tables_[table];
  if (tb.device && tb.device_behind) {
    tb.device->Upload(tb.values.data(), state_width_ ? tb.state.data() : nullptr);
    tb.device_behind = false;
  }
}

void Shard::Gather(int table, const int32_t* local_ids, int64_t n, float* out) const {
  const Table& tb = tables_[table];
  if (tb.device) {  // it checks the ids
    ForDevice(table);
    tb.device->Gather(local_ids, n, out);
    return;
  }
  const size_t width = static_cast<size_t>(shape_.width());
  constexpr int64_t kAhead = 8;  // rows prefetched ahead: the table rarely fits in the caches
  for (int64_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const int32_t ahead = local_ids[i + kAhead];
      if (ahead >= 0 && ahead < tb.local_rows) {
        PrefetchFloats(&tb.values[static_cast<size_t>(ahead) * width], width);
      }
    }
    int32_t id = local_ids[i];
    CFPS_CHECK(id >= 0 && id < tb.local_rows);
    std::memcpy(out + static_cast<size_t>(i) * width, &tb.values[static_cast<size_t>(id) * width],
                width * sizeof(float));
  }
}

void Shard::AddGradients(int table, const int32_t* local_ids, int64_t n, const float* grads) {
  Table& tb = tables_[table];
  const size_t width = static_cast<size_t>(shape_.width());
  // Room for every row being new, once per call (not a resize, and its zeroes, per row); only
  // the first touched.size() rows are meaningful.
  if (tb.grad_sum.size() < (tb.touched.size() + static_cast<size_t>(n)) * width) {
    tb.grad_sum.resize((tb.touched.size() + static_cast<size_t>(n)) * width);
  }
  CFPS_CHECK(!tb.sums_on_device);
  for (int64_t i = 0; i < n; ++i) {
    const float* g = grads + static_cast<size_t>(i) * width;
    bool first;
    const int32_t slot = SlotOf(&tb, local_ids[i], &first);
    float* acc = &tb.grad_sum[static_cast<size_t>(slot) * width];
    if (first) {
      std::memcpy(acc, g, width * sizeof(float));
    } else {
      for (size_t c = 0; c < width; ++c) acc[c] += g[c];
    }
  }
}

int32_t Shard::SlotOf(Table* tb, int32_t id, bool* first) {
  CFPS_CHECK(id >= 0 && id < tb->local_rows);
  int32_t slot = tb->slot_of[static_cast<size_t>(id)];
  *first = slot < 0;
  if (slot < 0) {
    slot = static_cast<int32_t>(tb->touched.size());
    tb->slot_of[static_cast<size_t>(id)] = slot;
    tb->touched.push_back(id);
  }
  return slot;
}

void Shard::GatherOnDevice(int table, const int32_t* local_ids, int64_t n,
                           float* device_out) const {
  const Table& tb = tables_[table];
  CFPS_CHECK(tb.device != nullptr);
  if (n <= 0) return;
  ForDevice(table);  // the device table checks the ids
  tb.device->GatherToDevice(local_ids, n, device_out);
}

void Shard::AddGradientsOnDevice(int table, const int32_t* local_ids, int64_t n,
                                 const float* device_grads) {
  Table& tb = tables_[table];
  CFPS_CHECK(tb.device != nullptr);
  CFPS_CHECK(tb.sums_on_device || tb.touched.empty());
  tb.sums_on_device = true;
  if (n <= 0) return;
  tb.call_slots.resize(static_cast<size_t>(n));
  tb.call_first.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    bool first;
    tb.call_slots[static_cast<size_t>(i)] = SlotOf(&tb, local_ids[i], &first);
    tb.call_first[static_cast<size_t>(i)] = first ? 1 : 0;
  }
  tb.device->AddToSums(tb.call_slots.data(), tb.call_first.data(), n, device_grads);
}

void Shard::UpdateTablesOnDevice(const PreparedStep& step, const int32_t* const local_ids[2],
                                 const float* const device_grads[2], const int64_t n[2]) {
  for (int table = 0; table < 2; ++table) {
    Table& tb = tables_[table];
    CFPS_CHECK(tb.device != nullptr);
    if (n[table] <= 0) continue;
    ForDevice(table);  // the device table checks the ids
    tb.device->UpdateFromDevice(step, local_ids[table], device_grads[table], n[table]);
    tb.host_behind = true;
  }
}

void Shard::UpdateRows(int table, const PreparedStep& step, const int32_t* local_ids,
                       const float* grads, int64_t first, int64_t last) {
  Table& tb = tables_[table];
  if (tb.device) {
    if (first >= last) return;
    ForDevice(table);  // the device table checks the ids
    tb.device->Update(step, local_ids + first, grads + first * shape_.width(), last - first);
    tb.host_behind = true;
    return;
  }
  const int width = shape_.width();
  const size_t state_width = static_cast<size_t>(state_width_);
  constexpr int64_t kAhead = 8;  // rows prefetched ahead: the table rarely fits in the caches
  for (int64_t s = first; s < last; ++s) {
    if (s + kAhead < last) {
      const size_t ahead = static_cast<size_t>(local_ids[s + kAhead]);
      PrefetchFloats(&tb.values[ahead * static_cast<size_t>(width)], static_cast<size_t>(width),
                     true);
      if (state_width) PrefetchFloats(tb.state.data() + ahead * state_width, state_width, true);
    }
    const int32_t id = local_ids[s];
    CFPS_CHECK(id >= 0 && id < tb.local_rows);
    UpdateRow(step, grads + static_cast<size_t>(s) * static_cast<size_t>(width),
              &tb.values[static_cast<size_t>(id) * static_cast<size_t>(width)],
              tb.state.data() + static_cast<size_t>(id) * state_width);
  }
}

void Shard::UpdateTables(const PreparedStep& step, const int32_t* const local_ids[2],
                         const float* const grads[2], const int64_t n[2], ThreadPool* pool) {
  if (on_device()) {  // one device call per table (a device table is not shared among threads)
    for (int table = 0; table < 2; ++table) {
      UpdateRows(table, step, local_ids[table], grads[table], 0, n[table]);
    }
    return;
  }
  const int threads = pool ? pool->size() : 1;
  auto update = [&](int t) {
    for (int table = 0; table < 2; ++table) {
      int64_t first, last;
      SplitRange(n[table], t, threads, &first, &last);
      UpdateRows(table, step, local_ids[table], grads[table], first, last);
    }
  };
  RunOn(pool, update);
}

void Shard::ApplyStep(const PreparedStep& step, ThreadPool* pool) {
  if (tables_[0].sums_on_device || tables_[1].sums_on_device) {
    for (int table = 0; table < 2; ++table) {
      Table& tb = tables_[table];
      CFPS_CHECK(tb.sums_on_device || tb.touched.empty());
      if (tb.touched.empty()) continue;
      ForDevice(table);
      tb.device->UpdateFromSums(step, tb.touched.data(), static_cast<int64_t>(tb.touched.size()));
      tb.host_behind = true;
    }
  } else {
    const int32_t* ids[2] = {tables_[0].touched.data(), tables_[1].touched.data()};
    const float* grads[2] = {tables_[0].grad_sum.data(), tables_[1].grad_sum.data()};
    const int64_t n[2] = {static_cast<int64_t>(tables_[0].touched.size()),
                          static_cast<int64_t>(tables_[1].touched.size())};
    UpdateTables(step, ids, grads, n, pool);
  }
  for (Table& tb : tables_) {
    for (int32_t id : tb.touched) tb.slot_of[static_cast<size_t>(id)] = -1;
    tb.touched.clear();
    tb.sums_on_device = false;
  }
}

}  // namespace cfps
