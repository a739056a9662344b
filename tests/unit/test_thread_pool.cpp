// ThreadPool: every task runs exactly once on the thread the static
// partition names, exceptions reach the caller, misuse is a clear error, and
// a row-wise reduction gives bit-identical results with 1, 2 and 4 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/ops/norm.h"
#include "backends/cpu/ops/softmax.h"
#include "backends/cpu/thread_pool.h"

namespace pocketllm {
namespace {

TEST(ThreadPool, EveryTaskRunsOnceOnItsStaticThread) {
  for (const unsigned threads : {1u, 2u, 3u, 4u}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (const size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{100}, size_t{1001}}) {
      std::vector<std::atomic<int>> runs(n);
      std::vector<unsigned> owner(n, 99);
      pool.parallel_for(n, [&](size_t task, unsigned thread) {
        runs[task].fetch_add(1);
        owner[task] = thread;
      });
      // Contiguous blocks [n*t/T, n*(t+1)/T): e.g. 7 tasks on 2 threads -> 0-2 | 3-6.
      for (size_t task = 0; task < n; ++task) {
        EXPECT_EQ(runs[task].load(), 1) << "n=" << n << " task=" << task;
        const unsigned expected = [&] {
          for (unsigned t = 0; t < threads; ++t) {
            if (task < n * (t + 1) / threads) return t;
          }
          return threads;
        }();
        EXPECT_EQ(owner[task], expected) << "n=" << n << " T=" << threads << " task=" << task;
      }
    }
  }
}

TEST(ThreadPool, PartitionOfSevenTasksOnTwoThreads) {
  EXPECT_EQ(ThreadPool::task_begin(7, 0, 2), 0u);
  EXPECT_EQ(ThreadPool::task_begin(7, 1, 2), 3u);
  EXPECT_EQ(ThreadPool::task_begin(7, 2, 2), 7u);
  // No overflow near the top of size_t.
  const size_t huge = ~size_t{0};
  EXPECT_EQ(ThreadPool::task_begin(huge, 4, 4), huge);
  EXPECT_EQ(ThreadPool::task_begin(huge, 2, 4), huge / 2);
}

TEST(ThreadPool, ManySmallDispatchesInARow) {
  ThreadPool pool(4);
  std::atomic<long> total{0};
  for (int step = 0; step < 3000; ++step) {
    pool.parallel_for(5, [&](size_t task, unsigned) { total.fetch_add(static_cast<long>(task) + 1); });
  }
  EXPECT_EQ(total.load(), 3000L * 15);
}

TEST(ThreadPool, WorkerExceptionReachesCallerAndPoolStaysUsable) {
  ThreadPool pool(4);
  std::atomic<int> ran{0};
  try {
    // Task 9 belongs to thread 3 (tasks 9-11 of 12): a worker, not the caller.
    pool.parallel_for(12, [&](size_t task, unsigned) {
      if (task == 9) throw std::runtime_error("task 9 failed");
      ran.fetch_add(1);
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "task 9 failed");
  }
  // Thread 3 stops at task 9 (10 and 11 are skipped); the other 9 tasks ran.
  EXPECT_EQ(ran.load(), 9);
  std::atomic<int> after{0};
  pool.parallel_for(8, [&](size_t, unsigned) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 8);
}

// parallel_chunks with a prologue: every thread runs it once, before any
// grain it takes.
TEST(ThreadPool, ChunkPrologueRunsOncePerThreadBeforeItsGrains) {
  for (const unsigned threads : {1u, 2u, 4u}) {
    ThreadPool pool(threads);
    for (int job = 0; job < 20; ++job) {
      std::vector<std::atomic<int>> prologues(threads);
      std::atomic<bool> grain_before_prologue{false};
      std::atomic<size_t> units{0};
      pool.parallel_chunks(
          1000, 8,
          [&](size_t begin, size_t end, unsigned thread) {
            if (prologues[thread].load() != 1) grain_before_prologue = true;
            units += end - begin;
          },
          [&](unsigned thread) { prologues[thread].fetch_add(1); });
      for (unsigned t = 0; t < threads; ++t) EXPECT_EQ(prologues[t].load(), 1) << "thread " << t;
      EXPECT_FALSE(grain_before_prologue.load());
      EXPECT_EQ(units.load(), 1000u);
    }
  }
}

// parallel_chunks: the claims tile [0, n) exactly (each unit once), each one
// whole grains (only the claim that ends at n may end inside a grain), and an
// exception still reaches the caller.
TEST(ThreadPool, ChunksCoverEveryUnitOnceInWholeGrains) {
  for (const unsigned threads : {1u, 2u, 3u, 4u}) {
    ThreadPool pool(threads);
    for (const size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{64}, size_t{257}, size_t{10000}}) {
      for (const size_t grain : {size_t{0}, size_t{1}, size_t{4}}) {
        std::vector<std::atomic<int>> runs(n);
        std::mutex mutex;
        std::vector<std::pair<size_t, size_t>> claims;
        pool.parallel_chunks(n, grain, [&](size_t begin, size_t end, unsigned thread) {
          EXPECT_LT(thread, threads);
          for (size_t u = begin; u < end; ++u) runs[u].fetch_add(1);
          const std::lock_guard<std::mutex> lock(mutex);
          claims.emplace_back(begin, end);
        });
        for (size_t u = 0; u < n; ++u) EXPECT_EQ(runs[u].load(), 1) << "n=" << n << " unit=" << u;
        const size_t step = std::max<size_t>(1, grain);
        for (const auto& [begin, end] : claims) {
          EXPECT_LT(begin, end);
          EXPECT_EQ(begin % step, 0u) << "n=" << n << " T=" << threads;
          if (end != n) {
            EXPECT_EQ(end % step, 0u) << "n=" << n << " T=" << threads;
          }
        }
        // One thread takes a quarter of its range at a time: 10000 units of 1 -> 2500, 1875, ...
        if (threads == 1 && n == 10000 && step == 1) {
          std::sort(claims.begin(), claims.end());
          EXPECT_EQ(claims[0], std::make_pair(size_t{0}, size_t{2500}));
          EXPECT_EQ(claims[1], std::make_pair(size_t{2500}, size_t{4375}));
        }
      }
    }
  }
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_chunks(100, 1,
                                    [](size_t begin, size_t, unsigned) {
                                      if (begin > 50) throw std::runtime_error("late unit");
                                    }),
               std::runtime_error);
  // Every thread throwing leaves grains untaken; the next jobs see none of them.
  EXPECT_THROW(pool.parallel_chunks(
                   100, 1, [](size_t, size_t, unsigned) { throw std::runtime_error("every unit"); }),
               std::runtime_error);
  pool.parallel_chunks(0, 1, [](size_t, size_t, unsigned) { ADD_FAILURE() << "no units, no calls"; });
  std::vector<std::atomic<int>> runs(10);
  pool.parallel_chunks(10, 1, [&](size_t begin, size_t end, unsigned) {
    for (size_t u = begin; u < end; ++u) runs[u].fetch_add(1);
  });
  for (size_t u = 0; u < runs.size(); ++u) EXPECT_EQ(runs[u].load(), 1) << "unit " << u;
}

