#include "read_bandwidth.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/cpu/ops/vec_math.h"

namespace pocketllm::bench {
namespace {

// 64 float lanes: enough independent adds to keep several loads in flight.
POCKETLLM_SIMD_CLONES float sum_floats(const float* x, size_t n) {
  constexpr size_t kLanes = 64;
  float acc[kLanes] = {};
  for (size_t i = 0; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  }
  float total = 0.0f;
  for (const float a : acc) total += a;
  return total;
}

}  // namespace

ReadBandwidth measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int passes) {
  const size_t n = buffer_bytes / sizeof(float) / 64 * 64;
  std::unique_ptr<float[]> buffer(new float[n]);
  // Each thread touches (first-writes) its own slice, so pages land near it.
  const unsigned threads = pool.size();
  pool.parallel_for(threads, [&](size_t t, unsigned) {
    const size_t begin = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t), threads) * 64;
    const size_t end = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t) + 1, threads) * 64;
    for (size_t i = begin; i < end; ++i) buffer[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
  std::vector<float> sums(threads);
  double best = 0.0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(threads, [&](size_t t, unsigned) {
      const size_t begin = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t), threads) * 64;
      const size_t end = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t) + 1, threads) * 64;
      sums[t] = sum_floats(buffer.get() + begin, end - begin);
    });
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::max(best, static_cast<double>(n * sizeof(float)) / took.count());
  }
  // Keep the sums observable so the reads cannot be optimised away.
  volatile float sink = 0.0f;
  for (const float s : sums) sink = sink + s;
  return {best, n * sizeof(float), threads};
}

}  // namespace pocketllm::bench
