#pragma once
// Zeroed memory of its own anonymous mapping, for data that decode streams
// once per token (repacked weights). With huge pages asked for, a block of
// 2 MiB or more starts on a 2 MiB boundary and is marked MADV_HUGEPAGE, so
// that where the kernel has transparent huge pages ("always" or "madvise"),
// its whole 2 MiB runs get them when first written: a streaming read then
// crosses a page, and needs a translation (two-level under a VM), every
// 2 MiB instead of every 4 KiB. Measured (Zen 5 VM, 2 threads, cold Q4_0
// GEMV in the Rows8 layout): 5632x2048 51 -> 55 GB/s, 2048x5632 45 -> 51
// GB/s; a plain read 55 -> 60 GB/s. Elsewhere the advice is ignored and the
// memory is ordinary pages.
#include <cstddef>
#include <memory>

namespace pocketllm {

struct MappingUnmap {
  size_t bytes = 0;
  void operator()(std::byte* p) const noexcept;
};

class AnonymousMemory {
 public:
  AnonymousMemory() = default;
  // Throws std::bad_alloc when the mapping fails.
  AnonymousMemory(size_t bytes, bool huge_pages);

  std::byte* data() const { return memory_.get(); }
  // 0 once moved from (the deleter, and its byte count, stay behind).
  size_t size() const { return memory_ ? memory_.get_deleter().bytes : 0; }

  static constexpr size_t kHugePageBytes = size_t{2} << 20;
  // The system's (small) page size.
  static size_t page_bytes();

 private:
  std::unique_ptr<std::byte, MappingUnmap> memory_;
};

}  // namespace pocketllm
