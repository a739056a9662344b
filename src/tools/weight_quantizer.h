#pragma once
// f32 -> weight-format rows, the inverse of backends/cpu/quant/dequantize.h
// for the types that tools write (gen, later quantize). The block types
// follow ggml's reference quantizers (quantize_row_*_ref in ggml-quants.c)
// step by step, so a row quantized here has the same bytes as llama.cpp's
// (for the K-quants, while neither build contracts a*b+c into FMAs, as the
// default x86-64 target cannot; test_random_model compares with the
// libggml-base.so that node-llama-cpp ships).
//
// Worst-case error of one element x of a 32-element block (amax = the
// block's largest |x|; each bound adds the f16 rounding of the scale,
// relative 2^-11, times the largest quant):
//   Q8_0: d = amax/127, q = round(x/d)      -> |err| <= d/2 + 127 d 2^-11
//   Q4_0: d = -max/8 (max = the signed x of largest |x|), q = trunc(x/d + 8.5)
//         clamped to 15: the far end +8 d clamps to +7 d, so |err| <= d (+ 8 d 2^-11)
//   Q5_0: as Q4_0 with 16 / 31               -> |err| <= d (+ 16 d 2^-11)
//   Q4_1 / Q5_1: d = (max - min)/15 or 31, m = min (f16) -> |err| <= d/2 + rounding of d and m
//   F16 / BF16: round to nearest even.
//
// The K-quants (tools/k_quantizer.h; 256-element super-blocks) fit each
// group's scale (and min) by least squares, so their bound is stated per
// super-block: with R = max(x, 0) - min(x, 0) and step = R / nmax (Q4_K:
// nmax 15, Q5_K: 31) or R = amax and step = R / 32 (Q6_K, quants -32..31),
//   |err| <= 2 step: half a step of rounding, up to one step where the
//   refitted grid (ggml tries grids up to a step narrower than the group's
//   span) clamps the group's extreme, and the coding of the group's scale
//   and min against the super-block's largest (6 bits: nmax/126 of a step
//   each, <= 1/2 step for Q5_K; Q6_K's int8 scales: 32/256 of a step),
// plus the f16 rounding of d and dmin (relative 2^-11 while they are normal
// f16, i.e. R above about 0.06 for Q4_K and 0.25 for Q6_K; below that the
// fixed 2^-24 spacing of subnormals dominates). Measured on 10^5 random
// super-blocks of normal, uniform, all-positive, all-negative, outlier and
// mixed-scale groups, the worst element was 0.91 (Q4_K), 1.03 (Q5_K) and
// 0.85 (Q6_K) steps.
#include <cstdint>

#include "formats/ggml_types.h"

namespace pocketllm {

// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
bool has_quantizer(GgmlType type);

// Writes the bytes of `n` elements (a multiple of the type's block size) of
// `x` to `out` (ggml_tensor_bytes(type, n) of them). Throws InputError for a
// type without a quantizer or a count that is not whole blocks.
void quantize_row(GgmlType type, const float* x, void* out, int64_t n);

}  // namespace pocketllm
