#pragma once
// What each ISA's kernel file offers the dispatcher: for one weight type,
// the activation format it consumes and the row-range function, or a null
// function where that ISA has no kernel for the type (the scalar one runs).
#include "backends/cpu/matmul/matmul.h"

namespace pocketllm::matmul_detail {

using MultiplyRowsFn = void (*)(const WeightMatrix& w, const PreparedActivations& a, float* y,
                                int64_t ldy, int64_t row_begin, int64_t row_end);

struct TypeKernel {
  ActivationFormat activation = ActivationFormat::F32;
  MultiplyRowsFn fn = nullptr;
  // `fn` also takes panel activations (PreparedActivations::panels). May
  // differ between types of one activation format (Q8_K: only Q4_K and
  // Q6_K have panels), so one prepared X serves only types that agree on uses_panels.
  bool panels = false;
  // The same product for WeightLayout::Rows8 matrices; null where the ISA
  // has no such kernel (then preferred_layout never asks for it).
  MultiplyRowsFn rows8 = nullptr;
};

TypeKernel scalar_kernel(GgmlType type);
TypeKernel avx2_kernel(GgmlType type);    // {} unless built for x86-64
TypeKernel avx_vnni_kernel(GgmlType type);  // {} unless built for x86-64
TypeKernel avx512_kernel(GgmlType type);  // {} unless built for x86-64
TypeKernel neon_kernel(GgmlType type);    // {} unless built for aarch64
TypeKernel neon_dotprod_kernel(GgmlType type);  // {} unless built for aarch64
// SMMLA kernels for the integer formats, else neon_dotprod_kernel's; {} likewise.
TypeKernel neon_i8mm_kernel(GgmlType type);
// vdpbf16ps for BF16, else avx512_kernel's; {} unless built for x86-64.
TypeKernel avx512_bf16_kernel(GgmlType type);

// Rows per tile and tokens per micro-kernel call of the blocked loops.
inline constexpr int64_t kRowTile = 16;
inline constexpr int kTokenTile = 4;

}  // namespace pocketllm::matmul_detail
