// AVX-512 kernels: the AVX2 loops with the int8 dot on AVX-512 VNNI (vpdpbusd, 256-bit), plus
// the 512-bit panel GEMM. See matmul_x86_kernels.inc.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/matmul/page_prefetch.h"
#include "backends/cpu/matmul/rows8_layout.h"
#include "backends/cpu/quant/activation_quant.h"

#define POCKETLLM_X86_NS avx512
#define POCKETLLM_X86_VNNI 1
#define POCKETLLM_X86_AVX512 1
#include "backends/cpu/avx512_target_begin.inc"
#include "backends/cpu/matmul/matmul_x86_kernels.inc"
#include "backends/cpu/avx512_target_end.inc"

namespace pocketllm::matmul_detail {
TypeKernel avx512_kernel(GgmlType type) { return avx512::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel avx512_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