// A thread that stops inside its first claim holds back only that claim: the
// other thread steals the rest of the stopped thread's share. Thread 0 (the
// caller) starts on units [0, 500) and takes [0, 125) first; it waits there
// until thread 1 has run everything else, which it can only reach by stealing.
TEST(ThreadPool, ChunksOfAStoppedThreadAreStolen) {
  ThreadPool pool(2);
  constexpr size_t kUnits = 1000;
  std::vector<std::atomic<int>> runner(kUnits);
  std::atomic<size_t> done_by_1{0};
  std::atomic<size_t> first_claim_end{0};
  pool.parallel_chunks(kUnits, 1, [&](size_t begin, size_t end, unsigned thread) {
    for (size_t u = begin; u < end; ++u) runner[u].store(static_cast<int>(thread) + 1);
    if (thread == 1) {
      done_by_1.fetch_add(end - begin);
    } else if (begin == 0) {
      first_claim_end.store(end);
      // Everything outside this claim, done by thread 1 (no deadline: only stealing gets it there).
      while (done_by_1.load() < kUnits - end) std::this_thread::yield();
    }
  });
  // 125 unless thread 1 stole from thread 0's share before thread 0 began.
  EXPECT_GT(first_claim_end.load(), 0u);
  EXPECT_LE(first_claim_end.load(), 125u);
  for (size_t u = 0; u < kUnits; ++u) EXPECT_EQ(runner[u].load(), u < first_claim_end.load() ? 1 : 2) << "unit " << u;
}

TEST(ThreadPool, NestedParallelForIsALogicError) {
  for (const unsigned threads : {1u, 2u}) {
    ThreadPool pool(threads);
    try {
      pool.parallel_for(2, [&](size_t, unsigned) { pool.parallel_for(2, [](size_t, unsigned) {}); });
      FAIL() << "nested call accepted";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("nested or concurrent"), std::string::npos) << e.what();
    }
    std::atomic<int> after{0};
    pool.parallel_for(3, [&](size_t, unsigned) { after.fetch_add(1); });
    EXPECT_EQ(after.load(), 3);
  }
}

TEST(ThreadPool, DefaultSizeIsPhysicalCores) {
  const unsigned cores = probe_cpu().physical_cores;
  if (cores > 0) {
    EXPECT_EQ(ThreadPool::default_thread_count(), cores);
  }
  EXPECT_GE(ThreadPool::default_thread_count(), 1u);
}

// Row-wise reductions (a dot product, RMSNorm, softmax) over 37 rows of
// 1001: the bytes must not depend on the thread count.
std::vector<float> run_rows(unsigned threads, const std::vector<float>& input, size_t rows, size_t dim) {
  ThreadPool pool(threads);
  std::vector<float> out(rows * dim + rows);
  pool.parallel_for(rows, [&](size_t r, unsigned) {
    std::span<const float> x(input.data() + r * dim, dim);
    std::span<float> y(out.data() + r * dim, dim);
    float dot = 0.0f;
    for (size_t i = 0; i < dim; ++i) dot += x[i] * x[(i * 7) % dim];
    out[rows * dim + r] = dot;
    ops::rms_norm(x, {}, 1e-5f, ops::NormWeight::Plain, y);
    ops::softmax(y);
  });
  return out;
}

TEST(ThreadPool, RowReductionsBitIdenticalFor1_2_4Threads) {
  const size_t rows = 37;
  const size_t dim = 1001;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> input(rows * dim);
  for (float& v : input) v = dist(rng);
  const std::vector<float> one = run_rows(1, input, rows, dim);
  const std::vector<float> two = run_rows(2, input, rows, dim);
  const std::vector<float> four = run_rows(4, input, rows, dim);
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(one.data(), four.data(), one.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace pocketllm
