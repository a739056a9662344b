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
#include <memory>
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
  // vector products: fn(begin, end, thread) over [0, n_units) in whole
  // grains of `grain` units (the last grain may be shorter). Each thread
  // starts on its static share of grains and takes a quarter of what is
  // left of it at a time (at least one grain) from the front; a thread that
  // runs out steals the back half of the largest share left. A thread that
  // the machine stops (a VM's vCPU is descheduled for tens of microseconds
  // at a time, ~6% of the time on the CI machine) so holds back only what
  // it has taken: the others take the rest. Which thread runs a unit depends
  // on timing, so fn must give a unit the same result whoever runs it
  // (write only that unit's outputs).
  template <typename Fn>
  void parallel_chunks(size_t n_units, size_t grain, Fn&& fn) {
    parallel_chunks(n_units, grain, std::forward<Fn>(fn), [](unsigned) {});
  }

  // The same, with prologue(thread) run by every thread once before it takes
  // a grain (e.g. to prepare a private copy of shared input, which no thread
  // then waits for).
  template <typename Fn, typename Prologue>
  void parallel_chunks(size_t n_units, size_t grain, Fn&& fn, Prologue&& prologue) {
    // (Also keeps run() from skipping the reset of the grain ranges, which a
    // job whose every thread threw may have left non-empty.)
    if (n_units == 0) return;
    const size_t step = grain == 0 ? 1 : grain;
    const size_t n_grains = (n_units + step - 1) / step;
    const auto each_thread = [&](size_t, unsigned thread) {
      prologue(thread);
      size_t first = 0;
      size_t count = 0;
      while (next_grains(thread, first, count)) {
        const size_t end = (first + count) * step;
        fn(first * step, end < n_units ? end : n_units, thread);
      }
    };
    using F = std::remove_reference_t<decltype(each_thread)>;
    run(n_threads_, &invoke<F>, const_cast<void*>(static_cast<const void*>(&each_thread)), n_grains);
  }

 private:
  using TaskFn = void (*)(void* ctx, size_t task, unsigned thread);

  template <typename F>
  static void invoke(void* ctx, size_t task, unsigned thread) {
    (*static_cast<F*>(ctx))(task, thread);
  }

  // n_grains > 0: deal [0, n_grains) out to the threads' grain ranges first (parallel_chunks).
  void run(size_t n_tasks, TaskFn fn, void* ctx, size_t n_grains = 0);
  // The next grains [first, first + count) for `thread`: from its own range, else stolen; false when none is left.
  bool next_grains(unsigned thread, size_t& first, size_t& count) noexcept;
  bool steal_grains(unsigned thief) noexcept;
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

  // Per thread, the grains it has not started: begin in the low 32 bits,
  // end in the high ones, so that one compare-exchange moves either end.
  struct alignas(64) GrainRange {
    std::atomic<uint64_t> range{0};
  };
  std::unique_ptr<GrainRange[]> grains_;

  std::mutex error_mutex_;
  std::exception_ptr error_;  // first exception of the current job
};

}  // namespace pocketllm
