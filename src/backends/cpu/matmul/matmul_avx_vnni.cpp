// AVX2 + FMA + F16C + AVX-VNNI kernels: the AVX2 loops with the int8 dot on
// AVX-VNNI's vpdpbusd (Intel's hybrid laptop chips from Alder Lake on, which
// lack AVX-512; also Zen 5). See matmul_x86_kernels.inc.
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

#define POCKETLLM_X86_NS avx_vnni
#define POCKETLLM_X86_VNNI 1
#define POCKETLLM_X86_AVX512 0
#define POCKETLLM_TARGET "avx2,fma,f16c,avxvnni"
#include "backends/cpu/target_begin.inc"
#include "backends/cpu/matmul/matmul_x86_kernels.inc"
#include "backends/cpu/target_end.inc"

namespace pocketllm::matmul_detail {
TypeKernel avx_vnni_kernel(GgmlType type) { return avx_vnni::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel avx_vnni_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
