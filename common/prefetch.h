#pragma once
// Software prefetch of a row of floats (every cache line it touches): the tables, the optimizer
// state and the ratings are visited in random order and rarely fit in the caches, so the hot loops
// ask for the rows a few iterations ahead.

#include <cstddef>

namespace cfps {

inline void PrefetchFloats(const float* p, size_t count, bool for_write = false) {
  const char* c = reinterpret_cast<const char*>(p);
  const size_t bytes = count * sizeof(float);
  if (bytes == 0) return;
  for (size_t off = 0; off < bytes; off += 64) {
    if (for_write) {
      __builtin_prefetch(c + off, 1, 3);
    } else {
      __builtin_prefetch(c + off, 0, 3);
    }
  }
  if (for_write) {
    __builtin_prefetch(c + bytes - 1, 1, 3);
  } else {
    __builtin_prefetch(c + bytes - 1, 0, 3);
  }
}

}  // namespace cfps
