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

// The same quantization with kPanelTokens tokens side by side, for the GEMM
// micro-kernel: lanes are tokens, so one 512-bit int8 dot takes 4 elements of
// 16 tokens against 4 weight bytes broadcast from one row, and a block's
// scales apply to all 16 tokens in one multiply (no horizontal sums). A
// panel of a matrix X is k/32 of these blocks.
inline constexpr int kPanelTokens = 16;
struct Q8x32PanelBlock {
  int8_t qs[8][kPanelTokens][4];       // [group of 4 elements][token][element of the group]
  float d[kPanelTokens];               // BlockQ8x32::d
  int32_t neg128_sum[kPanelTokens];    // -128 * BlockQ8x32::sum: the bias term of signed weights
  float d_sum[kPanelTokens];           // d * sum: the offset term of Q4_1 / Q5_1
};
static_assert(sizeof(Q8x32PanelBlock) == 704);

// x[0 .. n) quantized as quantize_row_q8x32 does, written to lane `lane` of
// the n / 32 panel blocks at `panel`.
void quantize_row_q8x32_panel_lane(const float* x, Q8x32PanelBlock* panel, int lane, int64_t n);
// Zeroes lane `lane` of n / 32 panel blocks (the padding tokens of a last panel).
void clear_q8x32_panel_lane(Q8x32PanelBlock* panel, int lane, int64_t n);

// x[0 .. n) -> n / 256 Q8_K blocks (n a multiple of 256), bsums filled.
void quantize_row_q8_k(const float* x, BlockQ8_K* out, int64_t n);

// x[0 .. n) split for BF16 weights: per 32 elements (zeros past n), 32
// hi = f32_to_bf16(x) (nearest, ties to even) then 32 lo = f32_to_bf16(x - hi)
// (x - hi is exact in f32), 64 * ceil(n / 32) uint16 in all. hi + lo is
// within 2^-16 |x| of x (each rounding to 8 significant bits moves its value
// by at most 2^-8 of it; normal values). Where hi is infinite, lo is 0.
constexpr int64_t kBf16SplitLanes = 32;
void split_row_bf16(const float* x, uint16_t* out, int64_t n);

}  // namespace pocketllm
