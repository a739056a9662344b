// util/anonymous_memory.h: where the memory lies and what it holds. Whether
// the kernel backs it with huge pages is the system's choice (THP setting,
// fragmentation), so only the placement that makes it possible is asserted.
#include "util/anonymous_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

namespace pocketllm {
namespace {

constexpr size_t kHuge = AnonymousMemory::kHugePageBytes;

size_t page_size() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

TEST(AnonymousMemory, PageBytesIsTheSystemPageSize) { EXPECT_EQ(AnonymousMemory::page_bytes(), page_size()); }

// msync answers ENOMEM for an address range that is not mapped.
bool is_mapped(const std::byte* p) {
  auto* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) / page_size() * page_size());
  return ::msync(page, page_size(), MS_ASYNC) == 0 || errno != ENOMEM;
}

TEST(AnonymousMemory, HugePageBlocksStartOnAHugePageBoundaryAndHoldOnlyTheirPages) {
  const size_t bytes = 3 * kHuge + 100;  // not a whole number of pages
  AnonymousMemory m(bytes, /*huge_pages=*/true);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(m.size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % kHuge, 0u);
  // The over-mapping used to find the boundary was given back on both sides.
  EXPECT_FALSE(is_mapped(m.data() - 1));
  const size_t kept = (bytes + page_size() - 1) / page_size() * page_size();
  EXPECT_TRUE(is_mapped(m.data() + kept - 1));
  EXPECT_FALSE(is_mapped(m.data() + kept));
}

TEST(AnonymousMemory, StartsZeroedAndIsWritable) {
  AnonymousMemory m(kHuge + 4096 * 3, /*huge_pages=*/true);
  EXPECT_TRUE(std::all_of(m.data(), m.data() + m.size(), [](std::byte b) { return b == std::byte{0}; }));
  for (size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<std::byte>(i * 7 + 3);
  for (size_t i = 0; i < m.size(); i += 4093) EXPECT_EQ(m.data()[i], static_cast<std::byte>(i * 7 + 3));
}

TEST(AnonymousMemory, SmallOrPlainBlocksArePageAligned) {
  const AnonymousMemory small(100 << 10, /*huge_pages=*/true);  // under one huge page: no over-mapping
  const AnonymousMemory plain(3 * kHuge, /*huge_pages=*/false);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % page_size(), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(plain.data()) % page_size(), 0u);
  EXPECT_EQ(small.size(), size_t{100} << 10);
  EXPECT_EQ(plain.size(), 3 * kHuge);
}

TEST(AnonymousMemory, EmptyHoldsNothing) {
  const AnonymousMemory none(0, /*huge_pages=*/true);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_EQ(none.size(), 0u);
}

TEST(AnonymousMemory, MovedFromHoldsNothing) {
  AnonymousMemory from(kHuge, /*huge_pages=*/true);
  std::byte* p = from.data();
  const AnonymousMemory to(std::move(from));
  EXPECT_EQ(to.data(), p);
  EXPECT_EQ(to.size(), kHuge);
  EXPECT_EQ(from.data(), nullptr);  // NOLINT(bugprone-use-after-move): the state after a move is the point
  EXPECT_EQ(from.size(), 0u);
}

TEST(AnonymousMemory, DestructionUnmaps) {
  std::byte* p = nullptr;
  {
    AnonymousMemory m(2 * kHuge, /*huge_pages=*/true);
    p = m.data();
    ASSERT_TRUE(is_mapped(p));
  }
  EXPECT_FALSE(is_mapped(p));
}

}  // namespace
}  // namespace pocketllm
