// Arm NEON kernels with the Armv8.2 dot product (SDOT, "asimddp"), compiled
// for it whatever the build's -march; the dispatcher checks the CPU's HWCAPs
// at run time (MatmulIsa::NeonDotprod). See matmul_neon_kernels.inc.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/scalar_types.h"

#define POCKETLLM_NEON_NS neon_dotprod
#define POCKETLLM_NEON_DOTPROD 1
#define POCKETLLM_TARGET "dotprod"
#define POCKETLLM_TARGET_GCC "arch=armv8.2-a+dotprod"
#include "backends/cpu/target_begin.inc"
#include "backends/cpu/matmul/matmul_neon_kernels.inc"
#include "backends/cpu/target_end.inc"

namespace pocketllm::matmul_detail {
TypeKernel neon_dotprod_kernel(GgmlType type) { return neon_dotprod::kernel(type); }
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel neon_dotprod_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
