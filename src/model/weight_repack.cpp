#include "model/weight_repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace pocketllm {
namespace {

// Drops the pages of [p, p + bytes) of a private, read-only file mapping
// from this process: they leave its resident set and are read from the file
// again if touched (the page cache keeps them, so the next load of the model
// is not slowed). Pages shared with a neighbouring tensor go too: being
// never written, they come back intact if that tensor is read again.
void release_file_pages(const std::byte* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + bytes + page - 1) / page * page;
  if (begin < end) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Smaller matrices stay file views: each copy is a mapping of whole pages.
// From here the rounding is at most 6%; Rows8 takes 2-3x less CPU time than
// Gguf rows at any size (1 thread, 256 x 2048: Q8_0 25 -> 11 us, Q4_K 22 ->
// 11 us), and models of 0.5B-1B parameters have attention matrices of
// 64 KiB to 1 MiB.
constexpr size_t kMinRepackBytes = size_t{64} << 10;

}  // namespace

void RepackedWeights::repack(const MatmulKernels& kernels, WeightMatrix& w, bool file_pages) {
  const WeightLayout layout = kernels.preferred_layout(w.type, w.rows);
  const size_t bytes = w.row_bytes() * static_cast<size_t>(w.rows);
  if (layout == w.layout || w.data == nullptr || bytes < kMinRepackBytes) return;
  AnonymousMemory mapping(bytes, /*huge_pages=*/true);
  MatmulKernels::repack(w, layout, {mapping.data(), bytes});
  if (file_pages) release_file_pages(w.data, bytes);
  w.data = mapping.data();
  w.layout = layout;
  mappings_.push_back(std::move(mapping));
}

}  // namespace pocketllm
