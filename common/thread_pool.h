#pragma once
// ThreadPool: a fork-join pool for the phases of one training step.
//
// Run(fn) calls fn(t) for t = 0 .. size()-1, fn(0) on the calling thread, and returns when every
// call has returned: each Run is a barrier. The work of a phase is split by the caller into
// fixed ranges (of samples or of rows), so the result never depends on timing; the pool only
// decides when, not what. Idle helper threads spin briefly (the next phase of a step usually
// follows within microseconds), then sleep on a condition variable, so a rank that waits for the
// network does not burn the cores the other ranks on the node need.

#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace cfps {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  template <typename F>
  void Run(F&& fn) {
    if (size_ == 1) {
      fn(0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    RunImpl([](void* ctx, int t) { (*static_cast<Fn*>(ctx))(t); },
            const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  void RunImpl(void (*call)(void*, int), void* ctx);
  void Loop(int t);

  int size_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  void (*call_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> sleepers_{0};
};

// The cores this process may run on (its affinity mask), at least 1.
int AvailableCores();

// This thread's affinity mask (every CPU of the set when it cannot be read).
cpu_set_t AffinityMask();

// The threads a rank takes (--threads 0) from the CPUs of its node, given the affinity mask of
// every rank of the node (masks[me] is this rank's): each CPU of its mask counts 1/m, m being
// the number of masks that hold it. Ranks bound to CPUs of their own (a launcher binding each
// to a core or a socket) keep all of theirs; ranks that may all run anywhere share the CPUs
// equally; at least 1.
int CoreShare(const std::vector<cpu_set_t>& masks, size_t me);

// [begin, end) of part t of T equal parts of [0, n).
inline void SplitRange(int64_t n, int t, int parts, int64_t* begin, int64_t* end) {
  *begin = n * t / parts;
  *end = n * (t + 1) / parts;
}

// fn(t) for every thread t of `pool` (pool->Run), or fn(0) on the calling thread without one.
template <typename F>
void RunOn(ThreadPool* pool, F&& fn) {
  if (pool != nullptr) {
    pool->Run(fn);
  } else {
    fn(0);
  }
}

}  // namespace cfps
