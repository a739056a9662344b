#include "util/anonymous_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

namespace pocketllm {

AnonymousMemory::AnonymousMemory(size_t bytes, bool huge_pages) {
  if (bytes == 0) return;
  const bool align = huge_pages && bytes >= kHugePageBytes;
  // Over-map by a huge page, then give back what lies before the boundary and after the block.
  const size_t mapped = align ? bytes + kHugePageBytes : bytes;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* begin = static_cast<std::byte*>(p);
  if (align) {
    const auto address = reinterpret_cast<uintptr_t>(p);
    const size_t head = (kHugePageBytes - address % kHugePageBytes) % kHugePageBytes;
    if (head > 0) ::munmap(begin, head);
    const size_t page = page_bytes();
    const size_t kept = (bytes + page - 1) / page * page;
    const size_t tail = (mapped + page - 1) / page * page - head - kept;
    if (tail > 0) ::munmap(begin + head + kept, tail);
    begin += head;
    // Advice only: EINVAL without THP support changes nothing.
    (void)::madvise(begin, bytes, MADV_HUGEPAGE);
  }
  memory_ = std::unique_ptr<std::byte, MappingUnmap>(begin, MappingUnmap{bytes});
}

size_t AnonymousMemory::page_bytes() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

void MappingUnmap::operator()(std::byte* p) const noexcept { ::munmap(p, bytes); }

}  // namespace pocketllm
