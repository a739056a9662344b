// AVX2 + FMA + F16C kernels (int8 dot via vpmaddubsw). See matmul_x86_kernels.inc.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/matmul/page_prefetch.h"
#include "backends/cpu/matmul/rows8_layout.h"
#include "backends/cpu/quant/activation_quant.h"

#define POCKETLLM_X86_NS avx2
#define POCKETLLM_X86_VNNI 0
#define POCKETLLM_X86_AVX512 0
#define POCKETLLM_TARGET "avx2,fma,f16c"
#include "backends/cpu/target_begin.inc"
#include "backends/cpu/matmul/matmul_x86_kernels.inc"
#include "backends/cpu/target_end.inc"

namespace pocketllm::matmul_detail {
TypeKernel avx2_kernel(GgmlType type) { return avx2::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel avx2_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
