#pragma once
// Software prefetch of the first cache line of each 4 KiB page of a weight
// stream, 2 KiB before the stream gets there. The hardware prefetchers do
// not cross a page: each stream stops at a page's end and is trained again
// by demand misses in the next one. A read-only loop at full speed hides
// that; a kernel that also computes does not. Measured on Zen 5 under this
// VM, cold 1-thread Q4_0 GEMV (Rows8), 5632x2048 and 2048x5632: 23-28 ->
// 35-38 GB/s (a core's read rate); a lead of 512 bytes was worse, 1-3 KiB
// alike, more lines per page worse. A plain read loop gains too (1 thread:
// 31-37 -> 41 GB/s), so the bandwidth probe does it as well.
#include <cstddef>
#include <cstdint>

namespace pocketllm {

inline constexpr size_t kPageBytes = 4096;
inline constexpr size_t kPageLeadBytes = 2048;

// Prefetches the first line of every page that starts in [begin, begin +
// bytes) + kPageLeadBytes: calls over consecutive spans of a stream prefetch
// each page start once. Prefetches never fault, past the end of a mapping
// included.
inline void prefetch_page_starts(const void* begin, size_t bytes) {
  const uintptr_t from = reinterpret_cast<uintptr_t>(begin) + kPageLeadBytes;
  for (uintptr_t page = (from + kPageBytes - 1) / kPageBytes * kPageBytes; page < from + bytes; page += kPageBytes) {
    __builtin_prefetch(reinterpret_cast<const void*>(page));
  }
}

}  // namespace pocketllm
