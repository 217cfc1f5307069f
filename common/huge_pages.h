#pragma once
// Transparent huge pages for the big arrays that are read in random order (the tables of a shard,
// the ratings, the epoch order). With 4 KB pages nearly every random row access of a table larger
// than the caches also misses the TLB; 2 MB pages remove most of those walks (measured on ML-25M
// shape: tests/bench/). Debian's default THP mode is "madvise", so the ranges must ask for it, and
// before their pages are first touched: reserve, advise, then resize.

#include <cstddef>
#include <vector>

namespace cfps {

// madvise(MADV_HUGEPAGE) on the 2 MB-aligned part of [p, p + bytes); a no-op for small ranges and
// where the kernel does not support it.
void AdviseHugePages(const void* p, size_t bytes);

// v->reserve(n) with huge pages advised for the new storage, before anything touches it.
template <typename T, typename A>
void ReserveHuge(std::vector<T, A>* v, size_t n) {
  if (v->capacity() >= n) return;
  v->reserve(n);
  AdviseHugePages(v->data(), n * sizeof(T));
}

}  // namespace cfps
