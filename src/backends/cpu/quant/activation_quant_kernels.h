#pragma once
// The implementations behind activation_quant.h's row quantizers, for tests
// that hold them to each other bit for bit. quantize_row_q8x32 and
// quantize_row_q8_k call the AVX-512 forms where the CPU has AVX-512 F/BW/VL
// (decode quantizes the activation serially before each matrix-vector
// product: the generic loops, as gcc vectorizes them, took 0.52 ns per
// element on Zen 5, these 0.28), else the generic ones.
#include <cstdint>

#include "backends/cpu/quant/activation_quant.h"

namespace pocketllm::activation_quant_detail {

void quantize_row_q8x32_generic(const float* x, BlockQ8x32* out, int64_t n);
void quantize_row_q8_k_generic(const float* x, BlockQ8_K* out, int64_t n);

// Whether this build has the AVX-512 forms and this CPU runs them.
bool avx512_quantizers_usable();
// Only where avx512_quantizers_usable().
void quantize_row_q8x32_avx512(const float* x, BlockQ8x32* out, int64_t n);
void quantize_row_q8_k_avx512(const float* x, BlockQ8_K* out, int64_t n);

}  // namespace pocketllm::activation_quant_detail
