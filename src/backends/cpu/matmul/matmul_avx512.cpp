// AVX-512 kernels: the AVX2 loops with the int8 dot on AVX-512 VNNI (vpdpbusd, 256-bit), plus
// the 512-bit panel GEMM. See matmul_x86_kernels.inc.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/quant/activation_quant.h"

#define POCKETLLM_X86_NS avx512
#define POCKETLLM_X86_VNNI 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// gcc 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* (gcc bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "backends/cpu/matmul/matmul_x86_kernels.inc"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

namespace pocketllm::matmul_detail {
TypeKernel avx512_kernel(GgmlType type) { return avx512::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel avx512_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
