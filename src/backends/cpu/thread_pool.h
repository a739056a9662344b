#pragma once
// A fork/join pool for the many small ops of a decode step. The calling
// thread is worker 0 and takes part; the other workers are persistent
// threads that spin briefly after each job (the next op usually follows
// within microseconds) and then sleep on a futex-backed atomic wait.
//
// parallel_for(n_tasks, fn) calls fn(task, thread) once for every task in
// [0, n_tasks), with a static partition: thread t runs the contiguous tasks
// [n_tasks * t / T, n_tasks * (t + 1) / T) in increasing order. Which thread
// runs a task depends only on n_tasks and T, never on timing. Ops get
// results that are bit-identical for any thread count by making each task
// write its own outputs with the same operations whoever runs it (split
// over output rows, never inside a reduction).
//
// Nothing allocates per dispatch: the job is a function pointer and a
// context pointer. One parallel_for at a time per pool; a nested or
// concurrent call is a programming error and throws std::logic_error.
// An exception thrown by fn stops the thread that threw (its later tasks are
// skipped), the others finish their share, and the first exception is
// rethrown to the caller of parallel_for.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace pocketllm {

class ThreadPool {
 public:
  // n_threads counts the caller: 1 means no extra threads. 0 is taken as 1.
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Physical cores of this machine (probe_cpu), at least 1: hyperthreads
  // share the FMA units and the memory bandwidth that these kernels saturate.
  static unsigned default_thread_count();

  unsigned size() const { return n_threads_; }

  // First task of `thread`'s share: tasks [task_begin(n, t), task_begin(n, t + 1)).
  static size_t task_begin(size_t n_tasks, unsigned thread, unsigned n_threads) {
    // floor(n_tasks * thread / n_threads) without overflow: n_tasks = q * n_threads + r.
    const size_t q = n_tasks / n_threads;
    const size_t r = n_tasks % n_threads;
    return q * thread + r * thread / n_threads;
  }

  template <typename Fn>
  void parallel_for(size_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(n_tasks, &invoke<F>, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // The dynamic form, for memory-bound work such as a decode step's matrix-
  // vector products: fn(begin, end, thread) over chunks of [0, n_units) that
  // the threads claim as they go, a claim taking 1/(2T) of what is left but
  // at least min_chunk units (guided self-scheduling). A thread that the
  // machine slows down takes less, so all finish within one small chunk of
  // each other; a static split waits for the slowest share. Which thread runs
  // a unit depends on timing, so fn must give a unit the same result whoever
  // runs it (write only that unit's outputs).
  template <typename Fn>
  void parallel_chunks(size_t n_units, size_t min_chunk, Fn&& fn) {
    struct alignas(64) NextUnit {
      std::atomic<size_t> value{0};
    } next;
    const size_t divisor = 2 * size_t{n_threads_};
    const size_t least = min_chunk == 0 ? 1 : min_chunk;
    parallel_for(n_threads_, [&](size_t, unsigned thread) {
      size_t begin = next.value.load(std::memory_order_relaxed);
      for (;;) {
        if (begin >= n_units) return;
        const size_t share = (n_units - begin) / divisor;
        const size_t end = n_units - begin <= least ? n_units : begin + (share > least ? share : least);
        if (!next.value.compare_exchange_weak(begin, end, std::memory_order_relaxed)) continue;
        fn(begin, end, thread);
        begin = next.value.load(std::memory_order_relaxed);
      }
    });
  }

 private:
  using TaskFn = void (*)(void* ctx, size_t task, unsigned thread);

  template <typename F>
  static void invoke(void* ctx, size_t task, unsigned thread) {
    (*static_cast<F*>(ctx))(task, thread);
  }

  void run(size_t n_tasks, TaskFn fn, void* ctx);
  void run_share(unsigned thread) noexcept;
  void worker_main(unsigned thread);
  void record_exception() noexcept;

  const unsigned n_threads_;
  std::vector<std::thread> workers_;

  // The current job, written by the caller before it bumps generation_.
  TaskFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  size_t job_tasks_ = 0;

  std::atomic<uint32_t> generation_{0};  // bumped once per job (and at shutdown)
  std::atomic<uint32_t> pending_{0};     // workers (not the caller) still running the job
  std::atomic<bool> busy_{false};        // a parallel_for is in progress
  std::atomic<bool> stop_{false};

  std::mutex error_mutex_;
  std::exception_ptr error_;  // first exception of the current job
};

}  // namespace pocketllm
