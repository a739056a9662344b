#pragma once
// f32 -> weight-format rows, the inverse of backends/cpu/quant/dequantize.h
// for the types that tools write (gen, later quantize). The block types
// follow ggml's reference quantizers (quantize_row_*_ref in ggml-quants.c)
// step by step, so a row quantized here has the same bytes as llama.cpp's.
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
#include <cstdint>

#include "formats/ggml_types.h"

namespace pocketllm {

// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
bool has_quantizer(GgmlType type);

// Writes the bytes of `n` elements (a multiple of the type's block size) of
// `x` to `out` (ggml_tensor_bytes(type, n) of them). Throws InputError for a
// type without a quantizer or a count that is not whole blocks.
void quantize_row(GgmlType type, const float* x, void* out, int64_t n);

}  // namespace pocketllm
