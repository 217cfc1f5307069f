#include "common/thread_pool.h"

#include <sched.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CFPS_CPU_RELAX() _mm_pause()
#else
#define CFPS_CPU_RELAX() std::this_thread::yield()
#endif

#include "common/status.h"

namespace cfps {

namespace {
// About 50-100 microseconds of pause instructions before an idle helper goes to sleep.
constexpr int kSpins = 4000;
}  // namespace

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  threads_.reserve(static_cast<size_t>(size_ - 1));
  for (int t = 1; t < size_; ++t) threads_.emplace_back([this, t] { Loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_.notify_all();
  for (std::thread& th : threads_) th.join();
}

void ThreadPool::RunImpl(void (*call)(void*, int), void* ctx) {
  call_ = call;
  ctx_ = ctx;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  {
    // Under the lock, so that a helper between its last check and its wait cannot miss it.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) cv_.notify_all();
  call(ctx, 0);
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (++spins < kSpins) {
      CFPS_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::Loop(int t) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    uint64_t gen;
    while ((gen = generation_.load(std::memory_order_acquire)) == seen && spins < kSpins) {
      CFPS_CPU_RELAX();
      ++spins;
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    call_(ctx_, t);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

cpu_set_t AffinityMask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) == 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    for (unsigned c = 0; c < (hw > 0 ? hw : 1) && c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
  }
  return set;
}

int AvailableCores() {
  const cpu_set_t set = AffinityMask();
  return std::max(1, CPU_COUNT(&set));
}

int CoreShare(const std::vector<cpu_set_t>& masks, size_t me) {
  CFPS_CHECK_LT(me, masks.size());
  // Sums of 1/m over CPUs, in whole units of 1/lcm would be exact; a small tolerance is enough
  // (at most CPU_SETSIZE terms, each far above double rounding).
  double share = 0.0;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &masks[me])) continue;
    int holders = 0;
    for (const cpu_set_t& m : masks) holders += CPU_ISSET(c, &m) ? 1 : 0;
    share += 1.0 / holders;
  }
  return std::max(1, static_cast<int>(share + 1e-6));
}

}  // namespace cfps
