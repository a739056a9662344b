#pragma once
// STREAM-like read bandwidth: every thread sums its slice of a buffer far
// larger than the last-level cache; the best of several passes counts. The
// loop prefetches the start of each 4 KiB page (read_bandwidth.cpp), which
// makes it faster on Zen 5, so that GEMV kernels that do the same are held
// to the faster figure; the plain loop's is reported beside it.
#include <cstddef>
#include <cstdint>

#include "backends/cpu/thread_pool.h"

namespace pocketllm::bench {

struct ReadBandwidth {
  double bytes_per_second = 0.0;        // the loop with page-start prefetches (the figure)
  double plain_bytes_per_second = 0.0;  // the same loop without them
  size_t buffer_bytes = 0;
  unsigned threads = 0;
};

ReadBandwidth measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int passes);

// Wall seconds that the pool's threads take to read [data, data + bytes)
// once, each its own slice: one pass of measure_read_bandwidth over any
// buffer (a tail of less than 256 bytes is left unread).
double read_once_seconds(ThreadPool& pool, const std::byte* data, size_t bytes, bool page_prefetch = true);

}  // namespace pocketllm::bench
