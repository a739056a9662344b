#include "read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "backends/cpu/matmul/page_prefetch.h"
#include "backends/cpu/ops/vec_math.h"
#include "util/anonymous_memory.h"

namespace pocketllm::bench {
namespace {

constexpr size_t kLanes = 64;

// 64 32-bit lanes: enough independent adds to keep several loads in flight.
// Integer adds, so that any bytes read alike (no NaN or denormal paths).
// With page_prefetch, the first line of each 4 KiB page is prefetched 2 KiB
// ahead, as the engine's GEMV kernels do (page_prefetch.h).
POCKETLLM_SIMD_CLONES uint32_t sum_words(const std::byte* x, size_t n_words, bool page_prefetch) {
  uint32_t acc[kLanes] = {};
  for (size_t i = 0; i + kLanes <= n_words; i += kLanes) {
    if (page_prefetch) prefetch_page_starts(x + 4 * i, 4 * kLanes);
    for (size_t j = 0; j < kLanes; ++j) {
      uint32_t word;
      std::memcpy(&word, x + 4 * (i + j), 4);
      acc[j] += word;
    }
  }
  uint32_t total = 0;
  for (const uint32_t a : acc) total += a;
  return total;
}

}  // namespace

double read_once_seconds(ThreadPool& pool, const std::byte* data, size_t bytes, bool page_prefetch) {
  const size_t chunks = bytes / (4 * kLanes);
  const unsigned threads = pool.size();
  std::vector<uint32_t> sums(threads);
  const auto start = std::chrono::steady_clock::now();
  pool.parallel_for(threads, [&](size_t t, unsigned) {
    const size_t begin = ThreadPool::task_begin(chunks, static_cast<unsigned>(t), threads);
    const size_t end = ThreadPool::task_begin(chunks, static_cast<unsigned>(t) + 1, threads);
    sums[t] = sum_words(data + begin * 4 * kLanes, (end - begin) * kLanes, page_prefetch);
  });
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  // Keep the sums observable so the reads cannot be optimised away.
  volatile uint32_t sink = 0;
  for (const uint32_t s : sums) sink = sink + s;
  return took.count();
}

ReadBandwidth measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int passes) {
  const size_t n = buffer_bytes / sizeof(float) / 64 * 64;
  // Memory as the engine keeps repacked weights (huge pages where the system
  // has them), never malloc's: a large malloc block starts 16 bytes into a
  // page, so every 64-byte read spans two cache lines, which on Zen 5 under
  // this VM took a 2-thread read from 45 to 32 GB/s (1 thread: 29 to 18).
  const AnonymousMemory memory(n * sizeof(float), /*huge_pages=*/true);
  auto* buffer = reinterpret_cast<float*>(memory.data());
  // Each thread touches (first-writes) its own slice, so pages land near it.
  const unsigned threads = pool.size();
  pool.parallel_for(threads, [&](size_t t, unsigned) {
    const size_t begin = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t), threads) * 64;
    const size_t end = ThreadPool::task_begin(n / 64, static_cast<unsigned>(t) + 1, threads) * 64;
    for (size_t i = begin; i < end; ++i) buffer[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
  ReadBandwidth result{0.0, 0.0, n * sizeof(float), threads};
  const auto bytes = static_cast<double>(n * sizeof(float));
  for (int pass = 0; pass < passes; ++pass) {  // alternated: both see the same conditions
    const double prefetched = read_once_seconds(pool, memory.data(), n * sizeof(float), true);
    const double plain = read_once_seconds(pool, memory.data(), n * sizeof(float), false);
    result.bytes_per_second = std::max(result.bytes_per_second, bytes / prefetched);
    result.plain_bytes_per_second = std::max(result.plain_bytes_per_second, bytes / plain);
  }
  return result;
}

}  // namespace pocketllm::bench
