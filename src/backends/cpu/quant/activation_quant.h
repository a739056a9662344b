#pragma once
// Activation formats: f32 activations quantized on the fly so that products
// with integer weight blocks run as int8 dot products.
//
// Both round x * (127 / amax) to the nearest integer (ties away from zero),
// so each element's error is at most d / 2 = amax / 254, where amax is the
// largest |x| of its block. A block of zeros has d = 0.
#include <cstdint>

#include "backends/cpu/quant/block_formats.h"

namespace pocketllm {

// 32 activations for the 32-element weight formats (Q4_0 ... MXFP4): like
// ggml's Q8_1 but with an f32 scale, and with the integer sum of the quants
// that Q4_1 / Q5_1 need for their offset term (sum * d * m).
struct BlockQ8x32 {
  float d;
  int32_t sum;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8x32) == 40);

// x[0 .. n) -> n / 32 blocks (n a multiple of 32).
void quantize_row_q8x32(const float* x, BlockQ8x32* out, int64_t n);

// x[0 .. n) -> n / 256 Q8_K blocks (n a multiple of 256), bsums filled.
void quantize_row_q8_k(const float* x, BlockQ8_K* out, int64_t n);

}  // namespace pocketllm
