// ThreadPool: every task runs exactly once on the thread the static
// partition names, exceptions reach the caller, misuse is a clear error, and
// a row-wise reduction gives bit-identical results with 1, 2 and 4 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
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

// parallel_chunks: the claims tile [0, n) exactly (each unit once), every
// claim but a last short one has at least min_chunk units, the first claim is
// 1/(2T) of the whole when that is larger, and exceptions reach the caller.
TEST(ThreadPool, ChunksCoverEveryUnitOnceInClaimsOfAtLeastTheMinimum) {
  for (const unsigned threads : {1u, 2u, 3u, 4u}) {
    ThreadPool pool(threads);
    for (const size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{64}, size_t{257}, size_t{10000}}) {
      for (const size_t min_chunk : {size_t{0}, size_t{1}, size_t{4}}) {
        std::vector<std::atomic<int>> runs(n);
        std::mutex mutex;
        std::vector<std::pair<size_t, size_t>> claims;
        pool.parallel_chunks(n, min_chunk, [&](size_t begin, size_t end, unsigned thread) {
          EXPECT_LT(thread, threads);
          for (size_t u = begin; u < end; ++u) runs[u].fetch_add(1);
          const std::lock_guard<std::mutex> lock(mutex);
          claims.emplace_back(begin, end);
        });
        for (size_t u = 0; u < n; ++u) EXPECT_EQ(runs[u].load(), 1) << "n=" << n << " unit=" << u;
        std::sort(claims.begin(), claims.end());
        const size_t least = std::max<size_t>(1, min_chunk);
        for (size_t i = 0; i < claims.size(); ++i) {
          const size_t size = claims[i].second - claims[i].first;
          if (i + 1 < claims.size()) {
            EXPECT_GE(size, least) << "n=" << n << " T=" << threads;
            EXPECT_EQ(claims[i].second, claims[i + 1].first);
          }
        }
        if (n > 0) {
          EXPECT_EQ(claims.front().first, 0u);
          EXPECT_EQ(claims.back().second, n);
          EXPECT_EQ(claims.front().second, n <= least ? n : std::max(least, n / (2 * threads)));
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
