#include "backends/cpu/thread_pool.h"

#include <algorithm>
#include <stdexcept>

#include "backends/cpu/cpu_info.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pocketllm {
namespace {

// About 10-50 microseconds of spinning (a PAUSE is 10-140 cycles depending on
// the core): long enough to catch the next op of a decode step, short enough
// not to burn a core that an idle server should give back.
constexpr int kSpinIterations = 4000;

constexpr uint32_t kGrainsTakenDivisor = 4;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Waits until `value` differs from `old` (spin, then futex wait); returns the new value.
uint32_t wait_for_change(const std::atomic<uint32_t>& value, uint32_t old) {
  for (int i = 0; i < kSpinIterations; ++i) {
    const uint32_t now = value.load(std::memory_order_acquire);
    if (now != old) return now;
    cpu_relax();
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    const uint32_t now = value.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

// A grain range [begin, end) in one word: begin low, end high.
uint64_t pack_range(size_t begin, size_t end) { return static_cast<uint64_t>(end) << 32 | begin; }
uint32_t range_begin(uint64_t range) { return static_cast<uint32_t>(range); }
uint32_t range_end(uint64_t range) { return static_cast<uint32_t>(range >> 32); }
uint32_t range_size(uint64_t range) {
  return range_end(range) > range_begin(range) ? range_end(range) - range_begin(range) : 0;
}

// Releases busy_ however run() leaves.
struct BusyGuard {
  std::atomic<bool>& busy;
  ~BusyGuard() { busy.store(false, std::memory_order_release); }
};

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads)
    : n_threads_(std::max(1u, n_threads)), grains_(std::make_unique<GrainRange[]>(n_threads_)) {
  workers_.reserve(n_threads_ - 1);
  for (unsigned t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

unsigned ThreadPool::default_thread_count() {
  const unsigned cores = probe_cpu().physical_cores;
  if (cores > 0) return cores;
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::run(size_t n_tasks, TaskFn fn, void* ctx, size_t n_grains) {
  if (busy_.exchange(true, std::memory_order_acquire)) {
    throw std::logic_error(
        "ThreadPool::parallel_for called while another parallel_for of the same pool is running "
        "(nested or concurrent use); run the inner work serially");
  }
  BusyGuard guard{busy_};
  if (n_tasks == 0) return;
  if (n_grains > 0) {
    if (n_grains > UINT32_MAX) throw std::length_error("ThreadPool::parallel_chunks: more than 2^32 - 1 grains");
    for (unsigned t = 0; t < n_threads_; ++t) {
      grains_[t].range.store(pack_range(task_begin(n_grains, t, n_threads_), task_begin(n_grains, t + 1, n_threads_)),
                             std::memory_order_relaxed);
    }
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_tasks_ = n_tasks;
  error_ = nullptr;
  if (n_threads_ > 1) {
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
  }
  run_share(0);
  if (n_threads_ > 1) {
    for (uint32_t left = pending_.load(std::memory_order_acquire); left != 0;
         left = pending_.load(std::memory_order_acquire)) {
      wait_for_change(pending_, left);
    }
  }
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::run_share(unsigned thread) noexcept {
  const size_t begin = task_begin(job_tasks_, thread, n_threads_);
  const size_t end = task_begin(job_tasks_, thread + 1, n_threads_);
  try {
    for (size_t task = begin; task < end; ++task) job_fn_(job_ctx_, task, thread);
  } catch (...) {
    record_exception();
  }
}

// The owner takes grains from the front of its range and thieves take the
// back half, each with a compare-exchange of the whole range, so a grain is
// handed out once. Relaxed order suffices: the grains' results are published
// by the join (pending_), and a range only ever holds unstarted grains.
bool ThreadPool::next_grains(unsigned thread, size_t& first, size_t& count) noexcept {
  std::atomic<uint64_t>& own = grains_[thread].range;
  for (;;) {
    uint64_t range = own.load(std::memory_order_relaxed);
    while (range_size(range) > 0) {
      const uint32_t take = std::max<uint32_t>(1, range_size(range) / kGrainsTakenDivisor);
      if (own.compare_exchange_weak(range, pack_range(range_begin(range) + size_t{take}, range_end(range)),
                                    std::memory_order_relaxed)) {
        first = range_begin(range);
        count = take;
        return true;
      }
    }
    if (!steal_grains(thread)) return false;
  }
}

// Moves the back half (rounded up) of the largest other range into the
// thief's own; false when every range is empty.
bool ThreadPool::steal_grains(unsigned thief) noexcept {
  for (;;) {
    unsigned victim = thief;
    uint64_t largest = 0;
    for (unsigned t = 0; t < n_threads_; ++t) {
      const uint64_t range = grains_[t].range.load(std::memory_order_relaxed);
      if (t != thief && range_size(range) > range_size(largest)) {
        victim = t;
        largest = range;
      }
    }
    if (victim == thief) return false;
    const uint32_t begin = range_begin(largest);
    const uint32_t end = range_end(largest);
    const uint32_t middle = begin + (end - begin) / 2;
    if (grains_[victim].range.compare_exchange_strong(largest, pack_range(begin, middle),
                                                       std::memory_order_relaxed)) {
      grains_[thief].range.store(pack_range(middle, end), std::memory_order_relaxed);
      return true;
    }
  }
}

void ThreadPool::record_exception() noexcept {
  const std::lock_guard<std::mutex> lock(error_mutex_);
  if (!error_) error_ = std::current_exception();
}

void ThreadPool::worker_main(unsigned thread) {
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_change(generation_, seen);
    if (stop_.load(std::memory_order_relaxed)) return;
    run_share(thread);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace pocketllm
