// Baseline Arm NEON kernels (no dotprod needed). See matmul_neon_kernels.inc.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/scalar_types.h"

#define POCKETLLM_NEON_NS neon
#define POCKETLLM_NEON_DOTPROD 0
#include "backends/cpu/matmul/matmul_neon_kernels.inc"

namespace pocketllm::matmul_detail {
TypeKernel neon_kernel(GgmlType type) { return neon::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel neon_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
