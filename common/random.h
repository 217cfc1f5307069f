#pragma once
// Counter-based randomness. Every random value cfps uses is a pure function of a seed and a
// position (table, row, column; or epoch), never the state of a stream shared across ranks: this is
// what makes the initial model independent of the number of shards, workers and devices.

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace cfps {

// SplitMix64 finalizer: a bijective 64-bit mixer with good avalanche.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t HashCombine(uint64_t a, uint64_t b) { return Mix64(a ^ Mix64(b)); }
inline uint64_t Hash4(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return HashCombine(HashCombine(HashCombine(a, b), c), d);
}

// Uniform double in (0, 1) from 53 high bits; never exactly 0 (safe for log).
inline double ToUnitOpen(uint64_t x) { return (static_cast<double>(x >> 11) + 0.5) * 0x1.0p-53; }

// Table ids used in the init hash (stable: they are part of the model's definition).
enum TableId : int { kUserTable = 0, kItemTable = 1 };

// normal(0, stddev) for element `col` of row `row` of table `table`: Box-Muller on two uniforms
// hashed from (seed, table, row, col). Computed in double, rounded once to float.
inline float InitValue(uint64_t seed, int table, int64_t row, int col, double stddev) {
  uint64_t h = Hash4(seed, 0x636670730000ULL + static_cast<uint64_t>(table),
                     static_cast<uint64_t>(row), static_cast<uint64_t>(col));
  double u1 = ToUnitOpen(h);
  double u2 = ToUnitOpen(Mix64(h ^ 0x5bd1e9955bd1e995ULL));
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  return static_cast<float>(z * stddev);
}

// A small sequential generator for shuffles and synthetic data (SplitMix64 stream). Seed it from a
// hash of the position it serves, so each use is reproducible on its own.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix64(state_++); }
  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift with rejection: unbiased).
  uint64_t Below(uint64_t n) {
    for (;;) {
      unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
      uint64_t low = static_cast<uint64_t>(m);
      if (low >= n || low >= (-n) % n) return static_cast<uint64_t>(m >> 64);
    }
  }
  double Uniform() { return ToUnitOpen(Next()); }
  double Normal() {
    double u1 = Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// Fisher-Yates shuffle with our own generator (std::shuffle's algorithm is implementation-defined).
// The swap targets are random over the whole array: they are drawn kAhead swaps early and
// prefetched (the same draws in the same order: the same permutation), or every swap of a large
// array waits for DRAM (the 20M-rating epoch order: a tenth of an epoch).
template <typename T>
void Shuffle(T* data, int64_t n, Rng* rng) {
  constexpr int64_t kAhead = 32;
  int64_t ring[kAhead];
  auto draw = [&](int64_t i) {
    const int64_t j = static_cast<int64_t>(rng->Below(static_cast<uint64_t>(i) + 1));
    __builtin_prefetch(data + j, 1);
    return j;
  };
  // Swap s (s = 0, 1, ...) is at i = n - 1 - s, for i > 0.
  const int64_t swaps = n > 1 ? n - 1 : 0;
  for (int64_t s = 0; s < swaps && s < kAhead; ++s) ring[s] = draw(n - 1 - s);
  for (int64_t s = 0; s < swaps; ++s) {
    const int64_t i = n - 1 - s;
    const int64_t j = ring[s % kAhead];
    if (s + kAhead < swaps) ring[(s + kAhead) % kAhead] = draw(n - 1 - (s + kAhead));
    T tmp = data[i];
    data[i] = data[j];
    data[j] = tmp;
  }
}

// torch.randperm(n) on the CPU after torch.manual_seed(seed), bit for bit (PyTorch's Fisher-Yates
// over a 32-bit Mersenne Twister: for i in 0..n-2, swap r[i] with r[i + mt() % (n - i)]). cfps's
// random split uses it so that --seed S holds out exactly the ratings fastai's
// RandomSplitter(valid_pct, seed=S) holds out. Checked against PyTorch 1.13 in the tests.
// With prefix = k < n, only the first k swaps are made: out[0..k) is then already final (a swap
// at step i never touches positions below i), the rest is not a permutation prefix of anything.
template <typename T>
void TorchRandperm(int64_t n, uint64_t seed, std::vector<T>* out, int64_t prefix = -1) {
  std::mt19937 mt(static_cast<uint32_t>(seed));
  out->resize(static_cast<size_t>(n));
  T* p = out->data();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  // The swap targets are random over the whole array: draw them kAhead swaps early and prefetch,
  // or every swap waits for DRAM (25M ratings: 1.7 s -> a fraction). Same draws, same order.
  constexpr int64_t kAhead = 32;
  int64_t ring[kAhead];
  auto draw = [&](int64_t i) {
    // mt() < 2^32 and n - i < 2^32 (n is bounded by the callers), so the 32-bit remainder
    // (half the latency of a 64-bit one) is the same number.
    return static_cast<int64_t>(static_cast<uint32_t>(mt()) % static_cast<uint32_t>(n - i));
  };
  const int64_t swaps = prefix >= 0 && prefix < n - 1 ? prefix : n - 1;
  for (int64_t i = 0; i < swaps && i < kAhead; ++i) {
    ring[i] = draw(i);
    __builtin_prefetch(p + i + ring[i], 1);
  }
  for (int64_t i = 0; i < swaps; ++i) {
    const int64_t z = ring[i % kAhead];
    const int64_t next = i + kAhead;
    if (next < swaps) {
      ring[next % kAhead] = draw(next);
      __builtin_prefetch(p + next + ring[next % kAhead], 1);
    }
    std::swap(p[i], p[i + z]);
  }
}

}  // namespace cfps
