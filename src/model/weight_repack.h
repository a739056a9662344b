#pragma once
// Weight matrices rewritten at load time into the layout the matmul kernels
// prefer (MatmulKernels::preferred_layout), one tensor at a time: each goes
// to its own anonymous mapping (on huge pages where the system has them:
// util/anonymous_memory.h), and the file pages it was read from are
// unmapped from the process (MADV_DONTNEED), so the extra memory at any time
// is about one tensor and the model is never held twice. Matrices the
// kernels take as they are, and small ones, stay zero-copy views of the file.
#include <vector>

#include "backends/cpu/matmul/matmul.h"
#include "util/anonymous_memory.h"

namespace pocketllm {

class RepackedWeights {
 public:
  // Points `w` at a repacked copy when the kernels prefer another layout;
  // leaves it as it is otherwise. The copy lives as long as this object.
  // `file_pages`: w's bytes are a read-only private file mapping, whose pages
  // can be dropped from this process (they stay in the page cache).
  void repack(const MatmulKernels& kernels, WeightMatrix& w, bool file_pages);

 private:
  std::vector<AnonymousMemory> mappings_;
};

}  // namespace pocketllm
